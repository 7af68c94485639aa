// Package coverage computes level-4 coverage from procedure changes: which procedures each unit offers at the end of
// every Vietnamese day, how many of them are eligible for level 4 and how many of those are at level 4.
//
// The result depends on the set of changes only, never on the order they arrive in: each procedure's changes are
// taken in order of effective time, the stream sequence breaking ties. The projector folds the changes it stored in
// ClickHouse with it; tests fold published events with it to check what the projections and dashboards show.
package coverage

import (
	"cmp"
	"slices"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// Kind is what a change did to a procedure.
type Kind uint8

const (
	Registered   Kind = 1
	LevelChanged Kind = 2
	Retired      Kind = 3
)

// Change is one event about one procedure.
type Change struct {
	Unit        units.Ref
	Procedure   string
	Kind        Kind
	EffectiveAt time.Time
	Seq         uint64 // stream sequence: the tie-break between changes at the same instant
	Eligible    bool   // Registered only
	Level       event.Level
}

// FromEvent returns the change an event makes to a procedure, or false for events about something else.
func FromEvent(d event.Data, seq uint64) (Change, bool) {
	switch d := d.(type) {
	case *event.ProcedureRegisteredData:
		return Change{Unit: d.Unit, Procedure: d.Procedure, Kind: Registered, EffectiveAt: d.EffectiveAt, Seq: seq, Eligible: d.Eligible, Level: d.Level}, true
	case *event.LevelChangedData:
		return Change{Unit: d.Unit, Procedure: d.Procedure, Kind: LevelChanged, EffectiveAt: d.EffectiveAt, Seq: seq, Level: d.To}, true
	case *event.ProcedureRetiredData:
		return Change{Unit: d.Unit, Procedure: d.Procedure, Kind: Retired, EffectiveAt: d.EffectiveAt, Seq: seq}, true
	}
	return Change{}, false
}

// Day is a unit's coverage at the end of one Vietnamese day.
type Day struct {
	Unit       units.Ref
	Day        time.Time // midnight starting the day, in event.Vietnam
	Procedures int       // active procedures
	Eligible   int       // active procedures eligible for level 4
	Level4     int       // eligible procedures at level 4
}

// Share is Level4/Eligible in percent, 0 when nothing is eligible.
func (d Day) Share() float64 {
	if d.Eligible == 0 {
		return 0
	}
	return 100 * float64(d.Level4) / float64(d.Eligible)
}

// State is a procedure's state after its changes.
type State struct {
	Registered, Active, Eligible bool
	Level                        event.Level
}

// Counts is what the state adds to its unit's coverage: whether it is an active procedure, an eligible one, and an
// eligible one at level 4.
func (s State) Counts() (procs, eligible, level4 int) {
	if !s.Registered || !s.Active {
		return 0, 0, 0
	}
	procs = 1
	if s.Eligible {
		eligible = 1
		if s.Level == event.FullOnline {
			level4 = 1
		}
	}
	return procs, eligible, level4
}

// Apply returns the state after c, a change that takes effect after every change already applied.
func (s State) Apply(c Change) State {
	switch c.Kind {
	case Registered:
		return State{Registered: true, Active: true, Eligible: c.Eligible, Level: c.Level}
	case LevelChanged:
		s.Level = c.Level
	case Retired:
		s.Active = false
	}
	return s
}

// Sort puts changes in the order they took effect: by procedure, effective time, then stream sequence.
func Sort(cs []Change) {
	slices.SortFunc(cs, func(a, b Change) int {
		return cmp.Or(
			cmp.Compare(a.Unit.Kind, b.Unit.Kind), cmp.Compare(a.Unit.Code, b.Unit.Code),
			cmp.Compare(a.Procedure, b.Procedure),
			a.EffectiveAt.Compare(b.EffectiveAt), cmp.Compare(a.Seq, b.Seq))
	})
}

// Current returns each procedure's state after all its changes.
func Current(cs []Change) map[units.Ref]map[string]State {
	cs = slices.Clone(cs)
	Sort(cs)
	out := map[units.Ref]map[string]State{}
	for _, c := range cs {
		m := out[c.Unit]
		if m == nil {
			m = map[string]State{}
			out[c.Unit] = m
		}
		m[c.Procedure] = m[c.Procedure].Apply(c)
	}
	return out
}

// Daily returns every unit's coverage at the end of each Vietnamese day from the day of its first change through
// last (or its last change, if later). The changes may come in any order and may repeat a change (same procedure,
// time and sequence) without effect.
func Daily(cs []Change, last time.Time) map[units.Ref][]Day {
	cs = slices.Clone(cs)
	Sort(cs)
	cs = slices.CompactFunc(cs, same)

	// Per unit and day, the sum of what the end-of-day states of its procedures changed by that day.
	type delta struct{ procs, eligible, level4 int }
	deltas := map[units.Ref]map[time.Time]delta{}
	lastDay := DayOf(last)
	for i := 0; i < len(cs); {
		j := i
		for j < len(cs) && cs[j].Unit == cs[i].Unit && cs[j].Procedure == cs[i].Procedure {
			j++
		}
		var st State
		for k := i; k < j; k++ {
			day := DayOf(cs[k].EffectiveAt)
			before := st
			st = st.Apply(cs[k])
			// Only the state at the end of the day counts: skip to the day's last change.
			for k+1 < j && DayOf(cs[k+1].EffectiveAt).Equal(day) {
				k++
				st = st.Apply(cs[k])
			}
			p0, e0, l0 := before.Counts()
			p1, e1, l1 := st.Counts()
			m := deltas[cs[i].Unit]
			if m == nil {
				m = map[time.Time]delta{}
				deltas[cs[i].Unit] = m
			}
			d := m[day]
			d.procs += p1 - p0
			d.eligible += e1 - e0
			d.level4 += l1 - l0
			m[day] = d
			if day.After(lastDay) {
				lastDay = day
			}
		}
		i = j
	}

	out := map[units.Ref][]Day{}
	for u, m := range deltas {
		days := make([]time.Time, 0, len(m))
		for d := range m {
			days = append(days, d)
		}
		slices.SortFunc(days, func(a, b time.Time) int { return a.Compare(b) })
		var cur Day
		cur.Unit = u
		series := make([]Day, 0, int(lastDay.Sub(days[0]).Hours()/24)+1)
		k := 0
		for day := days[0]; !day.After(lastDay); day = day.AddDate(0, 0, 1) {
			if k < len(days) && days[k].Equal(day) {
				d := m[day]
				cur.Procedures += d.procs
				cur.Eligible += d.eligible
				cur.Level4 += d.level4
				k++
			}
			cur.Day = day
			series = append(series, cur)
		}
		out[u] = series
	}
	return out
}

// DayOf returns the start of t's Vietnamese day.
func DayOf(t time.Time) time.Time {
	t = t.In(event.Vietnam)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, event.Vietnam)
}

// National sums the units' coverage per day. Units whose series has not started by a day add nothing to it.
func National(daily map[units.Ref][]Day) map[time.Time]Day {
	out := map[time.Time]Day{}
	for _, series := range daily {
		for _, d := range series {
			n := out[d.Day]
			n.Day = d.Day
			n.Procedures += d.Procedures
			n.Eligible += d.Eligible
			n.Level4 += d.Level4
			out[d.Day] = n
		}
	}
	return out
}

// same reports whether two changes are one change delivered twice.
func same(a, b Change) bool {
	return a.Unit == b.Unit && a.Procedure == b.Procedure && a.Kind == b.Kind && a.EffectiveAt.Equal(b.EffectiveAt) &&
		a.Seq == b.Seq && a.Eligible == b.Eligible && a.Level == b.Level
}
