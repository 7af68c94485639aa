package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/projector/migrations"
)

// rawAsyncPending is how many raw publishes may await their ack: the client's pipeline, well above stream.Publish's
// window of 512, so that the server is the limit.
const rawAsyncPending = 4096

// projectorBatch is the projector's default batch (EGOV_PROJECTOR_BATCH_SIZE): the raw consume pulls and the raw
// insert writes in batches of that size, as the projector does.
const projectorBatch = 5000

// stepRaw measures the limits for the dataset's first Events events: JetStream publish (async, no ids, no headers)
// and consume (a durable pull consumer acking each message explicitly, as the projector's does, without decoding
// anything), both on an embedded server with file storage; and ClickHouse batch inserts of the same events as rows
// of the raw log (the projector's `events` table), over the native protocol.
func (b *bench) stepRaw(ctx context.Context) error {
	recs, err := b.data.load(0, b.cfg.Events)
	if err != nil {
		return err
	}
	n := len(recs)
	p, err := b.startNATS(ctx, "raw")
	if err != nil {
		return err
	}
	defer p.close()

	// Publish: a connection of its own, pipelining rawAsyncPending messages.
	nc, err := nats.Connect(p.srv.ClientURL())
	if err != nil {
		return err
	}
	defer nc.Close()
	var failed atomic.Int64
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(rawAsyncPending),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { failed.Add(1) }))
	if err != nil {
		return err
	}
	began := time.Now()
	for i := 0; i < n; i++ {
		if _, err := js.PublishAsync(recs[i].Env.Subject, recs[i].JSON); err != nil {
			// The pipeline is full beyond its stall wait: let it drain, then try the same message again.
			<-js.PublishAsyncComplete()
			i--
			continue
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(2 * time.Minute):
		return fmt.Errorf("raw publish: acks still pending after 2 minutes")
	}
	took := time.Since(began)
	if failed.Load() > 0 {
		return fmt.Errorf("raw publish: %d publishes failed", failed.Load())
	}
	b.rawPublish = float64(n) / took.Seconds()
	b.add(result{Step: "a raw", Name: "JetStream publish (async, file storage)", Value: b.rawPublish, Unit: "events/s", Status: info,
		Note: fmt.Sprintf("%d events in %s; no ids, no headers, %d in flight", n, took.Round(time.Millisecond), rawAsyncPending)})

	// Consume: every message, acked one by one, until the server has every ack; then again on another durable, each
	// message decoded with encoding/json into its envelope and its type's struct (the floor any JSON reader pays).
	s, err := p.stream(ctx)
	if err != nil {
		return err
	}
	consume := func(durable string, handle func(jetstream.Msg)) (time.Duration, error) {
		cons, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: durable, AckPolicy: jetstream.AckExplicitPolicy,
			AckWait: time.Minute, DeliverPolicy: jetstream.DeliverAllPolicy, MaxAckPending: 4 * projectorBatch})
		if err != nil {
			return 0, err
		}
		var got atomic.Int64
		all := make(chan struct{})
		began := time.Now()
		cc, err := cons.Consume(func(m jetstream.Msg) {
			handle(m)
			_ = m.Ack()
			if got.Add(1) == int64(n) {
				close(all)
			}
		}, jetstream.PullMaxMessages(projectorBatch))
		if err != nil {
			return 0, err
		}
		select {
		case <-all:
		case <-time.After(10 * time.Minute):
			cc.Stop()
			return 0, fmt.Errorf("raw consume: %d of %d messages after 10 minutes", got.Load(), n)
		}
		cc.Stop()
		for {
			ci, err := cons.Info(ctx)
			if err != nil {
				return 0, err
			}
			if ci.NumAckPending == 0 || time.Since(began) > 15*time.Minute {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		return time.Since(began), nil
	}
	took, err = consume("bench-raw", func(jetstream.Msg) {})
	if err != nil {
		return err
	}
	b.rawConsume = float64(n) / took.Seconds()
	b.add(result{Step: "a raw", Name: "JetStream consume (durable pull, explicit acks)", Value: b.rawConsume, Unit: "events/s", Status: info,
		Note: fmt.Sprintf("%d events in %s; pulls of %d, no decoding", n, took.Round(time.Millisecond), projectorBatch)})

	// The first decoding error (atomic.Value would panic on a second of another type).
	var decodeErr atomic.Pointer[error]
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpuBefore := cpuSeconds(os.Getpid()) // this process holds the NATS server too
	took, err = consume("bench-raw-decode", func(m jetstream.Msg) {
		var env event.Envelope
		if err := json.Unmarshal(m.Data(), &env); err != nil {
			decodeErr.CompareAndSwap(nil, &err)
			return
		}
		if _, err := env.UncheckedData(); err != nil {
			decodeErr.CompareAndSwap(nil, &err)
		}
	})
	runtime.ReadMemStats(&after)
	decodeCPU := cpuSeconds(os.Getpid()) - cpuBefore
	if err != nil {
		return err
	}
	if e := decodeErr.Load(); e != nil {
		return fmt.Errorf("raw consume and decode: %w", *e)
	}
	b.rawDecode = float64(n) / took.Seconds()
	b.add(result{Step: "a raw", Name: "JetStream consume + encoding/json decode of each event", Value: b.rawDecode, Unit: "events/s", Status: info,
		Note: fmt.Sprintf("%d events in %s; envelope and data structs, no validation; %.0f allocations an event (with the client's)",
			n, took.Round(time.Millisecond), float64(after.Mallocs-before.Mallocs)/float64(n))})
	b.rawDecodeCPU = decodeCPU / float64(n)
	b.add(result{Step: "a raw", Name: "CPU an event, consume + decode (NATS server and reader)", Value: b.rawDecodeCPU * 1e6, Unit: "µs", Status: info,
		Note: fmt.Sprintf("%.2f cores busy for %s events/s", decodeCPU/took.Seconds(), thousands(int64(b.rawDecode)))})
	p.close()

	// ClickHouse: the same events as rows of the raw log, prepared before the clock starts.
	rows := make([][]any, 0, n)
	now := time.Now()
	for _, r := range recs {
		d, err := r.Env.UncheckedData() // validated when the dataset was generated
		if err != nil {
			return err
		}
		u, _ := event.UnitOf(d)
		id, err := uuid.Parse(r.Env.ID)
		if err != nil {
			return err
		}
		rows = append(rows, []any{id, string(r.Env.Type), r.Env.Source, r.Env.Source, r.Env.Subject, string(u.Kind), u.Code,
			r.Env.Time, string(r.Env.Data), uint64(len(rows) + 1), now})
	}
	recs = nil
	for _, size := range []int{projectorBatch, 100_000} {
		rate, err := b.rawInsert(ctx, rows, size)
		if err != nil {
			return err
		}
		st := info
		if size == projectorBatch {
			b.rawInsertRate = rate
		}
		b.add(result{Step: "a raw", Name: fmt.Sprintf("ClickHouse insert into events, batches of %s", thousands(int64(size))), Value: rate,
			Unit: "rows/s", Status: st, Note: "native protocol, the projector's column list"})
	}
	return nil
}

const eventsInsert = "INSERT INTO events (id, type, source, submitted_by, subject, unit_kind, unit_code, time, data, stream_seq, received_at)"

// rawInsert writes rows into a fresh database's events table in batches of size, and returns rows per second.
func (b *bench) rawInsert(ctx context.Context, rows [][]any, size int) (float64, error) {
	conn, _, err := b.database(ctx, "bench_raw")
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	defer b.dropDatabase(ctx, "bench_raw")
	if _, err := migrations.Apply(ctx, conn, b.quiet()); err != nil {
		return 0, err
	}
	began := time.Now()
	for start := 0; start < len(rows); start += size {
		batch, err := conn.PrepareBatch(ctx, eventsInsert)
		if err != nil {
			return 0, err
		}
		for _, r := range rows[start:min(start+size, len(rows))] {
			if err := batch.Append(r...); err != nil {
				return 0, err
			}
		}
		if err := batch.Send(); err != nil {
			return 0, err
		}
	}
	return float64(len(rows)) / time.Since(began).Seconds(), nil
}
