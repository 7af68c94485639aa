// Command collectors publishes what ministries and provinces report to the event stream.
//
//	collectors simulate   publish the simulated second half of 2021 for every unit (or, with EGOV_SIM_EVENTS, a
//	                      bulk run of that many events for benchmarks)
//	collectors sheet      report a unit's whole catalogue from a spreadsheet (CSV or XLSX)
//	collectors dossiers   publish a one-stop shop's export of dossiers (CSV or XLSX)
//	collectors poll       poll a unit's portal for its whole catalogue and report what changed
//	collectors serve      the intake API for provincial systems that push events or catalogues
//	collectors stream     create or update the stream, then exit (the office credential; a deployment's first step)
//	collectors lineage    publish a reorganisation of the units (by default the 2025 one), with the office credential
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/egovtrack/egovtrack/collectors/dossiers"
	"github.com/egovtrack/egovtrack/collectors/intake"
	"github.com/egovtrack/egovtrack/collectors/lineage"
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
  dossiers   publish a one-stop shop's export of dossiers (CSV or XLSX):
             dossiers --unit kind/code FILE (see collectors/dossiers/README.md)
  poll       poll a unit's portal for its whole catalogue and report what changed (EGOV_POLL_*, see
             collectors/poll/README.md)
  serve      the intake API for systems that push events or catalogues (EGOV_SERVE_*, see
             collectors/intake/README.md); serve hash-token [kind/code] < FILE prints a token's line for
             EGOV_SERVE_TOKENS_FILE; serve healthcheck exits 0 when the API running beside it answers /healthz
  stream     create or update the stream and exit, with the office credential (EGOV_NATS_NKEY_SEED_FILE)
  lineage    publish a reorganisation of the units, with the office credential: lineage [FILE], a file of unit
             events a line (collectors/lineage); without FILE, the 2025 reorganisation shipped with egovtrack

Configuration is read from EGOV_* environment variables; see README.md.`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes: what a script running a collector can tell apart.
const (
	exitOK     = 0
	exitFailed = 1 // nothing, or not everything, was acknowledged: the output says what was
	exitUsage  = 2 // the command line or the configuration; nothing was sent
)

// run carries out one command line (without the program's name) and returns its exit code. Every command that
// talks to the stream first checks the NATS configuration, so that one naming no server is refused before anything
// is read or sent (stream.ErrNoServer).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) < 1 {
		fmt.Fprintln(stderr, usage)
		return exitUsage
	}
	var cfg config
	if err := env.Parse(&cfg); err != nil {
		fmt.Fprintf(stderr, "collectors: configuration: %v\n", err)
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	cmd, args := args[0], args[1:]
	// connected runs fn on a connection to the stream: publishing commands say that nothing was sent when the
	// configuration is refused.
	connected := func(publishes bool, fn func(*stream.Conn) error) int {
		if err := cfg.NATS.Validate(); err != nil {
			fmt.Fprintf(stderr, "collectors %s: configuration: %v\n", cmd, err)
			if publishes {
				fmt.Fprintln(stderr, "Nothing was sent.")
			}
			return exitUsage
		}
		return failed(log, cmd, withStream(ctx, cfg, log, fn))
	}

	switch {
	case cmd == "simulate" && len(args) == 0:
		return connected(true, func(conn *stream.Conn) error { return runSimulate(ctx, cfg, conn, stderr, log) })
	case cmd == "sheet":
		// Arguments first: a typo is reported without reaching a NATS server.
		sheetCmd, err := sheet.ParseArgs(args, stderr)
		switch {
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		case err != nil:
			return exitUsage // the reason and the usage are already printed
		}
		return connected(true, func(conn *stream.Conn) error {
			return sheetCmd.Run(ctx, conn, conn, stdout, log, time.Now)
		})
	case cmd == "dossiers":
		dossierCmd, err := dossiers.ParseArgs(args, stderr)
		switch {
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		case err != nil:
			return exitUsage
		}
		return connected(true, func(conn *stream.Conn) error {
			return dossierCmd.Run(ctx, dossiers.Options{Publisher: conn, Stdout: stdout, Progress: stderr, Log: log, Now: time.Now})
		})
	case cmd == "poll" && len(args) == 0:
		// EGOV_POLL_* is read here, not in config: its URL and UNIT are required by poll alone.
		pollCfg, err := poll.LoadConfig()
		if err != nil {
			fmt.Fprintf(stderr, "collectors: configuration: %v\n", err)
			return exitUsage
		}
		return connected(true, func(conn *stream.Conn) error {
			return poll.Run(ctx, pollCfg, conn, conn, log, time.Now)
		})
	case cmd == "serve" && len(args) > 0 && args[0] == "hash-token":
		// The token comes on stdin, so that it stays out of the shell history; no NATS server is needed.
		if err := intake.RunHashToken(stdin, stdout, args[1:]); err != nil {
			fmt.Fprintf(stderr, "collectors serve %v\n", err)
			return exitUsage
		}
		return exitOK
	case cmd == "serve" && len(args) == 1 && args[0] == "healthcheck":
		// For images that hold no HTTP client; the address is the API's own EGOV_SERVE_ADDR.
		serveCfg, err := intake.LoadConfig()
		if err != nil {
			fmt.Fprintf(stderr, "collectors: configuration: %v\n", err)
			return exitUsage
		}
		if serveCfg.TLSCertFile != "" {
			err = healthcheck.ProbeTLS(ctx, serveCfg.Addr, "/healthz", serveCfg.TLSCertFile)
		} else {
			err = healthcheck.Probe(ctx, serveCfg.Addr, "/healthz")
		}
		return failed(log, cmd, err)
	case cmd == "stream" && len(args) == 0:
		// Only the office credential may create the stream, and neither the intake nor the projector holds it: a
		// deployment runs this once before them. "ready" is said once the server has created the stream, or has
		// found it exactly as specified; a stream that differs fails, saying how (only an operator may change it).
		cfg.NATS.ManageStream = true
		return connected(false, func(*stream.Conn) error {
			log.Info("stream ready", "stream", cfg.NATS.Stream, "replicas", cfg.NATS.Replicas, "url", cfg.NATS.RedactedURL())
			return nil
		})
	case cmd == "lineage" && len(args) <= 1:
		// The whole file is read and checked before connecting: a bad line publishes nothing.
		envs, err := readLineage(args)
		if err != nil {
			fmt.Fprintf(stderr, "collectors lineage: %v\nNothing was sent.\n", err)
			return exitUsage
		}
		return connected(true, func(conn *stream.Conn) error { return lineage.Publish(ctx, conn, envs, stdout, log) })
	case cmd == "serve" && len(args) == 0:
		// EGOV_SERVE_* is read here, not in config: its TOKENS_FILE is required by serve alone.
		serveCfg, err := intake.LoadConfig()
		if err != nil {
			fmt.Fprintf(stderr, "collectors: configuration: %v\n", err)
			return exitUsage
		}
		return connected(false, func(conn *stream.Conn) error {
			return intake.Serve(ctx, serveCfg, conn, log)
		})
	}
	fmt.Fprintln(stderr, usage)
	return exitUsage
}

// readLineage reads the lineage file named in args, or the shipped 2025 reorganisation.
func readLineage(args []string) ([]event.Envelope, error) {
	if len(args) == 0 {
		return lineage.Read(bytes.NewReader(lineage.Reorganisation2025))
	}
	f, err := os.Open(args[0])
	if err != nil {
		return nil, err
	}
	defer f.Close()
	envs, err := lineage.Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", args[0], err)
	}
	return envs, nil
}

// failed logs err, if any, and returns the exit code it means.
func failed(log *slog.Logger, cmd string, err error) int {
	if err != nil {
		log.Error("collectors "+cmd+" failed", "err", err)
		return exitFailed
	}
	return exitOK
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

func runSimulate(ctx context.Context, cfg config, conn *stream.Conn, progress io.Writer, log *slog.Logger) error {
	if cfg.Events > 0 {
		_, err := simulate.RunBulk(ctx, conn, simulate.BulkOptions{
			Seed: cfg.Seed, Events: cfg.Events, ProceduresPerUnit: cfg.ProceduresPerUnit,
			// Two years of history: the national scale the dashboards must answer at.
			Start: time.Date(2020, 1, 1, 0, 0, 0, 0, event.Vietnam), End: time.Date(2022, 1, 1, 0, 0, 0, 0, event.Vietnam),
		}, progress, log)
		return err
	}
	_, err := simulate.Run(ctx, conn, simulate.Campaign2021(cfg.Seed), progress, log)
	return err
}
