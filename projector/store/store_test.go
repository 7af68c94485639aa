package store_test

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/egovtrack/egovtrack/collectors/simulate"
	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
	"github.com/egovtrack/egovtrack/internal/coverage"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
	"github.com/egovtrack/egovtrack/projector/store"
)

func TestMain(m *testing.M) { chdbtest.Main(m) }

func openStore(t *testing.T) (*store.Store, driver.Conn) {
	t.Helper()
	return openStoreWith(t, store.Config{})
}

// openStoreWith opens a store with cfg on a database of its own.
func openStoreWith(t *testing.T, cfg store.Config) (*store.Store, driver.Conn) {
	t.Helper()
	conn := chdbtest.Conn(t, chdbtest.New(t))
	s, err := store.Open(context.Background(), conn, slog.New(slog.DiscardHandler), cfg)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return s, conn
}

// killed returns a hook for store.Config (AfterCarry, BeforeRows) that fails the writes made while *on is set, as a
// projector killed at that point of the write.
func killed(on *bool, where string) func() error {
	return func() error {
		if *on {
			return errors.New("killed " + where)
		}
		return nil
	}
}

// records simulates a few units and numbers the events as the stream would.
func records(t *testing.T, n int) []store.Record {
	t.Helper()
	o := simulate.Campaign2021(99)
	all := units.All()
	o.Units = []units.Unit{all[0], all[11], all[62], all[len(all)-10]}[:n]
	envs, err := simulate.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]store.Record, len(envs))
	for i, env := range envs {
		d, err := env.Decode()
		if err != nil {
			t.Fatal(err)
		}
		recs[i] = store.Record{Env: env, Data: d, Seq: uint64(i + 1), ReceivedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	}
	return recs
}

func write(t *testing.T, s *store.Store, recs []store.Record, sizes func() int) {
	t.Helper()
	for len(recs) > 0 {
		n := min(sizes(), len(recs))
		if err := s.Write(context.Background(), recs[:n], nil); err != nil {
			t.Fatalf("write batch: %v", err)
		}
		recs = recs[n:]
	}
}

type dayRow struct {
	unit                    string
	day                     string
	procs, eligible, level4 uint32
}

func readCoverage(t *testing.T, conn driver.Conn) []dayRow {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT concat(unit_kind, '/', unit_code), toString(day), procedures, eligible, level4
FROM coverage_daily FINAL ORDER BY unit_kind, unit_code, day`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []dayRow
	for rows.Next() {
		var r dayRow
		if err := rows.Scan(&r.unit, &r.day, &r.procs, &r.eligible, &r.level4); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// expected folds the events straight in Go, without ClickHouse.
func expected(recs []store.Record) []dayRow {
	var cs []coverage.Change
	last := time.Time{}
	for _, r := range recs {
		if c, ok := coverage.FromEvent(r.Data, r.Seq); ok {
			cs = append(cs, c)
			if c.EffectiveAt.After(last) {
				last = c.EffectiveAt
			}
		}
	}
	var out []dayRow
	for u, series := range coverage.Daily(cs, last) {
		for _, d := range series {
			out = append(out, dayRow{u.String(), d.Day.Format(event.DateLayout), uint32(d.Procedures), uint32(d.Eligible), uint32(d.Level4)})
		}
	}
	slices.SortFunc(out, func(a, b dayRow) int {
		if a.unit != b.unit {
			return compare(a.unit, b.unit)
		}
		return compare(a.day, b.day)
	})
	return out
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func diffRows(t *testing.T, got, want []dayRow) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("coverage_daily has %d rows, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("coverage_daily row %d is %+v, want %+v", i, got[i], want[i])
		}
	}
}

func count(t *testing.T, conn driver.Conn, q string) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestWriteInOrder(t *testing.T) {
	recs := records(t, 4)
	s, conn := openStore(t)
	write(t, s, recs, func() int { return 700 })
	diffRows(t, readCoverage(t, conn), expected(recs))
	if n := count(t, conn, "SELECT count() FROM events FINAL"); n != uint64(len(recs)) {
		t.Errorf("events holds %d rows, want %d", n, len(recs))
	}
	checkProcedures(t, conn, recs)
}

// Projections depend on the set of events, not on their order, batching or repetition.
func TestWriteShuffledWithDuplicates(t *testing.T) {
	recs := records(t, 3)
	rng := rand.New(rand.NewPCG(5, 6))
	shuffled := slices.Clone(recs)
	for range len(recs) / 10 {
		shuffled = append(shuffled, recs[rng.IntN(len(recs))])
	}
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	s, conn := openStore(t)
	write(t, s, shuffled, func() int { return 1 + rng.IntN(900) })
	diffRows(t, readCoverage(t, conn), expected(recs))
	if n := count(t, conn, "SELECT count() FROM events"); n != uint64(len(recs)) {
		t.Errorf("events holds %d rows, want %d distinct events, each once", n, len(recs))
	}
	checkProcedures(t, conn, recs)
}

func checkProcedures(t *testing.T, conn driver.Conn, recs []store.Record) {
	t.Helper()
	var cs []coverage.Change
	for _, r := range recs {
		if c, ok := coverage.FromEvent(r.Data, r.Seq); ok {
			cs = append(cs, c)
		}
	}
	want := map[string]coverage.State{}
	for u, ps := range coverage.Current(cs) {
		for code, st := range ps {
			want[u.String()+" "+code] = st
		}
	}
	rows, err := conn.Query(context.Background(), "SELECT concat(unit_kind, '/', unit_code, ' ', procedure_code), eligible, level, active FROM procedures FINAL")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var key string
		var eligible, level, active uint8
		if err := rows.Scan(&key, &eligible, &level, &active); err != nil {
			t.Fatal(err)
		}
		n++
		w, ok := want[key]
		got := coverage.State{Registered: true, Active: active == 1, Eligible: eligible == 1, Level: event.Level(level)}
		if !ok || got != w {
			t.Fatalf("procedure %s is %+v, want %+v", key, got, w)
		}
	}
	if n != len(want) {
		t.Errorf("procedures holds %d rows, want %d", n, len(want))
	}
}

func TestVietnameseDay(t *testing.T) {
	hanoi := units.Ref{Kind: units.Province, Code: "01"}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation(time.DateTime, s, event.Vietnam)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	ds := []event.Data{
		&event.ProcedureRegisteredData{Unit: hanoi, Procedure: "1.000001", Name: "Đăng ký khai sinh", Sector: "Hộ tịch", Eligible: true, Level: 3, EffectiveAt: at("2021-12-31 10:00:00")},
		// 03:00 on 1 January in Vietnam is still 31 December in UTC.
		&event.LevelChangedData{Unit: hanoi, Procedure: "1.000001", From: 3, To: 4, EffectiveAt: at("2022-01-01 03:00:00")},
	}
	var recs []store.Record
	for i, d := range ds {
		env, err := event.New("/test", d)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, store.Record{Env: env, Data: d, Seq: uint64(i + 1), ReceivedAt: time.Now()})
	}
	s, conn := openStore(t)
	write(t, s, recs, func() int { return 1 })
	want := []dayRow{{"province/01", "2021-12-31", 1, 1, 0}, {"province/01", "2022-01-01", 1, 1, 1}}
	diffRows(t, readCoverage(t, conn), want)
}

func TestRejectedMessagesAreQuarantined(t *testing.T) {
	s, conn := openStore(t)
	rej := []store.Rejected{{Seq: 7, Subject: "egov.province.01.proc.1_000001", Payload: []byte("{not json"), Reason: "decode envelope: invalid character", ReceivedAt: time.Now()}}
	for range 2 { // redelivered: still one row
		if err := s.Write(context.Background(), nil, rej); err != nil {
			t.Fatal(err)
		}
	}
	var reason, payload string
	if err := conn.QueryRow(context.Background(), "SELECT reason, payload FROM quarantine FINAL WHERE stream_seq = 7").Scan(&reason, &payload); err != nil {
		t.Fatal(err)
	}
	if reason != rej[0].Reason || payload != "{not json" {
		t.Errorf("quarantine holds (%q, %q), want the message and its reason", reason, payload)
	}
	if n := count(t, conn, "SELECT count() FROM quarantine FINAL"); n != 1 {
		t.Errorf("quarantine holds %d rows, want 1", n)
	}
}

// A batch cut short after its derived rows but before its raw events (a crash, an outage) and then redelivered is
// written in full, once.
func TestWriteAfterABatchCutShort(t *testing.T) {
	recs := records(t, 2)
	s, conn := openStore(t)
	half := len(recs) / 2
	write(t, s, recs[:half], func() int { return 400 })
	if err := s.WriteAllButEvents(context.Background(), recs[half:]); err != nil {
		t.Fatal(err)
	}
	write(t, s, recs[half-100:], func() int { return 400 }) // redelivered, with some already written
	diffRows(t, readCoverage(t, conn), expected(recs))
	if n := count(t, conn, "SELECT count() FROM events"); n != uint64(len(recs)) {
		t.Errorf("events holds %d rows, want each of the %d events once", n, len(recs))
	}
	if n := count(t, conn, "SELECT uniqExact(id) FROM events"); n != uint64(len(recs)) {
		t.Errorf("events holds %d distinct ids, want %d", n, len(recs))
	}
	checkProcedures(t, conn, recs)
}

// A write killed after it carried the untouched units forward, and then redelivered, leaves no gap in the touched
// units' daily series (it once did: the touched units were written only from their first change in the batch).
func TestWriteKilledAfterCarryingForward(t *testing.T) {
	ctx := context.Background()
	at := func(s string) time.Time {
		v, err := time.ParseInLocation(time.DateTime, s, event.Vietnam)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	var recs []store.Record
	add := func(d event.Data) {
		env, err := event.New("/test", d)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, store.Record{Env: env, Data: d, Seq: uint64(len(recs) + 1), ReceivedAt: time.Now()})
	}
	for _, code := range []string{"01", "02", "04"} {
		add(&event.ProcedureRegisteredData{Unit: units.Ref{Kind: units.Province, Code: code}, Procedure: "1.000001",
			Name: "Đăng ký khai sinh", Sector: "Hộ tịch", Eligible: true, Level: 3, EffectiveAt: at("2021-06-30 09:00:00")})
	}
	hanoi := units.Ref{Kind: units.Province, Code: "01"}
	add(&event.LevelChangedData{Unit: hanoi, Procedure: "1.000001", From: 3, To: 4, EffectiveAt: at("2021-07-05 09:00:00")})
	add(&event.LevelChangedData{Unit: hanoi, Procedure: "1.000001", From: 4, To: 3, EffectiveAt: at("2021-07-10 09:00:00")})

	var kill bool
	s, conn := openStoreWith(t, store.Config{AfterCarry: killed(&kill, "after carrying coverage forward")})
	write(t, s, recs[:3], func() int { return 3 })
	kill = true
	if err := s.Write(ctx, recs[3:], nil); err == nil {
		t.Fatal("the hooked write did not fail")
	}
	kill = false
	write(t, s, recs[3:], func() int { return 2 }) // the redelivery
	diffRows(t, readCoverage(t, conn), expected(recs))
}
