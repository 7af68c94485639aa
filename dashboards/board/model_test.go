package board_test

import (
	"cmp"
	"math"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/egovtrack/egovtrack/dashboards/internal/campaigntest"
	"github.com/egovtrack/egovtrack/internal/coverage"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// model holds the figures of the campaign computed in Go straight from the published events, with internal/coverage
// for coverage, independently of the dashboards' SQL. Its methods mirror what each panel claims to show, in the
// same arithmetic (the same operations in the same order), so that the answers compare equal.
type model struct {
	c        *campaigntest.Campaign
	changes  []coverage.Change
	daily    map[units.Ref][]coverage.Day
	national map[time.Time]coverage.Day
	target   *event.TargetSetData // the national level-4 coverage target in force
	// targets are the level-4 coverage targets in force by scope: the national one, and units' own.
	targets map[event.Scope]*event.TargetSetData
	regs    []registration
	stages  []stageChange
	reports []report
}

type registration struct {
	unit         units.Ref
	code         string
	name, sector string
	at           time.Time
	seq          uint64
}

type stageChange struct {
	unit  units.Ref
	stage event.Stage
	users *uint32
	at    time.Time
	seq   uint64
}

type report struct {
	unit      units.Ref
	collector string
	at        time.Time
	seq       uint64
}

// later orders facts by effective time, then stream sequence, as every argMax of the SQL does.
func later(at time.Time, seq uint64, than time.Time, thanSeq uint64) bool {
	return at.After(than) || at.Equal(than) && seq > thanSeq
}

func newModel(c *campaigntest.Campaign) *model {
	m := &model{c: c, targets: map[event.Scope]*event.TargetSetData{}}
	var targetSeq uint64
	targetSeqs := map[event.Scope]uint64{}
	for _, e := range c.Events {
		if ch, ok := coverage.FromEvent(e.Data, e.Seq); ok {
			m.changes = append(m.changes, ch)
		}
		switch d := e.Data.(type) {
		case *event.ProcedureRegisteredData:
			m.regs = append(m.regs, registration{d.Unit, d.Procedure, d.Name, d.Sector, d.EffectiveAt, e.Seq})
		case *event.AssistantStageChangedData:
			m.stages = append(m.stages, stageChange{d.Unit, d.Stage, d.Users, d.EffectiveAt, e.Seq})
		case *event.ReportSubmittedData:
			m.reports = append(m.reports, report{d.Unit, d.Collector, d.ReportedAt, e.Seq})
		case *event.TargetSetData:
			if d.Metric == event.MetricLevel4Coverage && d.Scope == event.National &&
				(m.target == nil || later(d.SetAt, e.Seq, m.target.SetAt, targetSeq)) {
				m.target, targetSeq = d, e.Seq
			}
			if old := m.targets[d.Scope]; d.Metric == event.MetricLevel4Coverage &&
				(old == nil || later(d.SetAt, e.Seq, old.SetAt, targetSeqs[d.Scope])) {
				m.targets[d.Scope], targetSeqs[d.Scope] = d, e.Seq
			}
		}
	}
	// The projector's coverage runs to the last day any change took effect.
	var last time.Time
	for _, ch := range m.changes {
		if d := coverage.DayOf(ch.EffectiveAt); d.After(last) {
			last = d
		}
	}
	m.daily = coverage.Daily(m.changes, last)
	m.national = coverage.National(m.daily)
	return m
}

// share is level4 of eligible in percent, as the SQL computes it; nil when nothing is eligible.
func share(level4, eligible int) any {
	if eligible == 0 {
		return nil
	}
	return float64(100*level4) / float64(eligible)
}

func vnDay(t time.Time) time.Time { return coverage.DayOf(t) }

// seconds is t as the plugin sends it: whole seconds.
func seconds(t time.Time) time.Time { return time.Unix(t.Unix(), 0) }

// window is a dashboard time range and the days it covers.
type window struct {
	from, to time.Time
	days     []time.Time // the Vietnamese days with national coverage within the range, ascending
	latest   time.Time   // the last of them; zero without any
}

func (m *model) window(from, to time.Time) window {
	w := window{from: seconds(from), to: seconds(to)}
	lo, hi := vnDay(w.from), vnDay(w.to)
	for d := range m.national {
		if !d.Before(lo) && !d.After(hi) {
			w.days = append(w.days, d)
		}
	}
	slices.SortFunc(w.days, time.Time.Compare)
	if len(w.days) > 0 {
		w.latest = w.days[len(w.days)-1]
	}
	return w
}

// trajectory is where the national target's line stands on a day; nil before its baseline date or without a target.
func (m *model) trajectory(day time.Time) any { return trajectoryOf(m.target, day) }

// unitTrajectory is where the line a unit is held to stands on a day: its own target's when one was set for it, the
// national one's otherwise.
func (m *model) unitTrajectory(u units.Ref, day time.Time) any {
	if t, ok := m.targets[event.ScopeOf(u)]; ok {
		return trajectoryOf(t, day)
	}
	return m.trajectory(day)
}

func trajectoryOf(t *event.TargetSetData, day time.Time) any {
	if t == nil {
		return nil
	}
	base, _ := t.BaselineDate.Time()
	deadline, _ := t.Deadline.Time()
	switch {
	case day.Before(base):
		return nil
	case !day.Before(deadline):
		return t.Target
	}
	done := int64(math.Round(day.Sub(base).Hours() / 24))
	all := int64(math.Round(deadline.Sub(base).Hours() / 24))
	return t.Baseline + (t.Target-t.Baseline)*float64(done)/float64(all)
}

// dayOf is a unit's coverage on a day, if its series has one.
func (m *model) dayOf(u units.Ref, day time.Time) (coverage.Day, bool) {
	for _, d := range m.daily[u] {
		if d.Day.Equal(day) {
			return d, true
		}
	}
	return coverage.Day{}, false
}

// unitNow is a unit on the latest day of a window, as unitStatus shows it.
type unitNow struct {
	unit             units.Unit
	eligible, level4 int
	coverage, before any // float64 or nil
	trajectory       any
	status           string
}

func (u unitNow) gap() any    { return minus(u.coverage, u.trajectory) }
func (u unitNow) change() any { return minus(u.coverage, u.before) }

// rankKey is what the league ranks by: coverage, -1 when nothing is eligible.
func (u unitNow) rankKey() float64 {
	if f, ok := u.coverage.(float64); ok {
		return f
	}
	return -1
}

func minus(a, b any) any {
	fa, okA := a.(float64)
	fb, okB := b.(float64)
	if !okA || !okB {
		return nil
	}
	return fa - fb
}

// units are the units with coverage on the window's latest day, by reference.
func (m *model) units(w window) []unitNow {
	if w.latest.IsZero() {
		return nil
	}
	var out []unitNow
	for _, u := range units.All() {
		d, ok := m.dayOf(u.Ref, w.latest)
		if !ok {
			continue
		}
		traj := m.unitTrajectory(u.Ref, w.latest)
		n := unitNow{unit: u, eligible: d.Eligible, level4: d.Level4, coverage: share(d.Level4, d.Eligible), trajectory: traj}
		if b, ok := m.dayOf(u.Ref, w.latest.AddDate(0, 0, -30)); ok {
			n.before = share(b.Level4, b.Eligible)
		}
		switch {
		case d.Eligible == 0:
			n.status = "nothing_eligible"
		case d.Level4 == d.Eligible:
			n.status = "full"
		case traj == nil:
			n.status = "no_target"
		case n.coverage.(float64) >= traj.(float64):
			n.status = "on_track"
		default:
			n.status = "behind"
		}
		out = append(out, n)
	}
	return out
}

func countStatus(us []unitNow, status string) float64 {
	n := 0
	for _, u := range us {
		if u.status == status {
			n++
		}
	}
	return float64(n)
}

// nationalShare is national coverage on a day, and whether the day has coverage.
func (m *model) nationalShare(day time.Time) (any, bool) {
	d, ok := m.national[day]
	if !ok {
		return nil, false
	}
	return share(d.Level4, d.Eligible), true
}

// forecast is the row of the pace forecast, or nil when the window has no coverage. The days still needed are worked
// out in exact fractions (math/big), not in the SQL's integers nor in floating point: coverage rose by
// L1/E1 − L0/E0 in 30 days and lacks 1 − L1/E1, and the days are the quotient rounded up. The coverage and the pace
// are the figures the panel shows, in floating point as the SQL computes them.
func (m *model) forecast(w window) []any {
	if w.latest.IsZero() {
		return nil
	}
	beforeDay := w.latest.AddDate(0, 0, -30)
	n1 := m.national[w.latest]
	n0, hasBefore := m.national[beforeDay]
	hasBefore = hasBefore && n0.Eligible > 0
	now, before := share(n1.Level4, n1.Eligible), any(nil)
	var pace, days, forecast any
	if hasBefore {
		before = share(n0.Level4, n0.Eligible)
		if now != nil {
			pace = (now.(float64) - before.(float64)) / 30
		}
	}
	if n1.Eligible > 0 {
		c1 := big.NewRat(int64(n1.Level4), int64(n1.Eligible))
		one := big.NewRat(1, 1)
		switch {
		case c1.Cmp(one) >= 0:
			days, forecast = 0.0, "reached"
		case !hasBefore:
			forecast = "no_history"
		default:
			rise := new(big.Rat).Sub(c1, big.NewRat(int64(n0.Level4), int64(n0.Eligible)))
			switch {
			case rise.Sign() <= 0:
				forecast = "stalled"
			case max(n0.Eligible, n1.Eligible) > 500_000_000:
				forecast = "overflow"
			default:
				left := new(big.Rat).Sub(one, c1)
				n := ceil(new(big.Rat).Quo(new(big.Rat).Mul(left, big.NewRat(30, 1)), rise))
				days = float64(n)
				forecast = w.latest.AddDate(0, 0, int(n)).Format(time.DateOnly)
				if n > 3650 {
					forecast = "beyond"
				}
			}
		}
	}
	return []any{w.latest.Format(time.DateOnly), now, beforeDay.Format(time.DateOnly), before, pace, days, forecast}
}

// ceil is the least whole number at or above a positive r.
func ceil(r *big.Rat) int64 {
	q, rem := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if rem.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return q.Int64()
}

// stageAt is each unit's latest stage change effective by t.
func (m *model) stageAt(t time.Time) map[units.Ref]stageChange {
	out := map[units.Ref]stageChange{}
	for _, s := range m.stages {
		if s.at.After(t) {
			continue
		}
		if old, ok := out[s.unit]; !ok || later(s.at, s.seq, old.at, old.seq) {
			out[s.unit] = s
		}
	}
	return out
}

// stageOnDay is each unit's stage at the end of a Vietnamese day.
func (m *model) stageOnDay(day time.Time) map[units.Ref]event.Stage {
	out := map[units.Ref]event.Stage{}
	latest := map[units.Ref]stageChange{}
	for _, s := range m.stages {
		if vnDay(s.at).After(day) {
			continue
		}
		if old, ok := latest[s.unit]; !ok || later(s.at, s.seq, old.at, old.seq) {
			latest[s.unit] = s
			out[s.unit] = s.stage
		}
	}
	return out
}

// rank is a stage's number in the schema's Enum8.
func rank(s event.Stage) float64 { return float64(slices.Index(event.Stages, s)) }

// calendar is every Vietnamese day of the range.
func calendar(w window) []time.Time {
	var out []time.Time
	for d := vnDay(w.from); !d.After(vnDay(w.to)); d = d.AddDate(0, 0, 1) {
		out = append(out, d)
	}
	return out
}

// stageCounts are the units at each stage in rollout order.
func stageCounts(stages map[units.Ref]event.Stage) []any {
	counts := make([]any, len(event.Stages))
	for i, s := range event.Stages {
		n := 0
		for _, st := range stages {
			if st == s {
				n++
			}
		}
		counts[i] = float64(n)
	}
	return counts
}

// lastReport is each unit's latest report up to t.
func (m *model) lastReport(t time.Time) map[units.Ref]report {
	out := map[units.Ref]report{}
	for _, r := range m.reports {
		if r.at.After(t) {
			continue
		}
		if old, ok := out[r.unit]; !ok || later(r.at, r.seq, old.at, old.seq) {
			out[r.unit] = r
		}
	}
	return out
}

// freshness is a unit's reporting status at the end of a window: its latest report, the days since, and stale.
type freshness struct {
	unit      units.Unit
	last      any // time.Time or nil
	collector string
	daysSince any // float64 or nil
	stale     bool
}

func (m *model) freshness(w window) []freshness {
	last := m.lastReport(w.to)
	var out []freshness
	for _, u := range units.All() {
		f := freshness{unit: u, stale: true}
		if r, ok := last[u.Ref]; ok {
			f.last, f.collector = r.at, r.collector
			days := float64(w.to.Unix()-r.at.Unix()) / 86400
			f.daysSince = days
			f.stale = days > u.Cadence.Hours()/24
		}
		out = append(out, f)
	}
	// Stale first, the longest silent first, never reported before all; then by name.
	slices.SortFunc(out, func(a, b freshness) int {
		if a.stale != b.stale {
			if a.stale {
				return -1
			}
			return 1
		}
		da, db := 1e6, 1e6
		if a.daysSince != nil {
			da = a.daysSince.(float64)
		}
		if b.daysSince != nil {
			db = b.daysSince.(float64)
		}
		return cmp.Or(cmp.Compare(db, da), strings.Compare(a.unit.Name, b.unit.Name))
	})
	return out
}

// procedure is one of a unit's procedures at the end of a window.
type procedure struct {
	code, name, sector string
	state              coverage.State
	changedAt          time.Time
}

// procedures are a unit's procedures as of t, folded by internal/coverage.
func (m *model) procedures(u units.Ref, t time.Time) []procedure {
	var cs []coverage.Change
	changed := map[string]time.Time{}
	for _, c := range m.changes {
		if c.Unit == u && !c.EffectiveAt.After(t) {
			cs = append(cs, c)
			if c.EffectiveAt.After(changed[c.Procedure]) {
				changed[c.Procedure] = c.EffectiveAt
			}
		}
	}
	reg := map[string]registration{}
	for _, r := range m.regs {
		if r.unit == u && !r.at.After(t) {
			if old, ok := reg[r.code]; !ok || later(r.at, r.seq, old.at, old.seq) {
				reg[r.code] = r
			}
		}
	}
	var out []procedure
	for code, st := range coverage.Current(cs)[u] {
		out = append(out, procedure{code: code, name: reg[code].name, sector: reg[code].sector, state: st, changedAt: changed[code]})
	}
	return out
}

// open are the eligible procedures on offer below level 4.
func open(ps []procedure) []procedure {
	var out []procedure
	for _, p := range ps {
		if p.state.Registered && p.state.Active && p.state.Eligible && p.state.Level != event.FullOnline {
			out = append(out, p)
		}
	}
	return out
}

// nameOf is a procedure's name from its latest registration, whenever it was.
func (m *model) nameOf(u units.Ref, code string) string {
	var best *registration
	for i, r := range m.regs {
		if r.unit == u && r.code == code && (best == nil || later(r.at, r.seq, best.at, best.seq)) {
			best = &m.regs[i]
		}
	}
	if best == nil {
		return ""
	}
	return best.name
}

func refOf(s string) units.Ref {
	kind, code, _ := strings.Cut(s, "/")
	return units.Ref{Kind: units.Kind(kind), Code: code}
}
