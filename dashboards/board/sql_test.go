package board_test

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/egovtrack/egovtrack/dashboards/board"
	"github.com/egovtrack/egovtrack/dashboards/chquery"
	"github.com/egovtrack/egovtrack/dashboards/internal/campaigntest"
	_ "github.com/egovtrack/egovtrack/dashboards/internal/golden" // accepts -update
	"github.com/egovtrack/egovtrack/internal/enginetest"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

// unitsShown are the units the unit dashboard is run for: a province and a ministry.
var unitsShown = []string{"province/19", "ministry/BTTTT", "province/01"}

// TestDashboardsOnTheCampaign runs the dashboards' SQL against a real ClickHouse holding the simulated 2021 campaign
// as the real projector wrote it (loaded once, for all the subtests), and compares the answers with the same figures
// computed in Go from the published events (see model). Every panel also runs on ClickHouse 26.7, over a copy of the
// same rows, and must answer as 18.16 does; so must every other statement egovtrack sends (everyStatement).
func TestDashboardsOnTheCampaign(t *testing.T) {
	c := campaigntest.Load(t)
	e := c.Engines(t)
	m := newModel(c)
	t.Run("every panel", func(t *testing.T) { everyPanel(t, c, e, m) })
	t.Run("headline figures on given days", func(t *testing.T) { headlineFigures(t, c, e, m) })
	t.Run("the unit variable", func(t *testing.T) { unitVariable(t, c, e) })
	// Last: some statements write, as the projector and a rebuild do.
	t.Run("every statement on both engines", func(t *testing.T) { everyStatement(t, c, e) })
}

// everyPanel runs the SQL of every panel of every dashboard, expanded as Grafana and the plugin would, over several
// time ranges, and compares each answer's columns and rows with the model's.
func everyPanel(t *testing.T, c *campaigntest.Campaign, e *campaigntest.Engines, m *model) {
	dashboards, err := board.All()
	if err != nil {
		t.Fatal(err)
	}
	national, health := dashboards[0], dashboards[len(dashboards)-1]
	campaignFrom, err1 := time.Parse(time.RFC3339, national.Time.From)
	campaignTo, err2 := time.Parse(time.RFC3339, national.Time.To)
	if err := cmp.Or(err1, err2); err != nil {
		t.Fatal(err)
	}
	if *health.Uid != board.HealthUID || health.Time.From != "now-7d" || health.Time.To != "now" {
		t.Fatalf("%s opens on %s to %s; the test's last range expects now-7d to now", *health.Uid, health.Time.From, health.Time.To)
	}
	vn := event.Vietnam
	now := time.Now()
	if now.Before(c.Projected) {
		now = c.Projected // Projected is rounded up to the second
	}

	ranges := []struct {
		name     string
		from, to time.Time
		// sanity checks the model, so that each range exercises what it is meant to.
		sanity func(t *testing.T, w window)
	}{
		{
			name: "the campaign (the default range)",
			from: campaignFrom, to: campaignTo,
			sanity: func(t *testing.T, w window) {
				us := m.units(w)
				stale := 0
				for _, f := range m.freshness(w) {
					if f.stale {
						stale++
					}
				}
				if !w.latest.Equal(time.Date(2021, 12, 31, 0, 0, 0, 0, vn)) || countStatus(us, "full") < 20 ||
					countStatus(us, "behind") == 0 || stale == 0 {
					t.Fatalf("latest %s, %v at 100%%, %v behind, %d stale", w.latest, countStatus(us, "full"),
						countStatus(us, "behind"), stale)
				}
			},
		},
		{
			name: "mid-campaign",
			from: time.Date(2021, 9, 1, 0, 0, 0, 0, vn), to: time.Date(2021, 9, 30, 23, 59, 59, 0, vn),
			sanity: func(t *testing.T, w window) {
				us := m.units(w)
				if countStatus(us, "on_track") == 0 || countStatus(us, "behind") == 0 {
					t.Fatalf("%v on track, %v behind: want both", countStatus(us, "on_track"), countStatus(us, "behind"))
				}
				if f := m.forecast(w); len(f) == 0 || strings.HasPrefix(f[6].(string), "20") == false {
					t.Fatalf("forecast %v, want a day", f)
				}
			},
		},
		{
			// Starts on a Vietnamese midnight that is still the day before in UTC, before the first data; ends less
			// than 30 days into the campaign.
			name: "the first weeks",
			from: time.Date(2021, 6, 29, 0, 0, 0, 0, vn), to: time.Date(2021, 7, 20, 23, 59, 59, 0, vn),
			sanity: func(t *testing.T, w window) {
				if f := m.forecast(w); len(f) == 0 || f[6] != "no_history" {
					t.Fatalf("forecast %v, want no history", f)
				}
			},
		},
		{
			name: "before any data",
			from: time.Date(2021, 1, 1, 0, 0, 0, 0, vn), to: time.Date(2021, 1, 31, 23, 59, 59, 0, vn),
			sanity: func(t *testing.T, w window) {
				if len(w.days) != 0 || len(m.stageAt(w.to)) != 0 {
					t.Fatalf("%d days, %d stages", len(w.days), len(m.stageAt(w.to)))
				}
			},
		},
		{
			// Reporting health's default: the campaign's events and rejected messages arrived during the test.
			name: "the last seven days",
			from: now.Add(-7 * 24 * time.Hour), to: now,
			sanity: func(t *testing.T, w window) {
				if !received(t, c, w) {
					t.Fatal("the load is not within the last seven days")
				}
			},
		},
	}

	// The campaign is of 2021, before any merger: both views of history show it as it was, and every panel must say
	// so in each (the views themselves are held to their reference in TestLineageViews). As it was is run on the
	// campaign's own range only, to keep the test's time.
	for i, r := range ranges {
		history := board.HistoryAsIs
		if i == 0 {
			history = board.HistoryAsWas
		}
		t.Run(r.name+" ("+history+")", func(t *testing.T) {
			w := m.window(r.from, r.to)
			r.sanity(t, w)
			for _, d := range dashboards {
				shown := []string{""}
				if *d.Uid == board.UnitUID || *d.Uid == board.ScorecardUID {
					shown = unitsShown
				}
				for _, p := range d.Panels {
					title := *p.Panel.Title
					check, ok := panelChecks[*d.Uid+"/"+title]
					if !ok {
						t.Errorf("%s: no check for panel %q: add one to panelChecks", *d.Uid, title)
						continue
					}
					if len(p.Panel.Targets) != 1 {
						t.Errorf("%s/%s: %d targets, the checks expect one", *d.Uid, title, len(p.Panel.Targets))
						continue
					}
					q := p.Panel.Targets[0].(chquery.Query)
					for _, u := range shown {
						name := *d.Uid + "/" + title
						if u != "" {
							name += "/" + u
						}
						t.Run(name, func(t *testing.T) {
							req := chquery.Request{From: r.from, To: r.to, Interval: 6 * time.Hour,
								Vars: map[string]string{board.DatasourceVar: board.DatasourceUID, board.MonthsVar: "3", board.UnitVar: u, board.HistoryVar: history}}
							sql, err := chquery.Expand(q.RawSQL, req)
							if err != nil {
								t.Fatal(err)
							}
							got := run(t, c.Conn, sql)
							sameOnBothEngines(t, e, sql)
							compareColumns(t, got, check.columns)
							for _, field := range linkFields(p.Panel) {
								if !slices.Contains(got.columns, field) {
									t.Errorf("a data link uses ${__data.fields.%s}, which the query does not return", field)
								}
							}
							ctx := checkContext{m: m, c: c, w: w, unit: refOf(u), interval: req.Interval}
							if check.rows != nil {
								compareRows(t, got, check.rows(ctx))
							}
							if check.check != nil {
								check.check(t, got, ctx)
							}
						})
					}
				}
			}
		})
	}
}

// headlineFigures checks the headline figures on given days, each day as the whole time range: national coverage,
// units at 100%, on track and behind, and assistants live, from the panels' SQL against the same figures from the
// events.
func headlineFigures(t *testing.T, c *campaigntest.Campaign, e *campaigntest.Engines, m *model) {
	national, err := board.National()
	if err != nil {
		t.Fatal(err)
	}
	sqlOf := map[string]string{}
	for _, p := range national.Panels {
		sqlOf[*p.Panel.Title] = p.Panel.Targets[0].(chquery.Query).RawSQL
	}
	for _, day := range []string{"2021-06-30", "2021-07-31", "2021-09-15", "2021-11-01", "2021-12-31"} {
		t.Run(day, func(t *testing.T) {
			from, err := time.ParseInLocation(time.DateOnly, day, event.Vietnam)
			if err != nil {
				t.Fatal(err)
			}
			to := from.Add(24*time.Hour - time.Second)
			w := m.window(from, to)
			us := m.units(w)
			live := 0
			for _, s := range m.stageAt(w.to) {
				if s.stage == event.StageLive {
					live++
				}
			}
			cov, _ := m.nationalShare(w.latest)
			want := map[string]any{
				"Level-4 coverage now":   cov,
				"Units at 100%":          countStatus(us, "full"),
				"Units on track":         countStatus(us, "on_track"),
				"Units behind":           countStatus(us, "behind"),
				"Virtual assistant live": float64(live),
			}
			for title, value := range want {
				sql, err := chquery.Expand(sqlOf[title], chquery.Request{From: from, To: to, Interval: time.Hour,
					Vars: map[string]string{board.DatasourceVar: board.DatasourceUID, board.HistoryVar: board.HistoryAsIs}})
				if err != nil {
					t.Fatal(err)
				}
				got := run(t, c.Conn, sql)
				sameOnBothEngines(t, e, sql)
				if len(got.rows) != 1 || !same(got.rows[0][0], value) {
					t.Errorf("%s on %s: ClickHouse says %v, the events say %v", title, day, got.rows, value)
				}
			}
			t.Logf("%s: coverage %.2f%%, %v at 100%%, %v on track, %v behind, %d assistants live", day, cov,
				countStatus(us, "full"), countStatus(us, "on_track"), countStatus(us, "behind"), live)
		})
	}
	// The campaign's shape, as the events have it: about 40% at the start, at least 95% at the end.
	start, _ := m.nationalShare(time.Date(2021, 6, 30, 0, 0, 0, 0, event.Vietnam))
	end, _ := m.nationalShare(time.Date(2021, 12, 31, 0, 0, 0, 0, event.Vietnam))
	if s, e := start.(float64), end.(float64); s < 35 || s > 45 || e < 95 {
		t.Errorf("coverage %.1f%% → %.1f%%: want about 40%% → at least 95%%", s, e)
	}
}

// unitVariable checks that the unit variable's query gives every unit of the reference data: its reference as the
// value (first column) and its Vietnamese name as the text (second column), provinces first.
func unitVariable(t *testing.T, c *campaigntest.Campaign, e *campaigntest.Engines) {
	d, err := board.Unit()
	if err != nil {
		t.Fatal(err)
	}
	var v *dashboard.VariableModel
	for i := range d.Templating.List {
		if d.Templating.List[i].Name == board.UnitVar {
			v = &d.Templating.List[i]
		}
	}
	if v == nil || v.Query == nil || v.Query.String == nil {
		t.Fatalf("no variable %s with a SQL query", board.UnitVar)
	}
	for _, history := range []string{board.HistoryAsIs, board.HistoryAsWas} {
		// The campaign's range: every unit existed throughout, and none was merged since, so both views list all.
		sql, err := chquery.Expand(*v.Query.String, chquery.Request{From: time.Date(2021, 6, 30, 0, 0, 0, 0, time.UTC),
			To: time.Date(2021, 12, 31, 0, 0, 0, 0, time.UTC), Vars: map[string]string{board.HistoryVar: history}})
		if err != nil {
			t.Fatal(err)
		}
		unitVariableIs(t, c, e, v, sql)
	}
}

func unitVariableIs(t *testing.T, c *campaigntest.Campaign, e *campaigntest.Engines, v *dashboard.VariableModel, sql string) {
	t.Helper()
	got := run(t, c.Conn, sql)
	sameOnBothEngines(t, e, sql)
	all := units.All()
	slices.SortStableFunc(all, func(a, b units.Unit) int {
		return cmp.Or(cmp.Compare(b.Kind, a.Kind), cmp.Compare(a.Code, b.Code))
	})
	var want [][]any
	for _, u := range all {
		want = append(want, []any{u.String(), u.Name})
	}
	compareColumns(t, got, []string{"value", "text"})
	compareRows(t, got, want)
	if v.Current == nil || *v.Current.Value.String != board.DefaultUnit || !slices.ContainsFunc(want, func(r []any) bool {
		return r[0] == board.DefaultUnit && r[1] == *v.Current.Text.String
	}) {
		t.Errorf("the variable starts on %+v, which is not one of its options", v.Current)
	}
}

// checkContext is what a panel's check needs.
type checkContext struct {
	m        *model
	c        *campaigntest.Campaign
	w        window
	unit     units.Ref // the unit dashboard's unit
	interval time.Duration
}

// panelCheck says what one panel's query returns: its columns, and its rows as the model has them, or a check of
// them where they cannot be known exactly (what happened during the test's own load).
type panelCheck struct {
	columns []string
	rows    func(x checkContext) [][]any
	check   func(t *testing.T, got result, x checkContext)
}

var (
	coverageSeriesColumns = []string{"time", "coverage", "trajectory"}
	coverageTableColumns  = []string{"date", "eligible", "level4", "coverage", "trajectory"}
	forecastColumns       = []string{"day", "coverage", "day_before", "coverage_before", "pace", "days_to_full", "forecast"}
	unitNowColumns        = []string{"coverage", "left_to_do", "gap", "status"}
	stageColumns          = []string{"not_started", "planned", "pilot", "live"}
)

// panelChecks holds, by dashboard uid and panel title, how to check the panel's query. Every panel must have one.
var panelChecks = map[string]panelCheck{
	// The campaign has no dossiers: its scorecard holds the catalogue's indicators (3.1, 3.2), which the ranking and
	// the unit's indicators must score as the events do. TestScorecardEqualsTheEvents checks them all over dossiers.
	board.ScorecardUID + "/Xếp hạng / ranking by the 766 score": {columns: scorecardColumns(), check: scorecardRanking},
	board.ScorecardUID + "/The unit's indicators / chỉ số của đơn vị": {
		columns: []string{"id", "indicator", "grp", "numerator", "denominator", "ratio", "threshold", "earned", "possible"},
		check:   scorecardUnit},
	board.ScorecardUID + "/The unit's dossiers month by month": {
		columns: []string{"time", "online", "on_time", "paid_online", "electronic", "digitised_share", "satisfied_share"},
		rows:    func(checkContext) [][]any { return nil }},
	board.ScorecardUID + "/Procedures with the most late dossiers / thủ tục trễ hạn nhiều nhất": {
		columns: []string{"procedure", "name", "settled", "late", "late_share"},
		rows:    func(checkContext) [][]any { return nil }},

	board.NationalUID + "/Level-4 coverage now": {columns: []string{"coverage"}, rows: func(x checkContext) [][]any {
		if v, ok := x.m.nationalShare(x.w.latest); ok && v != nil {
			return [][]any{{v}}
		}
		return nil
	}},
	board.NationalUID + "/Units at 100%":                        {columns: []string{"units"}, rows: statusCount("full")},
	board.NationalUID + "/Units on track":                       {columns: []string{"units"}, rows: statusCount("on_track")},
	board.NationalUID + "/Units behind":                         {columns: []string{"units"}, rows: statusCount("behind")},
	board.NationalUID + "/100% at the pace of the last 30 days": {columns: forecastColumns, rows: forecastRows},
	board.NationalUID + "/How the 100% date is worked out":      {columns: forecastColumns, rows: forecastRows},
	board.NationalUID + "/Virtual assistant live": {columns: []string{"units"}, rows: func(x checkContext) [][]any {
		return [][]any{{stageCounts(stagesOf(x.m.stageAt(x.w.to)))[3]}}
	}},
	board.NationalUID + "/Coverage against the 40% → 100% trajectory": {columns: coverageSeriesColumns,
		rows: func(x checkContext) [][]any { return coverageRows(x, nil, false) }},
	board.NationalUID + "/Show the data: national coverage per day": {columns: coverageTableColumns,
		rows: func(x checkContext) [][]any { return coverageRows(x, nil, true) }},
	board.NationalUID + "/Ministries and provinces side by side": {
		columns: []string{"time", "ministries", "provinces", "trajectory"},
		rows: func(x checkContext) [][]any {
			var out [][]any
			for _, d := range x.w.days {
				var sums [2][2]int // ministries, provinces × eligible, level4
				for u, series := range x.m.daily {
					for _, day := range series {
						if day.Day.Equal(d) {
							k := map[units.Kind]int{units.Ministry: 0, units.Province: 1}[u.Kind]
							sums[k][0] += day.Eligible
							sums[k][1] += day.Level4
						}
					}
				}
				out = append(out, []any{d, share(sums[0][1], sums[0][0]), share(sums[1][1], sums[1][0]), x.m.trajectory(d)})
			}
			return out
		}},
	board.NationalUID + "/Show the data: ministries and provinces": {
		columns: []string{"kind", "units", "eligible", "level4", "coverage", "at_full", "on_track", "behind"},
		rows: func(x checkContext) [][]any {
			var out [][]any
			for _, kind := range []units.Kind{units.Ministry, units.Province} {
				var us []unitNow
				eligible, level4 := 0, 0
				for _, u := range x.m.units(x.w) {
					if u.unit.Kind == kind {
						us = append(us, u)
						eligible += u.eligible
						level4 += u.level4
					}
				}
				if len(us) > 0 {
					out = append(out, []any{string(kind), float64(len(us)), float64(eligible), float64(level4),
						share(level4, eligible), countStatus(us, "full"), countStatus(us, "on_track"), countStatus(us, "behind")})
				}
			}
			return out
		}},

	board.LeagueUID + "/Every ministry and province by level-4 coverage": {
		columns: []string{"rank", "name", "kind", "ref", "coverage", "change_30d", "trajectory", "gap", "status",
			"eligible", "level4", "last_report"},
		rows: func(x checkContext) [][]any {
			us := x.m.units(x.w)
			last := x.m.lastReport(x.w.to)
			type row struct {
				rank float64
				u    unitNow
			}
			var rows []row
			for _, u := range us {
				higher := 0
				for _, o := range us {
					if o.rankKey() > u.rankKey() {
						higher++
					}
				}
				rows = append(rows, row{float64(1 + higher), u})
			}
			slices.SortFunc(rows, func(a, b row) int {
				return cmp.Or(cmp.Compare(a.rank, b.rank), strings.Compare(a.u.unit.Name, b.u.unit.Name))
			})
			var out [][]any
			for _, r := range rows {
				var lastAt any
				if rep, ok := last[r.u.unit.Ref]; ok {
					lastAt = rep.at
				}
				out = append(out, []any{r.rank, r.u.unit.Name, string(r.u.unit.Kind), r.u.unit.String(), r.u.coverage,
					r.u.change(), r.u.trajectory, r.u.gap(), r.u.status, float64(r.u.eligible), float64(r.u.level4), lastAt})
			}
			return out
		}},

	board.UnitUID + "/Level-4 coverage now": {columns: unitNowColumns, rows: unitNowRows},
	board.UnitUID + "/Left to do":           {columns: unitNowColumns, rows: unitNowRows},
	board.UnitUID + "/Gap to trajectory":    {columns: unitNowColumns, rows: unitNowRows},
	board.UnitUID + "/Status":               {columns: unitNowColumns, rows: unitNowRows},
	board.UnitUID + "/Virtual assistant":    {columns: []string{"stage", "last_report"}, rows: unitAboutRows},
	board.UnitUID + "/Last report":          {columns: []string{"stage", "last_report"}, rows: unitAboutRows},
	board.UnitUID + "/Coverage against the trajectory": {columns: coverageSeriesColumns,
		rows: func(x checkContext) [][]any { return coverageRows(x, &x.unit, false) }},
	board.UnitUID + "/Show the data: the unit's coverage per day": {columns: coverageTableColumns,
		rows: func(x checkContext) [][]any { return coverageRows(x, &x.unit, true) }},
	board.UnitUID + "/Not yet at level 4, by sector": {
		columns: []string{"sector", "procedures", "at_level4", "not_yet", "coverage"},
		rows: func(x checkContext) [][]any {
			type counts struct{ all, at4 int }
			bySector := map[string]*counts{}
			for _, p := range x.m.procedures(x.unit, x.w.to) {
				if !p.state.Registered || !p.state.Active || !p.state.Eligible {
					continue
				}
				c := bySector[p.sector]
				if c == nil {
					c = &counts{}
					bySector[p.sector] = c
				}
				c.all++
				if p.state.Level == event.FullOnline {
					c.at4++
				}
			}
			var out [][]any
			for s, c := range bySector {
				out = append(out, []any{s, float64(c.all), float64(c.at4), float64(c.all - c.at4), share(c.at4, c.all)})
			}
			slices.SortFunc(out, func(a, b []any) int {
				return cmp.Or(cmp.Compare(b[3].(float64), a[3].(float64)), strings.Compare(a[0].(string), b[0].(string)))
			})
			return out
		}},
	board.UnitUID + "/Procedures not yet at level 4": {
		columns: []string{"sector", "code", "name", "level", "since"},
		rows: func(x checkContext) [][]any {
			ps := open(x.m.procedures(x.unit, x.w.to))
			slices.SortFunc(ps, func(a, b procedure) int {
				return cmp.Or(strings.Compare(a.sector, b.sector), strings.Compare(a.code, b.code))
			})
			var out [][]any
			for _, p := range ps {
				out = append(out, []any{p.sector, p.code, p.name, float64(p.state.Level), p.changedAt})
			}
			return out
		}},
	// The campaign is of 2021: no unit was formed or merged (TestLineageViews has mergers).
	board.UnitUID + "/Formed from, merged into": {columns: []string{"day", "what", "units"},
		rows: func(x checkContext) [][]any { return nil }},
	board.UnitUID + "/Recent changes": {
		columns: []string{"time", "code", "name", "what", "level"},
		rows: func(x checkContext) [][]any {
			var cs []int
			for i, c := range x.m.changes {
				if c.Unit == x.unit && !c.EffectiveAt.Before(x.w.from) && !c.EffectiveAt.After(x.w.to) {
					cs = append(cs, i)
				}
			}
			slices.SortFunc(cs, func(a, b int) int {
				ca, cb := x.m.changes[a], x.m.changes[b]
				return cmp.Or(cb.EffectiveAt.Compare(ca.EffectiveAt), cmp.Compare(cb.Seq, ca.Seq))
			})
			var out [][]any
			for _, i := range cs[:min(len(cs), 200)] {
				c := x.m.changes[i]
				what := map[int]string{1: "registered", 2: "level_changed", 3: "retired"}[int(c.Kind)]
				out = append(out, []any{c.EffectiveAt, c.Procedure, x.m.nameOf(c.Unit, c.Procedure), what, float64(c.Level)})
			}
			return out
		}},

	board.AssistantUID + "/Units by stage now": {columns: stageColumns, rows: func(x checkContext) [][]any {
		return [][]any{stageCounts(stagesOf(x.m.stageAt(x.w.to)))}
	}},
	board.AssistantUID + "/Units by stage over time": {columns: append([]string{"time"}, stageColumns...),
		rows: func(x checkContext) [][]any { return stageDays(x, false) }},
	board.AssistantUID + "/Show the data: units by stage per day": {columns: append([]string{"date"}, stageColumns...),
		rows: func(x checkContext) [][]any { return stageDays(x, true) }},
	board.AssistantUID + "/Provinces by stage": {columns: []string{"name", "lat", "lon", "stage"},
		rows: func(x checkContext) [][]any {
			stages := x.m.stageAt(x.w.to)
			var out [][]any
			for _, u := range units.All() {
				if u.Kind != units.Province {
					continue
				}
				stage := -1.0
				if s, ok := stages[u.Ref]; ok {
					stage = rank(s.stage)
				}
				out = append(out, []any{u.Name, u.Location.Lat, u.Location.Lon, stage})
			}
			slices.SortFunc(out, func(a, b []any) int { return strings.Compare(a[0].(string), b[0].(string)) })
			return out
		}},
	board.AssistantUID + "/Show the data: every unit's stage": {
		columns: []string{"name", "kind", "ref", "stage", "since", "users"},
		rows: func(x checkContext) [][]any {
			stages := x.m.stageAt(x.w.to)
			type row struct {
				rank float64
				r    []any
			}
			var rows []row
			for _, u := range units.All() {
				r := row{-1, []any{u.Name, string(u.Kind), u.String(), "not_reported", nil, nil}}
				if s, ok := stages[u.Ref]; ok {
					r.rank = rank(s.stage)
					r.r[3], r.r[4] = string(s.stage), s.at
					if s.users != nil {
						r.r[5] = float64(*s.users)
					}
				}
				rows = append(rows, r)
			}
			slices.SortFunc(rows, func(a, b row) int {
				return cmp.Or(cmp.Compare(b.rank, a.rank), strings.Compare(a.r[0].(string), b.r[0].(string)))
			})
			var out [][]any
			for _, r := range rows {
				out = append(out, r.r)
			}
			return out
		}},
	board.AssistantUID + "/Every unit's path through the stages": {columns: []string{"time", "unit", "stage"},
		rows: func(x checkContext) [][]any {
			var out [][]any
			for _, d := range calendar(x.w) {
				var day [][]any
				for u, s := range x.m.stageOnDay(d) {
					unit, _ := units.Lookup(u)
					day = append(day, []any{d, unit.Name, rank(s)})
				}
				slices.SortFunc(day, func(a, b []any) int { return strings.Compare(a[1].(string), b[1].(string)) })
				out = append(out, day...)
			}
			return out
		}},

	board.HealthUID + "/Stale units": {columns: []string{"units"}, rows: func(x checkContext) [][]any {
		n := 0
		for _, f := range x.m.freshness(x.w) {
			if f.stale {
				n++
			}
		}
		return [][]any{{float64(n)}}
	}},
	board.HealthUID + "/Rejected messages": {columns: []string{"messages"}, rows: func(x checkContext) [][]any {
		return [][]any{{float64(len(rejectedIn(x)))}}
	}},
	board.HealthUID + "/Ingestion lag, worst": {columns: []string{"max_lag"},
		check: func(t *testing.T, got result, x checkContext) {
			if !received(t, x.c, x.w) {
				compareRows(t, got, nil)
				return
			}
			if len(got.rows) != 1 {
				t.Fatalf("%d rows, want one", len(got.rows))
			}
			checkLag(t, got.rows[0][0], x)
		}},
	board.HealthUID + "/Last report against the expected cadence": {
		columns: []string{"name", "kind", "ref", "last_report", "collector", "cadence_days", "days_since", "freshness"},
		rows: func(x checkContext) [][]any {
			var out [][]any
			for _, f := range x.m.freshness(x.w) {
				status := "fresh"
				if f.stale {
					status = "stale"
				}
				out = append(out, []any{f.unit.Name, string(f.unit.Kind), f.unit.String(), f.last, f.collector,
					f.unit.Cadence.Hours() / 24, f.daysSince, status})
			}
			return out
		}},
	board.HealthUID + "/Rejected messages over time": {columns: []string{"time", "rejected"},
		check: func(t *testing.T, got result, x checkContext) {
			total := 0.0
			for _, r := range got.rows {
				at := r[0].(time.Time)
				if at.Unix()%int64(x.interval.Seconds()) != 0 || at.Before(x.w.from.Add(-x.interval)) || at.After(x.w.to) {
					t.Errorf("bucket %s is not the start of an interval of the range", at)
				}
				total += r[1].(float64)
			}
			if total != float64(len(rejectedIn(x))) {
				t.Errorf("%v rejected in all, want %d", total, len(rejectedIn(x)))
			}
		}},
	board.HealthUID + "/Rejected messages by reason": {
		columns: []string{"reason", "messages", "first_seen", "last_seen", "example_subject"},
		check: func(t *testing.T, got result, x checkContext) {
			byReason := map[string]float64{}
			subjects := map[string]string{}
			for _, r := range rejectedIn(x) {
				byReason[r.Reason]++
				subjects[r.Reason] = r.Subject
			}
			var want [][]any
			for reason, n := range byReason {
				want = append(want, []any{reason, n, subjects[reason]})
			}
			slices.SortFunc(want, func(a, b []any) int {
				return cmp.Or(cmp.Compare(b[1].(float64), a[1].(float64)), strings.Compare(a[0].(string), b[0].(string)))
			})
			var gotRows [][]any
			for _, r := range got.rows {
				gotRows = append(gotRows, []any{r[0], r[1], r[4]})
				for _, seen := range r[2:4] {
					if at := seen.(time.Time); at.Before(x.c.Published) || at.After(x.c.Projected) {
						t.Errorf("%q seen at %s, outside the load (%s to %s)", r[0], at, x.c.Published, x.c.Projected)
					}
				}
			}
			compareRows(t, result{columns: []string{"reason", "messages", "example_subject"}, rows: gotRows}, want)
		}},
	board.HealthUID + "/Ingestion lag": {columns: []string{"time", "avg_lag", "max_lag"},
		check: func(t *testing.T, got result, x checkContext) {
			if !received(t, x.c, x.w) {
				compareRows(t, got, nil)
				return
			}
			if len(got.rows) == 0 {
				t.Fatal("no lag for the events received within the range")
			}
			for _, r := range got.rows {
				checkLag(t, r[1], x)
				checkLag(t, r[2], x)
			}
		}},
	board.HealthUID + "/Show the data: ingestion lag per day": {
		columns: []string{"date", "events", "avg_lag", "p95_lag", "max_lag"},
		check: func(t *testing.T, got result, x checkContext) {
			events := 0.0
			for _, r := range got.rows {
				events += r[1].(float64)
				for _, lag := range r[2:] {
					checkLag(t, lag, x)
				}
			}
			want := 0
			if received(t, x.c, x.w) {
				want = len(x.c.Events)
			}
			if events != float64(want) {
				t.Errorf("%v events received within the range, want %d", events, want)
			}
		}},
}

func statusCount(status string) func(x checkContext) [][]any {
	return func(x checkContext) [][]any { return [][]any{{countStatus(x.m.units(x.w), status)}} }
}

func forecastRows(x checkContext) [][]any {
	if f := x.m.forecast(x.w); f != nil {
		return [][]any{f}
	}
	return nil
}

// coverageRows are the rows of a coverage chart (one point per day at its midnight in Vietnam) or of its table
// (latest day first, days as text), of the whole country or of one unit.
func coverageRows(x checkContext, unit *units.Ref, asTable bool) [][]any {
	var out [][]any
	for _, d := range calendar(x.w) {
		var day struct{ Eligible, Level4 int }
		if unit == nil {
			n, ok := x.m.national[d]
			if !ok {
				continue
			}
			day.Eligible, day.Level4 = n.Eligible, n.Level4
		} else {
			u, ok := x.m.dayOf(*unit, d)
			if !ok {
				continue
			}
			day.Eligible, day.Level4 = u.Eligible, u.Level4
		}
		traj := x.m.trajectory(d)
		if unit != nil {
			traj = x.m.unitTrajectory(*unit, d)
		}
		if asTable {
			out = append(out, []any{d.Format(time.DateOnly), float64(day.Eligible), float64(day.Level4),
				share(day.Level4, day.Eligible), traj})
		} else {
			out = append(out, []any{d, share(day.Level4, day.Eligible), traj})
		}
	}
	if asTable {
		slices.Reverse(out)
	}
	return out
}

func unitNowRows(x checkContext) [][]any {
	for _, u := range x.m.units(x.w) {
		if u.unit.Ref == x.unit {
			return [][]any{{u.coverage, float64(u.eligible - u.level4), u.gap(), u.status}}
		}
	}
	return nil
}

func unitAboutRows(x checkContext) [][]any {
	stage, last := "not_reported", "never"
	if s, ok := x.m.stageAt(x.w.to)[x.unit]; ok {
		stage = string(s.stage)
	}
	if r, ok := x.m.lastReport(x.w.to)[x.unit]; ok {
		last = r.at.In(event.Vietnam).Format(time.DateTime)
	}
	return [][]any{{stage, last}}
}

func stagesOf(changes map[units.Ref]stageChange) map[units.Ref]event.Stage {
	out := map[units.Ref]event.Stage{}
	for u, s := range changes {
		out[u] = s.stage
	}
	return out
}

// stageDays are the counts of units by stage for every day of the range on which some unit has a stage.
func stageDays(x checkContext, asTable bool) [][]any {
	var out [][]any
	for _, d := range calendar(x.w) {
		stages := x.m.stageOnDay(d)
		if len(stages) == 0 {
			continue
		}
		first := any(d)
		if asTable {
			first = d.Format(time.DateOnly)
		}
		out = append(out, append([]any{first}, stageCounts(stages)...))
	}
	if asTable {
		slices.Reverse(out)
	}
	return out
}

// received reports whether the test's load (publishing and projecting) lies within the range, false when it lies
// outside it; a range that cuts through it fails the test, as what it holds would depend on timing.
func received(t *testing.T, c *campaigntest.Campaign, w window) bool {
	t.Helper()
	in, clear := loadWithin(c, w)
	if !clear {
		t.Fatalf("the range %s to %s cuts through the load, %s to %s", w.from, w.to, c.Published, c.Projected)
	}
	return in
}

// loadWithin reports whether the load lies within the range, and whether it lies either within or outside it.
func loadWithin(c *campaigntest.Campaign, w window) (in, clear bool) {
	switch {
	case !w.from.After(c.Published) && !w.to.Before(c.Projected):
		return true, true
	case w.to.Before(c.Published) || w.from.After(c.Projected):
		return false, true
	}
	return false, false
}

// rejectedIn are the rejected messages received within the range (checked clear of the load by received).
func rejectedIn(x checkContext) []campaigntest.Rejected {
	if in, _ := loadWithin(x.c, x.w); in {
		return x.c.Rejected
	}
	return nil
}

// checkLag checks that a lag in seconds is one the load could have had.
func checkLag(t *testing.T, v any, x checkContext) {
	t.Helper()
	lag, ok := v.(float64)
	if bound := x.c.Projected.Sub(x.c.Published).Seconds(); !ok || lag < 0 || lag > bound {
		t.Errorf("lag %v, want between 0 and the load's %.0f s", v, bound)
	}
}

// linkField finds the fields a data link takes from its row.
var linkField = regexp.MustCompile(`\$\{__data\.fields\.(\w+)`)

// linkFields are the result columns the panel's data links read.
func linkFields(p *dashboard.Panel) []string {
	var out []string
	if p.FieldConfig == nil {
		return nil
	}
	for _, o := range p.FieldConfig.Overrides {
		for _, prop := range o.Properties {
			if prop.Id != "links" {
				continue
			}
			for _, m := range linkField.FindAllStringSubmatch(fmt.Sprint(prop.Value), -1) {
				out = append(out, m[1])
			}
		}
	}
	return out
}

// result is a query's answer with every value made comparable: numbers as float64, NULL as nil.
type result struct {
	columns []string
	rows    [][]any
}

func run(t *testing.T, conn driver.Conn, sql string) result {
	t.Helper()
	rows, err := conn.Query(context.Background(), sql)
	if err != nil {
		t.Fatalf("%v\n%s", err, sql)
	}
	defer rows.Close()
	var res result
	types := rows.ColumnTypes()
	for _, c := range types {
		res.columns = append(res.columns, c.Name())
	}
	for rows.Next() {
		dest := make([]any, len(types))
		for i, c := range types {
			dest[i] = reflect.New(c.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		row := make([]any, len(dest))
		for i, d := range dest {
			row[i] = plain(reflect.ValueOf(d).Elem())
		}
		res.rows = append(res.rows, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return res
}

func plain(v reflect.Value) any {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		return v.Float()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(v.Uint())
	}
	return v.Interface()
}

func same(a, b any) bool {
	fa, okA := a.(float64)
	fb, okB := b.(float64)
	if okA && okB {
		return math.Abs(fa-fb) <= 1e-9*math.Max(1, math.Abs(fb))
	}
	if ta, ok := a.(time.Time); ok {
		tb, ok := b.(time.Time)
		return ok && ta.Equal(tb)
	}
	return a == b
}

func compareColumns(t *testing.T, got result, columns []string) {
	t.Helper()
	if !slices.Equal(got.columns, columns) {
		t.Fatalf("columns %v, want %v", got.columns, columns)
	}
}

// compareRows compares a result's rows with the expected ones, in order.
func compareRows(t *testing.T, got result, rows [][]any) {
	t.Helper()
	if len(got.rows) != len(rows) {
		t.Fatalf("%d rows, want %d\nfirst got:  %v\nfirst want: %v", len(got.rows), len(rows), head(got.rows), head(rows))
	}
	bad := 0
	for i := range rows {
		for j := range rows[i] {
			if !same(got.rows[i][j], rows[i][j]) {
				if bad++; bad <= 10 {
					t.Errorf("row %d %s = %v, want %v", i, got.columns[j], got.rows[i][j], rows[i][j])
				}
			}
		}
	}
	if bad > 10 {
		t.Errorf("… %d differences in all", bad)
	}
}

func head(rows [][]any) [][]any { return rows[:min(len(rows), 3)] }
