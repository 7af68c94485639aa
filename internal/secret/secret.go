// Package secret is the type of every credential a configuration holds (a password, a token): a String prints,
// logs and marshals as REDACTED, so that a configuration holding one may be printed, logged or wrapped into an error
// as it is. Only Reveal gives the credential itself, to the one call that sends it.
package secret

import (
	"log/slog"
	"os"
	"strings"
)

// Redacted is what a String shows instead of the credential, and what configurations show of a URL's password
// that cannot be parsed.
const Redacted = "REDACTED"

// String is a credential. Its String, GoString, LogValue and MarshalText give Redacted when it is set and nothing
// when it is empty, so that fmt's verbs (%v, %+v, %#v, %s, %q, %x, and those of a struct that holds it), log/slog's
// handlers and encoding/json show that it is set, never what it is. caarlos0/env reads it from the environment as it
// is (UnmarshalText).
//
// It is a string underneath: a literal assigns to it, and "" says it is unset.
type String string

// Reveal is the credential itself, for the call that sends it.
func (s String) Reveal() string { return string(s) }

// String is for fmt's %v, %+v, %s, %q and %x.
func (s String) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString is for fmt's %#v.
func (s String) GoString() string { return s.String() }

// LogValue is for log/slog.
func (s String) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText is for encoding/json and every encoder that takes text.
func (s String) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText takes the credential as it is written (an environment variable's value).
func (s *String) UnmarshalText(b []byte) error {
	*s = String(b)
	return nil
}

// FromFile reads a credential kept in a file, as Docker and Kubernetes secrets are: its first line, without the line
// ending. Errors name the file, never its content.
func FromFile(path string) (String, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return String(strings.TrimSuffix(line, "\r")), nil
}
