package event_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
)

// readmeExamples returns the ```json blocks of README.md, by type.
func readmeExamples(t *testing.T) map[event.Type][]byte {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```json\n(.*?)```").FindAllSubmatch(b, -1)
	out := map[event.Type][]byte{}
	for _, m := range blocks {
		var head struct{ Type event.Type }
		if err := json.Unmarshal(m[1], &head); err != nil {
			t.Fatalf("README example is not JSON: %v\n%s", err, m[1])
		}
		if _, dup := out[head.Type]; dup {
			t.Errorf("README has two examples of %s", head.Type)
		}
		out[head.Type] = m[1]
	}
	return out
}

// The README gives one complete event of each type, and each is an event as egovtrack stores it: it decodes and
// validates, and making it again from its data gives the same event.
func TestReadmeExamples(t *testing.T) {
	t.Parallel()
	// The examples run to the 2025 reorganisation: read them on a day after it.
	contract := event.Contract{Now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }}
	examples := readmeExamples(t)
	for _, typ := range event.Types {
		t.Run(string(typ), func(t *testing.T) {
			t.Parallel()
			b, ok := examples[typ]
			if !ok {
				t.Fatalf("README has no example of %s", typ)
			}
			env, d, err := contract.Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v\n%s", err, b)
			}
			again, err := contract.New(env.Source, d)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, b); err != nil {
				t.Fatal(err)
			}
			if stored := mustMarshal(t, again); !bytes.Equal(stored, compact.Bytes()) {
				t.Errorf("README example is not the event egovtrack stores:\n got %s\nwant %s", compact.Bytes(), stored)
			}
		})
	}
	if len(examples) != len(event.Types) {
		t.Errorf("README has %d examples, want one per type (%d)", len(examples), len(event.Types))
	}
}

// exampleJSON is the README's example of typ as a JSON object, for a test to break.
func exampleJSON(t *testing.T, typ event.Type) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(readmeExamples(t)[typ], &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Every schema refuses what it should, and the error names the path of the field.
func TestSchemaRefuses(t *testing.T) {
	t.Parallel()
	type edit func(env, data map[string]any)
	set := func(field string, v any) edit {
		return func(env, data map[string]any) { setPath(env, field, v) }
	}
	del := func(field string) edit {
		return func(env, data map[string]any) { deletePath(env, field) }
	}
	tests := []struct {
		typ   event.Type
		name  string
		edit  edit
		field string
		msg   string
	}{
		// The envelope.
		{event.LevelChanged, "missing id", del("id"), "id", "is missing"},
		{event.LevelChanged, "id not a UUID", set("id", "4daf7246"), "id", `"4daf7246" is not a UUID`},
		{event.LevelChanged, "id a number", set("id", 42), "id", "is a number, want a string"},
		{event.LevelChanged, "empty source", set("source", ""), "source", "is missing"},
		{event.LevelChanged, "source not a URI reference", set("source", "%zz"), "source", `"%zz" is not a URI reference`},
		{event.LevelChanged, "specversion 0.3", set("specversion", "0.3"), "specversion", `is "0.3", want "1.0"`},
		{event.LevelChanged, "specversion as a number", set("specversion", 1.0), "specversion", `is 1, want "1.0"`},
		{event.LevelChanged, "unknown type", set("type", "gov.egov.procedure.moved.v1"), "type", "is not a known event type"},
		{event.LevelChanged, "subject with an empty token", set("subject", "egov.province..proc.1_001234"), "subject", "does not match"},
		{event.LevelChanged, "time of a day", set("time", "2021-12-15"), "time", `"2021-12-15" is not a time`},
		{event.LevelChanged, "time of 31 February", set("time", "2021-02-31T02:00:00Z"), "time", "is not a time"},
		{event.LevelChanged, "datacontenttype", set("datacontenttype", "application/cloudevents+json"), "datacontenttype", `want "application/json"`},
		{event.LevelChanged, "data an array", set("data", []any{}), "data", "is an array, want an object"},
		{event.LevelChanged, "missing data", del("data"), "data", "is missing"},
		{event.LevelChanged, "extension attribute", set("partitionkey", "19"), "partitionkey", "is not a field of the contract"},

		// Procedure registered.
		{event.ProcedureRegistered, "missing name", del("data.name"), "data.name", "is missing"},
		{event.ProcedureRegistered, "blank sector", set("data.sector", "\t "), "data.sector", "is blank"},
		{event.ProcedureRegistered, "eligible as a word", set("data.eligible", "yes"), "data.eligible", "is a string, want a boolean"},
		{event.ProcedureRegistered, "missing eligible", del("data.eligible"), "data.eligible", "is missing"},
		{event.ProcedureRegistered, "field of another type", set("data.to", 4), "data.to", "is not a field of the contract"},
		{event.ProcedureRegistered, "code in lower case", set("data.procedure", "1.001234.000.00.00.h12"), "data.procedure", "is not a procedure code"},
		{event.ProcedureRegistered, "level 0", set("data.level", 0), "data.level", "is missing or 0"},
		{event.ProcedureRegistered, "level word unknown", set("data.level", "complete"), "data.level", `"complete" is not a level`},
		{event.ProcedureRegistered, "unit of unknown kind", set("data.unit.kind", "district"), "data.unit.kind", `"district" is not one of ministry, province`},
		{event.ProcedureRegistered, "unit with a name", set("data.unit.name", "Thái Nguyên"), "data.unit.name", "is not a field of the contract"},
		{event.ProcedureRegistered, "unit a string", set("data.unit", "province/19"), "data.unit", "is a string, want an object"},

		// Level changed.
		{event.LevelChanged, "missing from", del("data.from"), "data.from", "is missing"},
		{event.LevelChanged, "level 5", set("data.from", 5), "data.from", "5 is out of range 1–4"},
		{event.LevelChanged, "level -1", set("data.to", -1), "data.to", "-1 is out of range 1–4"},
		{event.LevelChanged, "level in an array", set("data.to", []any{4}), "data.to", "is an array, want a level"},
		{event.LevelChanged, "level null", set("data.to", nil), "data.to", "is null, want a level"},
		{event.LevelChanged, "level in capitals", set("data.to", "FULL"), "data.to", `"FULL" is not spelled as the contract writes levels`},
		{event.LevelChanged, "effective yesterday", set("data.effective_at", "yesterday"), "data.effective_at", `"yesterday" is not a time`},
		{event.LevelChanged, "time with a lower-case t", set("data.effective_at", "2021-12-15t02:00:00Z"), "data.effective_at", "is not a time"},
		{event.LevelChanged, "time with a leap second", set("data.effective_at", "2021-12-31T23:59:60Z"), "data.effective_at", "is not a time"},

		// Procedure retired.
		{event.ProcedureRetired, "missing procedure", del("data.procedure"), "data.procedure", "is missing"},
		{event.ProcedureRetired, "reason a number", set("data.reason", 42), "data.reason", "is a number, want a string"},
		{event.ProcedureRetired, "blank reason", set("data.reason", "   "), "data.reason", "is blank"},
		{event.ProcedureRetired, "unit code in lower case", set("data.unit.code", "btttt"), "data.unit.code", `"btttt" is not a unit code`},
		{event.ProcedureRetired, "missing effective time", del("data.effective_at"), "data.effective_at", "is missing"},

		// Assistant stage changed.
		{event.AssistantStageChanged, "unknown stage", set("data.stage", "beta"), "data.stage", `"beta" is not one of not_started, planned, pilot, live`},
		{event.AssistantStageChanged, "missing stage", del("data.stage"), "data.stage", "is missing"},
		{event.AssistantStageChanged, "negative users", set("data.users", -1), "data.users", "-1 must not be negative"},
		{event.AssistantStageChanged, "users with a fraction", set("data.users", 1.5), "data.users", "is a number, want an integer"},
		{event.AssistantStageChanged, "users as a word", set("data.users", "many"), "data.users", "is a string, want an integer"},
		{event.AssistantStageChanged, "users beyond 32 bits", set("data.users", 1<<32), "data.users", "4294967296 is more than 4294967295"},
		{event.AssistantStageChanged, "a date for a field", set("data.since", "2021-11-22"), "data.since", "is not a field of the contract"},

		// Report submitted.
		{event.ReportSubmitted, "empty collector", set("data.collector", ""), "data.collector", "is missing"},
		{event.ReportSubmitted, "collector with a space", set("data.collector", "google sheet"), "data.collector", "does not match"},
		{event.ReportSubmitted, "missing count", del("data.counts.retired"), "data.counts.retired", "is missing"},
		{event.ReportSubmitted, "missing counts", del("data.counts"), "data.counts", "is missing"},
		{event.ReportSubmitted, "negative count", set("data.counts.changed", -3), "data.counts.changed", "-3 must not be negative"},
		{event.ReportSubmitted, "count beyond 32 bits", set("data.counts.unchanged", 1e10), "data.counts.unchanged", "10000000000 is more than 4294967295"},
		{event.ReportSubmitted, "count of something else", set("data.counts.failed", 1), "data.counts.failed", "is not a field of the contract"},
		{event.ReportSubmitted, "digest in capitals", set("data.digest", strings.Repeat("AB", 32)), "data.digest", "does not match"},
		{event.ReportSubmitted, "digest too short", set("data.digest", "ccff3112"), "data.digest", "does not match"},
		{event.ReportSubmitted, "reported on a day", set("data.reported_at", "2021-12-15"), "data.reported_at", "is not a time"},

		// Target set.
		{event.TargetSet, "unknown metric", set("data.metric", "coverage"), "data.metric", `"coverage" is not one of level4_coverage, assistant_live_units`},
		{event.TargetSet, "scope of a district", set("data.scope", "district/001"), "data.scope", `"district/001" is neither "national" nor kind/code of a unit`},
		{event.TargetSet, "baseline above 100", set("data.baseline", 140), "data.baseline", "140 is not a percentage 0–100"},
		{event.TargetSet, "negative target", set("data.target", -5), "data.target", "-5 is not a percentage 0–100"},
		{event.TargetSet, "percentage as text", set("data.target", "100%"), "data.target", "is a string, want a number"},
		{event.TargetSet, "baseline day the Vietnamese way", set("data.baseline_date", "30/06/2021"), "data.baseline_date", `"30/06/2021" is not a date YYYY-MM-DD`},
		{event.TargetSet, "deadline on 30 February", set("data.deadline", "2021-02-30"), "data.deadline", `"2021-02-30" is not a date`},
		{event.TargetSet, "set_at a number", set("data.set_at", 1625097600), "data.set_at", "is a number, want a string"},
		{event.TargetSet, "missing deadline", del("data.deadline"), "data.deadline", "is missing"},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ)+"/"+tt.name, func(t *testing.T) {
			t.Parallel()
			env := exampleJSON(t, tt.typ)
			tt.edit(env, nil)
			_, d, err := contract.Decode(mustMarshal(t, env))
			if err == nil {
				t.Fatalf("Decode = %#v, want an error on %s", d, tt.field)
			}
			fes, ok := errors.AsType[event.FieldErrors](err)
			if !ok {
				t.Fatalf("error %q (%T) is not a FieldErrors", err, err)
			}
			if !hasField(fes, tt.field, tt.msg) {
				t.Errorf("errors %q do not name %s with %q", fes, tt.field, tt.msg)
			}
			for _, fe := range fes {
				if fe.Field != tt.field {
					t.Errorf("unexpected error on %s: %s", fe.Field, fe.Message)
				}
			}
		})
	}
}

// setPath sets the value at a dotted path, creating objects on the way.
func setPath(m map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

func deletePath(m map[string]any, path string) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		m = m[p].(map[string]any)
	}
	delete(m, parts[len(parts)-1])
}

// A level may be sent as one of the schema's words; it is the same fact, with the same id, as the number.
func TestDecodeAcceptsLevelWords(t *testing.T) {
	t.Parallel()
	for _, w := range []struct {
		from, to any
	}{{"partial", "full"}, {"3", "level 4"}, {"mức 3", "toàn trình"}, {"trực tuyến một phần", "full_online"}, {3.0, 4.0}} {
		env := exampleJSON(t, event.LevelChanged)
		setPath(env, "data.from", w.from)
		setPath(env, "data.to", w.to)
		_, d, err := contract.Decode(mustMarshal(t, env))
		if err != nil {
			t.Errorf("from %v to %v: %v", w.from, w.to, err)
			continue
		}
		if lc := d.(*event.LevelChangedData); lc.From != 3 || lc.To != 4 {
			t.Errorf("from %v to %v decoded as %d → %d", w.from, w.to, lc.From, lc.To)
		}
	}
}

// One answer names every problem: the schema's and the Go checks', as the README shows.
func TestDecodeReportsEveryProblem(t *testing.T) {
	t.Parallel()
	env := exampleJSON(t, event.LevelChanged)
	delete(env, "id")
	setPath(env, "data.to", 7)
	setPath(env, "data.unit.code", "btttt")
	setPath(env, "data.effective_at", "2022-01-05T02:00:00Z")
	_, _, err := contract.Decode(mustMarshal(t, env))
	fes, ok := errors.AsType[event.FieldErrors](err)
	if !ok {
		t.Fatalf("error %v (%T) is not a FieldErrors", err, err)
	}
	want := event.FieldErrors{
		{Field: "data.effective_at", Message: "2022-01-05T02:00:00Z is in the future: egovtrack records times up to 5 minutes from now"},
		{Field: "data.to", Message: "7 is out of range 1–4"},
		{Field: "data.unit.code", Message: `"btttt" is not a unit code (digits and upper-case letters, like 01 or BTTTT)`},
		{Field: "id", Message: "is missing"},
	}
	if !slices.Equal(fes, want) {
		t.Errorf("errors:\n got %q\nwant %q", fes, want)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, fe := range want {
		line, err := json.Marshal(fe)
		if err != nil {
			t.Fatal(err)
		}
		line = bytes.ReplaceAll(bytes.ReplaceAll(line, []byte(`":`), []byte(`": `)), []byte(`,"`), []byte(`, "`))
		if !bytes.Contains(readme, line) {
			t.Errorf("README does not show %s", line)
		}
	}
}

// Envelope.Decode holds an envelope made in Go to the same schemas as Decode does its JSON.
func TestEnvelopeDecode(t *testing.T) {
	t.Parallel()
	fact := func() event.Data {
		return &event.LevelChangedData{Unit: thaiNguyen, Procedure: "1.001234", From: 3, To: 4, EffectiveAt: factTime}
	}
	tests := []struct {
		name       string
		edit       func(*event.Envelope)
		field, msg string
	}{
		{"malformed data", func(e *event.Envelope) { e.Data = []byte(`{"unit": `) }, "data", "is malformed JSON at byte offset 9"},
		{"no data", func(e *event.Envelope) { e.Data = nil }, "data", "is null"},
		{"data with an unknown field", func(e *event.Envelope) {
			e.Data = bytes.Replace(e.Data, []byte(`{`), []byte(`{"x":1,`), 1)
		}, "data.x", "is not a field of the contract"},
		{"no time", func(e *event.Envelope) { e.Time = time.Time{} }, "time", "but the data took effect at"},
		{"no id", func(e *event.Envelope) { e.ID = "" }, "id", "is missing"},
		{"unknown type", func(e *event.Envelope) { e.Type = "x" }, "type", `"x" is not a known event type`},
	}
	for _, tt := range tests {
		env := mustNew(t, "test", fact())
		tt.edit(&env)
		_, err := contract.DecodeEnvelope(env)
		fes, ok := errors.AsType[event.FieldErrors](err)
		if !ok {
			t.Errorf("%s: error %v (%T) is not a FieldErrors", tt.name, err, err)
			continue
		}
		if !hasField(fes, tt.field, tt.msg) {
			t.Errorf("%s: errors %q do not name %s with %q", tt.name, fes, tt.field, tt.msg)
		}
	}
}

// A syntax error keeps its type, so that a caller can find the offset itself.
func TestDecodeSyntaxError(t *testing.T) {
	t.Parallel()
	_, _, err := contract.Decode([]byte(`{"id": "x", "data": {"to": 4,, }}`))
	se, ok := errors.AsType[*json.SyntaxError](err)
	if !ok || se.Offset != 30 {
		t.Fatalf("error %v, want a *json.SyntaxError at offset 30", err)
	}
	if !strings.Contains(err.Error(), "byte offset 30") {
		t.Errorf("error %q does not name the offset", err)
	}
}
