package natsauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// The headers of a signed event. The server's permissions stop a credential from publishing outside its subjects;
// the signature lets the projector check the same again on what reached the stream, whatever the server's
// configuration was (a server started without permissions, a credential given too much), and say who submitted each
// event.
const (
	// SubmittedByHeader is the signing credential's name, "province/19", or, for an event the intake API accepted, the
	// name of the token it accepted it from, "intake:province/19:1a2b3c4d" (see OnBehalf).
	SubmittedByHeader = "Egov-Submitted-By"
	// SignerHeader is the signing credential's public user nkey.
	SignerHeader = "Egov-Signer"
	// SignatureHeader is the ed25519 signature of the message (see Signed), base64url without padding.
	SignatureHeader = "Egov-Signature"
)

// Why Authorise refuses a message; its errors wrap one of these.
var (
	ErrUnsigned      = errors.New("not signed")
	ErrBadSignature  = errors.New("invalid signature")
	ErrUnknownSigner = errors.New("signed by no credential of the model")
	ErrNotAllowed    = errors.New("the signer may not submit it")
)

// SignatureLabel starts the bytes every signature covers; it names the scheme and its version.
const SignatureLabel = "egovtrack event signature v1\n"

// Signed is what a signature covers: SignatureLabel, the subject the message is published on, a newline, the
// submitter's name (SubmittedByHeader's value, "" when the header is absent), a newline and the payload exactly as
// published, so that a signature can neither be moved to another subject, nor claimed for another credential, nor
// kept for changed bytes. Subjects and names hold no newline. internal/event/README.md ("Signatures") states the same
// for publishers in other languages, and internal/event/conformance/vectors.json gives examples.
func Signed(subject, by string, data []byte) []byte {
	b := make([]byte, 0, len(SignatureLabel)+len(subject)+len(by)+len(data)+2)
	b = append(b, SignatureLabel...)
	b = append(b, subject...)
	b = append(b, '\n')
	b = append(b, by...)
	b = append(b, '\n')
	return append(b, data...)
}

// onBehalfPrefix starts the submitter's name of an event the intake signed for one of a unit's tokens.
const onBehalfPrefix = IntakeName + ":"

// ErrNotIntake is returned by SignOnBehalf for a credential other than the intake's: no other may speak for a unit's
// token.
var ErrNotIntake = errors.New("only the intake credential signs on behalf of a unit")

type onBehalfKey struct{}

// WithOnBehalf returns ctx carrying who the intake API is publishing for: the unit of a checked token and the
// token's id (no secret: "1a2b3c4d", the start of its hash). A publisher reads it with OnBehalf and signs with
// SignOnBehalf, so that the events record the token, not just the intake, as their submitter.
func WithOnBehalf(ctx context.Context, unit units.Ref, tokenID string) context.Context {
	return context.WithValue(ctx, onBehalfKey{}, unit.String()+":"+tokenID)
}

// OnBehalf returns what WithOnBehalf put in ctx, "province/19:1a2b3c4d", or "".
func OnBehalf(ctx context.Context) string {
	s, _ := ctx.Value(onBehalfKey{}).(string)
	return s
}

// Sign signs msg, whose subject and data must be final, with the credential's key, and sets the three headers.
func (c *Credential) Sign(msg *nats.Msg) error { return c.sign(msg, c.Name) }

// SignOnBehalf signs msg like Sign, naming as its submitter the token onBehalf ("province/19:1a2b3c4d", as OnBehalf
// returns it) rather than the credential: SubmittedByHeader becomes "intake:province/19:1a2b3c4d", which the
// signature covers. Only the intake's credential may do so (ErrNotIntake), and Authorise accepts it only on the
// subjects of that unit. An empty onBehalf is Sign.
func (c *Credential) SignOnBehalf(msg *nats.Msg, onBehalf string) error {
	if onBehalf == "" {
		return c.Sign(msg)
	}
	if c.Name != IntakeName && c.Name != "" { // a nameless seed is judged by the projector, from its public key
		return fmt.Errorf("sign with %s for %s: %w", c, onBehalf, ErrNotIntake)
	}
	if _, err := parseOnBehalf(onBehalf); err != nil {
		return fmt.Errorf("sign with %s: %w", c, err)
	}
	return c.sign(msg, onBehalfPrefix+onBehalf)
}

func (c *Credential) sign(msg *nats.Msg, by string) error {
	sig, err := c.kp.Sign(Signed(msg.Subject, by, msg.Data))
	if err != nil {
		return fmt.Errorf("sign with %s: %w", c, err)
	}
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	if by != "" {
		msg.Header.Set(SubmittedByHeader, by)
	} else {
		msg.Header.Del(SubmittedByHeader)
	}
	msg.Header.Set(SignerHeader, c.key)
	msg.Header.Set(SignatureHeader, base64.RawURLEncoding.EncodeToString(sig))
	return nil
}

// Authorise checks a message that reached the stream on subject, with header h and payload data: that it is signed
// by a credential of the model, that the signature covers exactly this subject, submitter and payload, and that the
// credential may submit events on subject. It returns that credential; for an event the intake signed on behalf of
// a unit's token (SignOnBehalf), it returns the intake's credential named as the token, "intake:province/19:1a2b3c4d",
// with that Unit, after checking that the subject is the unit's own. Its errors wrap ErrUnsigned (no signature
// headers), ErrBadSignature, ErrUnknownSigner or ErrNotAllowed.
func (m *Model) Authorise(subject string, h nats.Header, data []byte) (User, error) {
	key, sig, by := h.Get(SignerHeader), h.Get(SignatureHeader), h.Get(SubmittedByHeader)
	if key == "" && sig == "" {
		return User{}, ErrUnsigned
	}
	i, ok := m.byKey[key]
	if !ok {
		return User{}, fmt.Errorf("%w: %q", ErrUnknownSigner, clip(key))
	}
	u := m.Users[i]
	raw, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || m.verifiers[i].Verify(Signed(subject, by, data), raw) != nil {
		return User{}, fmt.Errorf("%w of %s", ErrBadSignature, u.Name)
	}
	if u.Role == Intake && strings.HasPrefix(by, onBehalfPrefix) {
		return u.onBehalf(subject, strings.TrimPrefix(by, onBehalfPrefix))
	}
	if by != "" && by != u.Name {
		return User{}, fmt.Errorf("%w: signed by %s, which claims to be %s", ErrNotAllowed, u.Name, clip(by))
	}
	if !u.MaySubmit(subject) {
		return User{}, fmt.Errorf("%w: %s may not submit events on %s", ErrNotAllowed, u.Name, subject)
	}
	return u, nil
}

// onBehalf is the intake's credential u speaking for the token onBehalf, on subject: allowed only on the subjects of
// the token's unit, which the intake's own permissions (every unit) would not check.
func (u User) onBehalf(subject, onBehalf string) (User, error) {
	unit, err := parseOnBehalf(onBehalf)
	if err != nil {
		return User{}, fmt.Errorf("%w: signed by %s: %w", ErrNotAllowed, u.Name, err)
	}
	if !server.SubjectMatchesFilter(subject, event.UnitPrefix(unit)) {
		return User{}, fmt.Errorf("%w: %s signed for a token of %s, on %s", ErrNotAllowed, u.Name, unit, subject)
	}
	return User{Name: onBehalfPrefix + onBehalf, Role: Intake, Unit: unit, Key: u.Key}, nil
}

// parseOnBehalf returns the unit of "province/19:1a2b3c4d", after checking that it is a known unit and that the
// token id is letters, digits, '-' and '_' (at most 64), so that the name stored as the submitter holds nothing else.
func parseOnBehalf(s string) (units.Ref, error) {
	ref, id, ok := strings.Cut(s, ":")
	kind, code, _ := strings.Cut(ref, "/")
	unit := units.Ref{Kind: units.Kind(kind), Code: code}
	if _, known := units.Lookup(unit); !ok || !known {
		return units.Ref{}, fmt.Errorf("on behalf of %q: not a known unit's token (kind/code:token-id)", clip(s))
	}
	if id == "" || len(id) > 64 || strings.ContainsFunc(id, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) {
		return units.Ref{}, fmt.Errorf("on behalf of %q: the token id is not 1 to 64 letters, digits, - or _", clip(s))
	}
	return unit, nil
}

// clip shortens what a message says of itself to what an error may quote.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// Digest identifies what Authorise verifies of a message: a SHA-256 over the subject, the submitter, the payload, the
// signer's key and the signature, each preceded by its length (so that no two messages share an input), hex-encoded.
// A verdict recorded under it vouches for this message alone: a byte of any of them changed gives another digest.
// Computing it costs about a microsecond, verifying the signature sixty.
func Digest(subject string, h nats.Header, data []byte) string {
	d := sha256.New()
	d.Write([]byte(SignatureLabel))
	var n [8]byte
	for _, part := range [][]byte{[]byte(subject), []byte(h.Get(SubmittedByHeader)), data, []byte(h.Get(SignerHeader)), []byte(h.Get(SignatureHeader))} {
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		d.Write(n[:])
		d.Write(part)
	}
	return hex.EncodeToString(d.Sum(nil))
}
