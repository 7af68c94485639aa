// Package eventtest makes, for tests, the events the contract refuses but a stream may hold: those published by a
// client that skipped validation, or before a check was added.
package eventtest

import (
	"encoding/json"
	"testing"

	"github.com/egovtrack/egovtrack/internal/event"
)

// Unchecked returns the envelope of d as a publisher that does not validate would make it: the id its fact derives
// (the current rule's, event.IDs), the subject and time of its data, whatever they are. It writes d's times in UTC,
// in place. event.New would refuse what Decode refuses; this does not, so that a test can show a reader refusing it.
func Unchecked(tb testing.TB, source string, d event.Data) event.Envelope {
	tb.Helper()
	ids, err := event.IDs(d)
	if err != nil {
		tb.Fatal(err)
	}
	data, err := json.Marshal(d)
	if err != nil {
		tb.Fatal(err)
	}
	return event.Envelope{ID: ids[0], Source: source, SpecVersion: event.SpecVersion, Type: d.EventType(),
		Subject: d.Subject(), Time: d.OccurredAt(), DataContentType: event.DataContentType, Data: data}
}

// UncheckedJSON is Unchecked, as the message a stream would hold.
func UncheckedJSON(tb testing.TB, source string, d event.Data) []byte {
	tb.Helper()
	b, err := json.Marshal(Unchecked(tb, source, d))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
