package main

import (
	"context"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/coverage"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// A statement's time per batch is its median over the batches that sent it, scaled by their share; the ratio pairs
// each batch's two writes, so that a spike on one side moves neither.
func TestGrowthEstimates(t *testing.T) {
	batches := func(ms ...float64) []map[string]sqlStat {
		out := make([]map[string]sqlStat, len(ms))
		for i, m := range ms {
			out[i] = map[string]sqlStat{}
			if m > 0 {
				d := time.Duration(m * float64(time.Millisecond))
				out[i]["q"] = sqlStat{calls: 1, took: d, each: []time.Duration{d}}
			}
		}
		return out
	}
	g, ms := perBatch(batches(10, 0, 12, 500, 0, 11), "q")
	if g.Calls != 4.0/6 || math.Abs(g.Ms-11*4.0/6) > 1e-9 || len(ms) != 6 {
		t.Errorf("perBatch = %+v, %v; want 0.67 calls and 11 ms × 4/6", g, ms)
	}
	if r := pairedRatio([]float64{10, 10, 10, 10, 10}, []float64{12, 500, 11, 12, 13}); r != 1.2 {
		t.Errorf("pairedRatio with one spike = %v, want 1.2", r)
	}
	if r := pairedRatio([]float64{0, 0}, []float64{3, 0}); !math.IsInf(r, 1) {
		t.Errorf("pairedRatio of a statement only the large side sends = %v, want +Inf", r)
	}
}

// The live events are the same whatever the database: a catalogue whose first batch touches every unit, then the
// units' reports, later than the national-scale data, each unit's changes in the order they take effect.
func TestLiveEvents(t *testing.T) {
	all := units.All()
	d, _, err := openDataset(context.Background(), t.TempDir(), 7, 4*len(all), 2, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{cfg: config{Seed: 7}, data: d}
	live, warm, err := b.liveEvents(2, 100)
	if err != nil {
		t.Fatal(err)
	}
	if warm != 1 || len(live) != 3*projectorBatch {
		t.Fatalf("%d events, %d batches of catalogue; want 3 batches, 1 of catalogue", len(live), warm)
	}
	touched := map[units.Ref]bool{}
	last := map[units.Ref]time.Time{}
	ids := map[string]bool{}
	for i, r := range live {
		if ids[r.Env.ID] {
			t.Fatalf("event %d repeats id %s", i, r.Env.ID)
		}
		ids[r.Env.ID] = true
		if r.Seq != uint64(101+i) {
			t.Fatalf("event %d has sequence %d, want %d", i, r.Seq, 101+i)
		}
		if r.Env.Time.Before(dataEnd) {
			t.Fatalf("event %d at %s, not after the dataset's end", i, r.Env.Time)
		}
		c, ok := coverage.FromEvent(r.Data, r.Seq)
		if !ok {
			if _, report := r.Data.(*event.ReportSubmittedData); !report {
				t.Fatalf("event %d is %s", i, r.Env.Type)
			}
			continue
		}
		if i < projectorBatch {
			touched[c.Unit] = true
		}
		if c.EffectiveAt.Before(last[c.Unit]) {
			t.Fatalf("event %d of %s takes effect before the unit's previous one", i, c.Unit)
		}
		last[c.Unit] = c.EffectiveAt
	}
	if len(touched) != len(all) {
		t.Errorf("the first batch touches %d units, want all %d", len(touched), len(all))
	}
}
