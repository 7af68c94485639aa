package event_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/egovtrack/egovtrack/internal/event"
)

// FuzzDecode feeds Decode anything. It must not panic; what it refuses it refuses with FieldErrors that name a
// field, or with an error that says the input is no event and where; what it accepts is an event egovtrack would
// make itself: New makes the same event (same id) from its data, and that event decodes to the same fact.
//
// The seed corpus is testdata/fuzz/FuzzDecode: the README's events, and the bad inputs of TestBadInput.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		env, d, err := contract.Decode(b)
		if err != nil {
			if d != nil {
				t.Fatalf("Decode returned data with the error %v", err)
			}
			checkRefusal(t, err)
			return
		}
		if len(b) > event.MaxSize {
			t.Fatalf("Decode accepted %d bytes, more than MaxSize", len(b))
		}
		if !utf8.Valid(b) {
			t.Fatalf("Decode accepted invalid UTF-8")
		}
		data, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		again, err := contract.New(env.Source, d)
		if err != nil {
			t.Fatalf("New refuses the fact Decode accepted: %v\n%s", err, b)
		}
		if again.ID != env.ID || again.Subject != env.Subject || !again.Time.Equal(env.Time) || again.Type != env.Type {
			t.Fatalf("New made %s %s %s, Decode read %s %s %s\n%s", again.ID, again.Subject, again.Time, env.ID, env.Subject, env.Time, b)
		}
		stored, err := json.Marshal(again)
		if err != nil {
			t.Fatal(err)
		}
		env2, d2, err := contract.Decode(stored)
		if err != nil {
			t.Fatalf("the event New made does not decode: %v\n%s", err, stored)
		}
		data2, err := json.Marshal(d2)
		if err != nil {
			t.Fatal(err)
		}
		if env2.ID != env.ID || !bytes.Equal(data2, data) {
			t.Fatalf("stored again, the event is %s %s, was %s %s", env2.ID, data2, env.ID, data)
		}
	})
}

// checkRefusal holds an error of Decode to what it promises: FieldErrors naming fields with a message each, or an
// error saying why the input is no event, with the byte offset where that is a place.
func checkRefusal(t *testing.T, err error) {
	t.Helper()
	if fes, ok := errors.AsType[event.FieldErrors](err); ok {
		if len(fes) == 0 {
			t.Fatal("empty FieldErrors returned as an error")
		}
		for _, fe := range fes {
			if fe.Field == "" || fe.Message == "" {
				t.Fatalf("a field error without a field or a message: %q", fes)
			}
		}
		return
	}
	msg := err.Error()
	switch {
	case !strings.HasPrefix(msg, "decode envelope: "):
		t.Fatalf("error %q is neither FieldErrors nor a decoding error", msg)
	case strings.Contains(msg, "malformed JSON") || strings.Contains(msg, "UTF-8"):
		if !strings.Contains(msg, "at byte offset ") {
			t.Fatalf("error %q does not say where", msg)
		}
	case strings.Contains(msg, "not a JSON object"), strings.Contains(msg, "more than the"):
	default:
		t.Fatalf("unexpected error %q", msg)
	}
}
