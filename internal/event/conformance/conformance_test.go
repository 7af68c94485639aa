package conformance_test

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/event/conformance"
	"github.com/egovtrack/egovtrack/internal/natsauth"
)

var update = flag.Bool("update", false, "rewrite what vectors.json derives from its inputs (subject, canonical, id, payload, signed, signature) with egovtrack's code")

// placeholderID is the id of the refused vectors' events: of no rule.
const placeholderID = "00000000-0000-5000-8000-000000000000"

// Every vector, computed again by the production code: Decode accepts its payload and answers with its id;
// Canonical gives its canonical bytes from the data Decode read; New gives the same id; a credential loaded from the
// test seed signs the payload with its signature and headers; Authorise accepts them as the vector's submitter. Every
// refused vector is refused by Decode, naming its field.
func TestVectorsAgreeWithTheCode(t *testing.T) {
	f := load(t)
	if *update {
		f = regenerate(t, f)
	}
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			env, d, err := event.Decode([]byte(v.Payload))
			if err != nil {
				t.Fatalf("Decode refuses the payload: %v", err)
			}
			if env.ID != v.ID || env.Subject != v.Subject || string(env.Type) != v.Type {
				t.Errorf("Decode read id %s, subject %s, type %s; want %s, %s, %s", env.ID, env.Subject, env.Type, v.ID, v.Subject, v.Type)
			}
			canonical, err := event.Canonical(d)
			if err != nil || string(canonical) != v.Canonical {
				t.Errorf("Canonical = %s (%v)\nwant       %s", canonical, err, v.Canonical)
			}
			if made, err := event.New(f.Source, d); err != nil || made.ID != v.ID {
				t.Errorf("New made id %s (%v), want %s", made.ID, err, v.ID)
			}
			msg := sign(t, f, v)
			if got := msg.Header.Get(natsauth.SignatureHeader); got != v.Signature {
				t.Errorf("signature %s, want %s", got, v.Signature)
			}
			if got := msg.Header.Get(natsauth.SignerHeader); got != f.Signing.TestPublicKey {
				t.Errorf("signer %s, want %s", got, f.Signing.TestPublicKey)
			}
			if got := msg.Header.Get(natsauth.SubmittedByHeader); got != v.SubmittedBy {
				t.Errorf("submitted by %s, want %s", got, v.SubmittedBy)
			}
			if got := natsauth.Signed(v.Subject, v.SubmittedBy, []byte(v.Payload)); string(got) != v.Signed {
				t.Errorf("signed bytes:\n got %q\nwant %q", got, v.Signed)
			}
			by, err := modelWithTestKey(t, f, v.SubmittedBy).Authorise(v.Subject, msg.Header, []byte(v.Payload))
			if err != nil || by.Name != v.SubmittedBy {
				t.Errorf("Authorise = %s, %v; want %s", by.Name, err, v.SubmittedBy)
			}
		})
	}
	for _, r := range f.Refused {
		t.Run("refused: "+r.Name, func(t *testing.T) {
			_, _, err := event.Decode([]byte(r.Payload))
			fes, ok := errors.AsType[event.FieldErrors](err)
			if !ok || len(fes) != 1 || fes[0].Field != r.Field {
				t.Errorf("Decode = %v, want one error, on %s", err, r.Field)
			}
		})
	}
}

// The vectors checked without egovtrack's code, so that they are not only the code agreeing with itself: the
// canonical bytes have the form RFC 8785 prescribes (checked by a reader of its own, not the jcs package), the id is
// the UUIDv5 of type, subject and canonical bytes (computed with crypto/sha1), the signed bytes are label, subject,
// submitter and payload, and the signature verifies with the published public key. Facts written two ways have one
// id; every other vector is another fact, with another id (the NFD name among them).
func TestVectorsStandOnTheirOwn(t *testing.T) {
	t.Parallel()
	f := load(t)
	ns := mustUUIDBytes(t, f.IDNamespace)
	types := map[string]bool{}
	ids := map[string]string{}
	for _, v := range f.Vectors {
		types[v.Type] = true
		if err := checkJCS([]byte(v.Canonical)); err != nil {
			t.Errorf("%s: the canonical bytes are not in the JCS form: %v\n%s", v.Name, err, v.Canonical)
		}
		if got := uuidV5(ns, v.Type+"\x00"+v.Subject+"\x00"+v.Canonical); got != v.ID {
			t.Errorf("%s: UUIDv5 of its bytes is %s, the vector says %s", v.Name, got, v.ID)
		}
		if want := f.Signing.Label + v.Subject + "\n" + v.SubmittedBy + "\n" + v.Payload; v.Signed != want {
			t.Errorf("%s: signed bytes %q, want %q", v.Name, v.Signed, want)
		}
		pub, err := nkeys.FromPublicKey(f.Signing.TestPublicKey)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := base64.RawURLEncoding.DecodeString(v.Signature)
		if err != nil || pub.Verify([]byte(v.Signed), sig) != nil {
			t.Errorf("%s: the signature does not verify (%v)", v.Name, err)
		}
		var payload struct {
			ID   string          `json:"id"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal([]byte(v.Payload), &payload); err != nil || payload.ID != v.ID || !bytes.Equal(payload.Data, compact(t, v.Input)) {
			t.Errorf("%s: the payload's id is %s (%v), its data %s; want %s and the input as written", v.Name, payload.ID, err, payload.Data, v.ID)
		}
		if first, ok := ids[v.ID]; ok && !sameFact(first, v.Name) {
			t.Errorf("%s has the id of %s", v.Name, first)
		}
		ids[v.ID] = v.Name
	}
	for _, typ := range event.Types {
		if !types[string(typ)] {
			t.Errorf("no vector of %s", typ)
		}
	}
	for _, pair := range sameFacts {
		if id(f, pair[0]) == "" || id(f, pair[0]) != id(f, pair[1]) {
			t.Errorf("%q and %q are one fact written two ways, with ids %s and %s", pair[0], pair[1], id(f, pair[0]), id(f, pair[1]))
		}
	}
	if seed, _ := nkeys.FromSeed([]byte(f.Signing.TestSeed)); seed == nil {
		t.Error("the test seed is not a seed")
	} else if pub, _ := seed.PublicKey(); pub != f.Signing.TestPublicKey {
		t.Errorf("the test seed's public key is %s, the file says %s", pub, f.Signing.TestPublicKey)
	}
}

// sameFacts are the vectors that write one fact two ways.
var sameFacts = [][2]string{
	{"procedure registered: U+2028 escaped and an astral character (U+20000, a Nôm character) written as itself",
		"procedure registered: the same fact, U+2028 written as itself and the astral character as its surrogate pair"},
	{"level changed: levels as Decree 42/2022's words, half a second",
		"level changed: the same fact, levels as numbers (3.0), the time in UTC written .500"},
}

func sameFact(a, b string) bool {
	for _, p := range sameFacts {
		if p == [2]string{a, b} || p == [2]string{b, a} {
			return true
		}
	}
	return false
}

func id(f conformance.File, name string) string {
	for _, v := range f.Vectors {
		if v.Name == name {
			return v.ID
		}
	}
	return ""
}

func load(t *testing.T) conformance.File {
	t.Helper()
	f, err := conformance.Load()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// sign signs v's payload as v's submitter with the test seed, through the credential a publisher loads.
func sign(t *testing.T, f conformance.File, v conformance.Vector) *nats.Msg {
	t.Helper()
	file := filepath.Join(t.TempDir(), "test.nk")
	seed := fmt.Sprintf("# credential: %s\n%s\n", v.SubmittedBy, f.Signing.TestSeed)
	if err := os.WriteFile(file, []byte(seed), 0o600); err != nil {
		t.Fatal(err)
	}
	cred, err := natsauth.LoadCredential(file)
	if err != nil {
		t.Fatal(err)
	}
	msg := &nats.Msg{Subject: v.Subject, Data: []byte(v.Payload)}
	if err := cred.Sign(msg); err != nil {
		t.Fatal(err)
	}
	return msg
}

// modelWithTestKey is an authorisation model where the credential name has the test key, and every other one a
// fresh key.
func modelWithTestKey(t *testing.T, f conformance.File, name string) *natsauth.Model {
	t.Helper()
	keys := map[string]string{}
	for _, n := range natsauth.Names() {
		kp, err := nkeys.CreateUser()
		if err != nil {
			t.Fatal(err)
		}
		keys[n], _ = kp.PublicKey()
	}
	keys[name] = f.Signing.TestPublicKey
	m, err := natsauth.New(keys, "EGOV", "projector")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// regenerate computes what the vectors derive from their inputs with egovtrack's code, writes vectors.json and
// returns it.
func regenerate(t *testing.T, f conformance.File) conformance.File {
	t.Helper()
	f.About = "egovtrack's conformance vectors: internal/event/README.md says what each field means and how to use them. " +
		"Regenerate the derived fields with: go test ./internal/event/conformance -update"
	f.IDNamespace = event.IDNamespace
	f.Signing.Label = natsauth.SignatureLabel
	seed, err := nkeys.FromSeed([]byte(f.Signing.TestSeed))
	if err != nil {
		t.Fatal(err)
	}
	f.Signing.TestPublicKey, _ = seed.PublicKey()
	for i := range f.Vectors {
		v := &f.Vectors[i]
		d, err := event.Envelope{Type: event.Type(v.Type), Data: v.Input}.UncheckedData()
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		env, err := event.New(f.Source, d)
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		canonical, err := event.Canonical(d)
		if err != nil {
			t.Fatal(err)
		}
		v.Subject, v.ID, v.Canonical = env.Subject, env.ID, string(canonical)
		v.Payload = payload(t, env.ID, f.Source, v.Type, v.Subject, v.Input)
		v.Signed = string(natsauth.Signed(v.Subject, v.SubmittedBy, []byte(v.Payload)))
		v.Signature = sign(t, f, *v).Header.Get(natsauth.SignatureHeader)
	}
	for i := range f.Refused {
		r := &f.Refused[i]
		r.Payload = payload(t, placeholderID, f.Source, r.Type, r.Subject, r.Input)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("vectors.json", b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// payload is the event a sender publishes: the envelope, with the input as data, compact, as written, and its time
// as the input writes it.
func payload(t *testing.T, id, source, typ, subject string, input json.RawMessage) string {
	t.Helper()
	var times struct {
		EffectiveAt string `json:"effective_at"`
		ReportedAt  string `json:"reported_at"`
		SetAt       string `json:"set_at"`
		DecidedAt   string `json:"decided_at"`
		ReceivedAt  string `json:"received_at"`
		PaidAt      string `json:"paid_at"`
		SettledAt   string `json:"settled_at"`
		IssuedAt    string `json:"issued_at"`
		DigitisedAt string `json:"digitised_at"`
		WithdrawnAt string `json:"withdrawn_at"`
		GivenAt     string `json:"given_at"`
	}
	if err := json.Unmarshal(input, &times); err != nil {
		t.Fatal(err)
	}
	q := func(s string) string { return string(mustJSON(t, s)) }
	return `{"id":` + q(id) + `,"source":` + q(source) + `,"specversion":"1.0","type":` + q(typ) + `,"subject":` + q(subject) +
		`,"time":` + q(times.EffectiveAt+times.ReportedAt+times.SetAt+times.DecidedAt+times.ReceivedAt+times.PaidAt+times.SettledAt+
		times.IssuedAt+times.DigitisedAt+times.WithdrawnAt+times.GivenAt) + `,"datacontenttype":"application/json","data":` +
		string(compact(t, input)) + `}`
}

func compact(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// uuidV5 is RFC 9562's name-based UUID with SHA-1, written out: the hash of namespace and name, its version and
// variant bits set.
func uuidV5(namespace []byte, name string) string {
	h := sha1.Sum(append(append([]byte{}, namespace...), name...))
	u := h[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

func mustUUIDBytes(t *testing.T, s string) []byte {
	t.Helper()
	var b []byte
	if _, err := fmt.Sscanf(strings.ReplaceAll(s, "-", ""), "%x", &b); err != nil || len(b) != 16 {
		t.Fatalf("namespace %q is not a UUID: %v", s, err)
	}
	return b
}
