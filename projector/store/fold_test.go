package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/egovtrack/egovtrack/internal/coverage"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
	"github.com/egovtrack/egovtrack/projector/store"
)

// smallHistory is three units' changes in time order, numbered as the stream would: registrations, two changes of
// a day, a retirement and a re-registration under a new name, changes of two units at one instant, and a change of
// a procedure before its registration.
func smallHistory(t *testing.T) []store.Record {
	t.Helper()
	at := func(s string) time.Time {
		v, err := time.ParseInLocation(time.DateTime, s, event.Vietnam)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	p01, p02, p04 := units.Ref{Kind: units.Province, Code: "01"}, units.Ref{Kind: units.Province, Code: "02"}, units.Ref{Kind: units.Province, Code: "04"}
	reg := func(u units.Ref, proc, name string, eligible bool, level event.Level, when string) event.Data {
		return &event.ProcedureRegisteredData{Unit: u, Procedure: proc, Name: name, Sector: "Hộ tịch", Eligible: eligible, Level: level, EffectiveAt: at(when)}
	}
	lvl := func(u units.Ref, proc string, from, to event.Level, when string) event.Data {
		return &event.LevelChangedData{Unit: u, Procedure: proc, From: from, To: to, EffectiveAt: at(when)}
	}
	ds := []event.Data{
		reg(p01, "1.000001", "Đăng ký khai sinh", true, 3, "2021-07-01 08:00:00"),
		reg(p02, "1.000001", "Đăng ký khai sinh", true, 4, "2021-07-01 09:00:00"),
		reg(p01, "1.000002", "Đăng ký kết hôn", true, 4, "2021-07-01 10:00:00"),
		lvl(p01, "1.000001", 3, 4, "2021-07-03 09:00:00"),
		reg(p04, "1.000001", "Đăng ký khai sinh", false, 4, "2021-07-03 10:00:00"),
		lvl(p01, "1.000001", 4, 3, "2021-07-03 17:00:00"),
		&event.ProcedureRetiredData{Unit: p01, Procedure: "1.000002", Reason: "merged", EffectiveAt: at("2021-07-05 08:00:00")},
		lvl(p02, "1.000001", 4, 3, "2021-07-05 08:00:00"),
		reg(p01, "1.000002", "Đăng ký kết hôn (mới)", true, 4, "2021-07-06 08:00:00"),
		lvl(p01, "1.000001", 3, 4, "2021-07-08 08:00:00"),
		lvl(p02, "1.000001", 3, 4, "2021-07-08 08:00:00"),
		lvl(p01, "1.000003", 3, 4, "2021-07-09 08:00:00"),
		reg(p01, "1.000003", "Đăng ký thường trú", true, 3, "2021-07-10 08:00:00"),
	}
	recs := make([]store.Record, len(ds))
	for i, d := range ds {
		env, err := event.New("/test", d)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		recs[i] = store.Record{Env: env, Data: d, Seq: uint64(i + 1), ReceivedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	}
	return recs
}

// derivedRows is what the folds write, versions included: coverage_daily and procedures after FINAL.
func derivedRows(t *testing.T, conn driver.Conn) []string {
	t.Helper()
	var out []string
	for _, q := range []string{
		`SELECT concat(unit_kind, '/', unit_code, ' ', toString(day), ' ', toString(procedures), ' ', toString(eligible), ' ', toString(level4), ' v', toString(version))
FROM coverage_daily FINAL ORDER BY unit_kind, unit_code, day`,
		`SELECT concat(unit_kind, '/', unit_code, ' ', procedure_code, ' ', name, ' ', sector, ' ', toString(eligible), ' ', toString(level), ' ', toString(active), ' ', toString(effective_at), ' v', toString(version))
FROM procedures FINAL ORDER BY unit_kind, unit_code, procedure_code`,
	} {
		rows, err := conn.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// deliver writes recs in batches of the given sizes, the last size repeating; with reread, the store forgets its
// folds after every batch, so that each batch folds its units from their stored changes, as every batch did before
// the store kept folds.
func deliver(t *testing.T, s *store.Store, recs []store.Record, sizes []int, reread bool) {
	t.Helper()
	for i := 0; len(recs) > 0; i++ {
		n := min(sizes[min(i, len(sizes)-1)], len(recs))
		if err := s.Write(context.Background(), recs[:n], nil); err != nil {
			t.Fatalf("write batch %d: %v", i, err)
		}
		if reread {
			s.ForgetFolds()
		}
		recs = recs[n:]
	}
}

// unitBatches counts, for events delivered in time order in batches of the given sizes, the units that are in a
// batch after one of their earlier batches (which the folds must take without reading back) and the distinct units.
func unitBatches(recs []store.Record, sizes []int) (later, distinct int) {
	seen := map[units.Ref]bool{}
	for i := 0; len(recs) > 0; i++ {
		n := min(sizes[min(i, len(sizes)-1)], len(recs))
		inBatch := map[units.Ref]bool{}
		for _, r := range recs[:n] {
			if c, ok := coverage.FromEvent(r.Data, r.Seq); ok {
				inBatch[c.Unit] = true
			}
		}
		for u := range inBatch {
			if seen[u] {
				later++
			} else {
				distinct++
			}
			seen[u] = true
		}
		recs = recs[n:]
	}
	return later, distinct
}

// The folds kept between batches write what folding every unit from its stored changes at every batch writes, and
// what a fold of all the events in Go gives: in order, out of order, with repeats, split at every boundary.
func TestFoldsWriteWhatReadingBackWrites(t *testing.T) {
	small := smallHistory(t)
	large := records(t, 3)
	rng := rand.New(rand.NewPCG(8, 9))

	type test struct {
		name     string
		events   []store.Record // each event once, for the expected tables
		delivery []store.Record // as delivered: reordered, repeated
		sizes    []int
		// inOrder says each unit's changes arrive in time order, each once: every batch of a unit after its first
		// must extend its fold, and only a unit's first batch may read its changes back.
		inOrder bool
	}
	tests := []test{
		{name: "in order, one at a time", events: small, delivery: small, sizes: []int{1}, inOrder: true},
		{name: "in order, all at once", events: small, delivery: small, sizes: []int{len(small)}, inOrder: true},
		{name: "large, in order", events: large, delivery: large, sizes: []int{500}, inOrder: true},
	}
	for k := 1; k < len(small); k++ {
		tests = append(tests, test{name: fmt.Sprintf("split after %d", k), events: small, delivery: small, sizes: []int{k, len(small)}, inOrder: true})
	}
	late := slices.Concat(small[:3], small[4:], small[3:4]) // an early level change arrives last
	tests = append(tests, test{name: "a late change", events: small, delivery: late, sizes: []int{2}})
	repeated := slices.Concat(small[:7], small[5:9], small[2:4], small[9:]) // redelivered across batches
	tests = append(tests, test{name: "repeats across batches", events: small, delivery: repeated, sizes: []int{3}})
	within := slices.Concat(small[:5], small[4:5], small[5:]) // redelivered within a batch
	tests = append(tests, test{name: "a repeat within a batch", events: small, delivery: within, sizes: []int{6}})
	shuffled := slices.Clone(large)
	for range len(large) / 10 {
		shuffled = append(shuffled, large[rng.IntN(len(large))])
	}
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	tests = append(tests, test{name: "large, shuffled with repeats", events: large, delivery: shuffled, sizes: []int{1 + rng.IntN(300), 1 + rng.IntN(300), 1 + rng.IntN(700)}})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var folded, reread []string
			t.Run("folds", func(t *testing.T) {
				s, conn := openStore(t)
				deliver(t, s, tt.delivery, tt.sizes, false)
				folded = derivedRows(t, conn)
				diffRows(t, readCoverage(t, conn), expected(tt.events))
				checkProcedures(t, conn, tt.events)
				extended, reloaded := s.FoldCounts()
				if tt.inOrder {
					later, distinct := unitBatches(tt.delivery, tt.sizes)
					if extended != later || reloaded != distinct {
						t.Errorf("extended folds %d times and read units back %d times, want %d and %d", extended, reloaded, later, distinct)
					}
				} else if reloaded == 0 {
					t.Errorf("never read a unit back, though changes arrived out of order")
				}
			})
			t.Run("reading back", func(t *testing.T) {
				s, conn := openStore(t)
				deliver(t, s, tt.delivery, tt.sizes, true)
				reread = derivedRows(t, conn)
			})
			if !slices.Equal(folded, reread) {
				for i := range min(len(folded), len(reread)) {
					if folded[i] != reread[i] {
						t.Fatalf("row %d: the folds wrote %q, reading back wrote %q", i, folded[i], reread[i])
					}
				}
				t.Fatalf("the folds wrote %d rows, reading back %d", len(folded), len(reread))
			}
			if len(folded) == 0 {
				t.Fatal("nothing written")
			}
		})
	}
}

// A batch whose write fails after the folds took it, redelivered with the batches after it, ends in what a store
// that never failed writes.
func TestFoldsAfterAFailedWrite(t *testing.T) {
	recs := smallHistory(t)
	var kill bool
	s, conn := openStoreWith(t, store.Config{BeforeRows: killed(&kill, "before writing the folds' rows")})
	deliver(t, s, recs[:4], []int{2}, false)
	kill = true
	if err := s.Write(context.Background(), recs[4:9], nil); err == nil {
		t.Fatal("the hooked write did not fail")
	}
	kill = false
	deliver(t, s, recs[4:], []int{5, 1}, false)
	diffRows(t, readCoverage(t, conn), expected(recs))
	checkProcedures(t, conn, recs)
}
