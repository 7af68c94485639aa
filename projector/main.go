// Command projector stores the event stream in ClickHouse: the raw log, the current state of every procedure and
// the daily coverage of every unit.
//
//	projector run       consume the stream until stopped (or, with EGOV_PROJECTOR_UNTIL_CAUGHT_UP, until caught up)
//	projector rebuild   recreate every projection from the stream
//	projector healthcheck  ask the running projector's /healthz (a container's HEALTHCHECK)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/egovtrack/egovtrack/internal/healthcheck"
	"github.com/egovtrack/egovtrack/projector/metrics"
	"github.com/egovtrack/egovtrack/projector/projection"
)

type config struct {
	projection.Config
	// MetricsAddr is where `projector run` serves /metrics and /healthz; "off" serves neither. It listens on loopback
	// unless told otherwise. (An empty variable means the default: caarlos0/env reads it as unset.)
	MetricsAddr string     `env:"EGOV_PROJECTOR_METRICS_ADDR" envDefault:"127.0.0.1:9464"`
	LogLevel    slog.Level `env:"EGOV_LOG_LEVEL" envDefault:"info"`
	// MemoryLimitMiB is the Go runtime's soft memory limit, unless GOMEMLIMIT sets one: without it the heap grows to
	// twice the live data (three batches of messages in flight) before a collection. 0: no limit.
	MemoryLimitMiB int64 `env:"EGOV_PROJECTOR_MEMORY_LIMIT_MIB" envDefault:"110"`
}

const usage = `usage: projector <command>

commands:
  run       project the event stream into ClickHouse until stopped (SIGINT/SIGTERM write the batch in flight first)
  rebuild   recreate every projection from the stream, with the projector stopped
  healthcheck
            exit 0 when the projector running beside it answers ok on /healthz (EGOV_PROJECTOR_METRICS_ADDR)

Configuration is read from EGOV_* environment variables; see README.md.`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is one of the projector's commands; out gets what it reports for a person (the rebuild's count, its
// progress on stderr).
type command func(ctx context.Context, cfg config, out, progress io.Writer, log *slog.Logger) error

// run carries out one command line (without the program's name) and returns its exit code: 0 done, 1 failed, 2 a
// usage or configuration error, refused before anything was read, written or dropped.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	commands := map[string]command{"run": runProjector, "rebuild": runRebuild, "healthcheck": probe}
	var cmd command
	if len(args) == 1 {
		cmd = commands[args[0]]
	}
	if cmd == nil {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	var cfg config
	if err := env.Parse(&cfg); err != nil {
		fmt.Fprintf(stderr, "projector: configuration: %v\n", err)
		return 2
	}
	if args[0] != "healthcheck" {
		// Before ClickHouse is touched: a rebuild against a private embedded server would drop every table and
		// replay an empty stream into them.
		if err := cfg.NATS.Validate(); err != nil {
			fmt.Fprintf(stderr, "projector %s: configuration: %v\n", args[0], err)
			return 2
		}
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && cfg.MemoryLimitMiB > 0 {
		debug.SetMemoryLimit(cfg.MemoryLimitMiB << 20)
	}
	if args[0] == "rebuild" {
		if err := cfg.CheckRebuild(); err != nil {
			fmt.Fprintf(stderr, "projector: %v\n", err)
			return 2
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if err := cmd(ctx, cfg, stdout, stderr, log); err != nil {
		log.Error("projector "+args[0]+" failed", "err", err)
		return 1
	}
	return 0
}

// probe is `projector healthcheck`, for images that hold no HTTP client.
func probe(ctx context.Context, cfg config, _, _ io.Writer, _ *slog.Logger) error {
	if cfg.MetricsAddr == "off" {
		return errors.New("EGOV_PROJECTOR_METRICS_ADDR is off: there is no /healthz to ask")
	}
	return healthcheck.Probe(ctx, cfg.MetricsAddr, "/healthz")
}

// runProjector is `projector run`.
func runProjector(ctx context.Context, cfg config, _, _ io.Writer, log *slog.Logger) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)
	if cfg.MetricsAddr != "off" {
		// Serving from the start, /healthz says "starting" while the schema is applied.
		srv, err := metrics.Listen(cfg.MetricsAddr, metrics.Handler(reg, m.Health), log)
		if err != nil {
			return fmt.Errorf("%w (set EGOV_PROJECTOR_METRICS_ADDR to a free address, or to off)", err)
		}
		log.Info("serving /metrics and /healthz", "addr", srv.Addr())
		defer func() {
			// After the batch in flight is written, whether ctx ended or the stream was caught up.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				log.Warn("metrics endpoint shutdown", "err", err)
			}
		}()
	}
	p, err := projection.Open(ctx, cfg.Config, m, log)
	if err != nil {
		return err
	}
	defer p.Close()
	stats, err := p.Run(ctx)
	// projected counts what this run wrote; the consumer's Projected counts the repeats it skipped as well.
	log.Info("projector stopped", "projected", stats.Projected-stats.Skipped, "skipped", stats.Skipped, "rejected", stats.Rejected,
		"verified", stats.Verified, "trusted", stats.Trusted, "batches", stats.Batches)
	return err
}
