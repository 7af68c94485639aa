package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/event/eventtest"
	"github.com/egovtrack/egovtrack/internal/units"
	"github.com/egovtrack/egovtrack/projector/store"
)

var hanoi = units.Ref{Kind: units.Province, Code: "01"}

// unchecked is a record of d as the stream would give it had nothing validated it: the envelope its fact derives,
// whatever its times.
func unchecked(t *testing.T, seq uint64, d event.Data) store.Record {
	t.Helper()
	env := eventtest.Unchecked(t, "/egovtrack/test", d)
	return store.Record{Env: env, Data: d, Seq: seq, ReceivedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func registration(code string, at time.Time) *event.ProcedureRegisteredData {
	return &event.ProcedureRegisteredData{Unit: hanoi, Procedure: code, Name: "Đăng ký khai sinh", Sector: "Hộ tịch",
		Eligible: true, Level: 3, EffectiveAt: at}
}

func targetSet(baseline, deadline event.Date, at time.Time) *event.TargetSetData {
	return &event.TargetSetData{Metric: event.MetricLevel4Coverage, Scope: event.National, Baseline: 40,
		BaselineDate: baseline, Target: 100, Deadline: deadline, SetAt: at}
}

// Write never sends ClickHouse a time or a day its DateTime and Date columns cannot hold, which it would store as
// another (1900-01-01 became 2036-02-07): an event holding one, however it got past the contract, is refused as
// ErrUnstorable and quarantined, and the rest of its batch written.
func TestWriteNeverSendsWhatClickHouseCannotHold(t *testing.T) {
	valid := time.Date(2021, 7, 1, 1, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		d    event.Data
	}{
		{"1900-01-01", registration("1.000002", time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC))},
		{"0001-01-01", registration("1.000002", time.Time{})},
		{"1969-12-31", registration("1.000002", time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC))},
		{"1970-01-01 in Vietnam, still 1969 in UTC", registration("1.000002", time.Date(1970, 1, 1, 6, 0, 0, 0, event.Vietnam))},
		{"2106-02-08", registration("1.000002", time.Date(2106, 2, 8, 0, 0, 0, 0, time.UTC))},
		{"a day after 2105", registration("1.000002", time.Date(2106, 1, 1, 0, 0, 0, 0, event.Vietnam))},
		{"a deadline of 2150-01-01", targetSet("2021-06-30", "2150-01-01", valid)},
		{"a baseline of 1969-12-31", targetSet("1969-12-31", "2021-12-31", valid)},
	}
	s, conn := openStore(t)
	for _, c := range cases {
		batch := []store.Record{unchecked(t, 1, registration("1.000001", valid)), unchecked(t, 2, c.d)}
		w, err := s.WriteBatch(context.Background(), batch, nil)
		if err != nil || len(w.Refused) != 1 || w.Refused[0].Seq != 2 || !strings.Contains(w.Refused[0].Reason, store.ErrUnstorable.Error()) {
			t.Errorf("%s: WriteBatch = %+v, %v; want the event refused as %v, the other written", c.name, w, err, store.ErrUnstorable)
		}
	}
	// The valid registration is written (once: the same event each time); nothing of the others reached a table.
	for table, want := range map[string]uint64{"events": 1, "procedure_changes": 1, "procedures": 1, "targets": 0} {
		if n := count(t, conn, "SELECT count() FROM "+table+" FINAL"); n != want {
			t.Errorf("%s holds %d rows, want %d", table, n, want)
		}
	}
	if n := count(t, conn, "SELECT count() FROM coverage_daily WHERE day < '2021-07-01' OR day > '2021-07-01'"); n != 0 {
		t.Errorf("coverage_daily holds %d rows of days the valid event does not make", n)
	}
	if n := count(t, conn, "SELECT count() FROM quarantine FINAL"); n != 1 {
		t.Errorf("quarantine holds %d, want the one refused event (its stream sequence, 2, each time)", n)
	}
}

// The contract's time domain lies within what the tables hold: events at its bounds are written and read back as
// they were, on ClickHouse 18.16, whose calendar is the shortest (it reads no day after 2105-12-31).
func TestTheTimeDomainFitsClickHouse(t *testing.T) {
	s, conn := openStore(t)
	latest := event.Latest().Truncate(time.Second) // DateTime keeps seconds
	recs := []store.Record{
		unchecked(t, 1, registration("1.000001", event.Earliest)),
		unchecked(t, 2, targetSet(event.FirstDay, event.LastDay, event.Earliest)),
		unchecked(t, 3, &event.ReportSubmittedData{Unit: hanoi, Collector: "sheet", ReportedAt: latest}),
	}
	for _, r := range recs {
		if _, err := r.Env.Decode(); err != nil {
			t.Fatalf("the contract refuses %s: %v", r.Env.Type, err)
		}
	}
	if err := s.Write(context.Background(), recs, nil); err != nil {
		t.Fatal(err)
	}
	var (
		effective, setAt, reportedAt         time.Time
		day, baseline, deadline, coverageDay string
	)
	ctx := context.Background()
	for _, q := range []struct {
		sql  string
		dest []any
	}{
		{"SELECT effective_at, toString(day) FROM procedure_changes", []any{&effective, &day}},
		{"SELECT set_at, toString(baseline_date), toString(deadline) FROM targets", []any{&setAt, &baseline, &deadline}},
		{"SELECT reported_at FROM reports", []any{&reportedAt}},
		{"SELECT toString(max(day)) FROM coverage_daily", []any{&coverageDay}},
	} {
		if err := conn.QueryRow(ctx, q.sql).Scan(q.dest...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	if !effective.Equal(event.Earliest) || day != string(event.FirstDay) || coverageDay != string(event.FirstDay) {
		t.Errorf("registered effective %s on %s, covered until %s; want %s on %s", effective, day, coverageDay, event.Earliest, event.FirstDay)
	}
	if !setAt.Equal(event.Earliest) || baseline != string(event.FirstDay) || deadline != string(event.LastDay) {
		t.Errorf("target set at %s from %s to %s; want %s from %s to %s", setAt, baseline, deadline, event.Earliest, event.FirstDay, event.LastDay)
	}
	if !reportedAt.Equal(latest) {
		t.Errorf("reported at %s, want %s", reportedAt, latest)
	}
}
