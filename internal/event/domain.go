package event

import (
	"fmt"
	"time"
)

// The time domain is every time and day egovtrack records. Every time of an event (the envelope's time, effective_at,
// reported_at, set_at) must lie from Earliest to Latest(), and every day (baseline_date, deadline) from FirstDay to
// LastDay. New and Decode check it, so the collectors, the intake API and the projector all refuse the same values,
// with a message that names the bound.
//
// The bounds, and why:
//
//   - From 1 January 2000 in Vietnam. Vietnam's online public services start in the 2000s (Decree 43/2011 set their
//     levels), so an earlier time is a mistake: a clock reset, a century mistyped, a zero value. The earliest time
//     is midnight in Vietnam, so that the Vietnamese day of every time (DateOf) is a day of the domain. The
//     projector stores times as ClickHouse DateTime and days as Date: neither holds anything before 1970-01-01, and
//     an earlier value is not refused but wraps (1900-01-01 became 2036-02-07).
//   - Times up to MaxClockSkew after now (a Contract's Now): a fact cannot take effect in the future, but
//     collectors' clocks drift.
//   - Days up to 2100-12-31: a deadline lies ahead, and plans run for decades (the National Digital
//     Transformation Programme of 2020 looks to 2030), but not for a century. ClickHouse 18.16 reads no day after
//     2105-12-31 (toDate('2106-01-01') is 0000-00-00 there) and counts none after 2106-02-07 (toDate(65535) is
//     1970-01-01); later versions keep a Date until 2149-06-06 and a DateTime until 2106-02-07 06:28:15 UTC, and
//     clamp or wrap what lies beyond. A last day of 2100-12-31 is a Date on every version, and still a DateTime if a
//     query turns it into one.
const (
	// FirstDay is the earliest day egovtrack records.
	FirstDay Date = "2000-01-01"
	// LastDay is the latest day egovtrack records: a deadline may lie ahead, up to it.
	LastDay Date = "2100-12-31"
)

// Earliest is the earliest time egovtrack records: the start of FirstDay in Vietnam, 1999-12-31T17:00:00Z.
var Earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, Vietnam)

// MaxClockSkew is how far in the future a time may lie before it is refused: collectors' clocks drift.
const MaxClockSkew = 5 * time.Minute

// Contract is the event contract as of the time its clock says: the time domain ends MaxClockSkew after Now. The
// package's New, Decode, Validate, CheckTime and Latest, and Envelope's Decode, are those of the Contract on the
// system clock; a test that needs a fixed today makes a Contract with its own Now.
type Contract struct {
	// Now is the clock the time domain's end is read from; nil is time.Now.
	Now func() time.Time
}

func (c Contract) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

// Latest returns the latest time egovtrack records now: MaxClockSkew after the system clock.
func Latest() time.Time { return Contract{}.Latest() }

// Latest returns the latest time egovtrack records now: MaxClockSkew after c's Now.
func (c Contract) Latest() time.Time { return c.now().Add(MaxClockSkew) }

// CheckTime returns an error naming the bound t passes when t lies outside the time domain, before Earliest or after
// Latest(); nil when it lies inside. The zero time.Time is 0001-01-01T00:00:00Z, and refused as such.
func CheckTime(t time.Time) error { return Contract{}.CheckTime(t) }

// CheckTime is CheckTime with c's clock.
func (c Contract) CheckTime(t time.Time) error {
	switch {
	case t.Before(Earliest):
		return fmt.Errorf("%s is before %s, the earliest time egovtrack records", t.Format(time.RFC3339Nano), Earliest.Format(time.RFC3339))
	case t.After(c.Latest()):
		return fmt.Errorf("%s is in the future: egovtrack records times up to %d minutes from now", t.Format(time.RFC3339Nano), int(MaxClockSkew.Minutes()))
	}
	return nil
}

// CheckDay returns an error naming the bound d passes when d lies outside the time domain, before FirstDay or after
// LastDay, or saying that d is not a day YYYY-MM-DD; nil when it is a day of the domain.
func CheckDay(d Date) error {
	if _, err := d.Time(); err != nil {
		return fmt.Errorf("%q is not a date YYYY-MM-DD", string(d))
	}
	// Days written YYYY-MM-DD compare as their text does.
	switch {
	case d < FirstDay:
		return fmt.Errorf("%s is before %s, the earliest day egovtrack records", d, FirstDay)
	case d > LastDay:
		return fmt.Errorf("%s is after %s, the latest day egovtrack records", d, LastDay)
	}
	return nil
}
