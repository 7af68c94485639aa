package simulate

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/progress"
	"github.com/egovtrack/egovtrack/internal/stream"
)

// Run generates the campaign and publishes it, showing progress on out (a bar on a terminal, log lines otherwise).
func Run(ctx context.Context, pub stream.Publisher, o Options, out io.Writer, log *slog.Logger) (stream.Result, error) {
	envs, err := Generate(o)
	if err != nil {
		return stream.Result{}, err
	}
	log.Info("publishing simulated events", "events", len(envs), "seed", o.Seed,
		"from", o.Start.Format(event.DateLayout), "to", o.End.Format(event.DateLayout))
	began := time.Now()
	bar := progress.New("publishing", len(envs), out, log)
	res, err := pub.Publish(ctx, envs, bar.Set)
	bar.Done()
	if err != nil {
		return res, fmt.Errorf("publish simulation: %w", err)
	}
	log.Info("simulation published", "stored", res.Stored, "duplicates", res.Duplicates, "took", time.Since(began).Round(time.Millisecond))
	return res, nil
}

// bulkChunk is how many bulk events are generated and published at a time: memory stays flat whatever the total.
const bulkChunk = 10_000

// RunBulk publishes a bulk simulation chunk by chunk, showing progress on out.
func RunBulk(ctx context.Context, pub stream.Publisher, o BulkOptions, out io.Writer, log *slog.Logger) (stream.Result, error) {
	var total stream.Result
	log.Info("publishing bulk events", "events", o.Events, "procedures_per_unit", o.ProceduresPerUnit, "seed", o.Seed)
	began := time.Now()
	bar := progress.New("publishing", o.Events, out, log)
	defer bar.Done()
	chunk := make([]event.Envelope, 0, bulkChunk)
	flush := func() error {
		done := total.Stored + total.Duplicates
		res, err := pub.Publish(ctx, chunk, func(n int) { bar.Set(done + n) })
		total.Stored += res.Stored
		total.Duplicates += res.Duplicates
		chunk = chunk[:0]
		return err
	}
	for env, err := range Bulk(o) {
		if err != nil {
			return total, err
		}
		chunk = append(chunk, env)
		if len(chunk) == bulkChunk {
			if err := flush(); err != nil {
				return total, fmt.Errorf("publish bulk events: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return total, fmt.Errorf("publish bulk events: %w", err)
	}
	took := time.Since(began)
	log.Info("bulk events published", "stored", total.Stored, "duplicates", total.Duplicates, "took", took.Round(time.Millisecond),
		"per_second", int(float64(o.Events)/took.Seconds()))
	return total, nil
}
