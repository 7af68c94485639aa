package main

import (
	"context"
	"fmt"
	"time"
)

// rebuildTarget is the longest a rebuild of 10 million events may take.
const rebuildTarget = 3 * time.Minute

// stepRebuild publishes ReplayEvents events as the collectors do and times `projector rebuild` on them (the binary,
// as an operator runs it). A rebuild still going at RebuildMax is stopped (SIGTERM: the durable consumer keeps what
// was acknowledged); its time for the whole stream is then extrapolated from the rate it reached, which flatters it
// when each batch costs more as the tables grow.
func (b *bench) stepRebuild(ctx context.Context) error {
	p, err := b.startNATS(ctx, "rebuild")
	if err != nil {
		return err
	}
	defer p.close()
	n := b.cfg.ReplayEvents
	rate, err := b.publishCollectors(ctx, p, 0, n)
	if err != nil {
		return err
	}
	b.add(result{Step: "d replay", Name: "collectors' publish of the replayed stream", Value: rate, Unit: "events/s", Status: info,
		Note: thousands(int64(n)) + " events"})
	conn, ch, err := b.database(ctx, "bench_replay")
	if err != nil {
		return err
	}
	conn.Close()
	defer b.dropDatabase(context.WithoutCancel(ctx), "bench_replay")
	pr, err := b.startProjector("rebuild", p, ch, nil, "rebuild")
	if err != nil {
		return err
	}
	total := uint64(n)
	done := p.acked(ctx, "projector", total)
	w := b.watch(ctx, pr, b.cfg.RebuildMax, done, nil)
	b.progress("rebuild", w.Progress)
	target := fmt.Sprintf("≤ %s for 10,000,000", rebuildTarget)
	if w.ExitErr == nil && !w.Capped {
		// Scaled to 10 million when the stream is smaller (a quick run), at the same rate.
		per10M := w.Elapsed.Seconds() * 10e6 / float64(n)
		b.add(result{Step: "d replay", Name: fmt.Sprintf("projector rebuild of %s events", thousands(int64(n))), Value: w.Elapsed.Seconds(), Unit: "s",
			Status: info, Note: fmt.Sprintf("%s events/s", thousands(int64(float64(n)/w.Elapsed.Seconds())))})
		note := ""
		if n != 10_000_000 {
			note = "scaled linearly from the run above"
		}
		b.add(result{Step: "d replay", Name: "projector rebuild, time for 10,000,000 events", Value: per10M, Unit: "s", Target: target,
			Status: status(per10M, rebuildTarget.Seconds(), true), Note: note})
	} else {
		r := float64(w.Done) / w.Elapsed.Seconds()
		b.add(result{Step: "d replay", Name: "projector rebuild rate until stopped", Value: r, Unit: "events/s", Status: info,
			Note: fmt.Sprintf("%s of %s events in %s; STOPPED at the %s cap (exit: %v)", thousands(int64(w.Done)), thousands(int64(n)),
				w.Elapsed.Round(time.Second), b.cfg.RebuildMax, w.ExitErr)})
		est := 10e6 / r
		b.add(result{Step: "d replay", Name: "projector rebuild, time for 10,000,000 events (extrapolated)", Value: est, Unit: "s", Target: target,
			Status: missed, Note: "at least: at the rate reached before the cap, which falls as the tables grow"})
	}
	b.addStall("d replay", "projector rebuild", w)
	b.addRSS("projector rebuild", w.PeakKB)
	return nil
}
