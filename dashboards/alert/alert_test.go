package alert_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/dashboards/alert"
	"github.com/egovtrack/egovtrack/dashboards/chquery"
	"github.com/egovtrack/egovtrack/dashboards/internal/campaigntest"
	"github.com/egovtrack/egovtrack/internal/enginetest"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

// evaluations are the times the rules are evaluated at on the campaign: during it, at its end, and on a quiet day
// after its last change, when the latest coverage is days old.
var evaluations = []time.Time{
	time.Date(2021, 10, 1, 9, 0, 0, 0, event.Vietnam),
	time.Date(2021, 11, 15, 9, 0, 0, 0, event.Vietnam),
	time.Date(2021, 12, 31, 23, 59, 59, 0, event.Vietnam),
	time.Date(2022, 1, 10, 9, 0, 0, 0, event.Vietnam),
}

// latestCoverageDay is the day the coverage rules judge at t: t's Vietnamese day, or the campaign's last change
// day when t is later (coverage_daily has no day after it).
func latestCoverageDay(c *campaigntest.Campaign, at time.Time) time.Time {
	v := at.In(event.Vietnam)
	today := time.Date(v.Year(), v.Month(), v.Day(), 0, 0, 0, 0, event.Vietnam)
	if last := c.LastChangeDay(); today.After(last) {
		return last
	}
	return today
}

// instance is one alert instance: its labels from the query's string columns, and its value.
type instance struct {
	labels map[string]string
	value  float64
}

func (i instance) key() string {
	return i.labels["unit_kind"] + "/" + i.labels["unit_code"] + " " + i.labels["unit_name"]
}

// firing evaluates a rule as Grafana does for a table of numeric data: the query (A) runs at evaluation time t (its
// relative time range ending at t), each row is one series, labelled by its string columns, with its one numeric
// column as the value; the threshold expression (B) fires a series whose value is above the threshold.
func firing(t *testing.T, e enginetest.Engine, r alert.Rule, at time.Time) []instance {
	t.Helper()
	var sql string
	var threshold float64
	for _, q := range r.Data {
		raw, err := json.Marshal(q.Model)
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			RawSQL     string `json:"rawSql"`
			Type       string `json:"type"`
			Expression string `json:"expression"`
			Conditions []struct {
				Evaluator struct {
					Params []float64 `json:"params"`
					Type   string    `json:"type"`
				} `json:"evaluator"`
			} `json:"conditions"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		switch {
		case *q.RefId == "A":
			sql = m.RawSQL
		case *q.RefId == r.Condition && m.Type == "threshold" && m.Expression == "A" && len(m.Conditions) == 1 &&
			m.Conditions[0].Evaluator.Type == "gt" && len(m.Conditions[0].Evaluator.Params) == 1:
			threshold = m.Conditions[0].Evaluator.Params[0]
		default:
			t.Fatalf("rule %s: query %s is neither the SQL nor a threshold above a value on it: %s", *r.Uid, *q.RefId, raw)
		}
	}
	from := time.Duration(*r.Data[0].RelativeTimeRange.From) * time.Second
	expanded, err := chquery.Expand(sql, chquery.Request{From: at.Add(-from), To: at, Interval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	res, err := enginetest.Query(t.Context(), e, expanded)
	if err != nil {
		t.Fatalf("rule %s on %s: %v", *r.Uid, e.Name(), err)
	}
	var out []instance
	for _, row := range res.Rows {
		inst := instance{labels: map[string]string{}}
		numbers := 0
		for i, typ := range res.Types {
			switch {
			case typ == "String":
				inst.labels[res.Names[i]] = row[i]
			case strings.HasPrefix(typ, "Float") || strings.HasPrefix(typ, "UInt") || strings.HasPrefix(typ, "Int"):
				v, err := strconv.ParseFloat(row[i], 64)
				if err != nil {
					t.Fatalf("rule %s: %s = %q: %v", *r.Uid, res.Names[i], row[i], err)
				}
				inst.value, numbers = v, numbers+1
			default:
				t.Fatalf("rule %s: column %s is %s: neither a label nor the value", *r.Uid, res.Names[i], typ)
			}
		}
		if numbers != 1 {
			t.Fatalf("rule %s: a row with %d numeric columns, want one value", *r.Uid, numbers)
		}
		if inst.value > threshold {
			out = append(out, inst)
		}
	}
	return out
}

func ruleByUID(t *testing.T, uid string) alert.Rule {
	t.Helper()
	return ruleWith(t, alert.Defaults, uid)
}

// The silent rule reminds, at each evaluation time and on both engines, exactly the units the events say went
// without a report for longer than their cadence, each once and with its own labels.
func TestSilentUnitsFireAsTheEventsSay(t *testing.T) {
	c := campaigntest.Load(t)
	e := c.Engines(t)
	r := ruleByUID(t, alert.UnitSilentUID)
	someSilent, someReporting := false, false
	for _, at := range evaluations {
		want := c.Silent(at, alert.Defaults.SilentGraceDays)
		t.Logf("%s: %d of %d units silent", at.Format(time.DateOnly), len(want), len(units.All()))
		someSilent = someSilent || len(want) > 0
		someReporting = someReporting || len(want) < len(units.All())
		for _, eng := range []enginetest.Engine{e.Server, e.Local} {
			t.Run(fmt.Sprintf("%s on %s", at.Format(time.DateOnly), eng.Name()), func(t *testing.T) {
				got := map[string]bool{}
				for _, inst := range firing(t, eng, r, at) {
					if got[inst.key()] {
						t.Errorf("%s fires twice", inst.key())
					}
					got[inst.key()] = true
					for _, l := range alert.UnitLabels {
						if inst.labels[l] == "" {
							t.Errorf("%s fires without the label %s", inst.key(), l)
						}
					}
				}
				if !maps.Equal(got, want) {
					t.Errorf("firing for %d units, the events say %d\nonly in the rule: %v\nonly in Go: %v", len(got), len(want),
						onlyIn(got, want), onlyIn(want, got))
				}
			})
		}
	}
	if !someSilent || !someReporting {
		t.Errorf("the evaluations found silent units %v and reporting ones %v: the campaign tests nothing of the rule", someSilent, someReporting)
	}
}

func onlyIn(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// trajectoryOn is where target's straight line stands on day, in percent; ok false before its baseline date.
func trajectoryOn(t *event.TargetSetData, day time.Time) (float64, bool) {
	base, _ := t.BaselineDate.Time()
	deadline, _ := t.Deadline.Time()
	switch {
	case day.Before(base):
		return 0, false
	case !day.Before(deadline):
		return t.Target, true
	}
	done := math.Round(day.Sub(base).Hours() / 24)
	all := math.Round(deadline.Sub(base).Hours() / 24)
	return t.Baseline + (t.Target-t.Baseline)*done/all, true
}

// behindOn reports whether unit u was more than points below target's trajectory on each of the days days up to
// today, by the counts n.
func behindOn(n campaigntest.Counts, u units.Ref, t *event.TargetSetData, today time.Time, points, days int) bool {
	for k := range days {
		d := today.AddDate(0, 0, -k)
		cnt, ok := n.Units[u][d]
		traj, has := trajectoryOn(t, d)
		if !ok || !has || cnt[0] == 0 || float64(100*cnt[1])/float64(cnt[0]) >= traj-float64(points) {
			return false
		}
	}
	return true
}

// behindInGo is the units the behind rule must remind at t: more than points below the trajectory they are held to
// (their own target's, or the national one's) on each of the days days up to the latest coverage day at t.
func behindInGo(c *campaigntest.Campaign, at time.Time, points, days int) map[string]bool {
	today := latestCoverageDay(c, at)
	n := c.Counts(today)
	targets := c.TargetsInForce()
	out := map[string]bool{}
	for _, u := range units.All() {
		t := targets[event.ScopeOf(u.Ref)]
		if t == nil {
			t = targets[event.National]
		}
		if behindOn(n, u.Ref, t, today, points, days) {
			out[string(u.Kind)+"/"+u.Code+" "+u.Name] = true
		}
	}
	return out
}

// The behind rule reminds, at each evaluation time and on both engines, exactly the units the events say were more
// than 5 points below their trajectory on each of the last 7 days — Hà Nội against its own target — each once with
// its own labels.
func TestBehindUnitsFireAsTheEventsSay(t *testing.T) {
	c := campaigntest.Load(t)
	e := c.Engines(t)
	cfg := alert.Defaults
	r := ruleByUID(t, alert.BehindUID)
	some, notAll := false, false
	for _, at := range evaluations {
		want := behindInGo(c, at, cfg.BehindPoints, cfg.BehindDays)
		t.Logf("%s: %d of %d units behind", at.Format(time.DateOnly), len(want), len(units.All()))
		some, notAll = some || len(want) > 0, notAll || len(want) < len(units.All())
		for _, eng := range []enginetest.Engine{e.Server, e.Local} {
			t.Run(fmt.Sprintf("%s on %s", at.Format(time.DateOnly), eng.Name()), func(t *testing.T) {
				got := map[string]bool{}
				for _, inst := range firing(t, eng, r, at) {
					if got[inst.key()] {
						t.Errorf("%s fires twice", inst.key())
					}
					got[inst.key()] = true
					if inst.value != float64(cfg.BehindDays) {
						t.Errorf("%s fires with %g days behind, want %d", inst.key(), inst.value, cfg.BehindDays)
					}
				}
				if !maps.Equal(got, want) {
					t.Errorf("firing for %d units, the events say %d\nonly in the rule: %v\nonly in Go: %v", len(got), len(want),
						onlyIn(got, want), onlyIn(want, got))
				}
			})
		}
	}
	if !some || !notAll {
		t.Errorf("some units behind at an evaluation %v, not all %v: the campaign tests one side only", some, notAll)
	}

	// A unit with a target of its own is judged by it: on a day when its own target and the national one disagree on
	// Hà Nội, the rule follows its own.
	hanoi, _ := units.Lookup(units.Ref{Kind: units.Province, Code: "01"})
	targets := c.TargetsInForce()
	own := targets[event.ScopeOf(hanoi.Ref)]
	if own == nil {
		t.Fatal("the fixture sets Hà Nội no target of its own")
	}
	end := time.Date(2021, 12, 31, 0, 0, 0, 0, event.Vietnam)
	n := c.Counts(end)
	for d := time.Date(2021, 8, 1, 0, 0, 0, 0, event.Vietnam); !d.After(end); d = d.AddDate(0, 0, 1) {
		byOwn := behindOn(n, hanoi.Ref, own, d, cfg.BehindPoints, cfg.BehindDays)
		if byOwn == behindOn(n, hanoi.Ref, targets[event.National], d, cfg.BehindPoints, cfg.BehindDays) {
			continue
		}
		at := d.Add(12 * time.Hour)
		for _, eng := range []enginetest.Engine{e.Server, e.Local} {
			fires := false
			for _, inst := range firing(t, eng, r, at) {
				fires = fires || inst.labels["unit_code"] == "01" && inst.labels["unit_kind"] == "province"
			}
			if fires != byOwn {
				t.Errorf("%s on %s: Hà Nội fires %v; by its own target it is behind %v (by the national one %v)",
					d.Format(time.DateOnly), eng.Name(), fires, byOwn, !byOwn)
			}
		}
		return
	}
	t.Error("on no day of the campaign do Hà Nội's own target and the national one disagree: the fixture tests nothing of it")
}

// lateInGo is the deadline rule's value at t, worked out from the events in integers: -1 when coverage is 100%,
// 36,500 when it did not rise over the 30 days before (or there were none), otherwise the days after the deadline of
// the national target in force (the latest set) that 100% is reached at that pace, rounded up; ok false without
// coverage or a target.
func lateInGo(c *campaigntest.Campaign, at time.Time) (late int64, ok bool) {
	var deadline time.Time
	var setAt time.Time
	var setSeq uint64
	for _, ev := range c.Events {
		d, isTarget := ev.Data.(*event.TargetSetData)
		if !isTarget || d.Metric != event.MetricLevel4Coverage || d.Scope != event.National {
			continue
		}
		if d.SetAt.After(setAt) || d.SetAt.Equal(setAt) && ev.Seq > setSeq {
			setAt, setSeq = d.SetAt, ev.Seq
			deadline, _ = d.Deadline.Time()
		}
	}
	today := latestCoverageDay(c, at)
	n := c.Counts(today)
	if deadline.IsZero() || today.Before(n.First) || n.Eligible[today] == 0 {
		return 0, false
	}
	e1, l1 := n.Eligible[today], n.Level4[today]
	before := today.AddDate(0, 0, -30)
	e0, l0 := n.Eligible[before], n.Level4[before]
	gain := l1*e0 - l0*e1
	switch {
	case l1 >= e1:
		return -1, true
	case before.Before(n.First) || e0 == 0 || gain <= 0:
		return 36500, true
	}
	lacking := 30 * (e1 - l1) * e0
	days := lacking / gain
	if lacking%gain != 0 {
		days++
	}
	reached := today.AddDate(0, 0, int(days))
	return int64(math.Round(reached.Sub(deadline).Hours() / 24)), true
}

// The deadline rule fires, on both engines and at every evaluation time, exactly when the events say the country
// reaches 100% after the deadline at the pace of the last 30 days, with the days it says.
func TestDeadlineFiresAsTheEventsSay(t *testing.T) {
	c := campaigntest.Load(t)
	e := c.Engines(t)
	r := ruleByUID(t, alert.DeadlineUID)
	fired := 0
	for _, at := range evaluations {
		late, ok := lateInGo(c, at)
		t.Logf("%s: the events say %d days late (%v)", at.Format(time.DateOnly), late, ok)
		for _, eng := range []enginetest.Engine{e.Server, e.Local} {
			t.Run(fmt.Sprintf("%s on %s", at.Format(time.DateOnly), eng.Name()), func(t *testing.T) {
				got := firing(t, eng, r, at)
				switch {
				case !ok || late <= 0:
					if len(got) != 0 {
						t.Errorf("fires %v; the events say %d days late (%v): it must not", got, late, ok)
					}
				case len(got) != 1 || got[0].value != float64(late) || len(got[0].labels) != 0:
					t.Errorf("fires %v, want one instance without labels, %d days late", got, late)
				default:
					fired++
				}
			})
		}
	}
	if fired == 0 {
		t.Error("no evaluation fires: the campaign tests only the silence")
	}
}

// ruleWith is the rule uid as cfg makes it.
func ruleWith(t *testing.T, cfg alert.Config, uid string) alert.Rule {
	t.Helper()
	f, err := alert.Rules(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if *r.Uid == uid {
				return r
			}
		}
	}
	t.Fatalf("no rule %s", uid)
	return alert.Rule{}
}

// The pipeline's rules, evaluated on both engines just after the campaign was projected and hours later, fire as
// what the fixture did says: every quarantined message counted within the hour; the share of events slower than a
// threshold as the raw log's own times give it; nothing projected for hours while units are due.
func TestPipelineRulesFireAsTheFixtureSays(t *testing.T) {
	c := campaigntest.Load(t)
	e := c.Engines(t)
	engines := []enginetest.Engine{e.Server, e.Local}

	// Each event's lag, from the raw log's received_at and projected_at, in whole seconds.
	res, err := enginetest.Query(t.Context(), e.Server, "SELECT toInt64(projected_at) - toInt64(received_at) FROM events FINAL")
	if err != nil {
		t.Fatal(err)
	}
	var lags []int64
	for _, row := range res.Rows {
		v, err := strconv.ParseInt(row[0], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		lags = append(lags, v)
	}
	if len(lags) != len(c.Events) {
		t.Fatalf("%d rows in events, %d events published", len(lags), len(c.Events))
	}
	justAfter := c.Projected.Add(time.Second)
	for _, eng := range engines {
		t.Run("quarantined on "+eng.Name(), func(t *testing.T) {
			r := ruleByUID(t, alert.QuarantinedUID)
			if got := firing(t, eng, r, justAfter); len(got) != 1 || got[0].value != float64(len(c.Rejected)) {
				t.Errorf("just after: fires %v, want once with the %d messages quarantined", got, len(c.Rejected))
			}
			if got := firing(t, eng, r, c.Projected.Add(2*time.Hour)); len(got) != 0 {
				t.Errorf("two hours later: fires %v, want nothing (nothing received within the hour)", got)
			}
		})
		t.Run("lag on "+eng.Name(), func(t *testing.T) {
			fired, quiet := 0, 0
			defer func() {
				if fired == 0 || quiet == 0 {
					t.Errorf("of the thresholds, %d fire and %d do not: the fixture tests one side only", fired, quiet)
				}
			}()
			for _, threshold := range []int{0, 1, 2, 60} {
				late := 0
				for _, l := range lags {
					if l > int64(threshold) {
						late++
					}
				}
				share := float64(100*late) / float64(len(lags))
				if share > 5 {
					fired++
				} else {
					quiet++
				}
				got := firing(t, eng, ruleWith(t, alert.Config{LagSeconds: threshold, StalledHours: 6}, alert.LagUID), justAfter)
				switch {
				case share > 5 && (len(got) != 1 || got[0].value != share):
					t.Errorf("lag over %d s: fires %v, want once with %g%% (%d of %d events)", threshold, got, share, late, len(lags))
				case share <= 5 && len(got) != 0:
					t.Errorf("lag over %d s: fires %v, but only %g%% of the events are that late", threshold, got, share)
				}
			}
		})
		t.Run("stalled on "+eng.Name(), func(t *testing.T) {
			r := ruleByUID(t, alert.StalledUID)
			if got := firing(t, eng, r, c.Projected.Add(time.Hour)); len(got) != 0 {
				t.Errorf("an hour after the last event: fires %v, want nothing (the threshold is %d h)", got, alert.Defaults.StalledHours)
			}
			later := c.Projected.Add(7 * time.Hour)
			if len(c.Silent(later, 0)) == 0 {
				t.Fatal("no unit is due seven hours after the campaign was projected: the fixture tests nothing")
			}
			got := firing(t, eng, r, later)
			lo, hi := later.Sub(c.Projected).Hours()-1.0/3600, later.Sub(c.Published).Hours()+1.0/3600
			if len(got) != 1 || got[0].value < lo || got[0].value > hi {
				t.Errorf("seven hours after: fires %v, want once with %.4f to %.4f hours", got, lo, hi)
			}
			// Beyond the 30 days it reads, the last projection counts as 30 days ago.
			if got := firing(t, eng, r, c.Projected.Add(40*24*time.Hour)); len(got) != 1 || got[0].value != 720 {
				t.Errorf("forty days after: fires %v, want once with 720 hours", got)
			}
		})
	}
}
