package natsauth

import (
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// The headers of a signed event. The server's permissions stop a credential from publishing outside its subjects;
// the signature lets the projector check the same again on what reached the stream, whatever the server's
// configuration was (a server started without permissions, a credential given too much), and say who submitted each
// event.
const (
	// SubmittedByHeader is the signing credential's name, "province/19".
	SubmittedByHeader = "Egov-Submitted-By"
	// SignerHeader is the signing credential's public user nkey.
	SignerHeader = "Egov-Signer"
	// SignatureHeader is the ed25519 signature of the message (see signed), base64url without padding.
	SignatureHeader = "Egov-Signature"
)

// Why Authorise refuses a message; its errors wrap one of these.
var (
	ErrUnsigned      = errors.New("not signed")
	ErrBadSignature  = errors.New("invalid signature")
	ErrUnknownSigner = errors.New("signed by no credential of the model")
	ErrNotAllowed    = errors.New("the signer may not submit it")
)

// signed is what a signature covers: a label naming the scheme, the subject, the submitter's name and the payload, so
// that a signature can neither be moved to another subject, nor claimed for another credential, nor kept for changed
// bytes. Subjects and names hold no newline.
func signed(subject, by string, data []byte) []byte {
	const label = "egovtrack event signature v1\n"
	b := make([]byte, 0, len(label)+len(subject)+len(by)+len(data)+2)
	b = append(b, label...)
	b = append(b, subject...)
	b = append(b, '\n')
	b = append(b, by...)
	b = append(b, '\n')
	return append(b, data...)
}

// Sign signs msg, whose subject and data must be final, with the credential's key, and sets the three headers.
func (c *Credential) Sign(msg *nats.Msg) error {
	sig, err := c.kp.Sign(signed(msg.Subject, c.Name, msg.Data))
	if err != nil {
		return fmt.Errorf("sign with %s: %w", c, err)
	}
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	if c.Name != "" {
		msg.Header.Set(SubmittedByHeader, c.Name)
	} else {
		msg.Header.Del(SubmittedByHeader)
	}
	msg.Header.Set(SignerHeader, c.key)
	msg.Header.Set(SignatureHeader, base64.RawURLEncoding.EncodeToString(sig))
	return nil
}

// Authorise checks a message that reached the stream on subject, with header h and payload data: that it is signed
// by a credential of the model, that the signature covers exactly this subject, submitter and payload, and that the
// credential may submit events on subject. It returns that credential. Its errors wrap ErrUnsigned (no signature
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
	if err != nil || m.verifiers[i].Verify(signed(subject, by, data), raw) != nil {
		return User{}, fmt.Errorf("%w of %s", ErrBadSignature, u.Name)
	}
	if by != "" && by != u.Name {
		return User{}, fmt.Errorf("%w: signed by %s, which claims to be %s", ErrNotAllowed, u.Name, by)
	}
	if !u.MaySubmit(subject) {
		return User{}, fmt.Errorf("%w: %s may not submit events on %s", ErrNotAllowed, u.Name, subject)
	}
	return u, nil
}

// clip shortens what a message says of itself to what an error may quote.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
