// Command collectors publishes what ministries and provinces report to the event stream.
//
//	collectors simulate   publish the simulated second half of 2021 for every unit (or, with EGOV_SIM_EVENTS, a
//	                      bulk run of that many events for benchmarks)
//	collectors sheet      report a unit's whole catalogue from a spreadsheet (CSV or XLSX)
//	collectors poll       poll a unit's portal for its whole catalogue and report what changed
//	collectors serve      the intake API for provincial systems that push events or catalogues
//	collectors stream     create or update the stream, then exit (the office credential; a deployment's first step)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/egovtrack/egovtrack/collectors/intake"
	"github.com/egovtrack/egovtrack/collectors/poll"
	"github.com/egovtrack/egovtrack/collectors/sheet"
	"github.com/egovtrack/egovtrack/collectors/simulate"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/healthcheck"
	"github.com/egovtrack/egovtrack/internal/stream"
)

type config struct {
	NATS stream.Config `envPrefix:"EGOV_NATS_"`
	Seed uint64        `env:"EGOV_SIM_SEED" envDefault:"2021"`
	// Events, when above 0, makes simulate a bulk run of exactly that many events instead of the 2021 campaign.
	Events            int        `env:"EGOV_SIM_EVENTS" envDefault:"0"`
	ProceduresPerUnit int        `env:"EGOV_SIM_PROCEDURES_PER_UNIT" envDefault:"2000"`
	LogLevel          slog.Level `env:"EGOV_LOG_LEVEL" envDefault:"info"`
}

const usage = `usage: collectors <command>

commands:
  simulate   publish the simulated second half of 2021 (catalogues, level changes, assistant rollout, targets);
             with EGOV_SIM_EVENTS=N, N events fast over 2020–2021 for benchmarks
  sheet      report a unit's whole catalogue from a spreadsheet:
             sheet --unit kind/code [--skip-invalid] FILE (see collectors/sheet/README.md)
  poll       poll a unit's portal for its whole catalogue and report what changed (EGOV_POLL_*, see
             collectors/poll/README.md)
  serve      the intake API for systems that push events or catalogues (EGOV_SERVE_*, see
             collectors/intake/README.md); serve hash-token [kind/code] < FILE prints a token's line for
             EGOV_SERVE_TOKENS_FILE; serve healthcheck exits 0 when the API running beside it answers /healthz
  stream     create or update the stream and exit, with the office credential (EGOV_NATS_NKEY_SEED_FILE)

Configuration is read from EGOV_* environment variables; see README.md.`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	var cfg config
	if err := env.Parse(&cfg); err != nil {
		fmt.Fprintf(os.Stderr, "collectors: configuration: %v\n", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; {
	case cmd == "simulate" && len(args) == 0:
		err = withStream(ctx, cfg, log, func(conn *stream.Conn) error { return runSimulate(ctx, cfg, conn, log) })
	case cmd == "sheet":
		// Arguments first: a typo is reported without starting or reaching a NATS server.
		sheetCmd, serr := sheet.ParseArgs(args, os.Stderr)
		switch {
		case errors.Is(serr, flag.ErrHelp):
			os.Exit(0)
		case serr != nil:
			os.Exit(2) // the reason and the usage are already printed
		}
		err = withStream(ctx, cfg, log, func(conn *stream.Conn) error {
			return sheetCmd.Run(ctx, conn, conn, os.Stdout, log, time.Now)
		})
	case cmd == "poll" && len(args) == 0:
		// EGOV_POLL_* is read here, not in config: its URL and UNIT are required by poll alone.
		pollCfg, perr := poll.LoadConfig()
		if perr != nil {
			fmt.Fprintf(os.Stderr, "collectors: configuration: %v\n", perr)
			os.Exit(2)
		}
		err = withStream(ctx, cfg, log, func(conn *stream.Conn) error {
			return poll.Run(ctx, pollCfg, conn, conn, log, time.Now)
		})
	case cmd == "serve" && len(args) > 0 && args[0] == "hash-token":
		// The token comes on stdin, so that it stays out of the shell history; no NATS server is needed.
		if herr := intake.RunHashToken(os.Stdin, os.Stdout, args[1:]); herr != nil {
			fmt.Fprintf(os.Stderr, "collectors serve %v\n", herr)
			os.Exit(2)
		}
	case cmd == "serve" && len(args) == 1 && args[0] == "healthcheck":
		// For images that hold no HTTP client; the address is the API's own EGOV_SERVE_ADDR.
		serveCfg, serr := intake.LoadConfig()
		if serr != nil {
			fmt.Fprintf(os.Stderr, "collectors: configuration: %v\n", serr)
			os.Exit(2)
		}
		if serveCfg.TLSCertFile != "" {
			err = healthcheck.ProbeTLS(ctx, serveCfg.Addr, "/healthz", serveCfg.TLSCertFile)
		} else {
			err = healthcheck.Probe(ctx, serveCfg.Addr, "/healthz")
		}
	case cmd == "stream" && len(args) == 0:
		// Only the office credential may create the stream, and neither the intake nor the projector holds it: a
		// deployment runs this once before them.
		cfg.NATS.ManageStream = true
		err = withStream(ctx, cfg, log, func(*stream.Conn) error {
			log.Info("stream ready", "stream", cfg.NATS.Stream, "replicas", cfg.NATS.Replicas)
			return nil
		})
	case cmd == "serve" && len(args) == 0:
		// EGOV_SERVE_* is read here, not in config: its TOKENS_FILE is required by serve alone.
		serveCfg, serr := intake.LoadConfig()
		if serr != nil {
			fmt.Fprintf(os.Stderr, "collectors: configuration: %v\n", serr)
			os.Exit(2)
		}
		err = withStream(ctx, cfg, log, func(conn *stream.Conn) error {
			return intake.Serve(ctx, serveCfg, conn, log)
		})
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		log.Error("collectors "+os.Args[1]+" failed", "err", err)
		os.Exit(1)
	}
}

// withStream connects to JetStream for the length of fn.
func withStream(ctx context.Context, cfg config, log *slog.Logger, fn func(*stream.Conn) error) error {
	conn, err := stream.Connect(ctx, cfg.NATS, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	return fn(conn)
}

func runSimulate(ctx context.Context, cfg config, conn *stream.Conn, log *slog.Logger) error {
	if cfg.Events > 0 {
		_, err := simulate.RunBulk(ctx, conn, simulate.BulkOptions{
			Seed: cfg.Seed, Events: cfg.Events, ProceduresPerUnit: cfg.ProceduresPerUnit,
			// Two years of history: the national scale the dashboards must answer at.
			Start: time.Date(2020, 1, 1, 0, 0, 0, 0, event.Vietnam), End: time.Date(2022, 1, 1, 0, 0, 0, 0, event.Vietnam),
		}, os.Stderr, log)
		return err
	}
	_, err := simulate.Run(ctx, conn, simulate.Campaign2021(cfg.Seed), os.Stderr, log)
	return err
}
