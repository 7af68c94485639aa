package natsauth_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/egovtrack/egovtrack/internal/natsauth"
	"github.com/egovtrack/egovtrack/internal/units"
)

// model makes fresh keys in a temporary directory and the model on them.
func model(t *testing.T) (*natsauth.Model, string) {
	t.Helper()
	dir := t.TempDir()
	keys, err := natsauth.EnsureKeys(filepath.Join(dir, "nkeys.txt"), dir, nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := natsauth.New(keys, "EGOV", "projector")
	if err != nil {
		t.Fatal(err)
	}
	return m, dir
}

// One credential per unit of the reference data, and the three others.
func TestNames(t *testing.T) {
	names := natsauth.Names()
	if len(names) != len(units.All())+3 {
		t.Fatalf("%d names for %d units", len(names), len(units.All()))
	}
	for _, want := range []string{"province/19", "ministry/BTTTT", "office", "intake", "projector"} {
		if !strings.Contains(strings.Join(names, " ")+" ", want+" ") {
			t.Errorf("no credential %s", want)
		}
	}
}

// Who may submit events on which subjects.
func TestMaySubmit(t *testing.T) {
	m, _ := model(t)
	for _, tc := range []struct {
		who, subject string
		want         bool
	}{
		{"province/19", "egov.province.19.proc.1_000001", true},
		{"province/19", "egov.province.19.report", true},
		{"province/19", "egov.province.19.target.level4_coverage", true},
		{"province/19", "egov.province.01.proc.1_000001", false},
		{"province/19", "egov.province.190.report", false},
		{"province/19", "egov.national.target.level4_coverage", false},
		{"ministry/BTTTT", "egov.ministry.BTTTT.proc.1_004227_000_00_00_H12", true},
		{"ministry/BTTTT", "egov.province.19.report", false},
		{"intake", "egov.province.19.proc.1_000001", true},
		{"intake", "egov.ministry.BTTTT.assistant", true},
		{"intake", "egov.national.target.level4_coverage", false},
		{"office", "egov.national.target.level4_coverage", true},
		{"office", "egov.province.19.report", true},
		{"projector", "egov.province.19.report", false},
	} {
		u, ok := m.User(tc.who)
		if !ok {
			t.Fatalf("no user %s", tc.who)
		}
		if got := u.MaySubmit(tc.subject); got != tc.want {
			t.Errorf("%s may submit on %s: %t, want %t", tc.who, tc.subject, got, tc.want)
		}
	}
}

// The model refuses keys that cannot be right.
func TestNewRefuses(t *testing.T) {
	m, _ := model(t)
	good := map[string]string{}
	for _, u := range m.Users {
		good[u.Name] = u.Key
	}
	seedKP, _ := nkeys.CreateUser()
	seed, _ := seedKP.Seed()
	account, _ := nkeys.CreateAccount()
	accountKey, _ := account.PublicKey()
	for name, change := range map[string]func(map[string]string){
		"missing":         func(k map[string]string) { delete(k, "province/19") },
		"shared":          func(k map[string]string) { k["province/19"] = k["province/01"] },
		"not a key":       func(k map[string]string) { k["office"] = "hello" },
		"a seed":          func(k map[string]string) { k["office"] = string(seed) },
		"an account key":  func(k map[string]string) { k["office"] = accountKey },
		"unknown unit":    func(k map[string]string) { k["province/99"] = k["province/19"]; delete(k, "province/19") },
		"unknown non-key": func(k map[string]string) { k["admin"] = accountKey },
	} {
		k := map[string]string{}
		for n, v := range good {
			k[n] = v
		}
		change(k)
		_, err := natsauth.New(k, "EGOV", "projector")
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), string(seed)) {
			t.Errorf("%s: the error quotes the seed", name)
		}
	}
	if _, err := natsauth.New(good, "EG.OV", "projector"); err == nil {
		t.Error("a stream name with a dot: accepted")
	}
	if _, err := natsauth.New(good, "EGOV", "pro*"); err == nil {
		t.Error("a durable name with a wildcard: accepted")
	}
}

// A signature holds for exactly the subject, submitter and payload it was made for, by a credential that may submit
// on the subject.
func TestSignAndAuthorise(t *testing.T) {
	m, dir := model(t)
	cred, err := natsauth.LoadCredential(natsauth.SeedFile(dir, "province/19"))
	if err != nil {
		t.Fatal(err)
	}
	if cred.Name != "province/19" {
		t.Errorf("credential name %q, want province/19", cred.Name)
	}
	sign := func(subject, data string) *nats.Msg {
		msg := nats.NewMsg(subject)
		msg.Data = []byte(data)
		if err := cred.Sign(msg); err != nil {
			t.Fatal(err)
		}
		return msg
	}
	msg := sign("egov.province.19.report", `{"a":1}`)
	u, err := m.Authorise(msg.Subject, msg.Header, msg.Data)
	if err != nil || u.Name != "province/19" {
		t.Fatalf("own signed message: %v, %v", u, err)
	}
	for name, tc := range map[string]struct {
		subject string
		h       nats.Header
		data    string
		want    error
	}{
		"unsigned":        {msg.Subject, nats.Header{}, string(msg.Data), natsauth.ErrUnsigned},
		"payload changed": {msg.Subject, msg.Header, `{"a":2}`, natsauth.ErrBadSignature},
		"subject changed": {"egov.province.19.assistant", msg.Header, string(msg.Data), natsauth.ErrBadSignature},
		"another's subject": {"egov.province.01.report", sign("egov.province.01.report", "{}").Header, "{}",
			natsauth.ErrNotAllowed},
		"claims the office": {msg.Subject, func() nats.Header {
			h := nats.Header{}
			for k, v := range msg.Header {
				h[k] = v
			}
			h.Set(natsauth.SubmittedByHeader, "office")
			return h
		}(), string(msg.Data), natsauth.ErrBadSignature},
		"unknown signer": {msg.Subject, nats.Header{natsauth.SignerHeader: {"UNKNOWN"}, natsauth.SignatureHeader: {"x"}}, string(msg.Data),
			natsauth.ErrUnknownSigner},
		"signature not base64": {msg.Subject, nats.Header{natsauth.SignerHeader: msg.Header[natsauth.SignerHeader], natsauth.SignatureHeader: {"!!"}},
			string(msg.Data), natsauth.ErrBadSignature},
	} {
		if _, err := m.Authorise(tc.subject, tc.h, []byte(tc.data)); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	// The projector signs nothing it may submit.
	p, err := natsauth.LoadCredential(natsauth.SeedFile(dir, "projector"))
	if err != nil {
		t.Fatal(err)
	}
	pm := nats.NewMsg("egov.province.19.report")
	if err := p.Sign(pm); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Authorise(pm.Subject, pm.Header, pm.Data); !errors.Is(err, natsauth.ErrNotAllowed) {
		t.Errorf("signed by the projector: %v, want not allowed", err)
	}
}

// A seed file of another tool (the bare seed) is read too, without a name; a credential prints its public key and
// never its seed; a file without a seed names the file only.
func TestLoadCredential(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	pub, _ := kp.PublicKey()
	dir := t.TempDir()
	bare := filepath.Join(dir, "bare.nk")
	if err := os.WriteFile(bare, append(seed, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := natsauth.LoadCredential(bare)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "" || c.PublicKey() != pub {
		t.Errorf("bare seed: name %q, key %s; want no name and %s", c.Name, c.PublicKey(), pub)
	}
	if s := fmt.Sprintf("%v %+v %s", c, c, c); strings.Contains(s, string(seed)) || !strings.Contains(s, pub) {
		t.Errorf("printed: %s", s)
	}
	notSeed := filepath.Join(dir, "pub.nk")
	if err := os.WriteFile(notSeed, []byte(pub+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := natsauth.LoadCredential(notSeed); err == nil || strings.Contains(err.Error(), pub) {
		t.Errorf("a public key as a seed: %v", err)
	}
	c.Wipe()
	if err := c.Sign(nats.NewMsg("egov.x")); err == nil {
		t.Error("a wiped credential signed")
	}
}

// The inboxes of two credentials do not overlap, nor does any credential's subscribe permission reach another's.
func TestInboxesAreOwn(t *testing.T) {
	m, _ := model(t)
	a, _ := m.User("province/19")
	b, _ := m.User("province/01")
	pa := m.Permissions(a)
	if len(pa.Subscribe.Allow) != 1 || strings.HasPrefix(natsauth.InboxPrefix(b.Key)+".x", strings.TrimSuffix(pa.Subscribe.Allow[0], ">")) {
		t.Errorf("province/19 subscribes to %v", pa.Subscribe.Allow)
	}
}
