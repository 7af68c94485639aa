package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/egovtrack/egovtrack/internal/chdb"
	"github.com/egovtrack/egovtrack/internal/chserver"
	"github.com/egovtrack/egovtrack/internal/chsql"
)

// bench is one run of the benchmark: its servers, its dataset and what it measured.
type bench struct {
	cfg config
	log *slog.Logger

	dir       string // the servers' data
	removeDir bool
	data      dataset
	ch        *chserver.Server
	projector string // binary

	// limits measured by the raw step, for the ratios of the others.
	rawPublish, rawConsume, rawDecode, rawInsertRate float64
	// rawDecodeCPU is the CPU seconds an event of consume + decode, the NATS server's included.
	rawDecodeCPU float64
	// collectorsPublish is the e2e step's stream.Publish rate.
	collectorsPublish float64
	// catalogueE2E is the e2e step's rate of catalogue events through the projector process: the dossier step's
	// yardstick (issue #19: dossiers at the same ratio to the machine's limits as catalogue events).
	catalogueE2E float64
	// nationalLoaded says that the national-scale database is loaded (nationalDB), and nationalLastReceived is when
	// its last event was received.
	nationalLoaded       bool
	nationalLastReceived time.Time

	rep report
}

func (b *bench) run(ctx context.Context) error {
	b.rep = report{Started: time.Now(), Quick: b.cfg.Quick, Config: b.cfg, Machine: machineInfo()}
	defer b.finish()
	if err := os.MkdirAll(b.cfg.Out, 0o755); err != nil {
		return err
	}
	b.log.Info("bench", "steps", strings.Join(b.cfg.steps(), ","), "events", b.cfg.Events, "replay_events", b.cfg.ReplayEvents,
		"quick", b.cfg.Quick, "out", b.cfg.Out)

	var took time.Duration
	var err error
	b.data, took, err = openDataset(ctx, b.cfg.Cache, b.cfg.Seed, b.cfg.datasetEvents(), b.cfg.Procedures, b.log)
	if err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	if took > 0 {
		b.add(result{Step: "dataset", Name: "bulk simulation (event.New), generation rate", Value: float64(b.data.Events) / took.Seconds(),
			Unit: "events/s", Status: info, Note: "once; cached in " + b.cfg.Cache})
	}
	if b.cfg.Steps == "dataset" {
		return nil
	}

	b.dir = b.cfg.Dir
	if b.dir == "" {
		if b.dir, err = os.MkdirTemp("", "egov-bench-"); err != nil {
			return err
		}
		b.removeDir = true
	}
	if b.ch, err = chserver.StartServer(ctx, filepath.Join(b.dir, "clickhouse"), b.log); err != nil {
		return err
	}
	if conn, err := chdb.Open(ctx, b.ch.Config("default")); err == nil {
		if v, err := conn.ServerVersion(); err == nil {
			b.rep.Machine.ClickHouseVersion = "ClickHouse " + v.Version.String()
		}
		conn.Close()
	}
	if b.needsProjector() {
		if err := b.buildProjector(ctx); err != nil {
			return err
		}
	}
	steps := map[string]func(context.Context) error{
		"raw": b.stepRaw, "e2e": b.stepE2E, "fresh": b.stepFresh, "rebuild": b.stepRebuild, "queries": b.stepQueries,
		"growth": b.stepGrowth, "dossiers": b.stepDossiers,
	}
	var errs []error
	for _, name := range stepNames {
		if !b.cfg.runs(name) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		began := time.Now()
		b.log.Info("step started", "step", name, "load", loadAvg())
		if err := steps[name](ctx); err != nil {
			b.log.Error("step failed", "step", name, "err", err)
			b.rep.Notes = append(b.rep.Notes, fmt.Sprintf("step %s failed: %v", name, err))
			errs = append(errs, fmt.Errorf("step %s: %w", name, err))
		}
		b.log.Info("step done", "step", name, "took", time.Since(began).Round(time.Second), "load", loadAvg())
		b.save() // partial results survive a later failure
	}
	return errors.Join(errs...)
}

func (b *bench) needsProjector() bool {
	return b.cfg.runs("e2e") || b.cfg.runs("fresh") || b.cfg.runs("rebuild") || b.cfg.runs("dossiers") && b.cfg.DossierE2EEvents > 0
}

// buildProjector builds ./projector unless EGOV_BENCH_PROJECTOR names a binary.
func (b *bench) buildProjector(ctx context.Context) error {
	if b.cfg.Projector != "" {
		b.projector = b.cfg.Projector
		return nil
	}
	b.projector = filepath.Join(b.dir, "projector")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", b.projector, "./projector")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build the projector: %w", err)
	}
	return nil
}

func (b *bench) close() {
	if b.ch != nil {
		if err := b.ch.Stop(); err != nil {
			b.log.Warn("stop clickhouse", "err", err)
		}
	}
	if b.removeDir && b.dir != "" {
		os.RemoveAll(b.dir)
	}
}

// database opens a fresh database on the benchmark's ClickHouse, dropping one of the same name first.
func (b *bench) database(ctx context.Context, name string) (driver.Conn, chdb.Config, error) {
	cfg := b.ch.Config(name)
	admin, err := chdb.Open(ctx, b.ch.Config("default"))
	if err != nil {
		return nil, cfg, err
	}
	err = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+chsql.QuoteIdent(name))
	admin.Close()
	if err != nil {
		return nil, cfg, err
	}
	conn, err := chdb.Open(ctx, cfg)
	return conn, cfg, err
}

func (b *bench) dropDatabase(ctx context.Context, name string) {
	admin, err := chdb.Open(ctx, b.ch.Config("default"))
	if err != nil {
		return
	}
	defer admin.Close()
	if err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+chsql.QuoteIdent(name)); err != nil {
		b.log.Warn("drop database", "database", name, "err", err)
	}
}

func (b *bench) finish() {
	b.rep.Finished = time.Now()
	b.rep.Machine.LoadEnd = loadAvg()
	b.save()
	b.printTable(os.Stdout)
}

func (b *bench) save() {
	path := filepath.Join(b.cfg.Out, "bench-results.json")
	if err := b.rep.write(path); err != nil {
		b.log.Warn("write results", "path", path, "err", err)
	}
}

// machineInfo describes where the figures come from.
func machineInfo() machine {
	m := machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadStart: loadAvg()}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.Memory, _, _ = strings.Cut(string(b), "\n")
	}
	return m
}

// loadAvg is the machine's load average over 1, 5 and 15 minutes: other work on a shared machine shows there.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
