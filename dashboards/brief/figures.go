// Package brief makes the minister's briefing: a dated, printable report of where the country stands on level-4
// online services, computed from ClickHouse with the dashboards' own SQL (their panels', found by title), so that the
// briefing and Grafana never disagree. Figures computes it; HTML writes a self-contained page; PDF prints that page
// with headless Chromium.
package brief

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/egovtrack/egovtrack/dashboards/board"
	"github.com/egovtrack/egovtrack/dashboards/chquery"
	"github.com/egovtrack/egovtrack/internal/event"
)

// Table is a query's answer: column names, and rows of values as ClickHouse writes them in TSV (`\N` for NULL).
type Table struct {
	Names []string
	Rows  [][]string
}

// Querier runs one SQL statement.
type Querier interface {
	Query(ctx context.Context, sql string) (Table, error)
}

// Point is one Vietnamese day of the national series.
type Point struct {
	Day                  time.Time
	Coverage, Trajectory float64 // percent; NaN when there is none
}

// Unit is a ministry or province as the briefing lists it.
type Unit struct {
	Name, Ref            string
	Coverage, Trajectory float64 // percent; NaN when there is none
	Gap                  float64 // points above (+) or below (−) its trajectory
	DaysSince            float64 // days since its latest report; NaN when it never reported
}

// Figures are the briefing's numbers for Date, compared with Since.
type Figures struct {
	Date, Since time.Time // Vietnamese days
	// AsOf is the latest day with coverage up to Date: the figures' freshness.
	AsOf                    time.Time
	Eligible, Level4        int64
	Coverage, CoverageSince float64 // national level-4 coverage, percent; NaN without data
	Trajectory              float64 // where the national target's line stands on AsOf; NaN without one
	Full, FullSince         int     // units at 100%
	OnTrack, Behind         int
	Reached                 []Unit // units at 100% on Date that were not on Since
	Furthest                []Unit // the ten furthest behind their trajectory, furthest first
	Silent                  []Unit // units whose latest report is older than their cadence, longest silent first
	Stages                  map[string]int
	Forecast                string  // a YYYY-MM-DD day, or reached, no_history, stalled, overflow, beyond
	DaysToFull              float64 // NaN when there is no forecast
	Pace                    float64 // points a day over the last 30 days; NaN without history
	CoverageBefore          float64 // 30 days before AsOf
	Series                  []Point
}

// StageOrder is the virtual assistant's stages, in order.
var StageOrder = []string{"not_started", "planned", "pilot", "live"}

// panels finds each dashboard panel's SQL by title.
func panels() (map[string]string, error) {
	out := map[string]string{}
	builders := []func() (dashboard.Dashboard, error){board.National, board.League, board.Health, board.Assistant}
	for _, b := range builders {
		d, err := b()
		if err != nil {
			return nil, err
		}
		for _, p := range d.Panels {
			if p.Panel == nil || p.Panel.Title == nil || len(p.Panel.Targets) != 1 {
				continue
			}
			if q, ok := p.Panel.Targets[0].(chquery.Query); ok {
				out[*d.Uid+"/"+*p.Panel.Title] = q.RawSQL
			}
		}
	}
	return out, nil
}

// The panels the briefing reads.
const (
	seriesPanel    = board.NationalUID + "/Show the data: national coverage per day"
	forecastPanel  = board.NationalUID + "/100% at the pace of the last 30 days"
	leaguePanel    = board.LeagueUID + "/Every ministry and province by level-4 coverage"
	freshnessPanel = board.HealthUID + "/Last report against the expected cadence"
	stagesPanel    = board.AssistantUID + "/Units by stage now"
)

// Compute queries the figures for date (a Vietnamese day), compared with since, through q.
func Compute(ctx context.Context, q Querier, date, since time.Time) (Figures, error) {
	sqls, err := panels()
	if err != nil {
		return Figures{}, err
	}
	for _, p := range []string{seriesPanel, forecastPanel, leaguePanel, freshnessPanel, stagesPanel} {
		if sqls[p] == "" {
			return Figures{}, fmt.Errorf("the dashboards have no panel %s", p)
		}
	}
	date, since = dayOf(date), dayOf(since)
	run := func(panel string, from, to time.Time) (Table, error) {
		sql, err := chquery.Expand(sqls[panel], chquery.Request{From: from, To: to, Interval: 24 * time.Hour,
			Vars: map[string]string{board.DatasourceVar: board.DatasourceUID, board.HistoryVar: board.HistoryAsIs}})
		if err != nil {
			return Table{}, err
		}
		t, err := q.Query(ctx, sql)
		if err != nil {
			return Table{}, fmt.Errorf("%s: %w", panel, err)
		}
		return t, nil
	}
	endOf := func(d time.Time) time.Time { return d.Add(24*time.Hour - time.Second) }
	f := Figures{Date: date, Since: since, Stages: map[string]int{}}

	// The national series from a year before, and the figures on the latest day up to Date and up to Since.
	series, err := run(seriesPanel, date.AddDate(-1, 0, 0), endOf(date))
	if err != nil {
		return f, err
	}
	f.Coverage, f.CoverageSince, f.Trajectory = nan, nan, nan
	for i := len(series.Rows) - 1; i >= 0; i-- { // latest first: oldest first for the chart
		r := series.row(i)
		day, err := time.ParseInLocation(time.DateOnly, r.str("date"), event.Vietnam)
		if err != nil {
			return f, fmt.Errorf("%s: day %q: %w", seriesPanel, r.str("date"), err)
		}
		f.Series = append(f.Series, Point{Day: day, Coverage: r.num("coverage"), Trajectory: r.num("trajectory")})
		if !day.After(since) {
			f.CoverageSince = r.num("coverage")
		}
	}
	if n := len(f.Series); n > 0 {
		last := series.row(0)
		f.AsOf, f.Coverage, f.Trajectory = f.Series[n-1].Day, last.num("coverage"), last.num("trajectory")
		f.Eligible, f.Level4 = int64(last.num("eligible")), int64(last.num("level4"))
	}

	// The forecast and the league read the latest day with coverage within their range: from a year before, as the
	// series, so that a day after the last change still has its figures (as of AsOf).
	fc, err := run(forecastPanel, date.AddDate(-1, 0, 0), endOf(date))
	if err != nil {
		return f, err
	}
	f.DaysToFull, f.Pace, f.CoverageBefore = nan, nan, nan
	if len(fc.Rows) == 1 {
		r := fc.row(0)
		f.Forecast, f.DaysToFull, f.Pace, f.CoverageBefore = r.str("forecast"), r.num("days_to_full"), r.num("pace"), r.num("coverage_before")
	}

	league := func(day time.Time) (map[string]Unit, map[string]string, error) {
		t, err := run(leaguePanel, day.AddDate(-1, 0, 0), endOf(day))
		if err != nil {
			return nil, nil, err
		}
		units, status := map[string]Unit{}, map[string]string{}
		for i := range t.Rows {
			r := t.row(i)
			u := Unit{Name: r.str("name"), Ref: r.str("ref"), Coverage: r.num("coverage"), Trajectory: r.num("trajectory"), Gap: r.num("gap")}
			units[u.Ref], status[u.Ref] = u, r.str("status")
		}
		return units, status, nil
	}
	now, statusNow, err := league(date)
	if err != nil {
		return f, err
	}
	_, statusSince, err := league(since)
	if err != nil {
		return f, err
	}
	for ref, s := range statusNow {
		switch s {
		case "full":
			f.Full++
			if statusSince[ref] != "full" {
				f.Reached = append(f.Reached, now[ref])
			}
		case "on_track":
			f.OnTrack++
		case "behind":
			f.Behind++
			f.Furthest = append(f.Furthest, now[ref])
		}
	}
	for _, s := range statusSince {
		if s == "full" {
			f.FullSince++
		}
	}
	slices.SortFunc(f.Reached, func(a, b Unit) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(f.Furthest, func(a, b Unit) int {
		if a.Gap != b.Gap {
			if a.Gap < b.Gap {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	f.Furthest = f.Furthest[:min(10, len(f.Furthest))]

	fresh, err := run(freshnessPanel, date, endOf(date))
	if err != nil {
		return f, err
	}
	for i := range fresh.Rows { // stale first, the longest silent first: the panel's order
		r := fresh.row(i)
		if r.str("freshness") == "stale" {
			f.Silent = append(f.Silent, Unit{Name: r.str("name"), Ref: r.str("ref"), DaysSince: r.num("days_since")})
		}
	}

	stages, err := run(stagesPanel, date, endOf(date))
	if err != nil {
		return f, err
	}
	if len(stages.Rows) == 1 {
		r := stages.row(0)
		for _, s := range StageOrder {
			f.Stages[s] = int(r.num(s))
		}
	}
	return f, nil
}

var nan = math.NaN()

// row is one row of a table, read by column name.
type row struct {
	t Table
	i int
}

func (t Table) row(i int) row { return row{t, i} }

func (r row) str(name string) string {
	for j, n := range r.t.Names {
		if n == name {
			return r.t.Rows[r.i][j]
		}
	}
	return ""
}

// num is a column's number; NaN when NULL or not a number.
func (r row) num(name string) float64 {
	v, err := strconv.ParseFloat(r.str(name), 64)
	if err != nil {
		return nan
	}
	return v
}
