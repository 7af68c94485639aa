package event_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/event/eventtest"
)

const (
	beforeTimes = " is before 2000-01-01T00:00:00+07:00, the earliest time egovtrack records"
	inFuture    = " is in the future: egovtrack records times up to 5 minutes from now"
	zeroInGo    = "is missing (or is 0001-01-01T00:00:00Z, before 2000-01-01T00:00:00+07:00, the earliest time egovtrack records)"
)

// timeField is the field of each type's time, in an event.
var timeField = map[event.Type]string{
	event.ProcedureRegistered:   "data.effective_at",
	event.LevelChanged:          "data.effective_at",
	event.ProcedureRetired:      "data.effective_at",
	event.AssistantStageChanged: "data.effective_at",
	event.ReportSubmitted:       "data.reported_at",
	event.TargetSet:             "data.set_at",
}

// setTime sets the time of d, a fact of examples().
func setTime(d event.Data, t time.Time) {
	switch d := d.(type) {
	case *event.ProcedureRegisteredData:
		d.EffectiveAt = t
	case *event.LevelChangedData:
		d.EffectiveAt = t
	case *event.ProcedureRetiredData:
		d.EffectiveAt = t
	case *event.AssistantStageChangedData:
		d.EffectiveAt = t
	case *event.ReportSubmittedData:
		d.ReportedAt = t
	case *event.TargetSetData:
		d.SetAt = t
	}
}

// Every time of every type, read (Decode) or made (New), lies from midnight of 1 January 2000 in Vietnam to five
// minutes from now; anything else is refused with a message naming the bound, and never reaches ClickHouse, whose
// DateTime stored 1900-01-01 as 2036-02-07. 0001-01-01 given in JSON is refused as the time it is, not as missing.
func TestEveryTimeIsInTheTimeDomain(t *testing.T) {
	t.Parallel()
	cases := []struct {
		time  string
		bound string // what the message says after the time; "" when the time is accepted
	}{
		{"1900-01-01T00:00:00Z", beforeTimes},
		{"0001-01-01T00:00:00Z", beforeTimes},
		{"1969-12-31T23:59:59Z", beforeTimes},
		{"1970-01-01T00:00:00Z", beforeTimes},
		{"1999-12-31T23:59:59+07:00", beforeTimes},
		{"1999-12-31T16:59:59.999999999Z", beforeTimes},
		{"1999-12-31T17:00:00Z", ""}, // midnight in Vietnam: the first time of the domain
		{"2000-01-01T00:00:00+07:00", ""},
		{"2021-12-20T03:05:00Z", ""}, // the tests' now, and the clock skew allowed
		{"2021-12-20T03:05:00.000000001Z", inFuture},
		{"2106-02-08T00:00:00Z", inFuture},
		{"2150-01-01T00:00:00+07:00", inFuture},
	}
	for _, ex := range examples() {
		for _, c := range cases {
			at, err := time.Parse(time.RFC3339Nano, c.time)
			if err != nil {
				t.Fatal(err)
			}
			typ := ex.fact(time.UTC).EventType()
			field := timeField[typ]
			t.Run(ex.name+"/"+c.time, func(t *testing.T) {
				t.Parallel()
				d := ex.fact(time.UTC)
				setTime(d, at)
				m := envelopeJSON(t, ex.fact(time.UTC))
				setPath(m, field, c.time)
				m["time"] = c.time
				m["id"] = eventtest.Unchecked(t, "test", d).ID // as a publisher that skipped validation would send it
				_, _, decodeErr := contract.Decode(mustMarshal(t, m))
				_, newErr := contract.New("test", d)
				if c.bound == "" {
					acceptedByBoth(t, d, newErr)
					return
				}
				// Decode names the time as it was written; New writes times in UTC, and reads the zero time as
				// possibly never set (see TestNewRefusesTheZeroTimeAsMissingOrBefore2000).
				wantNew := at.UTC().Format(time.RFC3339Nano) + c.bound
				if at.IsZero() {
					wantNew = zeroInGo
				}
				refusedBy(t, "Decode", decodeErr, field, c.time+c.bound)
				refusedBy(t, "New", newErr, field, wantNew)
			})
		}
	}
}

// acceptedByBoth checks that New made an event of d (newErr is what it said) and that the event decodes.
func acceptedByBoth(t *testing.T, d event.Data, newErr error) {
	t.Helper()
	if newErr != nil {
		t.Fatalf("New refused it: %v", newErr)
	}
	if _, _, err := contract.Decode(mustMarshal(t, mustNew(t, "test", d))); err != nil {
		t.Errorf("Decode refused it: %v", err)
	}
}

// refusedBy checks that err, what who said, is FieldErrors naming field alone, with msg.
func refusedBy(t *testing.T, who string, err error, field, msg string) {
	t.Helper()
	want := event.FieldErrors{{Field: field, Message: msg}}
	if fes, ok := errors.AsType[event.FieldErrors](err); !ok || !slices.Equal(fes, want) {
		t.Errorf("%s: %v, want %q", who, err, want)
	}
}

// A Go value cannot tell a time never set from 0001-01-01T00:00:00Z: New says both, and the range.
func TestNewRefusesTheZeroTimeAsMissingOrBefore2000(t *testing.T) {
	t.Parallel()
	for _, ex := range examples() {
		d := ex.fact(time.UTC)
		setTime(d, time.Time{})
		_, err := contract.New("test", d)
		refusedBy(t, ex.name, err, timeField[d.EventType()], zeroInGo)
	}
}

// A target's days lie from 2000-01-01 to 2100-12-31: a deadline may lie ahead, but within what ClickHouse's Date
// holds on every version egovtrack runs on (18.16 reads no day after 2105-12-31).
func TestEveryDayIsInTheTimeDomain(t *testing.T) {
	t.Parallel()
	cases := []struct {
		baseline, deadline event.Date
		field, msg         string // "" when accepted
	}{
		{"1900-01-01", "2021-12-31", "data.baseline_date", "1900-01-01 is before 2000-01-01, the earliest day egovtrack records"},
		{"0001-01-01", "2021-12-31", "data.baseline_date", "0001-01-01 is before 2000-01-01, the earliest day egovtrack records"},
		{"1969-12-31", "2021-12-31", "data.baseline_date", "1969-12-31 is before 2000-01-01, the earliest day egovtrack records"},
		{"1999-12-31", "2021-12-31", "data.baseline_date", "1999-12-31 is before 2000-01-01, the earliest day egovtrack records"},
		{"2000-01-01", "2021-12-31", "", ""},
		{"2021-06-30", "2100-12-31", "", ""},
		{"2021-06-30", "2101-01-01", "data.deadline", "2101-01-01 is after 2100-12-31, the latest day egovtrack records"},
		{"2021-06-30", "2106-02-08", "data.deadline", "2106-02-08 is after 2100-12-31, the latest day egovtrack records"},
		{"2021-06-30", "2150-01-01", "data.deadline", "2150-01-01 is after 2100-12-31, the latest day egovtrack records"},
		{"2021-06-30", "9999-12-31", "data.deadline", "9999-12-31 is after 2100-12-31, the latest day egovtrack records"},
	}
	for _, c := range cases {
		t.Run(string(c.baseline)+"/"+string(c.deadline), func(t *testing.T) {
			t.Parallel()
			d := target(func(d *event.TargetSetData) { d.BaselineDate, d.Deadline = c.baseline, c.deadline })
			m := envelopeJSON(t, target(func(*event.TargetSetData) {}))
			setPath(m, "data.baseline_date", string(c.baseline))
			setPath(m, "data.deadline", string(c.deadline))
			m["id"] = eventtest.Unchecked(t, "test", d).ID
			_, _, decodeErr := contract.Decode(mustMarshal(t, m))
			_, newErr := contract.New("test", d)
			if c.msg == "" {
				acceptedByBoth(t, d, newErr)
				return
			}
			refusedBy(t, "Decode", decodeErr, c.field, c.msg)
			refusedBy(t, "New", newErr, c.field, c.msg)
		})
	}
}

// CheckTime and CheckDay are the domain for code that is not an event yet (a collector's clock, a simulation's
// options): they say the same as New and Decode.
func TestCheckTimeAndCheckDay(t *testing.T) {
	t.Parallel()
	if err := contract.CheckTime(event.Earliest); err != nil {
		t.Errorf("CheckTime(Earliest) = %v", err)
	}
	if err := contract.CheckTime(contract.Latest()); err != nil {
		t.Errorf("CheckTime(Latest()) = %v", err)
	}
	if err := contract.CheckTime(event.Earliest.Add(-time.Nanosecond)); err == nil || err.Error() != "1999-12-31T23:59:59.999999999+07:00"+beforeTimes {
		t.Errorf("CheckTime(a nanosecond before Earliest) = %v", err)
	}
	for _, d := range []event.Date{event.FirstDay, event.LastDay, event.DateOf(event.Earliest), event.DateOf(contract.Latest())} {
		if err := event.CheckDay(d); err != nil {
			t.Errorf("CheckDay(%s) = %v", d, err)
		}
	}
	if err := event.CheckDay("2021-13-01"); err == nil || err.Error() != `"2021-13-01" is not a date YYYY-MM-DD` {
		t.Errorf(`CheckDay("2021-13-01") = %v`, err)
	}
}
