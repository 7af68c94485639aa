package board_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/collectors/simulate"
	"github.com/egovtrack/egovtrack/dashboards/alert"
	"github.com/egovtrack/egovtrack/dashboards/board"
	"github.com/egovtrack/egovtrack/dashboards/chquery"
	"github.com/egovtrack/egovtrack/dashboards/internal/campaigntest"
	"github.com/egovtrack/egovtrack/internal/coverage/coveragetest"
	"github.com/egovtrack/egovtrack/internal/enginetest"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// lineageHistory is a year of a few units through synthetic mergers, each kind the contract has:
//   - 02 and 08 merge into 08 on 1 July (the successor keeps a code), and 08 restates its catalogue on 15 July,
//     registering 02's procedures as its own;
//   - 06 merges into 19 on 1 March, and 19 into 20 on 1 September (a chain), 20 reporting on 1 November;
//   - BLDTBXH merges into BNV on 1 March, two of its procedures moved to BYT (a split); BNV reports on 1 April
//     without them (its catalogue supersedes the rest), BYT never does;
//   - UBDT becomes BDTTG, a new code, on 1 March; 46 is renamed on 1 January; 01 goes on as it was.
//
// Units publish nothing about themselves once merged away. Levels change on random days throughout.
type lineageHistory struct {
	envs    []event.Envelope
	lineage []event.Envelope // the mergers and the rename
	last    time.Time        // the last day anything happened
}

func province(c string) units.Ref { return units.Ref{Kind: units.Province, Code: c} }
func ministry(c string) units.Ref { return units.Ref{Kind: units.Ministry, Code: c} }

func vnDate(s string) time.Time {
	d, err := time.ParseInLocation(time.DateOnly, s, event.Vietnam)
	if err != nil {
		panic(err)
	}
	return d
}

func newLineageHistory(t *testing.T, seed uint64) lineageHistory {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 2025))
	at := func(day time.Time) time.Time { return day.Add(9 * time.Hour).UTC() }
	var h lineageHistory
	add := func(d event.Data) event.Envelope {
		env, err := event.New("/egovtrack/test/lineage", d)
		if err != nil {
			t.Fatalf("%T: %v", d, err)
		}
		h.envs = append(h.envs, env)
		return env
	}
	merged := map[units.Ref]string{ // the day each unit stops publishing
		province("02"): "2025-07-01", province("06"): "2025-03-01", province("19"): "2025-09-01",
		ministry("BLDTBXH"): "2025-03-01", ministry("UBDT"): "2025-03-01",
	}
	all := []units.Ref{province("01"), province("02"), province("08"), province("06"), province("19"), province("20"),
		province("46"), ministry("BLDTBXH"), ministry("BNV"), ministry("BYT"), ministry("UBDT")}
	codes := map[units.Ref][]string{}
	levels := map[string]event.Level{}
	start := vnDate("2025-01-02")
	for i, u := range all {
		for k := range 6 {
			code := fmt.Sprintf("1.%03d%03d", i+1, k+1)
			codes[u] = append(codes[u], code)
			lvl := event.Level(2 + rng.IntN(3))
			levels[u.String()+code] = lvl
			add(&event.ProcedureRegisteredData{Unit: u, Procedure: code, Name: "Thủ tục " + code, Sector: "Thử",
				Eligible: rng.IntN(5) > 0, Level: lvl, EffectiveAt: at(start)})
		}
	}
	// Level changes on random days of the year, each unit only while it exists.
	for day := start.AddDate(0, 0, 1); !day.After(vnDate("2025-12-31")); day = day.AddDate(0, 0, 1) {
		if rng.IntN(3) > 0 {
			continue
		}
		u := all[rng.IntN(len(all))]
		if end, ok := merged[u]; ok && !day.Before(vnDate(end)) {
			continue
		}
		code := codes[u][rng.IntN(len(codes[u]))]
		from := levels[u.String()+code]
		to := event.Level(1 + rng.IntN(4))
		if to == from {
			continue
		}
		levels[u.String()+code] = to
		add(&event.LevelChangedData{Unit: u, Procedure: code, From: from, To: to, EffectiveAt: at(day)})
		h.last = day
	}
	// The last day has an event, so that every unit's series runs to it.
	add(&event.LevelChangedData{Unit: province("01"), Procedure: codes[province("01")][0], From: levels["province/01"+codes[province("01")][0]],
		To: 5 - levels["province/01"+codes[province("01")][0]]%4, EffectiveAt: at(vnDate("2026-01-05"))})
	h.last = vnDate("2026-01-05")

	decided := time.Date(2024, 12, 1, 2, 0, 0, 0, time.UTC)
	for _, d := range []event.Data{
		&event.UnitRenamedData{Unit: province("46"), Name: "Huế", EffectiveOn: "2025-01-01", DecidedAt: decided},
		&event.UnitMergedData{Successor: province("08"), Name: "Tuyên Quang", Predecessors: []units.Ref{province("02"), province("08")},
			EffectiveOn: "2025-07-01", DecidedAt: decided},
		&event.UnitMergedData{Successor: province("19"), Name: "Thái Nguyên", Predecessors: []units.Ref{province("06"), province("19")},
			EffectiveOn: "2025-03-01", DecidedAt: decided},
		&event.UnitMergedData{Successor: province("20"), Name: "Lạng Sơn", Predecessors: []units.Ref{province("19"), province("20")},
			EffectiveOn: "2025-09-01", DecidedAt: decided},
		&event.UnitMergedData{Successor: ministry("BNV"), Name: "Bộ Nội vụ", Predecessors: []units.Ref{ministry("BNV"), ministry("BLDTBXH")},
			EffectiveOn: "2025-03-01", DecidedAt: decided,
			Moved: []event.Moved{{From: ministry("BLDTBXH"), To: ministry("BYT"), Procedures: codes[ministry("BLDTBXH")][:2]}}},
		&event.UnitMergedData{Successor: ministry("BDTTG"), Name: "Bộ Dân tộc và Tôn giáo", Predecessors: []units.Ref{ministry("UBDT")},
			EffectiveOn: "2025-03-01", DecidedAt: decided},
	} {
		h.lineage = append(h.lineage, add(d))
	}
	// 08 restates its catalogue with 02's procedures; BNV and 20 report theirs as they are.
	for _, code := range codes[province("02")] {
		add(&event.ProcedureRegisteredData{Unit: province("08"), Procedure: code, Name: "Thủ tục " + code, Sector: "Thử",
			Eligible: true, Level: 4, EffectiveAt: at(vnDate("2025-07-15"))})
	}
	for _, r := range []struct {
		u   units.Ref
		day string
	}{{province("08"), "2025-07-15"}, {ministry("BNV"), "2025-04-01"}, {province("20"), "2025-11-01"}, {province("01"), "2025-02-01"}} {
		add(&event.ReportSubmittedData{Unit: r.u, Collector: "sheet", ReportedAt: at(vnDate(r.day)), Counts: event.ReportCounts{Unchanged: 6}})
	}
	return h
}

// counts are a unit's procedures on a day: active, of them eligible, of those at level 4.
type dayCounts struct{ procedures, eligible, level4 int }

func (c *dayCounts) add(o dayCounts) {
	c.procedures += o.procedures
	c.eligible += o.eligible
	c.level4 += o.level4
}

// lineageReference works out both views from the events alone, procedure by procedure: each procedure's state at
// the end of each day, then who holds it that day by following the mergers from the unit it belongs to.
type lineageReference struct {
	state   map[units.Ref]map[string]procState // at the end of the day folded up to
	mergers []*event.UnitMergedData
	reports map[units.Ref][]time.Time
}

type procState struct {
	active, eligible bool
	level            event.Level
}

// mergedAway is the merger that ends u (into another unit), if any.
func (r lineageReference) mergedAway(u units.Ref) (*event.UnitMergedData, time.Time, bool) {
	var first *event.UnitMergedData
	var firstDay time.Time
	for _, m := range r.mergers {
		if m.Successor == u || !slices.Contains(m.Predecessors, u) {
			continue
		}
		day := vnDate(string(m.EffectiveOn))
		if first == nil || day.Before(firstDay) {
			first, firstDay = m, day
		}
	}
	return first, firstDay, first != nil
}

// holderOn follows a unit that took procedures over on took to whoever holds them on day.
func (r lineageReference) holderOn(u units.Ref, took, day time.Time) units.Ref {
	for range 10 {
		m, on, ok := r.mergedAway(u)
		if !ok || on.After(day) || !on.After(took) {
			return u
		}
		u, took = m.Successor, on
	}
	return u
}

// current is where u's procedures are today.
func (r lineageReference) current(u units.Ref) units.Ref {
	return r.holderOn(u, time.Time{}, vnDate("2100-12-31"))
}

// legOf says to whom a merged unit's procedure goes: the successor, or the unit a moved list names.
func legOf(m *event.UnitMergedData, from units.Ref, code string) units.Ref {
	for _, mv := range m.Moved {
		if mv.From == from && slices.Contains(mv.Procedures, code) {
			return mv.To
		}
	}
	return m.Successor
}

// day returns the views on one day, after the state has been folded to its end.
func (r lineageReference) day(day time.Time) (AsWasSQL, asIs map[units.Ref]dayCounts) {
	AsWasSQL = map[units.Ref]dayCounts{}
	for u, procs := range r.state {
		m, on, gone := r.mergedAway(u)
		for code, p := range procs {
			c := dayCounts{}
			if p.active {
				c.procedures = 1
				if p.eligible {
					c.eligible = 1
					if p.level == event.FullOnline {
						c.level4 = 1
					}
				}
			}
			holder := u
			if gone && !on.After(day) {
				first := legOf(m, u, code)
				holder = r.holderOn(first, on, day)
				// Superseded once a holder of this procedure reported while holding it.
				superseded := false
				for h, days := range r.reports {
					for _, rd := range days {
						if !rd.Before(on) && !rd.After(day) && r.holderOn(first, on, rd) == h {
							superseded = true
						}
					}
				}
				if superseded {
					continue
				}
			}
			x := AsWasSQL[holder]
			x.add(c)
			AsWasSQL[holder] = x
		}
	}
	asIs = map[units.Ref]dayCounts{}
	for u, c := range AsWasSQL {
		x := asIs[r.current(u)]
		x.add(c)
		asIs[r.current(u)] = x
	}
	return AsWasSQL, asIs
}

// TestLineageViews holds both views to the reference on every day of the year, on both engines, the events all
// published twice (past JetStream's duplicate window): each unit's figures, the national sum the same in both views
// every day and unmoved on every merger day, and a successor's line before it existed the sum of its predecessors'.
func TestLineageViews(t *testing.T) {
	h := newLineageHistory(t, 7)
	c := campaigntest.Project(t, h.envs, h.envs)
	e := c.Engines(t)

	from, to := vnDate("2025-01-02"), h.last
	views, national, changes := checkViews(t, c, e, from, to)
	// No jump on a merger day: nothing else happened on 1 July, 1 March or 1 September but the mergers (the
	// random changes are checked against that below).
	for _, m := range []string{"2025-03-01", "2025-07-01", "2025-09-01"} {
		i := int(vnDate(m).Sub(from).Hours() / 24)
		changed := false
		for _, ev := range changes {
			if string(event.DateOf(ev.Data.OccurredAt())) == m {
				changed = true
			}
		}
		if !changed && national[i] != national[i-1] {
			t.Errorf("national eligible procedures move on the merger day %s: %d → %d", m, national[i-1], national[i])
		}
	}
	// The unit dashboard: its lineage panel and its unit variable, on both engines.
	unitPanels := panelSQL(t, board.UnitUID)
	for unit, want := range map[string][]string{
		"province/08":    {"2025-07-01 formed Hà Giang, Tuyên Quang"},
		"province/19":    {"2025-03-01 formed Bắc Kạn, Thái Nguyên", "2025-09-01 merged Lạng Sơn"},
		"province/01":    nil,
		"ministry/BDTTG": {"2025-03-01 formed Ủy ban Dân tộc"},
	} {
		sql := expand(t, unitPanels["Formed from, merged into"], chquery.Request{From: from, To: to, Interval: time.Hour,
			Vars: map[string]string{board.UnitVar: unit}})
		for _, eng := range []enginetest.Engine{e.Server, e.Local} {
			res, err := enginetest.Query(context.Background(), eng, sql)
			if err != nil {
				t.Fatalf("%s: %v", eng.Name(), err)
			}
			var got []string
			for _, row := range res.Rows {
				names := strings.Split(row[2], ", ")
				slices.Sort(names)
				got = append(got, row[0]+" "+row[1]+" "+strings.Join(names, ", "))
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s, %s: lineage %q, want %q", unit, eng.Name(), got, want)
			}
		}
	}
	d, err := board.Unit()
	if err != nil {
		t.Fatal(err)
	}
	var variable string
	for _, v := range d.Templating.List {
		if v.Name == board.UnitVar {
			variable = *v.Query.String
		}
	}
	gone := []string{"province/02", "province/06", "province/19", "ministry/BLDTBXH", "ministry/UBDT"}
	for _, c := range []struct {
		history  string
		from, to time.Time
		in, out  []string
	}{
		{board.HistoryAsIs, from, to, []string{"province/08", "province/20", "ministry/BDTTG", "province/46"}, gone},
		{board.HistoryAsWas, from, from.AddDate(0, 1, 0), gone, []string{"ministry/BDTTG"}},
		{board.HistoryAsWas, vnDate("2025-08-01"), vnDate("2025-08-31"), []string{"province/19", "ministry/BDTTG"}, []string{"province/02", "province/06"}},
	} {
		sql := expand(t, variable, chquery.Request{From: c.from, To: c.to, Vars: map[string]string{board.HistoryVar: c.history}})
		listsUnits(t, e, sql, 0, fmt.Sprintf("the unit variable, %s %s..%s", c.history, c.from.Format(time.DateOnly), c.to.Format(time.DateOnly)), c.in, c.out)
	}

	// Reporting health judges the units that exist at the end of its range: not those merged away, and the new ones.
	freshness := panelSQL(t, board.HealthUID)["Last report against the expected cadence"]
	for _, c := range []struct {
		to      time.Time
		in, out []string
	}{
		{to, []string{"ministry/BDTTG", "province/08"}, gone},
		{vnDate("2025-02-01"), gone, []string{"ministry/BDTTG"}},
	} {
		sql := expand(t, freshness, chquery.Request{From: c.to.AddDate(0, 0, -7), To: c.to, Interval: time.Hour})
		listsUnits(t, e, sql, 2, "freshness on "+c.to.Format(time.DateOnly), c.in, c.out)
	}

	// As it is, 08's line before 1 July is 02's and 08's as they were.
	for _, ds := range []string{"2025-02-01", "2025-06-30"} {
		was, is := views[board.HistoryAsWas][0], views[board.HistoryAsIs][0]
		sum := was["province/02 "+ds]
		sum.add(was["province/08 "+ds])
		if is["province/08 "+ds] != sum {
			t.Errorf("%s: 08 as it is %+v, want 02 + 08 as they were, %+v", ds, is["province/08 "+ds], sum)
		}
	}
}

// applyChange folds one procedure change into the state.
func applyChange(state map[units.Ref]map[string]procState, d event.Data) {
	switch d := d.(type) {
	case *event.ProcedureRegisteredData:
		if state[d.Unit] == nil {
			state[d.Unit] = map[string]procState{}
		}
		state[d.Unit][d.Procedure] = procState{active: true, eligible: d.Eligible, level: d.Level}
	case *event.LevelChangedData:
		p := state[d.Unit][d.Procedure]
		p.level = d.To
		state[d.Unit][d.Procedure] = p
	case *event.ProcedureRetiredData:
		p := state[d.Unit][d.Procedure]
		p.active = false
		state[d.Unit][d.Procedure] = p
	}
}

// The simulation through 2025, with the real reorganisation: every panel and variable of every dashboard answers
// alike on both engines in both views over 2025; the national figures every day, and the league's units at the end,
// are the events' (each unit's own procedures; a merged unit's for its successor until the successor's first report
// from the merger on): 34 provinces and 17 ministerial bodies, by today's names.
func TestDashboardsThrough2025(t *testing.T) {
	o, err := simulate.Through2025(campaigntest.Seed)
	if err != nil {
		t.Fatal(err)
	}
	envs, err := simulate.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	c := campaigntest.Project(t, envs, nil)
	e := c.Engines(t)
	from, to := time.Date(2025, 1, 1, 0, 0, 0, 0, event.Vietnam), time.Date(2025, 12, 31, 23, 59, 59, 0, event.Vietnam)

	dashboards, err := board.All()
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, d := range dashboards {
		var sqls []string
		for _, p := range d.Panels {
			if p.Panel != nil {
				for _, q := range p.Panel.Targets {
					sqls = append(sqls, q.(chquery.Query).RawSQL)
				}
			}
		}
		for _, v := range d.Templating.List {
			if v.Query != nil && v.Query.String != nil && v.Type == "query" {
				sqls = append(sqls, *v.Query.String)
			}
		}
		for _, history := range []string{board.HistoryAsIs, board.HistoryAsWas} {
			for _, raw := range sqls {
				sql := expand(t, raw, chquery.Request{From: from, To: to, Interval: 24 * time.Hour,
					Vars: map[string]string{board.DatasourceVar: board.DatasourceUID, board.MonthsVar: "3", board.UnitVar: "province/24", board.HistoryVar: history}})
				sameOnBothEngines(t, e, sql)
				ran++
			}
		}
	}

	// The alert rules (which have no variables) and the demo's summary, at the end of 2025.
	cfg := alert.Defaults
	for _, raw := range []string{alert.UnitSilentSQL(cfg.SilentGraceDays), alert.BehindSQL(cfg.BehindPoints, cfg.BehindDays), alert.DeadlineSQL,
		alert.QuarantinedSQL, alert.LagSQL(cfg.LagSeconds), alert.StalledSQL, board.NationalByDaySQL, board.UnitsOnLastDaySQL} {
		sameOnBothEngines(t, e, expand(t, raw, chquery.Request{From: to.Add(-time.Hour), To: to, Interval: time.Minute}))
		ran++
	}

	// The events' figures.
	var facts []event.Data
	for _, ev := range c.Events {
		facts = append(facts, ev.Data)
	}
	lastDay := time.Date(2025, 12, 31, 0, 0, 0, 0, event.Vietnam)
	held := coveragetest.Held(facts, lastDay)
	national := panelSQL(t, board.NationalUID)["Show the data: national coverage per day"]
	res, err := enginetest.Query(context.Background(), e.Server, expand(t, national, chquery.Request{From: from, To: to,
		Vars: map[string]string{board.HistoryVar: board.HistoryAsIs}}))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 365 {
		t.Errorf("%d days of national coverage in 2025, want 365", len(res.Rows))
	}
	for _, row := range res.Rows {
		day := vnDate(row[0])
		var e, l int
		for _, h := range held(day) {
			e, l = e+h.Eligible, l+h.Level4
		}
		if row[1] != strconv.Itoa(e) || row[2] != strconv.Itoa(l) {
			t.Errorf("%s: national %s of %s eligible at level 4, the events say %d of %d", row[0], row[2], row[1], l, e)
		}
	}
	league := panelSQL(t, board.LeagueUID)["Every ministry and province by level-4 coverage"]
	res, err = enginetest.Query(context.Background(), e.Server, expand(t, league, chquery.Request{From: from, To: to,
		Vars: map[string]string{board.HistoryVar: board.HistoryAsIs}}))
	if err != nil {
		t.Fatal(err)
	}
	col := func(name string) int { return slices.Index(res.Names, name) }
	kinds, want := map[string]int{}, held(lastDay)
	for _, row := range res.Rows {
		kinds[row[col("kind")]]++
		kind, code, _ := strings.Cut(row[col("ref")], "/")
		w := want[units.Ref{Kind: units.Kind(kind), Code: code}]
		if row[col("eligible")] != strconv.Itoa(w.Eligible) || row[col("level4")] != strconv.Itoa(w.Level4) {
			t.Errorf("league, %s %s: %s of %s, the events %d of %d", row[col("ref")], row[col("name")], row[col("level4")], row[col("eligible")], w.Level4, w.Eligible)
		}
		if row[col("name")] == "" {
			t.Errorf("league: %s has no name", row[col("ref")])
		}
		if row[col("ref")] == "province/24" && row[col("name")] != "Bắc Ninh" {
			t.Errorf("league: province/24 is named %q, want Bắc Ninh", row[col("name")])
		}
	}
	if kinds["province"] != 34 || kinds["ministry"] != 17 {
		t.Errorf("the league at the end of 2025 has %d provinces and %d ministerial bodies, want 34 and 17", kinds["province"], kinds["ministry"])
	}
	t.Logf("%d queries run on both engines; %d days and %d units checked against the events", ran, 365, len(res.Rows))
}

// listsUnits runs sql on both engines and checks that the units in column col include every one of in and none of out.
func listsUnits(t *testing.T, e *campaigntest.Engines, sql string, col int, what string, in, out []string) {
	t.Helper()
	for _, eng := range []enginetest.Engine{e.Server, e.Local} {
		res, err := enginetest.Query(context.Background(), eng, sql)
		if err != nil {
			t.Fatalf("%s: %v", eng.Name(), err)
		}
		listed := map[string]bool{}
		for _, row := range res.Rows {
			listed[row[col]] = true
		}
		for _, u := range in {
			if !listed[u] {
				t.Errorf("%s on %s: %s is not listed", what, eng.Name(), u)
			}
		}
		for _, u := range out {
			if listed[u] {
				t.Errorf("%s on %s: %s is listed", what, eng.Name(), u)
			}
		}
	}
}

// checkViews holds both views of the projected history c, on both engines, to the reference worked out from its
// events procedure by procedure, on every day from from to to: each unit's figures, no row for a unit holding
// nothing, and the national sums equal in both views. It returns the views' rows (by "kind/code day", 18.16's and
// 26.7's), the national eligible procedures of each day, and the procedure changes in time order.
func checkViews(t *testing.T, c *campaigntest.Campaign, e *campaigntest.Engines, from, to time.Time) (map[string][2]map[string]dayCounts, []int, []campaigntest.Event) {
	t.Helper()
	ref := lineageReference{state: map[units.Ref]map[string]procState{}, reports: map[units.Ref][]time.Time{}}
	var changes []campaigntest.Event
	for _, ev := range c.Events {
		switch d := ev.Data.(type) {
		case *event.UnitMergedData:
			ref.mergers = append(ref.mergers, d)
		case *event.ReportSubmittedData:
			day := event.DateOf(d.ReportedAt)
			ref.reports[d.Unit] = append(ref.reports[d.Unit], vnDate(string(day)))
		default:
			changes = append(changes, ev)
		}
	}
	slices.SortStableFunc(changes, func(a, b campaigntest.Event) int { return a.Data.OccurredAt().Compare(b.Data.OccurredAt()) })

	query := func(eng enginetest.Engine, view string) map[string]dayCounts {
		t.Helper()
		sql := `SELECT unit_kind, unit_code, toString(day), procedures, eligible, level4
FROM ` + board.CoverageIn("'"+view+"'", "day >= toDate('"+from.Format(time.DateOnly)+"') AND day <= toDate('"+to.Format(time.DateOnly)+"')") + `
ORDER BY unit_kind, unit_code, day`
		res, err := enginetest.Query(context.Background(), eng, sql)
		if err != nil {
			t.Fatalf("%s: %v\n%s", eng.Name(), err, sql)
		}
		out := map[string]dayCounts{}
		for _, row := range res.Rows {
			n := func(i int) int { v, _ := strconv.Atoi(row[i]); return v }
			out[row[0]+"/"+row[1]+" "+row[2]] = dayCounts{n(3), n(4), n(5)}
		}
		return out
	}
	views := map[string][2]map[string]dayCounts{}
	for _, view := range []string{board.HistoryAsWas, board.HistoryAsIs} {
		a, b := query(e.Server, view), query(e.Local, view)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			shown := 0
			for k, x := range a {
				if y := b[k]; x != y && shown < 5 {
					shown++
					t.Errorf("%s %s: ClickHouse 18.16 %+v, 26.7 %+v", view, k, x, y)
				}
			}
			for k, y := range b {
				if _, ok := a[k]; !ok && shown < 10 {
					shown++
					t.Errorf("%s %s: only ClickHouse 26.7 has a row, %+v", view, k, y)
				}
			}
		}
		views[view] = [2]map[string]dayCounts{a, b}
	}

	next := 0
	var national []int
	checked := 0
	for day := from; !day.After(to); day = day.AddDate(0, 0, 1) {
		for ; next < len(changes) && event.DateOf(changes[next].Data.OccurredAt()) <= event.DateOf(day); next++ {
			applyChange(ref.state, changes[next].Data)
		}
		asWas, asIs := ref.day(day)
		ds := day.Format(time.DateOnly)
		for view, want := range map[string]map[units.Ref]dayCounts{board.HistoryAsWas: asWas, board.HistoryAsIs: asIs} {
			got := views[view][0]
			for u, w := range want {
				if g := got[u.String()+" "+ds]; g != w {
					t.Errorf("%s %s %s: got %+v, want %+v", view, u, ds, g, w)
				}
				checked++
			}
			for k, g := range got {
				if strings.HasSuffix(k, " "+ds) {
					if _, ok := want[units.Ref{Kind: units.Kind(strings.Split(k, "/")[0]), Code: strings.Fields(strings.Split(k, "/")[1])[0]}]; !ok {
						t.Errorf("%s %s: a row %+v for a unit that holds nothing that day", view, k, g)
					}
				}
			}
		}
		// The national sum, from each view's rows.
		var sums [2]dayCounts
		for i, view := range []string{board.HistoryAsWas, board.HistoryAsIs} {
			for k, g := range views[view][0] {
				if strings.HasSuffix(k, " "+ds) {
					sums[i].add(g)
				}
			}
		}
		if sums[0] != sums[1] {
			t.Errorf("%s: national %+v as it was, %+v as it is", ds, sums[0], sums[1])
		}
		national = append(national, sums[0].eligible)
	}
	if checked < 1000 {
		t.Errorf("only %d unit-days checked", checked)
	}
	return views, national, changes
}

// TestLineageViewsOfRandomMergers holds both views to the reference on random reorganisations: mergers on random
// days among the units that exist then (a successor keeping its code or not, one or two predecessors, some moving a
// few procedures to a third unit), so that chains, splits into units merged later and mergers into units that took
// others before all come up; successors report on random days; levels change throughout. National figures must not
// move on a day when only mergers happened.
func TestLineageViewsOfRandomMergers(t *testing.T) {
	kinds := map[string]int{}
	defer func() {
		if kinds["split"] == 0 || kinds["chain"] == 0 || kinds["code kept"] == 0 || kinds["code not kept"] == 0 {
			t.Errorf("the seeds made %v: not every kind of merger", kinds)
		}
	}()
	for _, seed := range []uint64{11, 12, 13, 14, 15, 16} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 766))
			at := func(day time.Time) time.Time { return day.Add(9 * time.Hour).UTC() }
			var envs []event.Envelope
			add := func(d event.Data) {
				env, err := event.New("/egovtrack/test/lineage", d)
				if err != nil {
					t.Fatalf("%T: %v", d, err)
				}
				envs = append(envs, env)
			}
			var pool []units.Ref
			for _, u := range units.All() {
				if u.Kind == units.Province && len(pool) < 10 {
					pool = append(pool, u.Ref)
				}
			}
			codes, levels := map[units.Ref][]string{}, map[string]event.Level{}
			start := vnDate("2025-01-02")
			for i, u := range pool {
				for k := range 5 {
					code := fmt.Sprintf("1.%03d%03d", 100+i, k+1)
					codes[u] = append(codes[u], code)
					levels[u.String()+code] = event.Level(2 + rng.IntN(3))
					add(&event.ProcedureRegisteredData{Unit: u, Procedure: code, Name: "Thủ tục " + code, Sector: "Thử",
						Eligible: rng.IntN(4) > 0, Level: levels[u.String()+code], EffectiveAt: at(start)})
				}
			}
			// The mergers, on increasing days.
			gone := map[units.Ref]time.Time{}
			exists := func(day time.Time) []units.Ref {
				var out []units.Ref
				for _, u := range pool {
					if g, ok := gone[u]; !ok || g.After(day) {
						out = append(out, u)
					}
				}
				return out
			}
			day := start
			mergerDays := map[string]bool{}
			for range 3 + rng.IntN(3) {
				day = day.AddDate(0, 0, 20+rng.IntN(50))
				live := exists(day)
				if len(live) < 3 {
					break
				}
				rng.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
				succ, preds := live[0], []units.Ref{live[1]}
				if rng.IntN(2) == 0 && len(live) > 3 {
					preds = append(preds, live[2])
				}
				if rng.IntN(5) > 0 {
					preds = append(preds, succ)
				}
				m := &event.UnitMergedData{Successor: succ, Name: "Hợp nhất " + succ.Code, Predecessors: preds,
					EffectiveOn: event.DateOf(day), DecidedAt: at(start.AddDate(0, 0, -30))}
				if third := live[len(live)-1]; rng.IntN(5) < 2 && third != succ && !slices.Contains(preds, third) {
					m.Moved = []event.Moved{{From: live[1], To: third, Procedures: codes[live[1]][:1+rng.IntN(2)]}}
				}
				add(m)
				mergerDays[string(event.DateOf(day))] = true
				if len(m.Moved) > 0 {
					kinds["split"]++
				}
				if slices.Contains(preds, succ) {
					kinds["code kept"]++
				} else {
					kinds["code not kept"]++
				}
				for _, p := range preds {
					if _, merged := gone[p]; !merged && p != succ {
						for _, prior := range envs[:len(envs)-1] {
							if d, err := prior.UncheckedData(); err == nil {
								if pm, isMerger := d.(*event.UnitMergedData); isMerger && pm.Successor == p {
									kinds["chain"]++
								}
							}
						}
					}
				}
				for _, p := range preds {
					if p != succ {
						gone[p] = day
					}
				}
			}
			last := day.AddDate(0, 2, 0)
			// Level changes while a unit exists; successors' reports on random days.
			for d := start.AddDate(0, 0, 1); !d.After(last); d = d.AddDate(0, 0, 1) {
				if mergerDays[string(event.DateOf(d))] {
					continue // merger days carry nothing else, so that the national figure must stay put on them
				}
				u := pool[rng.IntN(len(pool))]
				if g, ok := gone[u]; ok && !d.Before(g) {
					continue
				}
				switch rng.IntN(6) {
				case 0:
					add(&event.ReportSubmittedData{Unit: u, Collector: "sheet", ReportedAt: at(d), Counts: event.ReportCounts{Unchanged: 5}})
				case 1, 2:
					code := codes[u][rng.IntN(len(codes[u]))]
					from, to := levels[u.String()+code], event.Level(1+rng.IntN(4))
					if from != to {
						levels[u.String()+code] = to
						add(&event.LevelChangedData{Unit: u, Procedure: code, From: from, To: to, EffectiveAt: at(d)})
					}
				}
			}
			// Something on the last day, so that every unit's series runs to it.
			add(&event.ProcedureRegisteredData{Unit: exists(last)[0], Procedure: "1.999001", Name: "Thủ tục mới", Sector: "Thử",
				Eligible: true, Level: 4, EffectiveAt: at(last)})
			c := campaigntest.Project(t, envs, envs)
			e := c.Engines(t)
			_, national, changes := checkViews(t, c, e, start, last)
			for m := range mergerDays {
				i := int(vnDate(m).Sub(start).Hours() / 24)
				changed := false
				for _, ev := range changes {
					if string(event.DateOf(ev.Data.OccurredAt())) == m {
						changed = true
					}
				}
				if !changed && i > 0 && i < len(national) && national[i] != national[i-1] {
					t.Errorf("national eligible procedures move on the merger day %s: %d → %d", m, national[i-1], national[i])
				}
			}
			t.Logf("%d events, %d mergers, %d units merged away, to %s; kinds so far %v", len(envs), len(mergerDays), len(gone), last.Format(time.DateOnly), kinds)
		})
	}
}
