// Package coveragetest is, for tests, what the events of a history say each unit holds on a day across mergers, as
// simply as it can be said: every unit's own coverage folded from its changes, and a unit merged away counted for its
// successor from the merger's day until the successor's first report from then on, when the successor's own
// catalogue restates it. It knows no split and no chain (the 2025 reorganisation has neither); the views' own
// reference for those is dashboards/board's TestLineageViews.
package coveragetest

import (
	"time"

	"github.com/egovtrack/egovtrack/internal/coverage"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// Held folds facts (in stream order) up to the Vietnamese day last and returns what each unit holds on a day then:
// eligible procedures and those at level 4.
func Held(facts []event.Data, last time.Time) func(day time.Time) map[units.Ref]coverage.Day {
	var cs []coverage.Change
	successor, mergedOn := map[units.Ref]units.Ref{}, map[units.Ref]time.Time{}
	reports := map[units.Ref][]time.Time{}
	for i, d := range facts {
		if c, ok := coverage.FromEvent(d, uint64(i+1)); ok {
			cs = append(cs, c)
		}
		switch d := d.(type) {
		case *event.UnitMergedData:
			day, _ := d.EffectiveOn.Time()
			for _, p := range d.Predecessors {
				if p != d.Successor {
					successor[p], mergedOn[p] = d.Successor, day
				}
			}
		case *event.ReportSubmittedData:
			reports[d.Unit] = append(reports[d.Unit], coverage.DayOf(d.ReportedAt))
		}
	}
	daily := coverage.Daily(cs, last)
	return func(day time.Time) map[units.Ref]coverage.Day {
		out := map[units.Ref]coverage.Day{}
		for u, series := range daily {
			var own coverage.Day
			for _, d := range series {
				if !d.Day.After(day) {
					own = d
				}
			}
			to := u
			if on, gone := mergedOn[u]; gone && !day.Before(on) {
				to = successor[u]
				for _, r := range reports[to] {
					if !r.Before(on) && !r.After(day) {
						to = units.Ref{} // the successor restated them
					}
				}
			}
			if to != (units.Ref{}) {
				x := out[to]
				x.Eligible += own.Eligible
				x.Level4 += own.Level4
				out[to] = x
			}
		}
		return out
	}
}
