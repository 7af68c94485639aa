package natsauth_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/egovtrack/egovtrack/internal/natsauth"
	"github.com/egovtrack/egovtrack/internal/units"
)

// The intake signs for the token of a request: the projector gets the token's name back as the submitter, on that
// unit's subjects only; a changed or invented on-behalf name fails, and no other credential may sign for a token.
func TestSignOnBehalf(t *testing.T) {
	m, dir := model(t)
	load := func(name string) *natsauth.Credential {
		t.Helper()
		c, err := natsauth.LoadCredential(natsauth.SeedFile(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	intake, province := load(natsauth.IntakeName), load("province/19")
	thaiNguyen := units.Ref{Kind: units.Province, Code: "19"}
	forToken := natsauth.OnBehalf(natsauth.WithOnBehalf(context.Background(), thaiNguyen, "1a2b3c4d"))
	if forToken != "province/19:1a2b3c4d" {
		t.Fatalf("OnBehalf = %q", forToken)
	}
	if got := natsauth.OnBehalf(context.Background()); got != "" {
		t.Errorf("OnBehalf of a bare context = %q, want empty", got)
	}
	sign := func(c *natsauth.Credential, subject, onBehalf string) *nats.Msg {
		t.Helper()
		msg := nats.NewMsg(subject)
		msg.Data = []byte(`{"a":1}`)
		if err := c.SignOnBehalf(msg, onBehalf); err != nil {
			t.Fatal(err)
		}
		return msg
	}

	msg := sign(intake, "egov.province.19.report", forToken)
	u, err := m.Authorise(msg.Subject, msg.Header, msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "intake:province/19:1a2b3c4d" || u.Role != natsauth.Intake || u.Unit != thaiNguyen {
		t.Errorf("authorised as %+v, want the intake for province/19's token 1a2b3c4d", u)
	}
	// Without a token the intake signs as itself, as before.
	plain := sign(intake, "egov.province.19.report", "")
	if u, err := m.Authorise(plain.Subject, plain.Header, plain.Data); err != nil || u.Name != natsauth.IntakeName {
		t.Errorf("intake signing for nobody: %+v, %v; want intake", u, err)
	}

	with := func(h nats.Header, by string) nats.Header {
		c := maps.Clone(h)
		c.Set(natsauth.SubmittedByHeader, by)
		return c
	}
	// A province signing, with its own key and a valid signature, what claims to come through the intake for one of
	// its own tokens: SignOnBehalf would refuse, so the test signs with the bare key.
	claimed := nats.NewMsg("egov.province.19.report")
	claimed.Data = msg.Data
	if err := province.Sign(claimed); err != nil {
		t.Fatal(err)
	}
	kp := seed(t, natsauth.SeedFile(dir, "province/19"))
	sig, err := kp.Sign(natsauth.Signed(claimed.Subject, "intake:province/19:1a2b3c4d", claimed.Data))
	if err != nil {
		t.Fatal(err)
	}
	claimedSig := base64.RawURLEncoding.EncodeToString(sig)
	for name, tc := range map[string]struct {
		subject string
		h       nats.Header
		want    error
	}{
		"another token named after signing": {msg.Subject, with(msg.Header, "intake:province/19:ffffffff"), natsauth.ErrBadSignature},
		"another unit named after signing":  {msg.Subject, with(msg.Header, "intake:province/01:1a2b3c4d"), natsauth.ErrBadSignature},
		"on-behalf name removed":            {msg.Subject, with(msg.Header, natsauth.IntakeName), natsauth.ErrBadSignature},
		"signed for a token of another unit": {"egov.province.01.report",
			sign(intake, "egov.province.01.report", "province/19:1a2b3c4d").Header, natsauth.ErrNotAllowed},
		"a unit's credential claiming the intake's name": {claimed.Subject, func() nats.Header {
			h := with(claimed.Header, "intake:province/19:1a2b3c4d")
			h.Set(natsauth.SignatureHeader, claimedSig)
			return h
		}(), natsauth.ErrNotAllowed},
	} {
		if _, err := m.Authorise(tc.subject, tc.h, msg.Data); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}

	// SignOnBehalf refuses to sign for a token with any credential but the intake's, or for a malformed name.
	for _, name := range []string{"province/19", natsauth.OfficeName} {
		c := load(name)
		if err := c.SignOnBehalf(nats.NewMsg("egov.province.19.report"), forToken); !errors.Is(err, natsauth.ErrNotIntake) {
			t.Errorf("%s signing on behalf: %v, want ErrNotIntake", name, err)
		}
	}
	for _, bad := range []string{"province/99:1a2b3c4d", "province/19:", "province/19", "province/19:a b", "province/19:1a\n2b"} {
		if err := intake.SignOnBehalf(nats.NewMsg("egov.province.19.report"), bad); err == nil {
			t.Errorf("SignOnBehalf(%q): signed, want refused", bad)
		}
	}
}

// seed reads the bare key of a seed file, which LoadCredential keeps to itself.
func seed(t *testing.T, path string) nkeys.KeyPair {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "SU") {
			kp, err := nkeys.FromSeed([]byte(line))
			if err != nil {
				t.Fatal(err)
			}
			return kp
		}
	}
	t.Fatalf("no seed in %s", path)
	return nil
}
