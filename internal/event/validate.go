package event

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/egovtrack/egovtrack/internal/event/strictjson"
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

// Validate checks data against the contract and returns every problem, field by field, each named by its path in
// an event ("data.to", "data.unit.code"): it is the check New makes of the data.
func Validate(d Data) error { return Contract{}.Validate(d) }

// Validate is Validate with c's clock.
func (c Contract) Validate(d Data) error {
	_, err := c.checkData(d)
	return err
}

// checkData validates data as New publishes it: encoded, against the schema of its type, then by the checks a
// schema cannot make. It returns the encoding, and FieldErrors or an error saying why the data cannot be encoded.
//
// New validates the encoded data rather than the Go values so that the schema stays the one statement of the
// contract's forms: a fact New accepts is one Decode accepts, and a rule changed in the schema changes both. The price
// is tens of microseconds an event (about ten times the Go checks alone), small beside the JetStream
// acknowledgement every published event waits for.
func (c Contract) checkData(d Data) ([]byte, error) {
	sch := schemas.data[d.EventType()]
	if sch == nil {
		return nil, FieldErrors{{"type", fmt.Sprintf("%q is not a known event type", d.EventType())}}
	}
	if es := c.checkEncodable(d); len(es) > 0 {
		return nil, es
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode %s data: %w", d.EventType(), err)
	}
	v, err := strictjson.Read(raw)
	if err != nil {
		return nil, fmt.Errorf("encode %s data: %w", d.EventType(), err)
	}
	return raw, merge(check(sch, v.Doc, "data"), c.checkBeyondSchema(d, false)).err()
}

// checkEncodable refuses the Go values JSON cannot carry, before encoding fails on them or changes them: percentages
// that are not numbers, times beyond the years encoding/json writes (all outside the time domain), and texts that
// are not UTF-8 (encoding/json would write U+FFFD for their bad bytes, a text no one wrote).
func (c Contract) checkEncodable(d Data) FieldErrors {
	var es FieldErrors
	if t := d.OccurredAt(); !encodable(t) {
		c.checkTime(&es, timeField(d), t, false)
	}
	var texts []struct{ name, v string }
	switch d := d.(type) {
	case *ProcedureRegisteredData:
		texts = append(texts, struct{ name, v string }{"data.name", d.Name}, struct{ name, v string }{"data.sector", d.Sector})
	case *ProcedureRetiredData:
		texts = append(texts, struct{ name, v string }{"data.reason", d.Reason})
	case *UnitMergedData:
		texts = append(texts, struct{ name, v string }{"data.name", d.Name}, struct{ name, v string }{"data.decided_by", d.DecidedBy})
	case *UnitRenamedData:
		texts = append(texts, struct{ name, v string }{"data.name", d.Name}, struct{ name, v string }{"data.decided_by", d.DecidedBy})
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

// checkBeyondSchema checks what JSON Schema cannot say: that a unit is in the reference data, that times and days
// are in the time domain (see CheckTime), that texts do no harm where they are shown (text.go), and the comparisons
// between fields. Everything else is the schema's.
//
// given says whether the data was read from JSON, where a time is there because it was written (the schema refuses
// one left out): then the zero time is refused as the time it is. In Go values, the zero time.Time may also be a time
// never set.
func (c Contract) checkBeyondSchema(d Data, given bool) FieldErrors {
	es := checkTexts(d)
	if u, ok := unitOf(d); ok {
		checkUnit(&es, "data.unit", u)
	}
	switch d := d.(type) {
	case *ProcedureRegisteredData:
		c.checkTime(&es, "data.effective_at", d.EffectiveAt, given)
	case *LevelChangedData:
		if d.From == d.To && d.From.Valid() {
			es.add("data.to", fmt.Sprintf("is the same level as from (%d): not a change", d.To))
		}
		c.checkTime(&es, "data.effective_at", d.EffectiveAt, given)
	case *ProcedureRetiredData:
		c.checkTime(&es, "data.effective_at", d.EffectiveAt, given)
	case *AssistantStageChangedData:
		c.checkTime(&es, "data.effective_at", d.EffectiveAt, given)
	case *ReportSubmittedData:
		c.checkTime(&es, "data.reported_at", d.ReportedAt, given)
	case *TargetSetData:
		if u, ok := d.Scope.Unit(); ok {
			checkUnit(&es, "data.scope", u)
		}
		errB, errD := checkDay(&es, "data.baseline_date", d.BaselineDate), checkDay(&es, "data.deadline", d.Deadline)
		if errB == nil && errD == nil && d.Deadline <= d.BaselineDate { // days written YYYY-MM-DD compare as text
			es.add("data.deadline", "must be after baseline_date")
		}
		c.checkTime(&es, "data.set_at", d.SetAt, given)
	case *UnitMergedData, *UnitRenamedData:
		c.checkLineage(&es, d, given)
	default:
		c.checkDossier(&es, d, given)
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
	case *UnitMergedData, *UnitRenamedData:
		return "data.decided_at"
	}
	if f, ok := dossierTimeField(d); ok {
		return f
	}
	return "data.effective_at"
}

// checkTime refuses a time outside the time domain (see CheckTime). given says whether t was written in the event's
// JSON; when it was not (a Go value), the zero time.Time may be a time never set, and the message says so too.
func (c Contract) checkTime(es *FieldErrors, field string, t time.Time, given bool) {
	err := c.CheckTime(t)
	switch {
	case err == nil:
	case t.IsZero() && !given:
		es.add(field, fmt.Sprintf("is missing (or is %s, before %s, the earliest time egovtrack records)", t.Format(time.RFC3339), Earliest.Format(time.RFC3339)))
	default:
		es.add(field, err.Error())
	}
}

// checkDay refuses a day outside the time domain (see CheckDay), and returns what it refused it for.
func checkDay(es *FieldErrors, field string, d Date) error {
	err := CheckDay(d)
	if err != nil {
		es.add(field, err.Error())
	}
	return err
}
