package event_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Asia/Ho_Chi_Minh without depending on the machine's tz database

	"github.com/google/uuid"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// now is the clock of every test in this package: 10:00 on 20 December 2021 in Vietnam. The tests check events with
// contract, the event contract on that clock.
var now = time.Date(2021, 12, 20, 3, 0, 0, 0, time.UTC)

var contract = event.Contract{Now: func() time.Time { return now }}

var (
	hanoi      = units.Ref{Kind: units.Province, Code: "01"}
	thaiNguyen = units.Ref{Kind: units.Province, Code: "19"}
	hcmc       = units.Ref{Kind: units.Province, Code: "79"}
	mic        = units.Ref{Kind: units.Ministry, Code: "BTTTT"}
)

// factTime is when the example facts took effect: 09:00 on 15 December 2021 in Vietnam.
var factTime = time.Date(2021, 12, 15, 2, 0, 0, 0, time.UTC)

func users(n uint32) *uint32 { return &n }

// example is one valid fact of each kind. fact builds it with its times written in loc, so the same fact can be
// written in Vietnamese time or in UTC.
type example struct {
	name    string
	subject string
	fact    func(loc *time.Location) event.Data
}

func examples() []example {
	return []example{
		{
			name:    "procedure registered",
			subject: "egov.province.19.proc.1_001234",
			fact: func(loc *time.Location) event.Data {
				return &event.ProcedureRegisteredData{
					Unit: thaiNguyen, Procedure: "1.001234", Name: "Cấp giấy phép xây dựng", Sector: "Xây dựng",
					Eligible: true, Level: 3, EffectiveAt: factTime.In(loc),
				}
			},
		},
		{
			name:    "level changed",
			subject: "egov.province.19.proc.1_001234",
			fact: func(loc *time.Location) event.Data {
				return &event.LevelChangedData{
					Unit: thaiNguyen, Procedure: "1.001234", From: 3, To: 4, EffectiveAt: factTime.In(loc),
				}
			},
		},
		{
			name:    "procedure retired",
			subject: "egov.ministry.BTTTT.proc.1_004227_000_00_00_H12",
			fact: func(loc *time.Location) event.Data {
				return &event.ProcedureRetiredData{
					Unit: mic, Procedure: "1.004227.000.00.00.H12", Reason: "gộp vào 1.004228",
					EffectiveAt: factTime.In(loc),
				}
			},
		},
		{
			name:    "assistant stage changed with users",
			subject: "egov.province.01.assistant",
			fact: func(loc *time.Location) event.Data {
				return &event.AssistantStageChangedData{
					Unit: hanoi, Stage: event.StagePilot, Users: users(1200), EffectiveAt: factTime.In(loc),
				}
			},
		},
		{
			name:    "assistant stage changed without users",
			subject: "egov.province.01.assistant",
			fact: func(loc *time.Location) event.Data {
				return &event.AssistantStageChangedData{Unit: hanoi, Stage: event.StagePlanned, EffectiveAt: factTime.In(loc)}
			},
		},
		{
			name:    "report submitted",
			subject: "egov.province.79.report",
			fact: func(loc *time.Location) event.Data {
				return &event.ReportSubmittedData{
					Unit: hcmc, Collector: "sheet", ReportedAt: factTime.In(loc),
					Counts: event.ReportCounts{Registered: 2, Changed: 5, Retired: 1, Unchanged: 140},
				}
			},
		},
		{
			name:    "national target set",
			subject: "egov.national.target.level4_coverage",
			fact: func(loc *time.Location) event.Data {
				return &event.TargetSetData{
					Metric: event.MetricLevel4Coverage, Scope: event.National,
					Baseline: 40, BaselineDate: "2021-06-30", Target: 100, Deadline: "2021-12-31",
					SetAt: factTime.In(loc),
				}
			},
		},
		{
			name:    "unit target set",
			subject: "egov.province.19.target.assistant_live_units",
			fact: func(loc *time.Location) event.Data {
				return &event.TargetSetData{
					Metric: event.MetricAssistantLive, Scope: event.ScopeOf(thaiNguyen),
					Baseline: 0, BaselineDate: "2021-07-01", Target: 100, Deadline: "2021-12-31",
					SetAt: factTime.In(loc),
				}
			},
		},
	}
}

func mustNew(t *testing.T, source string, d event.Data) event.Envelope {
	t.Helper()
	env, err := contract.New(source, d)
	if err != nil {
		t.Fatalf("New(%q, %T): %v", source, d, err)
	}
	return env
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, ex := range examples() {
		t.Run(ex.name, func(t *testing.T) {
			t.Parallel()
			fact := ex.fact(event.Vietnam)
			env := mustNew(t, "collector/sheet", fact)

			if env.SpecVersion != "1.0" {
				t.Errorf("specversion = %q, want 1.0", env.SpecVersion)
			}
			if env.DataContentType != "application/json" {
				t.Errorf("datacontenttype = %q, want application/json", env.DataContentType)
			}
			if env.Type != fact.EventType() {
				t.Errorf("type = %q, want %q", env.Type, fact.EventType())
			}
			if env.Subject != ex.subject {
				t.Errorf("subject = %q, want %q", env.Subject, ex.subject)
			}
			if !validNATSSubject(env.Subject) {
				t.Errorf("subject %q is not a valid NATS subject", env.Subject)
			}
			if !env.Time.Equal(factTime) || env.Time.Location() != time.UTC {
				t.Errorf("time = %v, want %v in UTC", env.Time, factTime)
			}
			if id, err := uuid.Parse(env.ID); err != nil || id.Version() != 5 {
				t.Errorf("id = %q, want a version 5 UUID (err %v)", env.ID, err)
			}

			b, err := json.Marshal(env)
			if err != nil {
				t.Fatalf("marshal envelope: %v", err)
			}
			gotEnv, got, err := contract.Decode(b)
			if err != nil {
				t.Fatalf("Decode(%s): %v", b, err)
			}
			if !reflect.DeepEqual(gotEnv, env) {
				t.Errorf("envelope after round trip:\n got %+v\nwant %+v", gotEnv, env)
			}
			// Decoded times are in UTC: compare with the same fact written in UTC.
			if want := ex.fact(time.UTC); !reflect.DeepEqual(got, want) {
				t.Errorf("data after round trip:\n got %#v\nwant %#v", got, want)
			}
			// Publishing a decoded fact again names it the same way.
			if again := mustNew(t, "collector/other", got); again.ID != env.ID {
				t.Errorf("id of the decoded fact = %s, want %s", again.ID, env.ID)
			}
		})
	}
}

func TestRoundTripOmitsUnknownUsers(t *testing.T) {
	t.Parallel()
	env := mustNew(t, "test", &event.AssistantStageChangedData{Unit: hanoi, Stage: event.StageLive, EffectiveAt: factTime})
	if strings.Contains(string(env.Data), "users") {
		t.Errorf("data = %s, want no users when unknown", env.Data)
	}
	_, d, err := contract.Decode(mustMarshal(t, env))
	if err != nil {
		t.Fatal(err)
	}
	if u := d.(*event.AssistantStageChangedData).Users; u != nil {
		t.Errorf("users = %d, want nil", *u)
	}
}

// validNATSSubject reports whether s is a publishable NATS subject: dot-separated tokens, none empty, without
// wildcards or white space.
func validNATSSubject(s string) bool {
	for _, tok := range strings.Split(s, ".") {
		if tok == "" || strings.ContainsAny(tok, "*> \t\r\n") {
			return false
		}
	}
	return true
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestIDIsDerivedFromTheFact(t *testing.T) {
	t.Parallel()
	hcm, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range examples() {
		t.Run(ex.name, func(t *testing.T) {
			t.Parallel()
			id := mustNew(t, "collector/sheet", ex.fact(time.UTC)).ID
			for _, loc := range []*time.Location{time.UTC, event.Vietnam, hcm} {
				if got := mustNew(t, "collector/sheet", ex.fact(loc)).ID; got != id {
					t.Errorf("written in %s: id = %s, want %s as in UTC", loc, got, id)
				}
			}
			if got := mustNew(t, "collector/portal", ex.fact(hcm)).ID; got != id {
				t.Errorf("other source: id = %s, want %s", got, id)
			}
		})
	}
}

func TestIDDiffersForADifferentFact(t *testing.T) {
	t.Parallel()
	base := func() *event.LevelChangedData {
		return &event.LevelChangedData{Unit: thaiNguyen, Procedure: "1.001234", From: 3, To: 4, EffectiveAt: factTime}
	}
	id := mustNew(t, "test", base()).ID
	tests := []struct {
		name string
		fact event.Data
	}{
		{"other level", func() event.Data { d := base(); d.From, d.To = 2, 3; return d }()},
		{"other target level", func() event.Data { d := base(); d.To = 2; return d }()},
		{"other time", func() event.Data { d := base(); d.EffectiveAt = factTime.Add(time.Second); return d }()},
		{"other nanosecond", func() event.Data { d := base(); d.EffectiveAt = factTime.Add(1); return d }()},
		{"other unit", func() event.Data { d := base(); d.Unit = hanoi; return d }()},
		{"other kind of unit", func() event.Data { d := base(); d.Unit = mic; return d }()},
		{"other procedure", func() event.Data { d := base(); d.Procedure = "1.001235"; return d }()},
		{"other type", &event.ProcedureRetiredData{Unit: thaiNguyen, Procedure: "1.001234", EffectiveAt: factTime}},
	}
	seen := map[string]string{id: "base"}
	for _, tt := range tests {
		got := mustNew(t, "test", tt.fact).ID
		if prev, ok := seen[got]; ok {
			t.Errorf("%s: id %s is the same as for %s", tt.name, got, prev)
		}
		seen[got] = tt.name
	}
}

// envelopeJSON is a valid envelope of d as a JSON object, for tests to break.
func envelopeJSON(t *testing.T, d event.Data) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(mustMarshal(t, mustNew(t, "test", d)), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	levelChanged := func() event.Data {
		return &event.LevelChangedData{Unit: thaiNguyen, Procedure: "1.001234", From: 3, To: 4, EffectiveAt: factTime}
	}
	registered := func() event.Data {
		return &event.ProcedureRegisteredData{
			Unit: thaiNguyen, Procedure: "1.001234", Name: "n", Sector: "s", Level: 3, EffectiveAt: factTime,
		}
	}
	broken := func(d event.Data, f func(m, data map[string]any)) []byte {
		m := envelopeJSON(t, d)
		f(m, m["data"].(map[string]any))
		return mustMarshal(t, m)
	}
	tests := []struct {
		name  string
		input []byte
		// field and message the error must hold; field "" means the envelope is not JSON (no FieldErrors).
		field, msg string
	}{
		// Malformed JSON names the byte offset where it broke.
		{name: "malformed JSON", input: []byte(`{"id": "x", "type": `), msg: "decode envelope: malformed JSON at byte offset 20: unexpected end"},
		{name: "stray comma", input: []byte(`{"id": "x",}`), msg: "decode envelope: malformed JSON at byte offset 12: invalid character '}'"},
		{name: "trailing garbage", input: []byte(`{"id": "x"} {}`), msg: "malformed JSON at byte offset 13: invalid character '{' after top-level value"},
		{name: "not an object", input: []byte(`["gov.egov.procedure.level_changed.v1"]`), msg: "decode envelope: the event is an array, not a JSON object"},
		{name: "empty input", input: []byte(``), msg: "decode envelope: malformed JSON at byte offset 0"},
		{
			name:  "unknown type",
			input: broken(levelChanged(), func(m, _ map[string]any) { m["type"] = "gov.egov.procedure.deleted.v1" }),
			field: "type", msg: `"gov.egov.procedure.deleted.v1" is not a known event type`,
		},
		{
			name:  "unknown version",
			input: broken(levelChanged(), func(m, _ map[string]any) { m["type"] = "gov.egov.procedure.level_changed.v2" }),
			field: "type", msg: `"gov.egov.procedure.level_changed.v2" is not a known event type`,
		},
		{
			name:  "missing type",
			input: broken(levelChanged(), func(m, _ map[string]any) { delete(m, "type") }),
			field: "type", msg: "is missing",
		},
		{
			name:  "missing data",
			input: broken(levelChanged(), func(m, _ map[string]any) { delete(m, "data") }),
			field: "data", msg: "is missing",
		},
		{
			name:  "null data",
			input: broken(levelChanged(), func(m, _ map[string]any) { m["data"] = nil }),
			field: "data", msg: "is null, want an object",
		},
		{
			name:  "data not an object",
			input: broken(levelChanged(), func(m, _ map[string]any) { m["data"] = "3 → 4" }),
			field: "data", msg: "is a string, want an object",
		},
		{
			name:  "wrong specversion",
			input: broken(levelChanged(), func(m, _ map[string]any) { m["specversion"] = "0.3" }),
			field: "specversion", msg: `is "0.3", want "1.0"`,
		},
		{
			name:  "missing specversion",
			input: broken(levelChanged(), func(m, _ map[string]any) { delete(m, "specversion") }),
			field: "specversion", msg: "is missing",
		},
		{
			name:  "missing id",
			input: broken(levelChanged(), func(m, _ map[string]any) { delete(m, "id") }),
			field: "id", msg: "is missing",
		},
		{
			name:  "missing source",
			input: broken(levelChanged(), func(m, _ map[string]any) { m["source"] = "" }),
			field: "source", msg: "is missing",
		},
		{
			name:  "subject of another procedure",
			input: broken(levelChanged(), func(m, _ map[string]any) { m["subject"] = "egov.province.19.proc.1_009999" }),
			field: "subject", msg: `is "egov.province.19.proc.1_009999", but the data is about "egov.province.19.proc.1_001234"`,
		},
		{
			name:  "data about another unit",
			input: broken(levelChanged(), func(_, d map[string]any) { d["unit"] = map[string]any{"kind": "province", "code": "01"} }),
			field: "subject", msg: `the data is about "egov.province.01.proc.1_001234"`,
		},
		{
			name:  "id not derived from the fact",
			input: broken(levelChanged(), func(m, _ map[string]any) { m["id"] = "00000000-0000-0000-0000-000000000001" }),
			field: "id", msg: "ids are derived from the fact",
		},
		{
			name:  "data changed under its id",
			input: broken(levelChanged(), func(_, d map[string]any) { d["to"] = 2 }),
			field: "id", msg: "this fact's id is",
		},
		{
			name:  "envelope time other than the fact's",
			input: broken(levelChanged(), func(m, _ map[string]any) { m["time"] = "2021-01-01T00:00:00Z" }),
			field: "time", msg: "but the data took effect at",
		},
		{
			name:  "string where a bool is expected",
			input: broken(registered(), func(_, d map[string]any) { d["eligible"] = "yes" }),
			field: "data.eligible", msg: "is a string, want a boolean",
		},
		{
			name: "string where a number is expected",
			input: broken(&event.ReportSubmittedData{Unit: hcmc, Collector: "sheet", ReportedAt: factTime}, func(_, d map[string]any) {
				d["counts"].(map[string]any)["changed"] = "5"
			}),
			field: "data.counts.changed", msg: "is a string, want an integer",
		},
		{
			name:  "bool where a level is expected",
			input: broken(levelChanged(), func(_, d map[string]any) { d["to"] = true }),
			field: "data.to", msg: "is a boolean, want a level: 1–4, partial or full",
		},
		{
			name:  "level word out of range",
			input: broken(levelChanged(), func(_, d map[string]any) { d["to"] = "level 5" }),
			field: "data.to", msg: "5 is out of range 1–4",
		},
		{
			name:  "malformed time",
			input: broken(levelChanged(), func(_, d map[string]any) { d["effective_at"] = "15/12/2021" }),
			field: "data.effective_at", msg: `"15/12/2021" is not a time like 2021-12-15T09:00:00+07:00`,
		},
		{
			// Well-formed JSON is still validated against the contract.
			name:  "level number out of range",
			input: broken(levelChanged(), func(_, d map[string]any) { d["to"] = 7 }),
			field: "data.to", msg: "7 is out of range 1–4",
		},
		{
			name:  "procedure code malformed",
			input: broken(levelChanged(), func(_, d map[string]any) { d["procedure"] = "1001234" }),
			field: "data.procedure", msg: `"1001234" is not a procedure code`,
		},
		{
			name:  "level word the contract does not spell so",
			input: broken(levelChanged(), func(_, d map[string]any) { d["to"] = "Toàn Trình" }),
			field: "data.to", msg: `"Toàn Trình" is not spelled as the contract writes levels`,
		},
		{
			name:  "level with a fraction",
			input: broken(levelChanged(), func(_, d map[string]any) { d["to"] = 3.5 }),
			field: "data.to", msg: "3.5 is not a level: 1–4",
		},
		{
			name: "extension attribute",
			input: broken(levelChanged(), func(m, _ map[string]any) {
				m["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
			}),
			field: "traceparent", msg: "is not a field of the contract",
		},
		{
			name:  "field of no event type",
			input: broken(levelChanged(), func(_, d map[string]any) { d["note"] = "sent twice" }),
			field: "data.note", msg: "is not a field of the contract",
		},
		{
			name:  "unit without its kind",
			input: broken(levelChanged(), func(_, d map[string]any) { delete(d["unit"].(map[string]any), "kind") }),
			field: "data.unit.kind", msg: "is missing",
		},
		{
			name:  "id not a UUID",
			input: broken(levelChanged(), func(m, _ map[string]any) { m["id"] = "1.001234-3-4" }),
			field: "id", msg: `"1.001234-3-4" is not a UUID`,
		},
		{
			name:  "data of another media type",
			input: broken(levelChanged(), func(m, _ map[string]any) { m["datacontenttype"] = "text/csv" }),
			field: "datacontenttype", msg: `is "text/csv", want "application/json"`,
		},
		{
			name:  "subject outside egov",
			input: broken(levelChanged(), func(m, _ map[string]any) { m["subject"] = "gov.province.19.proc.1_001234" }),
			field: "subject", msg: `"gov.province.19.proc.1_001234" does not match`,
		},
		{
			name:  "subject with a wildcard",
			input: broken(levelChanged(), func(m, _ map[string]any) { m["subject"] = "egov.province.19.>" }),
			field: "subject", msg: "does not match",
		},
		{
			name:  "envelope time without a zone",
			input: broken(levelChanged(), func(m, _ map[string]any) { m["time"] = "2021-12-15T09:00:00" }),
			field: "time", msg: `"2021-12-15T09:00:00" is not a time`,
		},
		{
			name:  "time finer than a nanosecond",
			input: broken(levelChanged(), func(_, d map[string]any) { d["effective_at"] = "2021-12-15T02:00:00.0000000001Z" }),
			field: "data.effective_at", msg: "at most nanoseconds",
		},
		{
			name:  "unit not in the reference data",
			input: broken(levelChanged(), func(_, d map[string]any) { d["unit"] = map[string]any{"kind": "province", "code": "03"} }),
			field: "data.unit", msg: "province/03 is not a known unit",
		},
		{
			name:  "effective in the future",
			input: broken(levelChanged(), func(m, d map[string]any) { d["effective_at"] = "2022-01-01T00:00:00Z" }),
			field: "data.effective_at", msg: "2022-01-01T00:00:00Z is in the future",
		},
		{
			name:  "a change to the same level",
			input: broken(levelChanged(), func(_, d map[string]any) { d["from"] = "full" }),
			field: "data.to", msg: "is the same level as from (4)",
		},
		{
			// JSON Schema counts 5.0 as an integer; Go does not read it into an int, and says where.
			name: "count written with a fraction",
			input: bytes.Replace(broken(&event.ReportSubmittedData{Unit: hcmc, Collector: "sheet", ReportedAt: factTime}, func(_, d map[string]any) {
				d["counts"].(map[string]any)["changed"] = 5
			}), []byte(`"changed":5`), []byte(`"changed":5.0`), 1),
			field: "data.counts.changed", msg: "number 5.0 cannot be read as a Go int",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, d, err := contract.Decode(tt.input)
			if err == nil {
				t.Fatalf("Decode(%s) = %#v, want an error", tt.input, d)
			}
			if d != nil {
				t.Errorf("Decode returned data %#v with an error", d)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
			var fes event.FieldErrors
			isFields := errors.As(err, &fes)
			if tt.field == "" {
				if isFields {
					t.Errorf("error %q is a FieldErrors, want a decoding error", err)
				}
				return
			}
			if !isFields {
				t.Fatalf("error %q (%T) is not a FieldErrors", err, err)
			}
			if !hasField(fes, tt.field, tt.msg) {
				t.Errorf("errors %q do not name %s with %q", fes, tt.field, tt.msg)
			}
		})
	}
}

func hasField(fes event.FieldErrors, field, msg string) bool {
	for _, fe := range fes {
		if fe.Field == field && strings.Contains(fe.Message, msg) {
			return true
		}
	}
	return false
}

func TestUnitOf(t *testing.T) {
	t.Parallel()
	for _, ex := range examples() {
		d := ex.fact(time.UTC)
		u, ok := event.UnitOf(d)
		wantOK := ex.name != "national target set"
		if ok != wantOK {
			t.Errorf("%s: UnitOf ok = %v, want %v", ex.name, ok, wantOK)
			continue
		}
		if ok && !strings.HasPrefix(d.Subject(), strings.TrimSuffix(event.UnitPrefix(u), ">")) {
			t.Errorf("%s: subject %q is not under the unit's prefix %q", ex.name, d.Subject(), event.UnitPrefix(u))
		}
	}
}
