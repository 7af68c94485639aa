package natsauth_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
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

// One credential per unit of the reference data, those reorganisations made included, and the three others.
func TestNames(t *testing.T) {
	names := natsauth.Names()
	if len(names) != len(units.Every())+3 {
		t.Fatalf("%d names for %d units", len(names), len(units.Every()))
	}
	for _, want := range []string{"province/19", "ministry/BTTTT", "ministry/BNNMT", "office", "intake", "projector"} {
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

// permits reports whether p lets its holder publish on subject, as the server decides: an allow matches it and no
// deny does.
func permits(p *server.Permissions, subject string) bool {
	matches := func(patterns []string) bool {
		return slices.ContainsFunc(patterns, func(f string) bool { return server.SubjectMatchesFilter(subject, f) })
	}
	return matches(p.Publish.Allow) && !matches(p.Publish.Deny)
}

// Every credential of the model, each of the 88, is refused every request that changes or removes the stream or its
// messages; the office alone may create the stream and look at it. No credential but the projector may create, look
// at or read from a consumer under a name the projector uses or may use with up to MaxPartitions instances, filtered
// on what it reads or not; the projector may use exactly its current durables. An operator's credential, when asked
// for, may do everything.
func TestNoCredentialMayChangeTheStream(t *testing.T) {
	m, _ := model(t)
	m.Partitions = 2
	changes := []string{"STREAM.UPDATE.EGOV", "STREAM.DELETE.EGOV", "STREAM.PURGE.EGOV", "STREAM.MSG.DELETE.EGOV",
		"STREAM.SNAPSHOT.EGOV", "STREAM.RESTORE.EGOV", "STREAM.LEADER.STEPDOWN.EGOV", "CONSUMER.DELETE.EGOV.projector-1-of-2"}
	reserved := m.ReservedDurables()
	if len(reserved) != 136 || !slices.Contains(reserved, "projector") || !slices.Contains(reserved, "projector-16-of-16") {
		t.Fatalf("reserved durables: %d, want projector and every partition durable up to 16 of 16", len(reserved))
	}
	for _, u := range m.Users {
		p := m.Permissions(u)
		for _, api := range changes {
			if subject := "$JS.API." + api; permits(p, subject) != (u.Role == natsauth.Projector && api == "CONSUMER.DELETE.EGOV.projector-1-of-2") {
				t.Errorf("%s: %s permitted %t", u.Name, subject, permits(p, subject))
			}
		}
		for _, api := range []string{"STREAM.CREATE.EGOV", "STREAM.INFO.EGOV"} {
			if got := permits(p, "$JS.API."+api); got != (u.Role == natsauth.Office || u.Role == natsauth.Projector && api == "STREAM.INFO.EGOV") {
				t.Errorf("%s: %s permitted %t", u.Name, api, got)
			}
		}
		filter := "egov.province.19.proc.1_000001"
		if u.Role == natsauth.Unit {
			filter = strings.TrimSuffix(u.Submits()[0], ">") + "report"
		}
		for _, d := range reserved {
			own := u.Role == natsauth.Projector && slices.Contains(m.Durables(), d)
			for _, subject := range []string{
				"$JS.API.CONSUMER.CREATE.EGOV." + d + "." + filter, "$JS.API.CONSUMER.CREATE.EGOV." + d,
				"$JS.API.CONSUMER.INFO.EGOV." + d, "$JS.API.CONSUMER.MSG.NEXT.EGOV." + d,
			} {
				want := own && !strings.HasSuffix(subject, filter) // the projector's consumers are unfiltered or multi-filtered
				if got := permits(p, subject); got != want {
					t.Errorf("%s: %s permitted %t, want %t", u.Name, subject, got, want)
				}
			}
		}
		// What a unit's reading back needs stays permitted.
		if u.Role != natsauth.Projector && !permits(p, "$JS.API.CONSUMER.CREATE.EGOV.a1b2c3_1."+filter) {
			t.Errorf("%s may not read back %s", u.Name, filter)
		}
	}
	m.Operator = m.Users[0].Key // any key: the test is of the permissions
	op := m.Permissions(natsauth.User{Name: natsauth.OperatorName, Role: natsauth.Operator, Key: m.Operator})
	for _, api := range append(changes, "STREAM.CREATE.EGOV", "CONSUMER.CREATE.EGOV.projector") {
		if !permits(op, "$JS.API."+api) {
			t.Errorf("the operator may not %s", api)
		}
	}
}
