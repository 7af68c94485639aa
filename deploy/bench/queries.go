package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/egovtrack/egovtrack/dashboards/board"
	"github.com/egovtrack/egovtrack/dashboards/chquery"
	"github.com/egovtrack/egovtrack/internal/chdb"
)

// panelTarget is the p95 allowed for every panel query, in milliseconds.
const panelTarget = 150.0

// timeRange is a dashboard time range the panels are run over.
type timeRange struct {
	name     string
	from, to time.Time
}

// stepQueries loads the national-scale database (loadNational) and runs every panel of every dashboard, and the unit
// variable's query, as Grafana would send them (chquery.Expand, the unit dashboard on its default unit, the interval
// as Grafana rounds it for 1,000 points), over two ranges: the dashboard's default one (the 2021 campaign; for
// reporting health, whose default is the last seven days, the last seven days of the data) and the whole two years.
// Each gets one untimed warm-up run, then QueryRuns timed ones within QueryBudget; a run is timed from sending the
// query to reading its last row.
func (b *bench) stepQueries(ctx context.Context) error {
	conn, err := b.nationalDB(ctx, "e queries")
	if err != nil {
		return err
	}
	defer conn.Close()
	lastReceived := b.nationalLastReceived

	dashboards, err := board.All()
	if err != nil {
		return err
	}
	twoYears := timeRange{"2 years", dataStart, dataEnd.Add(-time.Second)}
	var worst float64
	var worstName string
	panels := 0
	for _, d := range dashboards {
		def := timeRange{name: "default"}
		if from, err := time.Parse(time.RFC3339, d.Time.From); err == nil {
			def.from = from
			def.to, _ = time.Parse(time.RFC3339, d.Time.To)
		} else { // now-7d: the last seven days of the data
			def = timeRange{"last 7 days of data", lastReceived.Add(-7 * 24 * time.Hour), lastReceived}
		}
		type q struct{ title, sql string }
		var qs []q
		for _, v := range d.Templating.List {
			if v.Query != nil && v.Query.String != nil && v.Type == dashboard.VariableTypeQuery {
				qs = append(qs, q{"variable " + v.Name, *v.Query.String})
			}
		}
		for _, p := range d.Panels {
			if p.Panel == nil {
				continue
			}
			for _, t := range p.Panel.Targets {
				if cq, ok := t.(chquery.Query); ok {
					qs = append(qs, q{*p.Panel.Title, cq.RawSQL})
				}
			}
		}
		for _, x := range qs {
			panels++
			for _, r := range []timeRange{def, twoYears} {
				pt := b.timePanel(ctx, conn, *d.Uid, x.title, x.sql, r)
				b.rep.Panels = append(b.rep.Panels, pt)
				b.log.Info("panel", "dashboard", pt.Dashboard, "panel", pt.Panel, "range", pt.Range, "runs", pt.Runs,
					"p50_ms", pt.P50, "p95_ms", pt.P95, "rows_read", pt.RowsRead, "err", pt.Err)
				if pt.Err == "" && pt.P95 > worst {
					worst, worstName = pt.P95, pt.Dashboard+"/"+pt.Panel+" ("+pt.Range+")"
				}
			}
		}
	}
	failed, over := 0, 0
	for _, p := range b.rep.Panels {
		if p.Err != "" {
			failed++
		} else if p.P95 > panelTarget {
			over++
		}
	}
	st := status(worst, panelTarget, true)
	if failed > 0 {
		st = missed
	}
	b.add(result{Step: "e queries", Name: "worst panel query p95 at national scale", Value: worst, Unit: "ms", Target: fmt.Sprintf("≤ %.0f ms", panelTarget),
		Status: st, Note: fmt.Sprintf("%s; %d panel×range over target, %d failed, of %d queries × 2 ranges", worstName, over, failed, panels)})
	return nil
}

// nationalDB connects to the national-scale database (database bench_national), loading it first (loadNational,
// then ClickHouse's background merges awaited) unless an earlier step of this run did. The step named loads it.
func (b *bench) nationalDB(ctx context.Context, step string) (driver.Conn, error) {
	if b.nationalLoaded {
		return chdb.Open(ctx, b.ch.Config("bench_national"))
	}
	conn, _, err := b.database(ctx, "bench_national")
	if err != nil {
		return nil, err
	}
	began := time.Now()
	lastReceived, err := b.loadNational(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("load the national-scale database: %w", err)
	}
	took := time.Since(began)
	b.add(result{Step: step, Name: "national-scale database loaded (store.Write, batches of 50,000)", Value: float64(b.data.Events),
		Unit: "events", Status: info, Note: fmt.Sprintf("in %s, %.0f events/s", took.Round(time.Second), float64(b.data.Events)/took.Seconds())})
	b.waitMerges(ctx, conn, 5*time.Minute)
	var counts []string
	for _, t := range []string{"events", "procedure_changes", "procedures", "coverage_daily", "reports", "assistant_changes"} {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+t).Scan(&n); err != nil {
			conn.Close()
			return nil, err
		}
		counts = append(counts, fmt.Sprintf("%s %s", t, thousands(int64(n))))
	}
	b.note("national-scale database: %v", counts)
	b.nationalLoaded, b.nationalLastReceived = true, lastReceived
	return conn, nil
}

// timePanel runs one panel's SQL over one range: a warm-up, then up to QueryRuns timed runs within QueryBudget.
func (b *bench) timePanel(ctx context.Context, conn driver.Conn, uid, title, sql string, r timeRange) panelTiming {
	return b.timePanelWith(ctx, conn, uid, title, sql, r, nil)
}

// timePanelWith is timePanel with variables set besides the defaults (the unit dashboard's default unit, as it is,
// the scorecard's quarter).
func (b *bench) timePanelWith(ctx context.Context, conn driver.Conn, uid, title, sql string, r timeRange, vars map[string]string) panelTiming {
	pt := panelTiming{Dashboard: uid, Panel: title, Range: r.name}
	interval := grafanaInterval(r.to.Sub(r.from) / 1000)
	all := map[string]string{board.DatasourceVar: board.DatasourceUID, board.UnitVar: board.DefaultUnit, board.HistoryVar: board.HistoryAsIs, board.MonthsVar: "3"}
	maps.Copy(all, vars)
	expanded, err := chquery.Expand(sql, chquery.Request{From: r.from, To: r.to, Interval: interval, Vars: all})
	if err != nil {
		pt.Err = err.Error()
		return pt
	}
	run := func(progress bool) (time.Duration, int, error) {
		qctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if progress {
			qctx = clickhouse.Context(qctx, clickhouse.WithProgress(func(p *clickhouse.Progress) {
				pt.RowsRead += p.Rows
				pt.BytesRead += p.Bytes
			}))
		}
		began := time.Now()
		rows, err := conn.Query(qctx, expanded)
		if err != nil {
			return 0, 0, err
		}
		n := 0
		for rows.Next() {
			n++
		}
		err = rows.Err()
		rows.Close()
		return time.Since(began), n, err
	}
	if _, n, err := run(true); err != nil {
		pt.Err = err.Error()
		b.log.Warn("panel query failed", "dashboard", uid, "panel", title, "range", r.name, "err", err)
		return pt
	} else {
		pt.Rows = n
	}
	budget := time.Now().Add(b.cfg.QueryBudget)
	for i := 0; i < b.cfg.QueryRuns && (i < 3 || time.Now().Before(budget)); i++ {
		took, _, err := run(false)
		if err != nil {
			pt.Err = err.Error()
			return pt
		}
		pt.Timings = append(pt.Timings, float64(took.Microseconds())/1000)
	}
	sorted := slices.Clone(pt.Timings)
	slices.Sort(sorted)
	pt.Runs = len(sorted)
	pt.P50, pt.P95, pt.Max = percentile(sorted, 0.5), percentile(sorted, 0.95), sorted[len(sorted)-1]
	return pt
}

// grafanaInterval rounds a range's length over the panel's data points to the interval Grafana sends with a query
// ($__interval): it picks from fixed steps (rangeutil.roundInterval in Grafana's source), at least a second here.
func grafanaInterval(d time.Duration) time.Duration {
	steps := []struct{ below, interval time.Duration }{
		{3500 * time.Millisecond, 2 * time.Second},
		{7500 * time.Millisecond, 5 * time.Second},
		{12500 * time.Millisecond, 10 * time.Second},
		{17500 * time.Millisecond, 15 * time.Second},
		{25 * time.Second, 20 * time.Second},
		{45 * time.Second, 30 * time.Second},
		{90 * time.Second, time.Minute},
		{3 * time.Minute, 2 * time.Minute},
		{450 * time.Second, 5 * time.Minute},
		{750 * time.Second, 10 * time.Minute},
		{1050 * time.Second, 15 * time.Minute},
		{1500 * time.Second, 20 * time.Minute},
		{45 * time.Minute, 30 * time.Minute},
		{90 * time.Minute, time.Hour},
		{150 * time.Minute, 2 * time.Hour},
		{270 * time.Minute, 3 * time.Hour},
		{9 * time.Hour, 6 * time.Hour},
		{24 * time.Hour, 12 * time.Hour},
		{7 * 24 * time.Hour, 24 * time.Hour},
		{21 * 24 * time.Hour, 7 * 24 * time.Hour},
		{42 * 24 * time.Hour, 30 * 24 * time.Hour},
	}
	if d < 1500*time.Millisecond {
		return time.Second
	}
	for _, s := range steps {
		if d < s.below {
			return s.interval
		}
	}
	return 365 * 24 * time.Hour
}

// waitMerges waits, at most limit, for ClickHouse's background merges of the database to end, so that the queries
// do not compete with them.
func (b *bench) waitMerges(ctx context.Context, conn driver.Conn, limit time.Duration) {
	began := time.Now()
	for time.Since(began) < limit {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.merges WHERE database = currentDatabase()").Scan(&n); err != nil || n == 0 {
			return
		}
		time.Sleep(time.Second)
	}
	b.note("queries: background merges still running after %s", limit)
}
