// Command demo runs egovtrack's whole path once on this machine, for `make demo`: it simulates the second half of
// 2021, publishes it to an embedded NATS JetStream server, projects it into ClickHouse (one that answers at
// EGOV_CLICKHOUSE_ADDR, or a local clickhouse-server it starts and stops), generates the dashboards and prints what
// ClickHouse then says about the campaign.
//
//	go run ./deploy/demo            the demo
//	go run ./deploy/demo sql [Q]    clickhouse-client on the demo's local ClickHouse data, running Q if given
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/caarlos0/env/v11"

	"github.com/egovtrack/egovtrack/internal/chdb"
)

func main() {
	var cfg config
	if err := env.Parse(&cfg); err != nil {
		fmt.Fprintf(os.Stderr, "demo: configuration: %v\n", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var err error
	switch args := os.Args[1:]; {
	case len(args) == 0:
		_, err = demo(ctx, cfg, os.Stdout, log)
	case args[0] == "sql" && len(args) <= 2:
		q := ""
		if len(args) == 2 {
			q = args[1]
		}
		err = sqlShell(ctx, cfg, q, log)
	default:
		fmt.Fprintln(os.Stderr, "usage: demo [sql [QUERY]]")
		os.Exit(2)
	}
	if err != nil {
		log.Error("demo failed", "err", err)
		os.Exit(1)
	}
}

// runClient hands the terminal to clickhouse-client connected to cfg.
func runClient(ctx context.Context, cfg chdb.Config, query string) error {
	host, port := cfg.Addr, "9000"
	for i := len(cfg.Addr) - 1; i >= 0; i-- {
		if cfg.Addr[i] == ':' {
			host, port = cfg.Addr[:i], cfg.Addr[i+1:]
			break
		}
	}
	args := []string{"--host", host, "--port", port, "--database", cfg.Database, "--user", cfg.User}
	if query != "" {
		args = append(args, "--query", query)
	}
	cmd := exec.CommandContext(ctx, "clickhouse-client", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if cfg.Password != "" {
		cmd.Env = append(os.Environ(), "CLICKHOUSE_PASSWORD="+cfg.Password.Reveal())
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("clickhouse-client: %w", err)
	}
	return nil
}
