package simulate

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/stream"
)

// Run generates the simulation and publishes it, logging progress every few seconds.
func Run(ctx context.Context, pub stream.Publisher, o Options, log *slog.Logger) (stream.Result, error) {
	envs, err := Generate(o)
	if err != nil {
		return stream.Result{}, err
	}
	log.Info("publishing simulated events", "events", len(envs), "seed", o.Seed,
		"from", o.Start.Format(event.DateLayout), "to", o.End.Format(event.DateLayout))
	began, lastLog := time.Now(), time.Now()
	res, err := pub.Publish(ctx, envs, func(done int) {
		if time.Since(lastLog) >= 2*time.Second {
			lastLog = time.Now()
			log.Info("publishing", "acknowledged", done, "of", len(envs))
		}
	})
	if err != nil {
		return res, fmt.Errorf("publish simulation: %w", err)
	}
	log.Info("simulation published", "stored", res.Stored, "duplicates", res.Duplicates, "took", time.Since(began).Round(time.Millisecond))
	return res, nil
}
