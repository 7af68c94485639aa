package board_test

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/egovtrack/egovtrack/dashboards/board"
	"github.com/egovtrack/egovtrack/dashboards/chquery"
	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
	"github.com/egovtrack/egovtrack/projector/migrations"
)

// The ingestion-lag panels read the counts that migrations 0002 and 0005 keep, not events. These are the queries
// they replaced, over events itself, with lags of an hour or more rounded up to whole hours as 0005 counts them; the
// test holds both to the same answers.
const lagOfEvents = `(
    SELECT
        received_at,
        toInt64(projected_at) - toInt64(received_at) AS exact_lag,
        if(exact_lag < 3600, exact_lag, intDiv(exact_lag + 3599, 3600) * 3600) AS lag
    FROM events FINAL
    WHERE $__timeFilter(received_at)
)`

var lagBefore = map[string]string{
	"Ingestion lag, worst": `SELECT max(lag) AS max_lag
FROM ` + lagOfEvents + `
HAVING count() > 0`,
	"Ingestion lag": `SELECT
    toDateTime(intDiv(toUInt32(received_at), $__interval_s) * $__interval_s, 'Asia/Ho_Chi_Minh') AS time,
    avg(lag) AS avg_lag,
    max(lag) AS max_lag
FROM ` + lagOfEvents + `
GROUP BY time
ORDER BY time`,
	"Show the data: ingestion lag per day": `SELECT
    toString(toDate(received_at, 'Asia/Ho_Chi_Minh')) AS date,
    count() AS events,
    avg(lag) AS avg_lag,
    quantile(0.95)(lag) AS p95_lag,
    max(lag) AS max_lag
FROM ` + lagOfEvents + `
GROUP BY date
ORDER BY date DESC`,
}

// TestLagPanelsEqualEventsFinal writes events straight into the raw log, several to a second and in several inserts
// as the store does, with lags from none to hours and days, and compares every lag panel with the query over events it
// replaced: time ranges whose edges fall inside hours and on them, shorter than an hour, and intervals of seconds,
// minutes, whole hours and hours and a bit (which the hourly counts cannot serve). Fewer than 8,192 events a day,
// the most that ClickHouse's quantile counts exactly.
func TestLagPanelsEqualEventsFinal(t *testing.T) {
	cfg := chdbtest.New(t)
	conn := chdbtest.Conn(t, cfg)
	ctx := t.Context()
	if _, err := migrations.Apply(ctx, conn, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2021, 6, 1, 16, 20, 0, 0, time.UTC) // 23:20 in Vietnam: days change within the data
	rng := rand.New(rand.NewPCG(7, 7))
	seq := uint64(0)
	for range 6 {
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO events (id, type, source, submitted_by, subject, unit_kind, unit_code, time, data, stream_seq, received_at, projected_at)")
		if err != nil {
			t.Fatal(err)
		}
		for range 700 {
			seq++
			received := start.Add(time.Duration(rng.IntN(3*24*3600)) * time.Second)
			lag := time.Duration(rng.IntN(30)) * time.Second
			switch rng.IntN(20) {
			case 0:
				lag = time.Duration(rng.IntN(4*3600)) * time.Second
			case 1: // projected again by a rebuild, days later
				lag = time.Duration(3*24*3600+rng.IntN(3*24*3600)) * time.Second
			}
			if err := batch.Append(uuid.New(), "gov.vn.egov.procedure.level_changed", "test", "test", "province/01", "province", "01",
				received, "{}", seq, received, received.Add(lag)); err != nil {
				t.Fatal(err)
			}
		}
		if err := batch.Send(); err != nil {
			t.Fatal(err)
		}
	}

	panels := panelSQL(t, board.HealthUID)
	ranges := []struct{ from, to time.Time }{
		{start, start.Add(3 * 24 * time.Hour)},
		{start.Add(-time.Hour), start.Add(4 * 24 * time.Hour)},
		{start.Add(37*time.Hour + 59*time.Second), start.Add(61*time.Hour + 1234*time.Second)},
		{start.Add(40*time.Minute + 1*time.Second), start.Add(41*time.Minute + 1*time.Second)},
		{start.Add(20 * time.Hour), start.Add(20*time.Hour + 40*time.Minute)},
	}
	intervals := []time.Duration{time.Second, 10 * time.Minute, time.Hour, 12 * time.Hour, 3*time.Hour + 7*time.Second}
	for title, before := range lagBefore {
		after, ok := panels[title]
		if !ok {
			t.Fatalf("the health dashboard has no panel %q", title)
		}
		for _, r := range ranges {
			for _, iv := range intervals {
				t.Run(fmt.Sprintf("%s/%s+%s/%s", title, r.from.Sub(start), r.to.Sub(r.from), iv), func(t *testing.T) {
					req := chquery.Request{From: r.from, To: r.to, Interval: iv}
					want := run(t, conn, expand(t, before, req))
					got := run(t, conn, expand(t, after, req))
					compareColumns(t, got, want.columns)
					compareRows(t, got, want.rows)
				})
			}
		}
	}
}

// panelSQL returns the SQL of every panel of a dashboard by title.
func panelSQL(t *testing.T, uid string) map[string]string {
	t.Helper()
	dashboards, err := board.All()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range dashboards {
		if d.Uid == nil || *d.Uid != uid {
			continue
		}
		for _, p := range d.Panels {
			if p.Panel == nil {
				continue
			}
			for _, tg := range p.Panel.Targets {
				if q, ok := tg.(chquery.Query); ok {
					out[*p.Panel.Title] = q.RawSQL
				}
			}
		}
	}
	return out
}

func expand(t *testing.T, sql string, req chquery.Request) string {
	t.Helper()
	out, err := chquery.Expand(sql, req)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A rebuilt history (every event projected at once, years after JetStream stored it) gives every event a lag of its
// own to the second. The counts must stay bounded by the hours of receipt, not grow with the events, or the lag
// panels read the whole history again; and the worst lag they give is the true one rounded up to the hour.
func TestRebuiltHistoryCountsHoursNotEvents(t *testing.T) {
	cfg := chdbtest.New(t)
	conn := chdbtest.Conn(t, cfg)
	ctx := t.Context()
	if _, err := migrations.Apply(ctx, conn, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC)
	rebuiltAt := time.Date(2026, 12, 4, 5, 30, 17, 0, time.UTC)
	const events, days = 20000, 30
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO events (id, type, source, submitted_by, subject, unit_kind, unit_code, time, data, stream_seq, received_at, projected_at)")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 9))
	hours := map[int64]bool{}
	var worst int64
	for seq := range uint64(events) {
		received := start.Add(time.Duration(rng.IntN(days*24*3600)) * time.Second)
		hours[received.Unix()/3600] = true
		if l := rebuiltAt.Unix() - received.Unix(); l > worst {
			worst = l
		}
		if err := batch.Append(uuid.New(), "gov.vn.egov.procedure.level_changed", "test", "test", "province/01", "province", "01",
			received, "{}", seq+1, received, rebuiltAt); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	var rows uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM (SELECT hour, lag FROM ingestion_lag_hourly GROUP BY hour, lag)").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows > uint64(2*len(hours)) {
		t.Errorf("the hourly counts hold %d (hour, lag) pairs for %d events in %d hours: want at most two an hour", rows, events, len(hours))
	}
	worstHours := (worst + 3599) / 3600 * 3600
	panels := panelSQL(t, board.HealthUID)
	got := run(t, conn, expand(t, panels["Ingestion lag, worst"], chquery.Request{From: start, To: start.Add(days * 24 * time.Hour), Interval: time.Hour}))
	if len(got.rows) != 1 || fmt.Sprint(got.rows[0][0]) != fmt.Sprint(float64(worstHours)) {
		t.Errorf("worst lag %v, want %d s (%d s rounded up to the hour)", got.rows, worstHours, worst)
	}
}
