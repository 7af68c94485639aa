package coverage

import (
	"cmp"
	"slices"
	"time"

	"github.com/egovtrack/egovtrack/internal/units"
)

// Fold is one unit's coverage after a set of its changes, kept so that changes taking effect after all of them can
// be added without folding the unit's whole history again. Daily and Fold agree: a Fold seeded with some changes and
// extended with the rest gives the days Daily gives for all of them.
type Fold struct {
	unit   units.Ref
	states map[string]State // by procedure
	last   Change           // the latest change folded, by effective time then stream sequence
	now    Day              // the coverage at the end of last's day and every day after it
}

// NewFold folds a unit's changes, in any order and possibly repeated; changes of other units are ignored. It
// returns nil when none is the unit's.
func NewFold(unit units.Ref, cs []Change) *Fold {
	var own []Change
	for _, c := range cs {
		if c.Unit == unit {
			own = append(own, c)
		}
	}
	if len(own) == 0 {
		return nil
	}
	Sort(own)
	own = slices.CompactFunc(own, same)
	f := &Fold{unit: unit, states: map[string]State{}, now: Day{Unit: unit}}
	for _, c := range own {
		f.states[c.Procedure] = f.states[c.Procedure].Apply(c)
		if f.last.EffectiveAt.IsZero() || compareKey(c, f.last) > 0 {
			f.last = c
		}
	}
	for _, st := range f.states {
		p, e, l := st.Counts()
		f.now.Procedures += p
		f.now.Eligible += e
		f.now.Level4 += l
	}
	f.now.Day = DayOf(f.last.EffectiveAt)
	return f
}

// State returns a procedure's state after the changes folded.
func (f *Fold) State(procedure string) State { return f.states[procedure] }

// Extend folds cs, changes of the fold's unit that all take effect after every change already folded, and returns
// the unit's coverage on every day from from through last (or the day of the latest of cs, if later). from must lie
// between the day of the latest change already folded and the day of the earliest of cs: the days before it keep
// what they had.
//
// It returns false, and leaves the fold as it was, when cs is empty, holds another unit's change, or a change that
// does not take effect after those folded (a late arrival, a repeat), or when from is out of its bounds: the caller must
// then fold the unit's changes from the start.
func (f *Fold) Extend(cs []Change, from, last time.Time) ([]Day, bool) {
	if len(cs) == 0 || from.Before(f.now.Day) {
		return nil, false
	}
	cs = slices.Clone(cs)
	slices.SortFunc(cs, compareKey)
	if compareKey(cs[0], f.last) <= 0 || from.After(DayOf(cs[0].EffectiveAt)) {
		return nil, false
	}
	for _, c := range cs {
		if c.Unit != f.unit {
			return nil, false
		}
	}
	if d := DayOf(cs[len(cs)-1].EffectiveAt); d.After(last) {
		last = d
	}
	out := make([]Day, 0, int(last.Sub(from).Hours()/24)+1)
	cur := f.now
	for day := from; !day.After(last); day = day.AddDate(0, 0, 1) {
		for len(cs) > 0 && !DayOf(cs[0].EffectiveAt).After(day) {
			c := cs[0]
			cs = cs[1:]
			before := f.states[c.Procedure]
			after := before.Apply(c)
			f.states[c.Procedure] = after
			p0, e0, l0 := before.Counts()
			p1, e1, l1 := after.Counts()
			cur.Procedures += p1 - p0
			cur.Eligible += e1 - e0
			cur.Level4 += l1 - l0
			f.last = c
		}
		cur.Day = day
		out = append(out, cur)
	}
	f.now = cur
	f.now.Day = DayOf(f.last.EffectiveAt)
	return out, true
}

// compareKey orders a unit's changes by effective time, the stream sequence breaking ties.
func compareKey(a, b Change) int {
	return cmp.Or(a.EffectiveAt.Compare(b.EffectiveAt), cmp.Compare(a.Seq, b.Seq))
}
