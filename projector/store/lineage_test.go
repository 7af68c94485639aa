package store_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
	"github.com/egovtrack/egovtrack/projector/store"
)

// Holdings follows a merged unit's procedures to whoever holds them each day: merges, a split, a chain of two
// mergers, a unit merged twice (the first counts), a successor keeping its code, and a cycle (which must end).
func TestHoldings(t *testing.T) {
	p := func(c string) units.Ref { return units.Ref{Kind: units.Province, Code: c} }
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	main := func(from, to, on string) store.Edge {
		return store.Edge{Predecessor: p(from), Successor: p(to), EffectiveOn: day(on), Main: true}
	}
	moved := func(from, to, on string, procs ...string) store.Edge {
		return store.Edge{Predecessor: p(from), Successor: p(to), EffectiveOn: day(on), Procedures: procs}
	}
	for _, c := range []struct {
		name  string
		edges []store.Edge
		want  string
	}{
		{"a merger keeping a code", []store.Edge{main("24", "24", "2025-07-01"), main("27", "24", "2025-07-01")},
			"27/0 2025-07-01..forever 24"},
		{"a split", []store.Edge{main("A1", "B1", "2025-03-01"), moved("A1", "C1", "2025-03-01", "1.000001", "1.000002")},
			"A1/0 2025-03-01..forever B1; A1/1 2025-03-01..forever C1 [1.000001 1.000002]"},
		{"a chain of two mergers", []store.Edge{main("01", "02", "2025-01-01"), main("02", "03", "2025-07-01")},
			"01/0 2025-01-01..2025-07-01 02; 01/0 2025-07-01..forever 03; 02/0 2025-07-01..forever 03"},
		{"merged twice: the first counts", []store.Edge{main("01", "03", "2025-07-01"), main("01", "02", "2025-01-01")},
			"01/0 2025-01-01..forever 02"},
		{"a moved list follows its holder's merger", []store.Edge{main("A1", "B1", "2025-03-01"), moved("A1", "C1", "2025-03-01", "1.000001"), main("C1", "D1", "2026-01-01")},
			"A1/0 2025-03-01..forever B1; A1/1 2025-03-01..2026-01-01 C1 [1.000001]; A1/1 2026-01-01..forever D1 [1.000001]; C1/0 2026-01-01..forever D1"},
		{"a cycle ends", []store.Edge{main("01", "02", "2025-01-01"), main("02", "01", "2025-07-01")},
			"01/0 2025-01-01..2025-07-01 02; 01/0 2025-07-01..forever 01; 02/0 2025-07-01..forever 01"},
		{"no merger", []store.Edge{main("01", "01", "2025-07-01")}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, h := range store.Holdings(c.edges) {
				until := h.Until.Format(time.DateOnly)
				if h.Until.Equal(store.Forever) {
					until = "forever"
				}
				s := fmt.Sprintf("%s/%d %s..%s %s", h.Unit.Code, h.Leg, h.From.Format(time.DateOnly), until, h.Holder.Code)
				if len(h.Procedures) > 0 {
					s += fmt.Sprint(" ", h.Procedures)
				}
				got = append(got, s)
			}
			if g := strings.Join(got, "; "); g != c.want {
				t.Errorf("got  %s\nwant %s", g, c.want)
			}
		})
	}
}

// A unit's facts dated on or after the day it was merged away are quarantined, saying why; those dated before (a
// late report of its past) are written; and the verdict follows stream order, whatever the batches: a fact before
// the merger in the stream is written, in the same batch or not.
func TestFactsOfAUnitMergedAwayAreQuarantined(t *testing.T) {
	at := func(day string) time.Time {
		d, _ := time.ParseInLocation(time.DateOnly, day, event.Vietnam)
		return d.Add(10 * time.Hour)
	}
	p := func(c string) units.Ref { return units.Ref{Kind: units.Province, Code: c} }
	reg := func(u units.Ref, code, day string) event.Data {
		return &event.ProcedureRegisteredData{Unit: u, Procedure: code, Name: "Thủ tục", Sector: "Thử", Eligible: true, Level: 3, EffectiveAt: at(day)}
	}
	merger := &event.UnitMergedData{Successor: p("24"), Name: "Bắc Ninh", Predecessors: []units.Ref{p("24"), p("27")},
		EffectiveOn: "2025-07-01", DecidedAt: at("2025-06-12")}
	ds := []event.Data{
		reg(p("27"), "1.000001", "2025-07-02"), // before the merger in the stream: written
		merger,
		reg(p("27"), "1.000002", "2025-06-30"), // late, but of the day before: written
		reg(p("27"), "1.000003", "2025-07-01"), // the merger's day: refused
		reg(p("24"), "1.000004", "2025-07-01"), // the successor: written
		&event.ReportSubmittedData{Unit: p("27"), Collector: "sheet", ReportedAt: at("2025-08-01"), Counts: event.ReportCounts{Unchanged: 3}}, // refused
	}
	var recs []store.Record
	for i, d := range ds {
		env, err := event.New("/test", d)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, store.Record{Env: env, Data: d, Seq: uint64(i + 1), ReceivedAt: at("2025-08-02")})
	}
	for name, batches := range map[string][][]store.Record{
		"one batch":           {recs},
		"one at a time":       {recs[:1], recs[1:2], recs[2:3], recs[3:4], recs[4:5], recs[5:]},
		"merger in the first": {recs[:2], recs[2:]},
	} {
		t.Run(name, func(t *testing.T) {
			s, conn := openStore(t)
			var refused []store.Rejected
			for _, b := range batches {
				w, err := s.WriteBatch(t.Context(), b, nil)
				if err != nil {
					t.Fatal(err)
				}
				refused = append(refused, w.Refused...)
			}
			// Delivered again, after the merger was stored: the facts before it in the stream are still taken (they
			// are written already), and nothing more is refused.
			for _, b := range batches {
				w, err := s.WriteBatch(t.Context(), b, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range w.Refused {
					if r.Seq != 4 && r.Seq != 6 {
						t.Errorf("delivered again, seq %d is refused: %s", r.Seq, r.Reason)
					}
				}
			}
			var seqs []uint64
			for _, r := range refused {
				seqs = append(seqs, r.Seq)
				if !strings.Contains(r.Reason, "province/27 was merged into province/24 from 2025-07-01") {
					t.Errorf("seq %d refused for %q", r.Seq, r.Reason)
				}
			}
			if fmt.Sprint(seqs) != "[4 6]" {
				t.Errorf("refused %v, want [4 6]", seqs)
			}
			var stored, quarantined uint64
			if err := conn.QueryRow(t.Context(), "SELECT count() FROM events FINAL").Scan(&stored); err != nil {
				t.Fatal(err)
			}
			if err := conn.QueryRow(t.Context(), "SELECT count() FROM quarantine FINAL").Scan(&quarantined); err != nil {
				t.Fatal(err)
			}
			if stored != 4 || quarantined != 2 {
				t.Errorf("%d events stored and %d quarantined, want 4 and 2", stored, quarantined)
			}
		})
	}
}

// Dossier events reach the raw log and dossier_facts, each once, even when a write dies between the derived rows and
// the raw log and the batch comes again (the facts are then inserted twice, and FINAL keeps one); nothing else is
// derived from them.
func TestDossierFactsAreStoredOnce(t *testing.T) {
	kill := false
	s, conn := openStoreWith(t, store.Config{BeforeRows: killed(&kill, "before the rows")})
	u := units.Ref{Kind: units.Province, Code: "19"}
	at := time.Date(2025, 7, 15, 1, 30, 0, 0, time.UTC)
	dossier := strings.Repeat("ab", 32)
	var recs []store.Record
	for i, d := range []event.Data{
		// A registration, so that the write goes through the folds and the hook stops it there.
		&event.ProcedureRegisteredData{Unit: u, Procedure: "1.001234", Name: "Thủ tục", Sector: "Thử", Eligible: true, Level: 4, EffectiveAt: at},
		&event.DossierReceivedData{Unit: u, Procedure: "1.001234", Dossier: dossier, Channel: event.ChannelOnline, Fee: true, ReceivedAt: at, DueAt: at.AddDate(0, 0, 7)},
		&event.DossierSettledData{Unit: u, Dossier: dossier, SettledAt: at.AddDate(0, 0, 6)},
		&event.DossierFeedbackGivenData{Unit: u, Dossier: dossier, Satisfied: true, HandledOnTime: false, GivenAt: at.AddDate(0, 0, 8)},
	} {
		env, err := event.New("/test", d)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, store.Record{Env: env, Data: d, Seq: uint64(i + 1), ReceivedAt: at.AddDate(0, 0, 8)})
	}
	kill = true
	if err := s.Write(t.Context(), recs, nil); err == nil {
		t.Fatal("the killed write succeeded")
	}
	kill = false
	for range 2 { // delivered again, then once more
		if err := s.Write(t.Context(), recs, nil); err != nil {
			t.Fatal(err)
		}
	}
	var physical uint64
	if err := conn.QueryRow(t.Context(), "SELECT count() FROM dossier_facts").Scan(&physical); err != nil {
		t.Fatal(err)
	}
	if physical < 6 {
		t.Errorf("dossier_facts holds %d rows before FINAL: the killed write did not leave its rows, the test proves nothing", physical)
	}
	for table, want := range map[string]uint64{"events": 4, "dossier_facts": 3, "procedure_changes": 1, "reports": 0, "quarantine": 0} {
		var n uint64
		if err := conn.QueryRow(t.Context(), "SELECT count() FROM "+table+" FINAL").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("%s holds %d rows, want %d", table, n, want)
		}
	}
	var fact, channel string
	var due time.Time
	var onTime uint8
	if err := conn.QueryRow(t.Context(), "SELECT toString(fact), channel, due_at, on_time FROM dossier_facts FINAL WHERE fact = 'received'").Scan(&fact, &channel, &due, &onTime); err != nil {
		t.Fatal(err)
	}
	if channel != "online" || !due.Equal(at.AddDate(0, 0, 7)) {
		t.Errorf("the receipt is stored as %s, %s due %s", fact, channel, due)
	}
}

// A merger that changes when a unit ended (one dated earlier, published later) leaves the old rows of unit_holders
// behind, under keys the new computation does not write: the latest computation is told apart by its version, which
// the dashboards read (board's holdings).
func TestHoldingsOfTheLatestComputation(t *testing.T) {
	s, conn := openStore(t)
	p := func(c string) units.Ref { return units.Ref{Kind: units.Province, Code: c} }
	decided := time.Date(2025, 1, 10, 2, 0, 0, 0, time.UTC)
	for i, d := range []event.Data{
		&event.UnitMergedData{Successor: p("08"), Name: "Tuyên Quang", Predecessors: []units.Ref{p("02"), p("08")}, EffectiveOn: "2025-07-01", DecidedAt: decided},
		&event.UnitMergedData{Successor: p("06"), Name: "Bắc Kạn", Predecessors: []units.Ref{p("02"), p("06")}, EffectiveOn: "2025-03-01", DecidedAt: decided.Add(time.Hour)},
	} {
		env, err := event.New("/test", d)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Write(t.Context(), []store.Record{{Env: env, Data: d, Seq: uint64(i + 1), ReceivedAt: decided}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var all, latest uint64
	if err := conn.QueryRow(t.Context(), "SELECT count() FROM unit_holders FINAL").Scan(&all); err != nil {
		t.Fatal(err)
	}
	var holder string
	if err := conn.QueryRow(t.Context(), "SELECT count(), any(holder_code) FROM unit_holders FINAL WHERE version IN (SELECT max(version) FROM unit_holders)").Scan(&latest, &holder); err != nil {
		t.Fatal(err)
	}
	if all != 2 || latest != 1 || holder != "06" {
		t.Errorf("unit_holders: %d rows, %d of the latest computation held by %q; want 2 (one left behind), 1 held by 06", all, latest, holder)
	}
}
