package board_test

import (
	"cmp"
	"context"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/egovtrack/egovtrack/dashboards/board"
	"github.com/egovtrack/egovtrack/dashboards/chquery"
	_ "github.com/egovtrack/egovtrack/dashboards/internal/golden" // accepts -update
	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
	"github.com/egovtrack/egovtrack/projector/schema"
)

func TestMain(m *testing.M) { chdbtest.Main(m) }

var vn = time.FixedZone("ICT", 7*3600)

func day(s string) time.Time {
	d, err := time.ParseInLocation(time.DateOnly, s, vn)
	if err != nil {
		panic(err)
	}
	return d
}

func vnTime(s string) time.Time {
	d, err := time.ParseInLocation(time.DateTime, s, vn)
	if err != nil {
		panic(err)
	}
	return d
}

// The fixture: a few units over a few days of the 2021 campaign and one day after its deadline.
type coverageRow struct {
	kind, code, day              string
	procedures, eligible, level4 uint32
	version                      uint64
}

var coverage = []coverageRow{
	// Hà Nội: from the day before the mid-campaign range, climbing.
	{"province", "01", "2021-06-28", 12, 10, 3, 1},
	{"province", "01", "2021-06-29", 12, 10, 4, 2},
	{"province", "01", "2021-06-30", 12, 10, 5, 3},
	{"province", "01", "2021-07-01", 12, 10, 6, 4},
	{"province", "01", "2021-07-02", 14, 12, 7, 6},
	{"province", "01", "2021-07-03", 14, 12, 9, 7},
	{"province", "01", "2022-01-03", 14, 12, 12, 8},
	// Thái Nguyên reaches 100% on 2 July.
	{"province", "19", "2021-06-30", 6, 5, 3, 1},
	{"province", "19", "2021-07-01", 6, 5, 4, 2},
	{"province", "19", "2021-07-02", 6, 5, 5, 3},
	{"province", "19", "2021-07-03", 6, 5, 5, 4},
	{"province", "19", "2022-01-03", 6, 5, 5, 5},
	// The Ministry of Information and Communications starts later.
	{"ministry", "BTTTT", "2021-07-01", 5, 4, 1, 1},
	{"ministry", "BTTTT", "2021-07-02", 5, 4, 2, 2},
	{"ministry", "BTTTT", "2021-07-03", 5, 4, 4, 3},
	{"ministry", "BTTTT", "2022-01-03", 5, 4, 4, 4},
	// The Ministry of Foreign Affairs has nothing eligible: never "at 100%".
	{"ministry", "BNG", "2021-07-02", 2, 0, 0, 1},
	{"ministry", "BNG", "2021-07-03", 2, 0, 0, 2},
	{"ministry", "BNG", "2022-01-03", 2, 0, 0, 3},
}

// coverageAgain is written in a second insert: the same rows again and an older version of Hà Nội's 2 July, which
// FINAL must drop. Without FINAL the sums would count them.
var coverageAgain = []coverageRow{
	{"province", "19", "2021-07-02", 6, 5, 5, 3},
	{"province", "01", "2021-07-02", 14, 12, 2, 5},
	{"ministry", "BTTTT", "2022-01-03", 5, 4, 4, 4},
}

type targetRow struct {
	metric, scope, id string
	seq               uint64
	setAt             string
	baseline          float64
	baselineDate      string
	target            float64
	deadline          string
}

var targets = []targetRow{
	// An earlier national target, replaced by the next one.
	{"level4_coverage", "national", "00000000-0000-4000-8000-000000000001", 1, "2021-06-01 09:00:00", 30, "2021-06-01", 90, "2021-12-31"},
	// The one in force: 40% on 30 June to 100% on 31 December.
	{"level4_coverage", "national", "00000000-0000-4000-8000-000000000002", 2, "2021-06-30 09:00:00", 40, "2021-06-30", 100, "2021-12-31"},
	// Later, but for a unit or another metric: not the national coverage trajectory.
	{"level4_coverage", "province/01", "00000000-0000-4000-8000-000000000003", 3, "2021-07-01 09:00:00", 50, "2021-07-01", 100, "2021-09-30"},
	{"assistant_live_units", "national", "00000000-0000-4000-8000-000000000004", 4, "2021-07-01 09:00:00", 0, "2021-07-01", 100, "2021-12-31"},
	// The target in force, delivered twice.
	{"level4_coverage", "national", "00000000-0000-4000-8000-000000000002", 2, "2021-06-30 09:00:00", 40, "2021-06-30", 100, "2021-12-31"},
}

type assistantRow struct {
	kind, code, id string
	seq            uint64
	effectiveAt    string
	stage          string
}

var assistant = []assistantRow{
	{"province", "01", "00000000-0000-4000-8000-000000000011", 1, "2021-06-15 10:00:00", "pilot"},
	{"province", "01", "00000000-0000-4000-8000-000000000012", 5, "2021-07-01 10:00:00", "live"},
	// Thái Nguyên went live, then back to pilot.
	{"province", "19", "00000000-0000-4000-8000-000000000013", 2, "2021-06-20 09:00:00", "live"},
	{"province", "19", "00000000-0000-4000-8000-000000000014", 6, "2021-07-02 08:00:00", "pilot"},
	// Live only on 3 July, after the mid-campaign range.
	{"ministry", "BTTTT", "00000000-0000-4000-8000-000000000015", 3, "2021-06-10 08:00:00", "planned"},
	{"ministry", "BTTTT", "00000000-0000-4000-8000-000000000016", 7, "2021-07-03 09:00:00", "live"},
	// Two changes at the same moment: the stream sequence decides.
	{"ministry", "BNG", "00000000-0000-4000-8000-000000000017", 8, "2021-07-01 08:00:00", "planned"},
	{"ministry", "BNG", "00000000-0000-4000-8000-000000000018", 9, "2021-07-01 08:00:00", "live"},
	// Delivered twice.
	{"province", "01", "00000000-0000-4000-8000-000000000012", 5, "2021-07-01 10:00:00", "live"},
}

func load(t *testing.T, ctx context.Context, conn driver.Conn) {
	t.Helper()
	if _, err := schema.Apply(ctx, conn, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	date := func(s string) time.Time {
		d := day(s)
		return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
	}
	// One insert per batch, so that the second coverage batch lands in a part of its own and only FINAL merges it.
	insert := func(into string, rows int, row func(i int) []any) {
		t.Helper()
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+into)
		if err != nil {
			t.Fatal(err)
		}
		for i := range rows {
			if err := batch.Append(row(i)...); err != nil {
				t.Fatalf("%s: %v", into, err)
			}
		}
		if err := batch.Send(); err != nil {
			t.Fatalf("%s: %v", into, err)
		}
	}
	for _, rows := range [][]coverageRow{coverage, coverageAgain} {
		insert("coverage_daily (unit_kind, unit_code, day, procedures, eligible, level4, version)", len(rows), func(i int) []any {
			r := rows[i]
			return []any{r.kind, r.code, date(r.day), r.procedures, r.eligible, r.level4, r.version}
		})
	}
	insert("targets (metric, scope, event_id, stream_seq, set_at, baseline, baseline_date, target, deadline)", len(targets), func(i int) []any {
		r := targets[i]
		return []any{r.metric, r.scope, uuid.MustParse(r.id), r.seq, vnTime(r.setAt), r.baseline, date(r.baselineDate), r.target, date(r.deadline)}
	})
	insert("assistant_changes (unit_kind, unit_code, event_id, stream_seq, effective_at, day, stage, users)", len(assistant), func(i int) []any {
		r := assistant[i]
		return []any{r.kind, r.code, uuid.MustParse(r.id), r.seq, vnTime(r.effectiveAt), date(r.effectiveAt[:10]), r.stage, (*uint32)(nil)}
	})
}

// expected holds the panels' numbers computed from the fixture in Go, independently of the SQL.
type expected struct {
	coverageNow   any // float64, or nil for no row
	unitsAtFull   float64
	assistantLive float64
	days          []dayRow // ascending
}

type dayRow struct {
	day                  time.Time
	eligible, level4     float64
	coverage, trajectory any // float64 or nil
}

func expect(from, to time.Time) expected {
	fromDay := day(from.In(vn).Format(time.DateOnly))
	toDay := day(to.In(vn).Format(time.DateOnly))

	// The latest version of each unit's day.
	latest := map[string]coverageRow{}
	for _, r := range slices.Concat(coverage, coverageAgain) {
		k := r.kind + "/" + r.code + "/" + r.day
		if old, ok := latest[k]; !ok || r.version > old.version {
			latest[k] = r
		}
	}
	byDay := map[time.Time][]coverageRow{}
	for _, r := range latest {
		if d := day(r.day); !d.Before(fromDay) && !d.After(toDay) {
			byDay[d] = append(byDay[d], r)
		}
	}

	// The target in force: the latest national level-4 coverage target by set_at, then stream sequence.
	var target *targetRow
	for _, r := range targets {
		if r.metric != "level4_coverage" || r.scope != "national" {
			continue
		}
		if target == nil || r.setAt > target.setAt || r.setAt == target.setAt && r.seq > target.seq {
			target = &r
		}
	}

	var e expected
	for _, d := range slices.SortedFunc(func(yield func(time.Time) bool) {
		for d := range byDay {
			if !yield(d) {
				return
			}
		}
	}, func(a, b time.Time) int { return a.Compare(b) }) {
		row := dayRow{day: d}
		for _, r := range byDay[d] {
			row.eligible += float64(r.eligible)
			row.level4 += float64(r.level4)
		}
		if row.eligible > 0 {
			row.coverage = 100 * row.level4 / row.eligible
		}
		if target != nil && !d.Before(day(target.baselineDate)) {
			if deadline := day(target.deadline); !d.Before(deadline) {
				row.trajectory = target.target
			} else {
				done := d.Sub(day(target.baselineDate)).Hours() / 24
				all := deadline.Sub(day(target.baselineDate)).Hours() / 24
				row.trajectory = target.baseline + (target.target-target.baseline)*done/all
			}
		}
		e.days = append(e.days, row)
	}
	if n := len(e.days); n > 0 {
		last := e.days[n-1]
		e.coverageNow = last.coverage
		for _, r := range byDay[last.day] {
			if r.eligible > 0 && r.level4 == r.eligible {
				e.unitsAtFull++
			}
		}
	}

	// The stage of each unit at the end of the range: its latest change by effective time, then stream sequence.
	stage := map[string]assistantRow{}
	for _, r := range assistant {
		if vnTime(r.effectiveAt).After(to) {
			continue
		}
		k := r.kind + "/" + r.code
		if old, ok := stage[k]; !ok || r.effectiveAt > old.effectiveAt || r.effectiveAt == old.effectiveAt && r.seq > old.seq {
			stage[k] = r
		}
	}
	for _, r := range stage {
		if r.stage == "live" {
			e.assistantLive++
		}
	}
	return e
}

// result is a query's answer with every value made comparable: numbers as float64, NULL as nil.
type result struct {
	columns []string
	rows    [][]any
}

func query(t *testing.T, ctx context.Context, conn driver.Conn, sql string) result {
	t.Helper()
	rows, err := conn.Query(ctx, sql)
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
		return math.Abs(fa-fb) < 1e-9
	}
	if ta, ok := a.(time.Time); ok {
		tb, ok := b.(time.Time)
		return ok && ta.Equal(tb)
	}
	return a == b
}

// check compares a result with the expected columns and rows.
func check(t *testing.T, got result, columns []string, rows [][]any) {
	t.Helper()
	if !slices.Equal(got.columns, columns) {
		t.Fatalf("columns %v, want %v", got.columns, columns)
	}
	if len(got.rows) != len(rows) {
		t.Fatalf("%d rows %v, want %d %v", len(got.rows), got.rows, len(rows), rows)
	}
	for i := range rows {
		for j := range columns {
			if !same(got.rows[i][j], rows[i][j]) {
				t.Errorf("row %d %s = %v, want %v", i, columns[j], got.rows[i][j], rows[i][j])
			}
		}
	}
}

// panelChecks holds, by panel title, how to check the panel's one query. Every panel must have one.
var panelChecks = map[string]func(t *testing.T, got result, e expected){
	"Level-4 coverage now": func(t *testing.T, got result, e expected) {
		if e.coverageNow == nil {
			check(t, got, []string{"coverage"}, nil)
			return
		}
		check(t, got, []string{"coverage"}, [][]any{{e.coverageNow}})
	},
	"Units at 100%": func(t *testing.T, got result, e expected) {
		check(t, got, []string{"units"}, [][]any{{e.unitsAtFull}})
	},
	"Virtual assistant live": func(t *testing.T, got result, e expected) {
		check(t, got, []string{"units"}, [][]any{{e.assistantLive}})
	},
	"Coverage against the 40% → 100% trajectory": func(t *testing.T, got result, e expected) {
		var rows [][]any
		for _, d := range e.days {
			rows = append(rows, []any{d.day, d.coverage, d.trajectory}) // the point of a day is its midnight in Vietnam
		}
		check(t, got, []string{"time", "coverage", "trajectory"}, rows)
	},
	"Show the data: national coverage per day": func(t *testing.T, got result, e expected) {
		var rows [][]any
		for _, d := range slices.Backward(e.days) {
			rows = append(rows, []any{d.day.Format(time.DateOnly), d.eligible, d.level4, d.coverage, d.trajectory})
		}
		check(t, got, []string{"date", "eligible", "level4", "coverage", "trajectory"}, rows)
	},
}

// TestPanelSQL runs the SQL of every panel, expanded as Grafana and the plugin would, against a real ClickHouse
// holding the fixture, and compares the answers with the numbers computed from the fixture in Go.
func TestPanelSQL(t *testing.T) {
	ctx := t.Context()
	conn := chdbtest.Conn(t, chdbtest.New(t))
	load(t, ctx, conn)

	dashboards, err := board.All()
	if err != nil {
		t.Fatal(err)
	}
	national, err := board.National()
	if err != nil {
		t.Fatal(err)
	}
	campaignFrom, err1 := time.Parse(time.RFC3339, national.Time.From)
	campaignTo, err2 := time.Parse(time.RFC3339, national.Time.To)
	if err := cmp.Or(err1, err2); err != nil {
		t.Fatal(err)
	}

	ranges := []struct {
		name     string
		from, to time.Time
		check    func(t *testing.T, e expected)
	}{
		{
			// Starts on a Vietnamese midnight that is still the day before in UTC: 28 June must stay out.
			name: "mid-campaign",
			from: vnTime("2021-06-29 00:00:00"),
			to:   vnTime("2021-07-02 23:59:59"),
			check: func(t *testing.T, e expected) {
				// Hand-checked: 2 July, (7+5+2+0)/(12+5+4+0); Thái Nguyên at 100%; Hà Nội and the BNG live.
				if len(e.days) != 4 || !same(e.coverageNow, 100*14.0/21) || e.unitsAtFull != 1 || e.assistantLive != 2 {
					t.Fatalf("the fixture's expectations changed: %+v", e)
				}
			},
		},
		{
			name: "the dashboard's default range",
			from: campaignFrom,
			to:   campaignTo,
			check: func(t *testing.T, e expected) {
				// 3 January 2022, past the deadline: all eligible at level 4, trajectory at the target.
				last := e.days[len(e.days)-1]
				if !same(e.coverageNow, 100.0) || e.unitsAtFull != 3 || e.assistantLive != 3 || last.trajectory != 100.0 {
					t.Fatalf("the fixture's expectations changed: %+v", e)
				}
			},
		},
		{
			name: "before any data",
			from: vnTime("2021-01-01 00:00:00"),
			to:   vnTime("2021-01-31 23:59:59"),
			check: func(t *testing.T, e expected) {
				if len(e.days) != 0 || e.coverageNow != nil || e.assistantLive != 0 {
					t.Fatalf("the fixture's expectations changed: %+v", e)
				}
			},
		},
	}

	for _, r := range ranges {
		t.Run(r.name, func(t *testing.T) {
			e := expect(r.from, r.to)
			r.check(t, e)
			req := chquery.Request{From: r.from, To: r.to, Interval: time.Hour,
				Vars: map[string]string{board.DatasourceVar: board.DatasourceUID}}
			for _, d := range dashboards {
				for _, p := range d.Panels {
					if p.Panel == nil {
						continue
					}
					title := *p.Panel.Title
					t.Run(title, func(t *testing.T) {
						checkPanel, ok := panelChecks[title]
						if !ok {
							t.Fatalf("no check for panel %q: add one to panelChecks", title)
						}
						if len(p.Panel.Targets) != 1 {
							t.Fatalf("%d targets, the checks expect one", len(p.Panel.Targets))
						}
						q := p.Panel.Targets[0].(chquery.Query)
						sql, err := chquery.Expand(q.RawSQL, req)
						if err != nil {
							t.Fatal(err)
						}
						checkPanel(t, query(t, ctx, conn, sql), e)
					})
				}
			}
		})
	}
}
