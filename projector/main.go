// Command projector stores the event stream in ClickHouse: the raw log, the current state of every procedure and
// the daily coverage of every unit.
//
//	projector run   consume the stream until stopped (or, with EGOV_PROJECTOR_UNTIL_CAUGHT_UP, until caught up)
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/caarlos0/env/v11"

	"github.com/egovtrack/egovtrack/internal/chdb"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/projector/consumer"
	"github.com/egovtrack/egovtrack/projector/store"
)

type config struct {
	NATS       stream.Config   `envPrefix:"EGOV_NATS_"`
	ClickHouse chdb.Config     `envPrefix:"EGOV_CLICKHOUSE_"`
	Consumer   consumer.Config `envPrefix:"EGOV_PROJECTOR_"`
	// UntilCaughtUp stops the projector once every event in the stream is written, for batch jobs and the demo.
	UntilCaughtUp bool       `env:"EGOV_PROJECTOR_UNTIL_CAUGHT_UP" envDefault:"false"`
	LogLevel      slog.Level `env:"EGOV_LOG_LEVEL" envDefault:"info"`
}

const usage = `usage: projector <command>

commands:
  run   project the event stream into ClickHouse until stopped (SIGINT/SIGTERM write the batch in flight first)

Configuration is read from EGOV_* environment variables; see README.md.`

func main() {
	if len(os.Args) != 2 || os.Args[1] != "run" {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	var cfg config
	if err := env.Parse(&cfg); err != nil {
		fmt.Fprintf(os.Stderr, "projector: configuration: %v\n", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("projector failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, log *slog.Logger) error {
	conn, err := chdb.Open(ctx, cfg.ClickHouse)
	if err != nil {
		return err
	}
	defer conn.Close()
	st, err := store.Open(ctx, conn, log)
	if err != nil {
		return err
	}
	nc, err := stream.Connect(ctx, cfg.NATS, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	s, err := nc.Stream(ctx)
	if err != nil {
		return err
	}
	c, err := consumer.New(ctx, s, cfg.Consumer, st, log)
	if err != nil {
		return err
	}
	log.Info("projecting", "stream", cfg.NATS.Stream, "consumer", cfg.Consumer.Durable, "clickhouse", cfg.ClickHouse)
	stats, err := c.Run(ctx, cfg.UntilCaughtUp)
	log.Info("projector stopped", "projected", stats.Projected, "rejected", stats.Rejected, "batches", stats.Batches)
	return err
}
