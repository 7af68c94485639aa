package campaigntest

import (
	"slices"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// This file computes, from the campaign's published events alone, figures the tests of the alert rules and of the
// briefing hold ClickHouse's answers to: folded here in Go, by effective time and stream sequence, without
// internal/coverage, the projector or SQL.

// Counts are the eligible procedures and those at level 4 at the end of each Vietnamese day from the first change
// on, folded here from the events, by effective time and stream sequence, without internal/coverage or ClickHouse:
// over every unit (national), and for each unit from its own first change on (units).
type Counts struct {
	First            time.Time // the first day with a change
	Eligible, Level4 map[time.Time]int64
	Units            map[units.Ref]map[time.Time][2]int64 // eligible, level 4
}

func (c *Campaign) Counts(last time.Time) Counts {
	type change struct {
		at   time.Time
		seq  uint64
		unit units.Ref
		key  string
		data event.Data
	}
	var cs []change
	for _, ev := range c.Events {
		switch d := ev.Data.(type) {
		case *event.ProcedureRegisteredData:
			cs = append(cs, change{d.EffectiveAt, ev.Seq, d.Unit, d.Procedure, d})
		case *event.LevelChangedData:
			cs = append(cs, change{d.EffectiveAt, ev.Seq, d.Unit, d.Procedure, d})
		case *event.ProcedureRetiredData:
			cs = append(cs, change{d.EffectiveAt, ev.Seq, d.Unit, d.Procedure, d})
		}
	}
	slices.SortFunc(cs, func(a, b change) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return int(a.seq) - int(b.seq)
	})
	type proc struct {
		active, eligible bool
		level            event.Level
	}
	procs := map[units.Ref]map[string]*proc{}
	day := func(t time.Time) time.Time {
		v := t.In(event.Vietnam)
		return time.Date(v.Year(), v.Month(), v.Day(), 0, 0, 0, 0, event.Vietnam)
	}
	out := Counts{Eligible: map[time.Time]int64{}, Level4: map[time.Time]int64{}, Units: map[units.Ref]map[time.Time][2]int64{}}
	if len(cs) == 0 {
		return out
	}
	out.First = day(cs[0].at)
	i := 0
	for d := out.First; !d.After(last); d = d.AddDate(0, 0, 1) {
		end := d.AddDate(0, 0, 1)
		for ; i < len(cs) && cs[i].at.Before(end); i++ {
			if procs[cs[i].unit] == nil {
				procs[cs[i].unit] = map[string]*proc{}
			}
			p := procs[cs[i].unit][cs[i].key]
			if p == nil {
				p = &proc{}
				procs[cs[i].unit][cs[i].key] = p
			}
			switch x := cs[i].data.(type) {
			case *event.ProcedureRegisteredData:
				p.active, p.eligible, p.level = true, x.Eligible, x.Level
			case *event.LevelChangedData:
				p.level = x.To
			case *event.ProcedureRetiredData:
				p.active = false
			}
		}
		for u, ps := range procs {
			var e, l int64
			for _, p := range ps {
				if p.active && p.eligible {
					e++
					if p.level == event.FullOnline {
						l++
					}
				}
			}
			if out.Units[u] == nil {
				out.Units[u] = map[time.Time][2]int64{}
			}
			out.Units[u][d] = [2]int64{e, l}
			out.Eligible[d] += e
			out.Level4[d] += l
		}
	}
	return out
}

// TargetsInForce are the level-4 coverage targets in force by scope: the latest set of each, by set_at then stream
// sequence.
func (c *Campaign) TargetsInForce() map[event.Scope]*event.TargetSetData {
	out := map[event.Scope]*event.TargetSetData{}
	seqs := map[event.Scope]uint64{}
	for _, ev := range c.Events {
		d, ok := ev.Data.(*event.TargetSetData)
		if !ok || d.Metric != event.MetricLevel4Coverage {
			continue
		}
		if old := out[d.Scope]; old == nil || d.SetAt.After(old.SetAt) || d.SetAt.Equal(old.SetAt) && ev.Seq > seqs[d.Scope] {
			out[d.Scope], seqs[d.Scope] = d, ev.Seq
		}
	}
	return out
}

// Silent is the units silent at at (keyed "kind/code name"), from the published events alone: no report at or before
// t, or the latest more than its cadence (and the grace) before t, counted in whole seconds.
func (c *Campaign) Silent(at time.Time, graceDays int) map[string]bool {
	last := map[units.Ref]time.Time{}
	for _, ev := range c.Events {
		r, ok := ev.Data.(*event.ReportSubmittedData)
		if !ok || r.ReportedAt.Truncate(time.Second).After(at) {
			continue
		}
		if r.ReportedAt.After(last[r.Unit]) {
			last[r.Unit] = r.ReportedAt
		}
	}
	out := map[string]bool{}
	for _, u := range units.All() {
		l, ok := last[u.Ref]
		allowed := int64(u.Cadence/time.Second) + int64(graceDays)*86400
		if !ok || at.Unix()-l.Truncate(time.Second).Unix() > allowed {
			out[string(u.Kind)+"/"+u.Code+" "+u.Name] = true
		}
	}
	return out
}

// LastChangeDay is the Vietnamese day of the campaign's last procedure change: coverage_daily ends there.
func (c *Campaign) LastChangeDay() time.Time {
	var last time.Time
	for _, ev := range c.Events {
		var at time.Time
		switch d := ev.Data.(type) {
		case *event.ProcedureRegisteredData:
			at = d.EffectiveAt
		case *event.LevelChangedData:
			at = d.EffectiveAt
		case *event.ProcedureRetiredData:
			at = d.EffectiveAt
		}
		if at.After(last) {
			last = at
		}
	}
	v := last.In(event.Vietnam)
	return time.Date(v.Year(), v.Month(), v.Day(), 0, 0, 0, 0, event.Vietnam)
}
