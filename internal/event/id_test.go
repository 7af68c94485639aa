package event_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/egovtrack/egovtrack/internal/event"
)

// Events published before ids were derived from the JCS form carry ids of the legacy rule, and the stream keeps them
// forever. Decode still accepts each, and answers with the id the current rule gives the same fact, the one New
// makes, so that a fact has one id wherever it is stored; the data stays as it was sent. IDs lists both.
//
// testdata/legacy-ids.jsonl holds events made by the code before the change: the README's six examples, and six
// with "&", "<", U+2028, milliseconds, 0 users and a fractional percentage, where the two rules' bytes differ most.
func TestDecodeAcceptsLegacyIDsAndAnswersWithTheCurrentOne(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/legacy-ids.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.Clone(sc.Bytes())
		var sent struct {
			ID   string          `json:"id"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(line, &sent); err != nil {
			t.Fatal(err)
		}
		env, d, err := contract.Decode(line)
		if err != nil {
			t.Errorf("line %d: Decode refuses an event of the legacy rule: %v", n, err)
			continue
		}
		current := mustNew(t, env.Source, d).ID
		switch {
		case env.ID == sent.ID:
			t.Errorf("line %d: Decode answered with the legacy id %s", n, sent.ID)
		case env.ID != current:
			t.Errorf("line %d: Decode answered with %s, want the current rule's %s", n, env.ID, current)
		}
		if all, err := event.IDs(d); err != nil || len(all) != 2 || all[0] != current || all[1] != sent.ID {
			t.Errorf("line %d: IDs = %v (%v), want the current %s, then the legacy %s", n, all, err, current, sent.ID)
		}
		if !bytes.Equal(env.Data, sent.Data) {
			t.Errorf("line %d: the data changed:\n got %s\nwant %s", n, env.Data, sent.Data)
		}
		// The method form accepts it too, and leaves the envelope as it was.
		legacy := env
		legacy.ID = sent.ID
		if _, err := contract.DecodeEnvelope(legacy); err != nil || legacy.ID != sent.ID {
			t.Errorf("line %d: Envelope.Decode: %v, id %s", n, err, legacy.ID)
		}
	}
	if err := sc.Err(); err != nil || n != 12 {
		t.Fatalf("read %d events (%v), want 12", n, err)
	}
}

// An id of neither rule is refused, naming the current rule's id: accepting the legacy rule does not make ids free.
func TestDecodeRefusesAnIDOfNeitherRule(t *testing.T) {
	t.Parallel()
	env := mustNew(t, "test", examples()[0].fact(event.Vietnam))
	want := env.ID
	env.ID = "00000000-0000-5000-8000-000000000000"
	_, _, err := contract.Decode(mustMarshal(t, env))
	fes, ok := errors.AsType[event.FieldErrors](err)
	if !ok || len(fes) != 1 || fes[0].Field != "id" || !strings.Contains(fes[0].Message, want) {
		t.Fatalf("Decode = %v, want one error on id naming %s", err, want)
	}
}

// A string escaping half of a UTF-16 surrogate pair alone is no text: JSON readers turn it into U+FFFD, and the id
// would be derived from a character the sender did not write. Decode refuses it, alone, naming the field and the
// escape; a whole pair (an astral character), an escaped backslash before "ud800", and the character itself are
// text, and accepted.
func TestDecodeRefusesLoneSurrogates(t *testing.T) {
	t.Parallel()
	// eventNamed is the example registration named n, with written for n in its JSON.
	eventNamed := func(n, written string) []byte {
		d := examples()[0].fact(event.Vietnam).(*event.ProcedureRegisteredData)
		d.Name = n
		b := mustMarshal(t, mustNew(t, "test", d))
		as := string(mustMarshal(t, n))
		if !bytes.Contains(b, []byte(as)) {
			t.Fatalf("%s is not in %s", as, b)
		}
		return bytes.Replace(b, []byte(as), []byte(`"`+written+`"`), 1)
	}
	tests := []struct {
		name  string
		input []byte
		field string // "" when accepted
		esc   string
	}{
		{"a high half alone", eventNamed("Cấp phép", `Cấp phép \ud800`), "data.name", `\ud800`},
		{"a low half alone", eventNamed("Cấp phép", `\uDC00 Cấp phép`), "data.name", `\uDC00`},
		{"two high halves", eventNamed("Cấp phép", `\ud83d\ud83d`), "data.name", `\ud83d`},
		{"a high half before a character", eventNamed("Cấp phép", `\ud83dA`), "data.name", `\ud83d`},
		{"in a key", bytes.Replace(eventNamed("Cấp phép", "Cấp phép"), []byte(`"sector"`), []byte(`"sec\udfffor"`), 1), "data.sec\ufffdor", `\udfff`},
		{"a whole pair", eventNamed("Cấp phép 😀", `Cấp phép \ud83d\ude00`), "", ""},
		{"an escaped backslash, then ud800", eventNamed(`Cấp phép \ud800`, `Cấp phép \\ud800`), "", ""},
		{"the astral character itself", eventNamed("Cấp phép 😀", `Cấp phép 😀`), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := contract.Decode(tt.input)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Decode refused text: %v\n%s", err, tt.input)
				}
				return
			}
			fes, ok := errors.AsType[event.FieldErrors](err)
			if !ok || len(fes) != 1 || fes[0].Field != tt.field || !strings.Contains(fes[0].Message, tt.esc+" (at byte offset ") ||
				!strings.Contains(fes[0].Message, "surrogate") {
				t.Fatalf("Decode = %v, want one error on %s naming %s", err, tt.field, tt.esc)
			}
		})
	}
}

// New refuses a text that is not UTF-8, which encoding/json would write as U+FFFD, a text no one wrote.
func TestNewRefusesTextThatIsNotUTF8(t *testing.T) {
	t.Parallel()
	d := examples()[0].fact(event.Vietnam).(*event.ProcedureRegisteredData)
	d.Name = "Cấp phép \xff"
	_, err := contract.New("test", d)
	fes, ok := errors.AsType[event.FieldErrors](err)
	if !ok || len(fes) != 1 || fes[0] != (event.FieldError{Field: "data.name", Message: "is not UTF-8 text"}) {
		t.Fatalf("New = %v, want data.name: is not UTF-8 text", err)
	}
}

// The README's worked example of the id rule is what Canonical and New compute for its registration example.
func TestReadmeCanonicalExample(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := bytes.Cut(readme, []byte("normalized and canonical, is\n\n```\n"))
	canonical, rest, ok2 := bytes.Cut(rest, []byte("\n```\n"))
	if !ok || !ok2 {
		t.Fatal("README has no canonical example")
	}
	_, d, err := contract.Decode(readmeExamples(t)[event.ProcedureRegistered])
	if err != nil {
		t.Fatal(err)
	}
	if got, err := event.Canonical(d); err != nil || !bytes.Equal(got, canonical) {
		t.Errorf("Canonical = %s (%v)\nthe README says %s", got, err, canonical)
	}
	id := mustNew(t, "test", d).ID
	if !bytes.Contains(rest, []byte("and its id `"+id+"`")) {
		t.Errorf("the README does not give the id %s", id)
	}
}
