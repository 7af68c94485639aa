package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/egovtrack/egovtrack/collectors/simulate"
	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
	"github.com/egovtrack/egovtrack/internal/coverage"
	"github.com/egovtrack/egovtrack/internal/coverage/coveragetest"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/natsauth"
	"github.com/egovtrack/egovtrack/internal/scorecard"
	"github.com/egovtrack/egovtrack/internal/scorecard/scorecardtest"
	"github.com/egovtrack/egovtrack/internal/units"
)

func TestMain(m *testing.M) { chdbtest.Main(m) }

// The whole path, as `make demo` runs it: every figure of the summary is read from ClickHouse and must equal the same
// figure folded in Go straight from the simulated events.
func TestDemo(t *testing.T) {
	cfg, err := env.ParseAs[config]()
	if err != nil {
		t.Fatal(err)
	}
	cfg.NATS.URL, cfg.NATS.Embedded = "", true
	cfg.Dir = t.TempDir()
	cfg.ClickHouse = chdbtest.New(t)
	var out bytes.Buffer
	sum, err := demo(context.Background(), cfg, &out, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}

	o, _, err := simulation(cfg)
	if err != nil {
		t.Fatal(err)
	}
	envs, err := simulate.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	var cs []coverage.Change
	live := map[units.Ref]event.Stage{}
	evs := make([]scorecardtest.Event, len(envs))
	dossierEvents := 0
	for i, env := range envs {
		d, err := env.Decode()
		if err != nil {
			t.Fatal(err)
		}
		evs[i] = scorecardtest.Event{ID: env.ID, Data: d, Seq: uint64(i + 1)}
		if _, ok := event.DossierOf(d); ok {
			dossierEvents++
		}
		if c, ok := coverage.FromEvent(d, uint64(i+1)); ok {
			cs = append(cs, c)
		}
		if a, ok := d.(*event.AssistantStageChangedData); ok {
			live[a.Unit] = a.Stage // events come in time order
		}
	}
	last := simulate.Campaign2021(cfg.Seed).End
	daily := coverage.Daily(cs, last)
	national := coverage.National(daily)
	if len(sum.Days) != len(national) {
		t.Fatalf("ClickHouse has %d days of national coverage, the events give %d", len(sum.Days), len(national))
	}
	for _, d := range sum.Days {
		w := national[time.Date(d.Day.Year(), d.Day.Month(), d.Day.Day(), 0, 0, 0, 0, event.Vietnam)]
		if d.Eligible != uint64(w.Eligible) || d.Level4 != uint64(w.Level4) {
			t.Fatalf("%s: ClickHouse says %d of %d eligible at level 4, the events say %d of %d",
				d.Day.Format(event.DateLayout), d.Level4, d.Eligible, w.Level4, w.Eligible)
		}
	}
	if s := sum.first().share(); s < 35 || s > 45 {
		t.Errorf("coverage at the start is %.1f%%, want about 40%%", s)
	}
	if s := sum.last().share(); s < 95 {
		t.Errorf("coverage at the end is %.1f%%, want at least 95%%", s)
	}
	full := 0
	for _, series := range daily {
		if l := series[len(series)-1]; l.Eligible > 0 && l.Level4 == l.Eligible {
			full++
		}
	}
	if sum.UnitsFull != full || sum.Units != len(daily) {
		t.Errorf("units at 100%%: ClickHouse says %d of %d, the events %d of %d", sum.UnitsFull, sum.Units, full, len(daily))
	}
	nLive := 0
	for _, st := range live {
		if st == event.StageLive {
			nLive++
		}
	}
	if sum.AssistantLive != nLive {
		t.Errorf("assistant live in %d units, the events say %d", sum.AssistantLive, nLive)
	}
	for _, tr := range sum.Tables {
		if tr.Name == "events" && tr.Rows != uint64(len(envs)) {
			t.Errorf("events holds %d rows, want %d", tr.Rows, len(envs))
		}
		if tr.Name == "dossier_facts" && tr.Rows != uint64(dossierEvents) {
			t.Errorf("dossier_facts holds %d rows, want one a dossier event, %d", tr.Rows, dossierEvents)
		}
	}
	checkScores(t, sum, evs)
	// The embedded server ran the authorisation model: the simulation published as the office, signed, and the
	// projector, requiring signatures, recorded who submitted every event.
	var byOffice uint64
	if err := chdbtest.Conn(t, cfg.ClickHouse).QueryRow(context.Background(),
		"SELECT count() FROM events FINAL WHERE submitted_by = 'office'").Scan(&byOffice); err != nil {
		t.Fatal(err)
	}
	if byOffice != uint64(len(envs)) {
		t.Errorf("%d events submitted by the office, want all %d", byOffice, len(envs))
	}
	for _, want := range []string{"Coverage rose from", "Units at 100%", "Bộ chỉ số 766", "dossiers (hồ sơ)", "dashboards JSON", "Nothing is left running", fmt.Sprintf("%d credentials", len(natsauth.Names()))} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the demo's output lacks %q:\n%s", want, out.String())
		}
	}

	// Run again on the same stream and database: the raw log still holds each event once, and the figures stay the
	// same. (JetStream drops the repeats only within its duplicate window, 2 minutes; a slow machine can take longer
	// than that between the runs, and then the stream keeps the repeats, which the projector skips.)
	out.Reset()
	again, err := demo(context.Background(), cfg, &out, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("second demo: %v", err)
	}
	// Nothing is said to be projected again: within the duplicate window the stream dropped the repeats, beyond it
	// they are skipped and said apart.
	if want := "    0 events projected, "; !strings.Contains(out.String(), want) {
		t.Errorf("the second run's output does not say %q:\n%s", want, out.String())
	}
	var raw uint64
	if err := chdbtest.Conn(t, cfg.ClickHouse).QueryRow(context.Background(), "SELECT count() FROM events").Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if raw != uint64(len(envs)) {
		t.Errorf("after the second run the raw log holds %d rows, want each of the %d events once", raw, len(envs))
	}
	if math.Abs(again.last().share()-sum.last().share()) > 0 || again.UnitsFull != sum.UnitsFull {
		t.Errorf("second run changed the figures: %.2f%%/%d → %.2f%%/%d", sum.last().share(), sum.UnitsFull, again.last().share(), again.UnitsFull)
	}
}

// Through 2025: the summary ends on 34 provinces and 17 ministerial bodies, each province's figures and the
// national ones equal to what the events say — every unit's own procedures, and a merged unit's for its successor
// until the successor's first report from the merger on.
func TestDemoThrough2025(t *testing.T) {
	cfg, err := env.ParseAs[config]()
	if err != nil {
		t.Fatal(err)
	}
	cfg.NATS.URL, cfg.NATS.Embedded = "", true
	cfg.Dir, cfg.Through2025 = t.TempDir(), true
	cfg.ClickHouse = chdbtest.New(t)
	var out bytes.Buffer
	sum, err := demo(context.Background(), cfg, &out, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	o, _, err := simulation(cfg)
	if err != nil {
		t.Fatal(err)
	}
	envs, err := simulate.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	var facts []event.Data
	for _, env := range envs {
		d, err := env.UncheckedData()
		if err != nil {
			t.Fatal(err)
		}
		facts = append(facts, d)
	}
	last := sum.last().Day
	lastDay := time.Date(last.Year(), last.Month(), last.Day(), 0, 0, 0, 0, event.Vietnam)
	held := coveragetest.Held(facts, lastDay)
	for _, d := range sum.Days {
		if d.Day.Day() != 1 && d.Day != last {
			continue // the first of each month and the last day
		}
		day := time.Date(d.Day.Year(), d.Day.Month(), d.Day.Day(), 0, 0, 0, 0, event.Vietnam)
		var e, l int
		for _, c := range held(day) {
			e, l = e+c.Eligible, l+c.Level4
		}
		if d.Eligible != uint64(e) || d.Level4 != uint64(l) {
			t.Errorf("%s: ClickHouse says %d of %d eligible at level 4, the events say %d of %d", day.Format(event.DateLayout), d.Level4, d.Eligible, l, e)
		}
	}
	kinds := map[string]int{}
	want := held(lastDay)
	for _, u := range sum.Now {
		kinds[u.Kind]++
		w := want[units.Ref{Kind: units.Kind(u.Kind), Code: u.Code}]
		if u.Eligible != uint64(w.Eligible) || u.Level4 != uint64(w.Level4) {
			t.Errorf("%s/%s %s: ClickHouse %d of %d, the events %d of %d", u.Kind, u.Code, u.Name, u.Level4, u.Eligible, w.Level4, w.Eligible)
		}
	}
	if kinds["province"] != 34 || kinds["ministry"] != 17 {
		t.Errorf("on %s: %d provinces and %d ministerial bodies, want 34 and 17", last.Format(event.DateLayout), kinds["province"], kinds["ministry"])
	}
	for _, want := range []string{"34 provinces and 17 ministerial bodies", "Bắc Ninh", "Huế"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the demo's output lacks %q:\n%s", want, out.String())
		}
	}
}

// checkScores compares the summary's Decision 766 scores with the scorecard's reference, which counts them from the
// events with exact fractions: every unit the reference scores is listed once, best first, with its score and its
// dossiers received and settled in the month.
func checkScores(t *testing.T, sum summary, evs []scorecardtest.Event) {
	t.Helper()
	m := sum.ScoredMonth
	if m.IsZero() {
		t.Fatal("the demo scored no month: its dossiers are missing")
	}
	card := scorecard.Decision766()
	ref := scorecardtest.Reference(evs, m, m, m.AddDate(0, 1, 0).Add(-time.Second))
	if len(sum.Scores) != len(ref) {
		t.Errorf("%d units scored, the events give %d", len(sum.Scores), len(ref))
	}
	seen, scored, prev := map[string]bool{}, 0, math.Inf(1)
	for _, u := range sum.Scores {
		kind, code, _ := strings.Cut(u.Ref, "/")
		mu, ok := ref[units.Ref{Kind: units.Kind(kind), Code: code}]
		if !ok || seen[u.Ref] {
			t.Errorf("%s is listed, the events have nothing of it or it came already", u.Ref)
			continue
		}
		seen[u.Ref] = true
		want := scorecardtest.Percent(card, mu)
		if (want != nil) != u.Scored {
			t.Errorf("%s: scored %v, the events give %v", u.Ref, u.Scored, want)
		} else if want != nil {
			if w, _ := want.Float64(); math.Abs(u.Score-w) > 1e-9*w {
				t.Errorf("%s: score %v, the events give %v", u.Ref, u.Score, want.FloatString(6))
			}
		}
		if u.Received != uint64(mu[scorecard.Received]) || u.Settled != uint64(mu[scorecard.Settled]) {
			t.Errorf("%s: %d received and %d settled, the events say %d and %d", u.Ref, u.Received, u.Settled, mu[scorecard.Received], mu[scorecard.Settled])
		}
		if u.Scored {
			scored++
			if u.Score > prev {
				t.Errorf("%s's score %v comes after %v: not best first", u.Ref, u.Score, prev)
			}
			prev = u.Score
		}
	}
	if scored < len(units.All())/2 {
		t.Errorf("only %d units scored in %s: the demo's dossiers are too few to show the scorecard", scored, m.Format("01/2006"))
	}
}
