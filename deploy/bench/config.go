package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// config sizes and bounds the benchmark; `make bench` reads it from EGOV_BENCH_* variables. The defaults are the
// issue's sizes; Quick replaces every default that was not set explicitly with a small one, for a run of a few
// minutes.
type config struct {
	Quick bool `env:"QUICK" envDefault:"false"`
	// Steps to run, comma-separated, in the order given in stepNames; "all" runs every one.
	Steps string `env:"STEPS" envDefault:"all"`
	Seed  uint64 `env:"SEED" envDefault:"2021"`

	// Events is the size of the raw-limits and end-to-end steps (a, b, f): at least 2 million.
	Events int `env:"EVENTS"`
	// ReplayEvents is the size of the stream rebuilt (d) and of the national-scale database (e, g): about 10 million.
	ReplayEvents int `env:"REPLAY_EVENTS"`
	// DossierEvents is the size of the dossier step (h): 50 million.
	DossierEvents int `env:"DOSSIER_EVENTS"`
	// DossierE2EEvents is how many dossier events the dossier step also publishes through NATS to the projector
	// binary: 1 million.
	DossierE2EEvents int `env:"DOSSIER_E2E_EVENTS"`
	// OpenDossiers is the dossier memory of the store (store.Config.OpenDossiers) in step h; 0: the default.
	OpenDossiers int `env:"OPEN_DOSSIERS" envDefault:"0"`
	// Procedures per unit: 2,000 at national scale.
	Procedures int `env:"PROCEDURES" envDefault:"2000"`

	// FreshRate and FreshFor are the steady load of the freshness step (c).
	FreshRate int           `env:"FRESH_RATE" envDefault:"2000"`
	FreshFor  time.Duration `env:"FRESH_FOR"`
	// FreshPoll is how often the freshness step looks for its events in ClickHouse: the resolution of its delays.
	FreshPoll time.Duration `env:"FRESH_POLL" envDefault:"50ms"`

	// QueryRuns is how many timed runs each panel query gets (after one untimed warm-up run), within QueryBudget per
	// panel and range.
	QueryRuns   int           `env:"QUERY_RUNS"`
	QueryBudget time.Duration `env:"QUERY_BUDGET" envDefault:"10s"`

	// E2EMax, RebuildMax and PreloadMax cap the projector's runs: a run still going then is stopped (SIGTERM, which
	// writes the batch in flight) and its rate is what it reached.
	E2EMax     time.Duration `env:"E2E_MAX"`
	RebuildMax time.Duration `env:"REBUILD_MAX"`
	PreloadMax time.Duration `env:"PRELOAD_MAX"`
	// ProfileFor is how long the in-process projector runs under the CPU profiler after the end-to-end step.
	ProfileFor time.Duration `env:"PROFILE_FOR"`
	// GrowthBatches is how many batches of live events the growth step (g) times in each database.
	GrowthBatches int `env:"GROWTH_BATCHES"`
	// GrowthStopMerges stops ClickHouse's background merges of both databases while the growth step times its
	// batches, to tell a statement's own cost from that of the merges its inserts cause.
	GrowthStopMerges bool `env:"GROWTH_STOP_MERGES" envDefault:"false"`

	// Projector is the projector binary; empty builds one with `go build ./projector` into Dir.
	Projector string `env:"PROJECTOR"`
	// Dir holds the servers' data while the benchmark runs; empty means a new temporary directory, removed at the end.
	Dir string `env:"DIR"`
	// Cache keeps the generated dataset between runs.
	Cache string `env:"CACHE"`
	// Out is the directory of the results (bench-results.json) and profiles.
	Out string `env:"OUT" envDefault:"deploy/bench/out"`
}

// stepNames are the steps in the order they run.
var stepNames = []string{"raw", "e2e", "fresh", "rebuild", "queries", "growth", "dossiers"}

func (c *config) defaults() error {
	set := func(v *int, full, quick int) {
		if *v == 0 {
			*v = full
			if c.Quick {
				*v = quick
			}
		}
	}
	setD := func(v *time.Duration, full, quick time.Duration) {
		if *v == 0 {
			*v = full
			if c.Quick {
				*v = quick
			}
		}
	}
	set(&c.Events, 2_000_000, 100_000)
	set(&c.ReplayEvents, 10_000_000, 200_000)
	set(&c.DossierEvents, 50_000_000, 500_000)
	set(&c.DossierE2EEvents, 1_000_000, 100_000)
	set(&c.QueryRuns, 20, 5)
	set(&c.GrowthBatches, 60, 40)
	setD(&c.FreshFor, time.Minute, 15*time.Second)
	setD(&c.E2EMax, 10*time.Minute, 2*time.Minute)
	setD(&c.RebuildMax, 6*time.Minute, 2*time.Minute)
	setD(&c.PreloadMax, 8*time.Minute, 4*time.Minute)
	setD(&c.ProfileFor, time.Minute, 20*time.Second)
	if c.Cache == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			d = os.TempDir()
		}
		c.Cache = filepath.Join(d, "egovtrack-bench")
	}
	switch {
	case c.Events < 1 || c.ReplayEvents < 1:
		return errors.New("EGOV_BENCH_EVENTS and EGOV_BENCH_REPLAY_EVENTS must be positive")
	case c.FreshRate < 100:
		return fmt.Errorf("EGOV_BENCH_FRESH_RATE %d: want at least 100 events/s", c.FreshRate)
	case c.QueryRuns < 1:
		return errors.New("EGOV_BENCH_QUERY_RUNS must be at least 1")
	case c.GrowthBatches < 1:
		return errors.New("EGOV_BENCH_GROWTH_BATCHES must be at least 1")
	}
	for _, s := range c.steps() {
		if !slices.Contains(stepNames, s) && s != "dataset" {
			return fmt.Errorf("EGOV_BENCH_STEPS: no step %q (steps: %s, or all)", s, strings.Join(stepNames, ","))
		}
	}
	return nil
}

func (c *config) steps() []string {
	if c.Steps == "all" || c.Steps == "" {
		return stepNames
	}
	var out []string
	for _, s := range strings.Split(c.Steps, ",") {
		out = append(out, strings.TrimSpace(s))
	}
	return out
}

func (c *config) runs(step string) bool { return slices.Contains(c.steps(), step) }

// datasetEvents is the size of the one dataset every step draws from.
func (c *config) datasetEvents() int { return max(c.Events, c.ReplayEvents) }
