// Package consumer reads the event stream with a durable JetStream pull consumer and hands it to the store in
// batches, acknowledging each message only after the store has written its batch.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/projector/store"
)

// Config tunes the consumer; the projector reads it with the prefix EGOV_PROJECTOR_.
type Config struct {
	// Durable is the consumer's name: the stream remembers how far it got under it.
	Durable string `env:"DURABLE" envDefault:"projector"`
	// BatchSize is the most events written in one batch: ClickHouse likes few large inserts.
	BatchSize int `env:"BATCH_SIZE" envDefault:"5000"`
	// FlushInterval is the longest an event waits for its batch to fill: it bounds how stale a dashboard can be.
	FlushInterval time.Duration `env:"FLUSH_INTERVAL" envDefault:"500ms"`
	// AckWait is how long JetStream waits for an ack before redelivering; the consumer also reports progress on
	// messages whose write is being retried, so it need only exceed one insert.
	AckWait time.Duration `env:"ACK_WAIT" envDefault:"1m"`
}

// Validate checks the settings make sense together.
func (c Config) Validate() error {
	switch {
	case c.Durable == "":
		return errors.New("EGOV_PROJECTOR_DURABLE must not be empty")
	case c.BatchSize < 1:
		return fmt.Errorf("EGOV_PROJECTOR_BATCH_SIZE is %d, want at least 1", c.BatchSize)
	case c.FlushInterval <= 0:
		return fmt.Errorf("EGOV_PROJECTOR_FLUSH_INTERVAL is %s, want more than 0", c.FlushInterval)
	case c.AckWait < time.Second:
		return fmt.Errorf("EGOV_PROJECTOR_ACK_WAIT is %s, want at least 1s", c.AckWait)
	}
	return nil
}

// Writer stores a batch, returning only when all of it is stored.
type Writer interface {
	Write(ctx context.Context, recs []store.Record, rejected []store.Rejected) error
}

// Stats counts what a run did.
type Stats struct {
	Projected int // valid events written
	Rejected  int // messages quarantined
	Batches   int
}

// Consumer is the projector's reading side.
type Consumer struct {
	cfg  Config
	cons jetstream.Consumer
	w    Writer
	log  *slog.Logger
}

// New creates or updates the durable consumer on the stream.
func New(ctx context.Context, s jetstream.Stream, cfg Config, w Writer, log *slog.Logger) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cons, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		Description:   "egovtrack projector: events into ClickHouse",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		// Room for a full batch in flight and the next one arriving meanwhile.
		MaxAckPending: 4 * cfg.BatchSize,
	})
	if err != nil {
		return nil, fmt.Errorf("create consumer %s: %w", cfg.Durable, err)
	}
	return &Consumer{cfg: cfg, cons: cons, w: w, log: log}, nil
}

// Run projects events until ctx ends, or, with untilCaughtUp, until every event in the stream is written. When ctx
// ends it writes the batch in flight before returning, so a stop never leaves written but unacked events behind.
func (c *Consumer) Run(ctx context.Context, untilCaughtUp bool) (Stats, error) {
	var st Stats
	msgs := make(chan jetstream.Msg, c.cfg.BatchSize)
	cc, err := c.cons.Consume(func(m jetstream.Msg) {
		select {
		case msgs <- m:
		case <-ctx.Done():
		}
	}, jetstream.PullMaxMessages(c.cfg.BatchSize))
	if err != nil {
		return st, fmt.Errorf("consume: %w", err)
	}
	defer cc.Stop()

	batch := make([]jetstream.Msg, 0, c.cfg.BatchSize)
	flush := func(ctx context.Context) error {
		if len(batch) == 0 {
			return nil
		}
		err := c.flush(ctx, batch, &st)
		batch = batch[:0]
		return err
	}
	tick := time.NewTicker(c.cfg.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			cc.Stop()
			// Drain what was delivered; a fresh context so that the write in flight can finish.
			for len(msgs) > 0 {
				batch = append(batch, <-msgs)
			}
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.AckWait)
			defer cancel()
			if err := flush(dctx); err != nil {
				return st, err
			}
			return st, nil
		case m := <-msgs:
			batch = append(batch, m)
			if len(batch) >= c.cfg.BatchSize {
				if err := flush(ctx); err != nil {
					return st, err
				}
			}
		case <-tick.C:
			if len(batch) > 0 {
				if err := flush(ctx); err != nil {
					return st, err
				}
				continue
			}
			if untilCaughtUp {
				done, err := c.caughtUp(ctx, len(msgs))
				if err != nil {
					return st, err
				}
				if done {
					return st, nil
				}
			}
		}
	}
}

// caughtUp reports whether every message of the stream has been written and acknowledged.
func (c *Consumer) caughtUp(ctx context.Context, buffered int) (bool, error) {
	if buffered > 0 {
		return false, nil
	}
	info, err := c.cons.Info(ctx)
	if err != nil {
		return false, fmt.Errorf("consumer info: %w", err)
	}
	return info.NumPending == 0 && info.NumAckPending == 0, nil
}

// flush decodes a batch, writes it (retrying until the store accepts it or ctx ends) and acks every message.
func (c *Consumer) flush(ctx context.Context, msgs []jetstream.Msg, st *Stats) error {
	recs := make([]store.Record, 0, len(msgs))
	var rejected []store.Rejected
	for _, m := range msgs {
		meta, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("message metadata: %w", err)
		}
		env, d, err := event.Decode(m.Data())
		if err != nil {
			rejected = append(rejected, store.Rejected{Seq: meta.Sequence.Stream, Subject: m.Subject(), Payload: m.Data(), Reason: err.Error(), ReceivedAt: meta.Timestamp})
			continue
		}
		recs = append(recs, store.Record{Env: env, Data: d, Seq: meta.Sequence.Stream, ReceivedAt: meta.Timestamp,
			SubmittedBy: m.Headers().Get(stream.SubmittedByHeader)})
	}
	began := time.Now()
	wait := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := c.w.Write(ctx, recs, rejected)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("write batch of %d: %w (after %d attempts)", len(msgs), err, attempt)
		}
		c.log.Warn("write failed, retrying", "batch", len(msgs), "attempt", attempt, "err", err)
		// Keep JetStream from redelivering the batch while ClickHouse is away.
		for _, m := range msgs {
			_ = m.InProgress()
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return fmt.Errorf("write batch of %d: %w", len(msgs), ctx.Err())
		}
		wait = min(2*wait, 10*time.Second)
	}
	for _, m := range msgs {
		if err := m.Ack(); err != nil {
			// The batch is written; an unacked message comes back and is written again without effect.
			c.log.Warn("ack failed", "subject", m.Subject(), "err", err)
		}
	}
	st.Projected += len(recs)
	st.Rejected += len(rejected)
	st.Batches++
	c.log.Debug("batch written", "events", len(recs), "rejected", len(rejected), "took", time.Since(began))
	return nil
}
