package event

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/egovtrack/egovtrack/internal/units"
)

// FieldError says what is wrong with one field of an event. Field is the field's path in the event's JSON document,
// its names joined by dots: "id", "data.to", "data.unit.code", "data.counts.retired".
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// FieldErrors is every problem found in one event; it is returned as an error when not empty.
type FieldErrors []FieldError

func (es FieldErrors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

func (es *FieldErrors) add(field, msg string) { *es = append(*es, FieldError{field, msg}) }

func (es FieldErrors) err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// procedureCode is the national database's code: a digit, a dot, six digits ("1.001234"), optionally followed by
// dotted suffixes of the newer codes ("1.001234.000.00.00.H12"). Letters are upper case only, so that one procedure
// cannot have two subjects; collectors upper-case what people type. The schema's definition "procedure" carries the
// same expression (TestSchemaAgreesWithGo holds them together): events are checked by the schema, the collectors'
// input rows by this.
var procedureCode = regexp.MustCompile(`^[0-9]\.[0-9]{6}(\.[0-9A-Z]+)*$`)

// ValidProcedureCode reports whether s has the form of a code of the national database of procedures.
func ValidProcedureCode(s string) bool { return procedureCode.MatchString(s) }

// MaxClockSkew is how far in the future an effective time may lie before it is refused: collectors' clocks drift.
const MaxClockSkew = 5 * time.Minute

// Now is the clock validation compares effective times with; tests replace it.
var Now = time.Now

// Validate checks data against the contract and returns every problem, field by field, each named by its path in
// an event ("data.to", "data.unit.code"): it is the check New makes of the data.
func Validate(d Data) error {
	_, err := checkData(d)
	return err
}

// checkData validates data as New publishes it: encoded, against the schema of its type, then by the checks a
// schema cannot make. It returns the encoding, and FieldErrors or an error saying why the data cannot be encoded.
//
// New validates the encoded data rather than the Go values so that the schema stays the one statement of the
// contract's forms: a fact New accepts is one Decode accepts, and a rule changed in the schema changes both. The price
// is tens of microseconds an event (about ten times the Go checks alone), small beside the JetStream
// acknowledgement every published event waits for.
func checkData(d Data) ([]byte, error) {
	sch := schemas.data[d.EventType()]
	if sch == nil {
		return nil, FieldErrors{{"type", fmt.Sprintf("%q is not a known event type", d.EventType())}}
	}
	if es := checkEncodable(d); len(es) > 0 {
		return nil, es
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode %s data: %w", d.EventType(), err)
	}
	var doc any
	if obj, _, ok := readObject(raw); ok {
		doc = obj
	} else if doc, err = parseJSON(raw); err != nil {
		return nil, fmt.Errorf("encode %s data: %w", d.EventType(), err)
	}
	return raw, merge(check(sch, doc, "data"), checkBeyondSchema(d)).err()
}

// checkEncodable refuses the Go values JSON cannot carry, before encoding fails on them or changes them: percentages
// that are not numbers, times beyond the years encoding/json writes, and texts that are not UTF-8 (encoding/json
// would write U+FFFD for their bad bytes, a text no one wrote).
func checkEncodable(d Data) FieldErrors {
	var es FieldErrors
	if t := d.OccurredAt(); !t.IsZero() && !encodable(t) {
		checkTime(&es, timeField(d), t)
	}
	var texts []struct{ name, v string }
	switch d := d.(type) {
	case *ProcedureRegisteredData:
		texts = append(texts, struct{ name, v string }{"data.name", d.Name}, struct{ name, v string }{"data.sector", d.Sector})
	case *ProcedureRetiredData:
		texts = append(texts, struct{ name, v string }{"data.reason", d.Reason})
	}
	for _, t := range texts {
		if !utf8.ValidString(t.v) {
			es.add(t.name, "is not UTF-8 text")
		}
	}
	if d, ok := d.(*TargetSetData); ok {
		for _, f := range []struct {
			name string
			v    float64
		}{{"data.baseline", d.Baseline}, {"data.target", d.Target}} {
			if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
				es.add(f.name, fmt.Sprintf("%g is not a percentage 0–100", f.v))
			}
		}
	}
	return es
}

// checkBeyondSchema checks what JSON Schema cannot say: that a unit is in the reference data, that times are set
// and not in the future, and the comparisons between fields. Everything else is the schema's.
func checkBeyondSchema(d Data) FieldErrors {
	es := checkTexts(d) // and that texts do no harm where they are shown: text.go
	if u, ok := unitOf(d); ok {
		checkUnit(&es, "data.unit", u)
	}
	switch d := d.(type) {
	case *ProcedureRegisteredData:
		checkTime(&es, "data.effective_at", d.EffectiveAt)
	case *LevelChangedData:
		if d.From == d.To && d.From.Valid() {
			es.add("data.to", fmt.Sprintf("is the same level as from (%d): not a change", d.To))
		}
		checkTime(&es, "data.effective_at", d.EffectiveAt)
	case *ProcedureRetiredData:
		checkTime(&es, "data.effective_at", d.EffectiveAt)
	case *AssistantStageChangedData:
		checkTime(&es, "data.effective_at", d.EffectiveAt)
	case *ReportSubmittedData:
		checkTime(&es, "data.reported_at", d.ReportedAt)
	case *TargetSetData:
		if u, ok := d.Scope.Unit(); ok {
			checkUnit(&es, "data.scope", u)
		}
		b, errB := d.BaselineDate.Time()
		dl, errD := d.Deadline.Time()
		if errB == nil && errD == nil && !dl.After(b) {
			es.add("data.deadline", "must be after baseline_date")
		}
		checkTime(&es, "data.set_at", d.SetAt)
	}
	return es
}

// checkUnit refuses a unit that is not in the reference data; its form is the schema's.
func checkUnit(es *FieldErrors, field string, u units.Ref) {
	if _, ok := units.Lookup(u); !ok {
		es.add(field, fmt.Sprintf("%s is not a known unit", u))
	}
}

// encodable reports whether encoding/json can write t in UTC, as egovtrack writes times: years 0000–9999.
// 0000-01-01T00:00:00+01:00 is a valid RFC 3339 time that is not.
func encodable(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 0 && y <= 9999
}

// timeField names the field of the time a fact took effect, in an event.
func timeField(d Data) string {
	switch d.(type) {
	case *ReportSubmittedData:
		return "data.reported_at"
	case *TargetSetData:
		return "data.set_at"
	}
	return "data.effective_at"
}

// checkTime refuses the zero time (a Go value never set: its encoding, 0001-01-01T00:00:00Z, is a valid date-time),
// a time JSON cannot carry in UTC, and a time in the future beyond the clock skew.
func checkTime(es *FieldErrors, field string, t time.Time) {
	switch {
	case t.IsZero():
		es.add(field, "is missing")
	case !encodable(t):
		es.add(field, fmt.Sprintf("%s is not a time egovtrack can write: years run from 0000 to 9999, in UTC", t.Format(time.RFC3339Nano)))
	case t.After(Now().Add(MaxClockSkew)):
		es.add(field, fmt.Sprintf("%s is in the future", t.Format(time.RFC3339)))
	}
}
