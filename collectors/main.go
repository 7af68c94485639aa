// Command collectors publishes what ministries and provinces report to the event stream.
//
//	collectors simulate   publish the simulated second half of 2021 for every unit
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/caarlos0/env/v11"

	"github.com/egovtrack/egovtrack/collectors/simulate"
	"github.com/egovtrack/egovtrack/internal/stream"
)

type config struct {
	NATS     stream.Config `envPrefix:"EGOV_NATS_"`
	Seed     uint64        `env:"EGOV_SIM_SEED" envDefault:"2021"`
	LogLevel slog.Level    `env:"EGOV_LOG_LEVEL" envDefault:"info"`
}

const usage = `usage: collectors <command>

commands:
  simulate   publish the simulated second half of 2021 (catalogues, level changes, assistant rollout, targets)

Configuration is read from EGOV_* environment variables; see README.md.`

func main() {
	if len(os.Args) != 2 || os.Args[1] != "simulate" {
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
	if err := run(ctx, cfg, log); err != nil {
		log.Error("collectors simulate failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, log *slog.Logger) error {
	conn, err := stream.Connect(ctx, cfg.NATS, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = simulate.Run(ctx, conn, simulate.Campaign2021(cfg.Seed), log)
	return err
}
