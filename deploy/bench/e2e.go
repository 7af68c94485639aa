package main

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/egovtrack/egovtrack/internal/chdb"
	"github.com/egovtrack/egovtrack/internal/event"
)

// publishChunk is how many events the collectors hand stream.Publish at a time, as simulate.RunBulk does.
const publishChunk = 10_000

// ratioTarget is the projector's end-to-end rate against the raw consume rate that the issue asks for.
const ratioTarget = 0.7

// decodeRatioTarget is the projector's end-to-end rate over the raw consume + encoding/json decode of every event,
// the floor any JSON reader pays (issue #15).
const decodeRatioTarget = 0.6

// rssTarget is the projector's peak resident memory allowed, in MB.
const rssTarget = 150.0

// publishCollectors publishes n events of the dataset from index from with stream.Publish (ids, acks, retries: the
// collectors' path), chunk by chunk, and returns the rate of the Publish calls alone (reading the dataset is not
// timed).
func (b *bench) publishCollectors(ctx context.Context, p *natsPhase, from, n int) (float64, error) {
	var took time.Duration
	chunk := make([]event.Envelope, 0, publishChunk)
	stored := 0
	lastLog := time.Now()
	flush := func() error {
		began := time.Now()
		res, err := p.publisher().Publish(ctx, chunk, nil)
		took += time.Since(began)
		stored += res.Stored + res.Duplicates
		chunk = chunk[:0]
		if time.Since(lastLog) > 15*time.Second {
			lastLog = time.Now()
			b.log.Info("publishing", "done", stored, "of", n, "per_second", int(float64(stored)/took.Seconds()))
		}
		return err
	}
	for r, err := range b.data.read(from, n) {
		if err != nil {
			return 0, err
		}
		chunk = append(chunk, r.Env)
		if len(chunk) == publishChunk {
			if err := flush(); err != nil {
				return 0, err
			}
		}
	}
	if len(chunk) > 0 {
		if err := flush(); err != nil {
			return 0, err
		}
	}
	if stored != n {
		return 0, fmt.Errorf("published %d events, JetStream acknowledged %d", n, stored)
	}
	return float64(n) / took.Seconds(), nil
}

// stepE2E publishes Events events as the collectors do, then runs the projector binary (`projector run` until caught
// up, default settings) on them and measures its rate and peak memory. A run still going at E2EMax is stopped; its
// rate is then what it reached. When the rate misses its target, the same code runs in this process on the rest of
// the stream under the CPU profiler (see profileProjector).
func (b *bench) stepE2E(ctx context.Context) error {
	p, err := b.startNATS(ctx, "e2e")
	if err != nil {
		return err
	}
	defer p.close()
	n := b.cfg.Events
	rate, err := b.publishCollectors(ctx, p, 0, n)
	if err != nil {
		return err
	}
	b.collectorsPublish = rate
	b.add(result{Step: "b e2e", Name: "collectors' publish (stream.Publish: ids, acks)", Value: rate, Unit: "events/s", Status: info,
		Note: fmt.Sprintf("%s events, chunks of %s", thousands(int64(n)), thousands(publishChunk))})
	if b.rawPublish > 0 {
		b.add(result{Step: "b e2e", Name: "collectors' publish ÷ raw JetStream publish", Value: rate / b.rawPublish, Unit: "×", Status: info})
	}

	conn, ch, err := b.database(ctx, "bench_e2e")
	if err != nil {
		return err
	}
	defer conn.Close()
	pr, err := b.startProjector("e2e", p, ch, []string{"EGOV_PROJECTOR_UNTIL_CAUGHT_UP=true"}, "run")
	if err != nil {
		return err
	}
	total := uint64(n)
	done := p.acked(ctx, "projector", total)
	w := b.watch(ctx, pr, b.cfg.E2EMax, done, nil)
	b.progress("e2e", w.Progress)
	if w.ExitErr != nil && !w.Capped {
		return fmt.Errorf("projector run exited: %v (log: %s)", w.ExitErr, pr.logPath)
	}
	e2e := float64(w.Done) / w.Elapsed.Seconds()
	if !w.Capped {
		b.catalogueE2E = e2e
	}
	note := fmt.Sprintf("%s of %s events in %s", thousands(int64(w.Done)), thousands(int64(n)), w.Elapsed.Round(time.Second))
	if w.Capped {
		note += fmt.Sprintf("; STOPPED at the %s cap", b.cfg.E2EMax)
	}
	target := fmt.Sprintf("≥ %.1f × raw consume", ratioTarget)
	st := info
	if b.rawConsume > 0 {
		target = fmt.Sprintf("≥ %s events/s", thousands(int64(ratioTarget*b.rawConsume)))
		st = status(e2e, ratioTarget*b.rawConsume, false)
	}
	b.add(result{Step: "b e2e", Name: "projector end-to-end (process, JetStream → ClickHouse)", Value: e2e, Unit: "events/s", Target: target, Status: st, Note: note})
	if b.rawDecode > 0 {
		b.add(result{Step: "b e2e", Name: "projector e2e ÷ raw consume + decode", Value: e2e / b.rawDecode, Unit: "×",
			Target: fmt.Sprintf("≥ %.1f", decodeRatioTarget), Status: status(e2e/b.rawDecode, decodeRatioTarget, false)})
	}
	if b.rawConsume > 0 {
		b.add(result{Step: "b e2e", Name: "projector e2e ÷ raw JetStream consume", Value: e2e / b.rawConsume, Unit: "×",
			Target: fmt.Sprintf("≥ %.1f", ratioTarget), Status: status(e2e/b.rawConsume, ratioTarget, false)})
	}
	if b.rawInsertRate > 0 {
		b.add(result{Step: "b e2e", Name: "projector e2e ÷ raw ClickHouse insert", Value: e2e / b.rawInsertRate, Unit: "×", Status: info})
	}
	if secs := w.Elapsed.Seconds(); secs > 120 {
		first, last := rateBetween(w.Progress, 0, 60), rateBetween(w.Progress, secs-60, secs)
		b.add(result{Step: "b e2e", Name: "projector rate in its first minute", Value: first, Unit: "events/s", Status: info})
		b.add(result{Step: "b e2e", Name: "projector rate in its last minute", Value: last, Unit: "events/s", Status: info,
			Note: "a falling rate: each batch costs more as the tables grow"})
	}
	b.addStall("b e2e", "projector run (e2e)", w)
	var rows uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM events").Scan(&rows); err == nil && rows != w.Done {
		b.note("e2e: the raw log holds %d rows, the consumer acknowledged %d", rows, w.Done)
	}
	b.addRSS("projector run (e2e)", w.PeakKB)

	if st == missed || w.Capped {
		return b.profileAfter(ctx, p, ch, "b e2e", "e2e", w.Done == total)
	}
	return nil
}

// profileAfter profiles the projector's code (profileProjector) after a projector process missed its target: on the
// rest of the stream, or, when the process caught up (nothing left), on the stream again from its start into a
// database of its own, bench_<name>_profile.
func (b *bench) profileAfter(ctx context.Context, p *natsPhase, ch chdb.Config, step, name string, caughtUp bool) error {
	durable := "projector"
	if caughtUp {
		durable = "profile"
		pconn, pch, err := b.database(ctx, "bench_"+name+"_profile")
		if err != nil {
			return err
		}
		pconn.Close()
		ch = pch
	}
	if err := b.profileProjector(ctx, p, ch, step, name, durable); err != nil {
		b.note("profiling the projector (%s) failed: %v", name, err)
	}
	return nil
}

// addStall reports the longest time a projector run acknowledged nothing while the stream had messages left.
func (b *bench) addStall(step, what string, w watched) {
	if w.MaxStall >= 5*time.Second {
		b.add(result{Step: step, Name: "longest stall: nothing acknowledged, messages left, " + what, Value: w.MaxStall.Seconds(), Unit: "s", Status: info,
			Note: "sampled every second"})
	}
}

// addRSS reports a projector process's peak resident memory against the target (f).
func (b *bench) addRSS(what string, kb uint64) {
	mb := float64(kb) / 1024
	if kb == 0 {
		mb = math.NaN()
	}
	b.add(result{Step: "f memory", Name: "peak RSS (VmHWM), " + what, Value: mb, Unit: "MB", Target: fmt.Sprintf("≤ %.0f MB", rssTarget),
		Status: status(mb, rssTarget, true)})
}
