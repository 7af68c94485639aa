package event

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/egovtrack/egovtrack/internal/units"
)

// FieldError says what is wrong with one field of an event.
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
// cannot have two subjects; collectors upper-case what people type.
var procedureCode = regexp.MustCompile(`^[0-9]\.[0-9]{6}(\.[0-9A-Z]+)*$`)

// ValidProcedureCode reports whether s has the form of a code of the national database of procedures.
func ValidProcedureCode(s string) bool { return procedureCode.MatchString(s) }

// MaxClockSkew is how far in the future an effective time may lie before it is refused: collectors' clocks drift.
const MaxClockSkew = 5 * time.Minute

// Now is the clock validation compares effective times with; tests replace it.
var Now = time.Now

// Validate checks data against the contract and returns every problem, field by field.
func Validate(d Data) error { return validate(d).err() }

func validate(d Data) FieldErrors {
	var es FieldErrors
	if u, ok := unitOf(d); ok {
		checkUnit(&es, "unit", u)
	}
	switch d := d.(type) {
	case *ProcedureRegisteredData:
		checkProcedure(&es, d.Procedure)
		if strings.TrimSpace(d.Name) == "" {
			es.add("name", "is missing")
		}
		if strings.TrimSpace(d.Sector) == "" {
			es.add("sector", "is missing")
		}
		checkLevel(&es, "level", d.Level)
		checkTime(&es, "effective_at", d.EffectiveAt)
	case *LevelChangedData:
		checkProcedure(&es, d.Procedure)
		checkLevel(&es, "from", d.From)
		checkLevel(&es, "to", d.To)
		if d.From == d.To && d.From.Valid() {
			es.add("to", fmt.Sprintf("is the same level as from (%d): not a change", d.To))
		}
		checkTime(&es, "effective_at", d.EffectiveAt)
	case *ProcedureRetiredData:
		checkProcedure(&es, d.Procedure)
		checkTime(&es, "effective_at", d.EffectiveAt)
	case *AssistantStageChangedData:
		if !d.Stage.Valid() {
			es.add("stage", fmt.Sprintf("%q is not one of not_started, planned, pilot, live", d.Stage))
		}
		checkTime(&es, "effective_at", d.EffectiveAt)
	case *ReportSubmittedData:
		if d.Collector == "" {
			es.add("collector", "is missing")
		}
		checkTime(&es, "reported_at", d.ReportedAt)
		c := d.Counts
		if c.Registered < 0 || c.Changed < 0 || c.Retired < 0 || c.Unchanged < 0 {
			es.add("counts", "must not be negative")
		}
	case *TargetSetData:
		if d.Metric != MetricLevel4Coverage && d.Metric != MetricAssistantLive {
			es.add("metric", fmt.Sprintf("%q is not one of %s, %s", d.Metric, MetricLevel4Coverage, MetricAssistantLive))
		}
		if u, ok := d.Scope.Unit(); ok {
			checkUnit(&es, "scope", u)
		} else if d.Scope != National {
			es.add("scope", fmt.Sprintf("%q is neither %q nor kind/code of a unit", d.Scope, National))
		}
		checkPercent(&es, "baseline", d.Baseline)
		checkPercent(&es, "target", d.Target)
		b, errB := d.BaselineDate.Time()
		if errB != nil {
			es.add("baseline_date", fmt.Sprintf("%q is not a date YYYY-MM-DD", d.BaselineDate))
		}
		dl, errD := d.Deadline.Time()
		if errD != nil {
			es.add("deadline", fmt.Sprintf("%q is not a date YYYY-MM-DD", d.Deadline))
		}
		if errB == nil && errD == nil && !dl.After(b) {
			es.add("deadline", "must be after baseline_date")
		}
		checkTime(&es, "set_at", d.SetAt)
	}
	return es
}

func checkUnit(es *FieldErrors, field string, u units.Ref) {
	if u.Kind == "" || u.Code == "" {
		es.add(field, "is missing (kind and code)")
		return
	}
	if _, ok := units.Lookup(u); !ok {
		es.add(field, fmt.Sprintf("%s is not a known unit", u))
	}
}

func checkProcedure(es *FieldErrors, code string) {
	switch {
	case code == "":
		es.add("procedure", "is missing")
	case !ValidProcedureCode(code):
		es.add("procedure", fmt.Sprintf("%q is not a procedure code like 1.001234", code))
	}
}

func checkLevel(es *FieldErrors, field string, l Level) {
	switch {
	case l == 0:
		es.add(field, "is missing or 0 (levels are 1–4)")
	case !l.Valid():
		es.add(field, fmt.Sprintf("%d is out of range 1–4", l))
	}
}

func checkTime(es *FieldErrors, field string, t time.Time) {
	switch {
	case t.IsZero():
		es.add(field, "is missing")
	case t.After(Now().Add(MaxClockSkew)):
		es.add(field, fmt.Sprintf("%s is in the future", t.Format(time.RFC3339)))
	}
}

func checkPercent(es *FieldErrors, field string, v float64) {
	if !(v >= 0 && v <= 100) { // also refuses NaN, which JSON cannot carry
		es.add(field, fmt.Sprintf("%g is not a percentage 0–100", v))
	}
}
