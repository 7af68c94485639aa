package event

import (
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/gowebpki/jcs"
)

// IDNamespace is the UUIDv5 namespace of egovtrack's event ids. Changing it changes every id: never do.
const IDNamespace = "8f0c7a52-9a3e-4c1e-9d0b-5b8e3f1f6a21"

var idSpace = uuid.MustParse(IDNamespace)

// Canonical returns the bytes an event's id is derived from: the data normalized (times in UTC, levels as numbers,
// empty optional fields left out; see normalize and the README's "Ids"), written as JSON and then in the canonical
// form of RFC 8785 (JCS): keys sorted, no white space, strings with the fewest escapes, numbers as ECMAScript writes
// them. Any language can compute the same bytes from the same fact. It writes d's times in UTC, in place.
func Canonical(d Data) ([]byte, error) {
	normalize(d)
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode %s data: %w", d.EventType(), err)
	}
	return canonicalOf(d.EventType(), b)
}

// canonicalOf is the JCS form of b, the encoding of normalized data of type t.
func canonicalOf(t Type, b []byte) ([]byte, error) {
	c, err := jcs.Transform(b)
	if err != nil {
		return nil, fmt.Errorf("canonical form of %s data: %w", t, err)
	}
	return c, nil
}

// deriveID names a fact by its content: the same type, subject and canonical data always give the same UUID, a
// version 5 UUID in idSpace of the type, a zero byte, the subject, a zero byte and the data.
func deriveID(t Type, subject string, canonical []byte) string {
	b := make([]byte, 0, len(t)+len(subject)+len(canonical)+2)
	b = append(b, t...)
	b = append(b, 0)
	b = append(b, subject...)
	b = append(b, 0)
	b = append(b, canonical...)
	return uuid.NewSHA1(idSpace, b).String()
}

// ids are the ids a fact of type t on subject has, from marshalled, the encoding/json form of its normalized data:
// the current rule's (over the JCS form) and the legacy one's.
func ids(t Type, subject string, marshalled []byte) (current, legacy string, err error) {
	canonical, err := canonicalOf(t, marshalled)
	if err != nil {
		return "", "", err
	}
	return deriveID(t, subject, canonical), legacyID(t, subject, marshalled), nil
}

// legacyID is the id rule of the events published before ids were derived from the JCS form: the same UUID over the
// data as Go's encoding/json writes the package's types (fields in struct order, "&", "<", ">", U+2028 and U+2029
// escaped, times with the shortest fraction). It is Go-only, and kept only so that Decode can still read those events
// from the stream, which keeps them forever.
//
// Deprecated: nothing makes ids this way; Decode accepts them and answers with the current id.
func legacyID(t Type, subject string, marshalled []byte) string {
	return deriveID(t, subject, marshalled)
}

// IDs returns every id the fact d has had, one per id rule, the current rule's first: an event of the stream that
// reports d carries one of them. A reader that looks for a fact among stored events by id (the intake API, to see a
// re-sent event) looks for all of them. It writes d's times in UTC, in place.
func IDs(d Data) ([]string, error) {
	normalize(d)
	marshalled, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode %s data: %w", d.EventType(), err)
	}
	current, legacy, err := ids(d.EventType(), d.Subject(), marshalled)
	if err != nil {
		return nil, err
	}
	return []string{current, legacy}, nil
}
