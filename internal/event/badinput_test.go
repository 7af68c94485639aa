package event_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
)

// The bad-input list of issue 6, item by item, as event.Decode meets it (the projector decodes every message so, and
// the intake API every full envelope). Each is refused with exactly the message given: a FieldErrors naming the
// field, or, for input that is no event at all, an error naming the byte offset. The items a JSON event cannot hold
// are the collectors': CSV headers, legacy encodings of a file, merged cells, formulas and sheets (collectors/sheet).
// The same event twice is not an error: it has the same id and is stored once (TestIDIsDerivedFromTheFact).
func TestBadInput(t *testing.T) {
	levelChanged := func(edit func(env map[string]any)) []byte {
		env := exampleJSON(t, event.LevelChanged)
		edit(env)
		return mustMarshal(t, env)
	}
	set := func(path string, v any) func(map[string]any) {
		return func(env map[string]any) { setPath(env, path, v) }
	}
	valid := levelChanged(func(map[string]any) {})
	registered := mustMarshal(t, exampleJSON(t, event.ProcedureRegistered))
	tests := []struct {
		item  string
		input []byte
		// err is the error's text, exactly.
		err string
		// fields: the error is a FieldErrors (otherwise the input is no event at all).
		fields bool
	}{
		{
			item:  "malformed JSON",
			input: valid[:40],
			err:   "decode envelope: malformed JSON at byte offset 40: unexpected end of JSON input",
		},
		{
			item:  "malformed JSON: two documents",
			input: append(append([]byte{}, valid...), "{}"...),
			err:   "decode envelope: malformed JSON at byte offset 385: invalid character '{' after top-level value",
		},
		{
			item:  "wrong types: not an object",
			input: []byte(`["gov.egov.procedure.level_changed.v1"]`),
			err:   "decode envelope: the event is an array, not a JSON object",
		},
		{
			item:   "wrong types: a string for a boolean, a number for a string",
			input:  bytes.Replace(bytes.Replace(registered, []byte(`"eligible":true`), []byte(`"eligible":"có"`), 1), []byte(`"sector":"Xây dựng"`), []byte(`"sector":12`), 1),
			err:    "data.eligible: is a string, want a boolean; data.sector: is a number, want a string",
			fields: true,
		},
		{
			item:   "unknown event type",
			input:  levelChanged(set("type", "gov.egov.procedure.renamed.v1")),
			err:    `type: "gov.egov.procedure.renamed.v1" is not a known event type`,
			fields: true,
		},
		{
			item:   "unknown version",
			input:  levelChanged(set("type", "gov.egov.procedure.level_changed.v2")),
			err:    `type: "gov.egov.procedure.level_changed.v2" is not a known event type`,
			fields: true,
		},
		{
			item:   "unknown unit",
			input:  levelChanged(set("data.unit", map[string]any{"kind": "province", "code": "03"})),
			err:    "data.unit: province/03 is not a known unit",
			fields: true,
		},
		{
			item:   "invalid level",
			input:  levelChanged(set("data.to", 7)),
			err:    "data.to: 7 is out of range 1–4",
			fields: true,
		},
		{
			item:   "invalid level: a word the contract does not spell so",
			input:  levelChanged(set("data.to", "Toàn trình")),
			err:    `data.to: "Toàn trình" is not spelled as the contract writes levels: a number 1–4, or a word in lower case such as "full" or "toàn trình"`,
			fields: true,
		},
		{
			item:   "future time",
			input:  levelChanged(set("data.effective_at", "2022-01-01T00:00:00+07:00")),
			err:    "data.effective_at: 2022-01-01T00:00:00+07:00 is in the future: egovtrack records times up to 5 minutes from now",
			fields: true,
		},
		{
			item:   "wrong types: a time JSON cannot carry in UTC",
			input:  levelChanged(set("data.effective_at", "0000-01-01T00:00:00+01:00")),
			err:    "data.effective_at: 0000-01-01T00:00:00+01:00 is before 2000-01-01T00:00:00+07:00, the earliest time egovtrack records",
			fields: true,
		},
		{
			item:  "oversized payload",
			input: levelChanged(set("data.reason", strings.Repeat("x", event.MaxSize))),
			err:   "decode envelope: the event is 65932 bytes, more than the 65536 an event may be",
		},
		{
			item:  "invalid UTF-8",
			input: bytes.Replace(registered, []byte("Xây dựng"), []byte("X\xe2y d\xf9ng"), 1),
			err:   "decode envelope: invalid UTF-8 at byte offset 148: an event is UTF-8 text",
		},
		{
			item:   "duplicate rows: a field given twice",
			input:  bytes.Replace(valid, []byte(`"to":4`), []byte(`"to":4,"to":3`), 1),
			err:    "data.to: is given twice (the second time at byte offset 90): give each field once",
			fields: true,
		},
		{
			item:  "an empty file",
			input: nil,
			err:   "decode envelope: malformed JSON at byte offset 0: unexpected end of JSON input",
		},
		{
			item:   "an event claiming another unit: its subject is not its data's",
			input:  levelChanged(set("subject", "egov.province.01.proc.1_001234")),
			err:    `subject: is "egov.province.01.proc.1_001234", but the data is about "egov.province.19.proc.1_001234"`,
			fields: true,
		},
	}
	// The offsets are the bytes read when the problem was found: the bad byte is the 148th, and the second "to" ends
	// at the 90th.
	for _, tt := range tests {
		switch b := tt.input; tt.item {
		case "invalid UTF-8":
			if b[147] != 0xe2 {
				t.Errorf("byte 148 of the invalid UTF-8 is %q", b[147])
			}
		case "duplicate rows: a field given twice":
			if !bytes.HasSuffix(b[:90], []byte(`,"to"`)) {
				t.Errorf("the 90 bytes before the second \"to\" end with %q", b[80:90])
			}
		}
	}
	for _, tt := range tests {
		t.Run(tt.item, func(t *testing.T) {
			_, d, err := contract.Decode(tt.input)
			if err == nil {
				t.Fatalf("Decode accepted it: %#v", d)
			}
			if err.Error() != tt.err {
				t.Errorf("error\n  %s\nwant\n  %s", err, tt.err)
			}
			if _, ok := errors.AsType[event.FieldErrors](err); ok != tt.fields {
				t.Errorf("error %v is a FieldErrors: %v, want %v", err, ok, tt.fields)
			}
		})
	}
}

// New refuses, field by field, what JSON cannot carry rather than fail to encode it: a time whose year in UTC is
// before 0000.
func TestNewRefusesATimeJSONCannotCarry(t *testing.T) {
	d := &event.LevelChangedData{Unit: thaiNguyen, Procedure: "1.001234", From: 3, To: 4,
		EffectiveAt: time.Date(0, 1, 1, 0, 0, 0, 0, time.FixedZone("", 3600))}
	_, err := contract.New("test", d)
	want := "data.effective_at: -0001-12-31T23:00:00Z is before 2000-01-01T00:00:00+07:00, the earliest time egovtrack records"
	if _, ok := errors.AsType[event.FieldErrors](err); !ok || err.Error() != want {
		t.Errorf("New: %v, want the FieldErrors %s", err, want)
	}
}
