package store_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
	"github.com/egovtrack/egovtrack/internal/chsql"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
	"github.com/egovtrack/egovtrack/projector/migrations"
	"github.com/egovtrack/egovtrack/projector/store"
)

// TestYearsOfHistoryThenToday: every unit reports through 2020 and 2021, one of them only once, at the start; years
// later that one reports again, today. Carrying the 84 others from their last day (31 December 2021) to today is
// the work of the batch: about 150,000 rows, written by one statement that reads their 84 last rows. It once read the
// whole table and made every row's days first (134 million array elements), and failed on every retry, for every
// unit, for good. The batch must be written, in bounded time and memory, and every unit must stand today as it
// stood at its last report.
func TestYearsOfHistoryThenToday(t *testing.T) {
	ctx := context.Background()
	s, conn := openStore(t)
	vn := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, event.Vietnam) }
	all := units.All()
	silent := all[len(all)-1].Ref // reports on 1 January 2020, then not until today

	var recs []store.Record
	add := func(d event.Data) {
		env, err := event.New("/egovtrack/test", d)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, store.Record{Env: env, Data: d, Seq: uint64(len(recs) + 1), ReceivedAt: time.Now()})
	}
	for _, u := range all {
		add(&event.ProcedureRegisteredData{Unit: u.Ref, Procedure: "1.000001", Name: "Đăng ký khai sinh", Sector: "Hộ tịch",
			Eligible: true, Level: 3, EffectiveAt: vn(2020, 1, 1, 9)})
		if u.Ref != silent {
			add(&event.LevelChangedData{Unit: u.Ref, Procedure: "1.000001", From: 3, To: 4, EffectiveAt: vn(2021, 12, 31, 10)})
		}
	}
	write(t, s, recs, func() int { return 5000 })
	history := count(t, conn, "SELECT count() FROM coverage_daily FINAL")
	if want := uint64(len(all) * 731); history != want { // 2020 was a leap year
		t.Fatalf("%d rows of coverage after two years, want %d", history, want)
	}

	now := time.Now()
	today, err := event.DateOf(now).Time()
	if err != nil {
		t.Fatal(err)
	}
	add(&event.LevelChangedData{Unit: silent, Procedure: "1.000001", From: 3, To: 4, EffectiveAt: now.Add(-time.Minute)})
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	began := time.Now()
	if err := s.Write(ctx, recs[len(recs)-1:], nil); err != nil {
		t.Fatalf("the event of today was not written: %v", err)
	}
	took := time.Since(began)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("today's event written in %s, %d MB allocated, over %d rows of history", took.Round(time.Millisecond), allocated>>20, history)
	// Bounds far above what it takes (about a second and a few MB on 2 cores), far below what reading or making
	// everything takes.
	if took > time.Minute || allocated > 256<<20 {
		t.Errorf("writing one event took %s and allocated %d MB", took, allocated>>20)
	}

	days := uint64(today.Sub(time.Date(2020, 1, 1, 0, 0, 0, 0, event.Vietnam)).Hours()/24) + 1
	if n := count(t, conn, "SELECT count() FROM coverage_daily FINAL"); n != uint64(len(all))*days {
		t.Errorf("%d rows of coverage, want %d units × %d days", n, len(all), days)
	}
	q := fmt.Sprintf("SELECT countIf(procedures = 1 AND eligible = 1 AND level4 = 1) FROM coverage_daily FINAL WHERE day = toDate('%s')", today.Format(event.DateLayout))
	if n := count(t, conn, q); n != uint64(len(all)) {
		t.Errorf("%d units at 100%% today, want all %d: each stands as at its last report", n, len(all))
	}
	q = fmt.Sprintf("SELECT countIf(level4 = 0) FROM coverage_daily FINAL WHERE unit_kind = '%s' AND unit_code = '%s' AND day < toDate('%s')", silent.Kind, silent.Code, today.Format(event.DateLayout))
	if n := count(t, conn, q); n != days-1 {
		t.Errorf("the silent unit is below 100%% on %d days before today, want every one of %d", n, days-1)
	}
}

// A database projected before event ids changed rule keys its events by their old ids: writing them again would
// store each twice. Open refuses it, saying to rebuild; a database of the current rule, or an empty old one, opens.
func TestOpenRefusesADatabaseOfOldIDs(t *testing.T) {
	ctx := context.Background()
	old := func(t *testing.T, withEvents bool) driver.Conn {
		conn := chdbtest.Conn(t, chdbtest.New(t))
		ms, err := migrations.All()
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.Exec(ctx, chsql.CreateMigrationsTable.SQL); err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.Version >= migrations.CurrentIDs {
				break // what a projector of before December 2026 applied
			}
			for _, stmt := range m.Statements {
				if err := conn.Exec(ctx, stmt); err != nil {
					t.Fatal(err)
				}
			}
			if err := conn.Exec(ctx, chsql.RecordMigration.SQL, m.Version, m.Name); err != nil {
				t.Fatal(err)
			}
		}
		if withEvents {
			if err := conn.Exec(ctx, "INSERT INTO events (id, type, source, submitted_by, subject, unit_kind, unit_code, time, data, stream_seq, received_at) "+
				"SELECT generateUUIDv4(), 'gov.egov.report.submitted.v1', '/old', '/old', 'egov.province.19.report', 'province', '19', now(), '{}', 1, now()"); err != nil {
				t.Fatal(err)
			}
		}
		return conn
	}
	if _, err := store.Open(ctx, old(t, true), slog.New(slog.DiscardHandler), store.Config{}); !errors.Is(err, store.ErrOldIDs) {
		t.Errorf("Open of a database of old ids = %v, want ErrOldIDs", err)
	}
	if _, err := store.Open(ctx, old(t, false), slog.New(slog.DiscardHandler), store.Config{}); err != nil {
		t.Errorf("Open of an empty database of before: %v", err)
	}
	s, conn := openStore(t)
	write(t, s, records(t, 1)[:10], func() int { return 10 })
	if _, err := store.Open(ctx, conn, slog.New(slog.DiscardHandler), store.Config{}); err != nil {
		t.Errorf("Open of a database of the current ids, again: %v", err)
	}
}
