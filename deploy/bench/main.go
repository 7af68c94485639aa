// Command bench measures egovtrack on the machine it runs on, in one process tree, against that machine's own
// limits (`make bench`; never part of `make test`):
//
//	raw      JetStream publish and consume of the dataset's events (embedded server, file storage), and ClickHouse
//	         batch inserts of the same rows over the native protocol: the limits
//	e2e      the collectors' publish (stream.Publish, with ids and acks) and the projector's end-to-end rate
//	         (JetStream → ClickHouse, consumer.Run with the store), the projector running as its own process so
//	         that its peak memory can be read; then the same code in this process under the CPU profiler
//	fresh    delay from publish to row visible in ClickHouse at a steady rate
//	rebuild  `projector rebuild` of the whole dataset
//	queries  every dashboard panel's query at national scale
//	growth   the store's ClickHouse statements per batch, on a fresh database and at national scale: none may grow
//	         with the tables
//
// It prints a table, each figure next to its target, and writes the results as JSON (bench-results.json) beside the
// profiles. Sizes and time caps come from EGOV_BENCH_* variables (see config); EGOV_BENCH_QUICK=1 makes every size
// small. Every step is bounded in time: a run that would take far too long is stopped at its cap, and its rate is
// reported as measured and marked missed.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/caarlos0/env/v11"
)

func main() {
	var cfg config
	if err := env.ParseWithOptions(&cfg, env.Options{Prefix: "EGOV_BENCH_"}); err != nil {
		fmt.Fprintf(os.Stderr, "bench: configuration: %v\n", err)
		os.Exit(2)
	}
	if err := cfg.defaults(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{cfg: cfg, log: log}
	err := b.run(ctx)
	b.close()
	if err != nil {
		log.Error("bench failed", "err", err)
		os.Exit(1)
	}
}
