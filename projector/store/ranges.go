package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/egovtrack/egovtrack/internal/coverage"
	"github.com/egovtrack/egovtrack/internal/event"
)

// What ClickHouse's column types hold. The tables keep times as DateTime and days as Date (projector/migrations), and
// ClickHouse does not refuse a value they cannot hold: it stores another (1900-01-01 as 2036-02-07; on 18.16, a
// deadline of 2150-01-01 as a day before 2000). Write therefore never sends one.
var (
	// firstStorableTime is DateTime's first second: it counts seconds from the Unix epoch in a UInt32.
	firstStorableTime = time.Unix(0, 0).UTC()
	// lastStorableDay is the last day ClickHouse 18.16 reads from text (toDate('2106-01-01') is 0000-00-00 there),
	// as queries write days; it counts none after 2106-02-07. Later versions hold a Date until 2149-06-06 and a
	// DateTime until 2106-02-07 06:28:15 UTC.
	lastStorableDay = time.Date(2105, 12, 31, 0, 0, 0, 0, event.Vietnam)
)

// ErrUnstorable is why Write refuses a record holding a time or a day that the tables' DateTime and Date columns
// cannot hold: it quarantines it, with this reason, and writes the rest of its batch. An event event.Decode accepted
// never holds one: the contract's time domain lies well within (TestTheTimeDomainFitsClickHouse).
var ErrUnstorable = errors.New("outside what ClickHouse's DateTime and Date hold (from 1970-01-01T00:00:00Z to 2105-12-31)")

// storable returns ErrUnstorable, saying which value, when r holds a time or a day the tables cannot hold: its
// envelope's time, its data's time and the Vietnamese day of each, and a target's baseline and deadline.
func storable(r Record) error {
	times := []time.Time{r.Env.Time}
	if r.Data != nil {
		times = append(times, r.Data.OccurredAt())
	}
	for _, t := range times {
		if t.Before(firstStorableTime) || coverage.DayOf(t).After(lastStorableDay) {
			return fmt.Errorf("event %s: its time %s is %w", r.Env.ID, t.Format(time.RFC3339Nano), ErrUnstorable)
		}
	}
	var days []event.Date
	switch d := r.Data.(type) {
	case *event.TargetSetData:
		days = []event.Date{d.BaselineDate, d.Deadline}
	case *event.UnitMergedData:
		days = []event.Date{d.EffectiveOn}
	case *event.UnitRenamedData:
		days = []event.Date{d.EffectiveOn}
	}
	for _, day := range days {
		t, err := day.Time()
		if err != nil || dateOnly(t).Before(firstStorableTime) || t.After(lastStorableDay) {
			return fmt.Errorf("event %s: its day %q is %w", r.Env.ID, day, ErrUnstorable)
		}
	}
	return nil
}
