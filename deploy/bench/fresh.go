package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/egovtrack/egovtrack/internal/event"
)

// freshTarget is the p99 delay allowed from publish to row visible, in seconds.
const freshTarget = 1.5

// pollIDs bounds the ids of one poll, oldest first: a query well under ClickHouse's 256 KiB.
const pollIDs = 2000

// freshDrain is how long the freshness step waits, after its last publish, for the rows still missing.
const freshDrain = 30 * time.Second

// stepFresh measures the delay from publish to row visible in ClickHouse at a steady FreshRate.
//
// The projector runs as its own process (`projector run`, default settings: batches of 5,000, flushed every 500 ms)
// on a stream preloaded with the dataset's catalogue, every procedure of every unit registered (170,000 at national
// scale), which it projects first. Then this process publishes the level changes that follow in the dataset at
// FreshRate with stream.Publish, in chunks every 10 ms, noting in Go when each publish call started; a poller asks
// ClickHouse every FreshPoll which of the published ids the raw log (events) holds, oldest first, and notes when
// the answer came. The projector writes a batch's events last, after everything derived from them, so an id in
// events means its whole batch is visible. An event's delay is the answer's time minus its publish time: an upper
// bound, late by at most the poll interval plus one poll's duration (both reported). events.projected_at, with its
// one-second resolution and the server's clock, is not used. Rows still missing freshDrain after the last publish
// count as infinitely late.
func (b *bench) stepFresh(ctx context.Context) error {
	p, err := b.startNATS(ctx, "fresh")
	if err != nil {
		return err
	}
	defer p.close()
	conn, ch, err := b.database(ctx, "bench_fresh")
	if err != nil {
		return err
	}
	defer conn.Close()

	regs := b.data.registrations()
	steady := b.cfg.FreshRate * int(b.cfg.FreshFor.Seconds())
	if regs+steady > b.data.Events {
		steady = b.data.Events - regs
		b.note("fresh: the dataset has only %d events after its catalogue: the steady phase is shorter", steady)
	}
	if _, err := b.publishCollectors(ctx, p, 0, regs); err != nil {
		return err
	}
	pr, err := b.startProjector("fresh", p, ch, nil, "run")
	if err != nil {
		return err
	}
	defer pr.stop(2 * time.Minute)
	total := uint64(regs)
	done := p.acked(ctx, "projector", total)
	w := b.watch(ctx, pr, b.cfg.PreloadMax, done, func(n uint64) bool { return n >= total })
	b.add(result{Step: "c fresh", Name: "projector catching up on the catalogue (preload)", Value: float64(w.Done) / w.Elapsed.Seconds(),
		Unit: "events/s", Status: info, Note: fmt.Sprintf("%s registrations in %s", thousands(int64(w.Done)), w.Elapsed.Round(time.Second))})
	b.addStall("c fresh", "projector run (freshness preload)", w)
	if w.Capped || w.Done < total {
		// Stopped at the cap (even if its last batch, written on SIGTERM, finished the catalogue): no projector left.
		b.add(result{Step: "c fresh", Name: "freshness p99", Value: math.NaN(), Unit: "s", Target: fmt.Sprintf("≤ %.1f s", freshTarget), Status: missed,
			Note: fmt.Sprintf("not measured: the projector did not catch up on the %s-event catalogue within %s", thousands(int64(regs)), b.cfg.PreloadMax)})
		b.addRSS("projector run (freshness preload)", w.PeakKB)
		return nil
	}
	peak := w.PeakKB

	envs := make([]event.Envelope, 0, steady)
	for r, err := range b.data.read(regs, steady) {
		if err != nil {
			return err
		}
		envs = append(envs, r.Env)
	}
	sent := make([]time.Time, len(envs))
	seen := make([]time.Time, len(envs))
	var mu sync.Mutex
	published := 0 // how many of envs were handed to Publish (their sent times set)

	pubCtx, stopPub := context.WithCancel(ctx)
	defer stopPub()
	pubErr := make(chan error, 1)
	began := time.Now()
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		next := 0
		for next < len(envs) {
			select {
			case <-pubCtx.Done():
				pubErr <- pubCtx.Err()
				return
			case <-tick.C:
			}
			due := min(len(envs), int(time.Since(began).Seconds()*float64(b.cfg.FreshRate)))
			if due <= next {
				continue
			}
			now := time.Now()
			mu.Lock()
			for i := next; i < due; i++ {
				sent[i] = now
			}
			published = due
			mu.Unlock()
			if _, err := p.conn.Publish(pubCtx, envs[next:due], nil); err != nil {
				pubErr <- err
				return
			}
			next = due
		}
		pubErr <- nil
	}()

	// Poll until every published id is seen, or freshDrain after the last publish.
	var pollTook []time.Duration
	oldest := 0 // every id before it is seen
	var pubDone time.Time
	var memPeak uint64
	lastMem := time.Now()
	for {
		if pubDone.IsZero() {
			select {
			case err := <-pubErr:
				if err != nil {
					return fmt.Errorf("publish at %d events/s: %w", b.cfg.FreshRate, err)
				}
				pubDone = time.Now()
			default:
			}
		}
		if time.Since(lastMem) > time.Second {
			lastMem = time.Now()
			if _, hwm, err := memory(pr.cmd.Process.Pid); err == nil {
				memPeak = max(memPeak, hwm)
			}
		}
		mu.Lock()
		upto := published
		mu.Unlock()
		for oldest < upto && !seen[oldest].IsZero() {
			oldest++
		}
		if !pubDone.IsZero() && oldest == len(envs) {
			break
		}
		if !pubDone.IsZero() && time.Since(pubDone) > freshDrain {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var want []int
		for i := oldest; i < upto && len(want) < pollIDs; i++ {
			if seen[i].IsZero() {
				want = append(want, i)
			}
		}
		if len(want) > 0 {
			t0 := time.Now()
			found, err := visible(ctx, conn, envs, want)
			at := time.Now()
			if err != nil {
				return fmt.Errorf("poll: %w", err)
			}
			pollTook = append(pollTook, at.Sub(t0))
			for _, i := range found {
				seen[i] = at
			}
		}
		time.Sleep(b.cfg.FreshPoll)
	}
	pubFor := pubDone.Sub(began)
	peak = max(peak, memPeak)

	delays := make([]float64, len(envs))
	missing := 0
	for i := range envs {
		if seen[i].IsZero() {
			delays[i] = math.Inf(1)
			missing++
			continue
		}
		delays[i] = seen[i].Sub(sent[i]).Seconds()
	}
	slices.Sort(delays)
	polls := make([]float64, len(pollTook))
	for i, d := range pollTook {
		polls[i] = d.Seconds() * 1000
	}
	slices.Sort(polls)
	rate := float64(len(envs)) / pubFor.Seconds()
	resolution := fmt.Sprintf("resolution: poll every %s + a poll's p50 %.0f ms", b.cfg.FreshPoll, percentile(polls, 0.5))
	b.add(result{Step: "c fresh", Name: "steady publish rate achieved", Value: rate, Unit: "events/s",
		Target: fmt.Sprintf("%s events/s", thousands(int64(b.cfg.FreshRate))), Status: status(rate, 0.95*float64(b.cfg.FreshRate), false),
		Note: fmt.Sprintf("%s level changes over %s, on %s registered procedures", thousands(int64(len(envs))), pubFor.Round(time.Second), thousands(int64(regs)))})
	b.add(result{Step: "c fresh", Name: "freshness p50 (publish → row in ClickHouse)", Value: percentile(delays, 0.5), Unit: "s", Status: info, Note: resolution})
	note := resolution
	if missing > 0 {
		note = fmt.Sprintf("%d events not visible %s after the last publish (counted as ∞); %s", missing, freshDrain, note)
	}
	b.add(result{Step: "c fresh", Name: "freshness p99 (publish → row in ClickHouse)", Value: percentile(delays, 0.99), Unit: "s",
		Target: fmt.Sprintf("≤ %.1f s", freshTarget), Status: status(percentile(delays, 0.99), freshTarget, true), Note: note})
	b.add(result{Step: "c fresh", Name: "freshness max", Value: delays[len(delays)-1], Unit: "s", Status: info})
	if missing > 0 {
		visibleDelays := delays[:len(delays)-missing]
		b.add(result{Step: "c fresh", Name: "events visible in ClickHouse by the end", Value: float64(len(envs)-missing) / float64(len(envs)), Unit: "×", Status: info,
			Note: fmt.Sprintf("%s of %s, %s after the last publish; their median delay %.1f s: the projector fell behind the load",
				thousands(int64(len(envs)-missing)), thousands(int64(len(envs))), freshDrain, percentile(visibleDelays, 0.5))})
	}
	b.addRSS("projector run (freshness)", peak)
	return nil
}

// visible returns which of envs[want] the raw log holds.
func visible(ctx context.Context, conn driver.Conn, envs []event.Envelope, want []int) ([]int, error) {
	byID := make(map[string]int, len(want))
	var q strings.Builder
	q.WriteString("SELECT toString(id) FROM events WHERE id IN (")
	for k, i := range want {
		if k > 0 {
			q.WriteByte(',')
		}
		q.WriteString("toUUID('" + envs[i].ID + "')") // ids made by event.New: nothing to escape
		byID[envs[i].ID] = i
	}
	q.WriteString(")")
	rows, err := conn.Query(ctx, q.String())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		if i, ok := byID[id]; ok {
			out = append(out, i)
		}
	}
	return out, rows.Err()
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
