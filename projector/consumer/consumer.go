// Package consumer reads the event stream with a durable JetStream pull consumer and hands it to the store in
// batches, acknowledging each message only after the store has written its batch. It reports what it does to the
// projector's metrics and health (projector/metrics).
package consumer

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/natsauth"
	"github.com/egovtrack/egovtrack/internal/retry"
	"github.com/egovtrack/egovtrack/projector/metrics"
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
	// messages whose write is being retried, so it need only exceed one write attempt (WriteTimeout).
	AckWait time.Duration `env:"ACK_WAIT" envDefault:"1m"`
	// WriteTimeout bounds one attempt at writing a batch, which is then retried: below AckWait, so that JetStream
	// does not deliver the batch again meanwhile. A batch of 5,000 takes a fraction of a second; the first after a
	// start, which reads its units' histories, seconds (5 s with 2 million events in the tables). Whether ClickHouse
	// answers at all is the health's to say, call by call (metrics.Observe), well before. 0 (the default) is five
	// sixths of AckWait: 50 s.
	WriteTimeout time.Duration `env:"WRITE_TIMEOUT"`
	// ProbeInterval is how often the consumer asks JetStream how much is waiting (the lag metric), and, when
	// nothing was written meanwhile, ClickHouse whether it answers: so that /healthz tells of a dead or frozen
	// dependency within its grace even when no event arrives. 0 is the default.
	ProbeInterval time.Duration `env:"PROBE_INTERVAL" envDefault:"5s"`
	// SignersFile is the public key of every NATS credential (deploy/nats/nkeys.txt). With it, the consumer checks
	// each signed event's signature and that its signer may submit events for the event's unit, and records the
	// signer in events.submitted_by; an event that fails is quarantined as unauthorised.
	SignersFile string `env:"SIGNERS_FILE"`
	// RequireSignature quarantines, as unauthorised, every event that no credential of SignersFile signed.
	RequireSignature bool `env:"REQUIRE_SIGNATURE" envDefault:"false"`
	// Partition is "k/n" when n projector instances share the stream, this one the k-th: see Partition. Empty: all.
	Partition string `env:"PARTITION"`
	// Now is the clock the events' time domain ends by (event.Contract); nil is the system clock.
	Now func() time.Time `env:"-"`
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
	case c.WriteTimeout < 0 || c.writeTimeout() >= c.AckWait:
		return fmt.Errorf("EGOV_PROJECTOR_WRITE_TIMEOUT is %s, want more than 0 and less than EGOV_PROJECTOR_ACK_WAIT (%s): "+
			"a batch must be written or given up before JetStream delivers it again", c.writeTimeout(), c.AckWait)
	case c.ProbeInterval < 0:
		return fmt.Errorf("EGOV_PROJECTOR_PROBE_INTERVAL is %s, want more than 0", c.ProbeInterval)
	case c.RequireSignature && c.SignersFile == "":
		return errors.New("EGOV_PROJECTOR_REQUIRE_SIGNATURE needs EGOV_PROJECTOR_SIGNERS_FILE, the credentials' public keys")
	}
	_, err := ParsePartition(c.Partition)
	return err
}

// Defaults for a Config built in code without them; the environment's defaults are the same.
const (
	defaultProbeInterval = 5 * time.Second
)

func (c Config) writeTimeout() time.Duration {
	if c.WriteTimeout == 0 {
		return c.AckWait * 5 / 6
	}
	return c.WriteTimeout
}

func (c Config) probeInterval() time.Duration { return cmp.Or(c.ProbeInterval, defaultProbeInterval) }

// Writer stores a batch, returning only when all of it is stored.
type Writer interface {
	Write(ctx context.Context, recs []store.Record, rejected []store.Rejected) error
}

// A Pinger is a Writer that can say whether its database answers, without writing: the consumer asks it when
// nothing was written for a while, so that the projector's health follows ClickHouse when no event arrives.
type Pinger interface {
	Ping(ctx context.Context) error
}

// A BatchWriter is a Writer that also says what it skipped because the raw log already held it, and what it refused
// and quarantined (store.Written). The consumer counts those in Stats and the metrics; with a plain Writer nothing
// is skipped or refused.
type BatchWriter interface {
	Writer
	WriteBatch(ctx context.Context, recs []store.Record, rejected []store.Rejected) (store.Written, error)
}

// Stats counts what a run did.
type Stats struct {
	Projected int // valid events written, or found already written
	Skipped   int // of those, the events the raw log already held (known from a BatchWriter only)
	Rejected  int // messages quarantined, the events the store refused among them
	Batches   int
	// Verified counts the signatures verified; Trusted, those a verdict recorded when they were first verified
	// vouched for instead (a replay, a rebuild). Both count the events written only.
	Verified, Trusted int
}

// Consumer is the projector's reading side.
type Consumer struct {
	cfg  Config
	cons jetstream.Consumer
	w    Writer
	m    *metrics.Metrics
	log  *slog.Logger
	// signers are the credentials whose signatures the consumer checks; nil without Config.SignersFile.
	signers *natsauth.Model
}

// probeTimeout bounds the request that checks whether NATS answers again after an error.
const probeTimeout = 5 * time.Second

// New creates or updates the durable consumer on the stream. The consumer reports its metrics and health to m; a nil
// m reports nowhere (a rebuild, a test that reads no metrics).
func New(ctx context.Context, s jetstream.Stream, cfg Config, w Writer, m *metrics.Metrics, log *slog.Logger) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var signers *natsauth.Model
	if cfg.SignersFile != "" {
		// The names of the stream and the durable consumer play no part in checking signatures.
		m, err := natsauth.LoadModel(cfg.SignersFile, s.CachedInfo().Config.Name, cfg.Durable)
		if err != nil {
			return nil, fmt.Errorf("EGOV_PROJECTOR_SIGNERS_FILE: %w", err)
		}
		signers = m
	}
	part, _ := ParsePartition(cfg.Partition) // checked by Validate
	cons, err := ensureDurable(ctx, s, jetstream.ConsumerConfig{
		Durable:        part.Durable(cfg.Durable),
		FilterSubjects: part.Subjects(),
		Description:    "egovtrack projector: events into ClickHouse",
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        cfg.AckWait,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		// Room for a batch being written, the next one decoded and waiting for it, and a third arriving meanwhile;
		// every message beyond that would only sit in memory.
		MaxAckPending: 3 * cfg.BatchSize,
	}, log)
	if err != nil {
		return nil, fmt.Errorf("create consumer %s: %w", part.Durable(cfg.Durable), err)
	}
	if err := resume(ctx, s, cons, log); err != nil {
		return nil, err
	}
	if m == nil {
		m = metrics.New(nil)
	}
	return &Consumer{cfg: cfg, cons: cons, w: w, m: m, log: log, signers: signers}, nil
}

// resume hands this consumer, at once, the messages an earlier run was given and never acknowledged (it crashed, or
// was killed): JetStream would otherwise hold them for the ack wait, and with them, since as many as MaxAckPending
// wait, every message behind them. Resetting the consumer to its ack floor delivers them again now; the store skips
// what it already wrote. Only one projector runs a durable consumer (a rebuild makes sure none does), so nothing
// else is waiting on those messages. A server without the reset API (before NATS 2.14) leaves them to the ack wait.
func resume(ctx context.Context, s jetstream.Stream, cons jetstream.Consumer, log *slog.Logger) error {
	ci := cons.CachedInfo()
	if ci.NumAckPending == 0 {
		return nil
	}
	if _, err := s.ResetConsumer(ctx, ci.Name); err != nil {
		log.Warn("could not take back the messages an earlier run left unacknowledged; they come back after the ack wait",
			"consumer", ci.Name, "unacknowledged", ci.NumAckPending, "err", err)
		return nil
	}
	log.Info("resumed from the last acknowledged message", "consumer", ci.Name, "taken_back", ci.NumAckPending,
		"ack_floor", ci.AckFloor.Stream)
	return nil
}

// ensureDurable creates the durable consumer want, or takes the one of its name that the projector made before
// (updating AckWait and MaxAckPending), keeping the position it reached.
//
// A consumer of that name that the projector did not make, it deletes and makes anew, from the start of the stream
// (what it wrote already, it skips): another credential may have taken the name before the projector used it (the
// authorisation reserves the projector's names, but not one chosen later, such as a new EGOV_PROJECTOR_DURABLE), and
// such a consumer would either keep the projector from starting (a setting JetStream cannot update) or, updated to
// the projector's filter, deliver only what comes after everything it had delivered to its maker: the events before
// would never be projected. A consumer is the projector's when it delivers what the projector asks for, as the
// projector acks: the same filter, every message from the first, acked one by one, redelivered until acked.
func ensureDurable(ctx context.Context, s jetstream.Stream, want jetstream.ConsumerConfig, log *slog.Logger) (jetstream.Consumer, error) {
	for range 2 { // a second turn only when another made the name between the look and the create
		have, err := s.Consumer(ctx, want.Durable)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			cons, err := s.CreateConsumer(ctx, want)
			if errors.Is(err, jetstream.ErrConsumerExists) {
				continue
			}
			return cons, err
		}
		if err != nil {
			return nil, err
		}
		why := notOurs(have.CachedInfo().Config, want)
		if why == "" {
			cons, err := s.UpdateConsumer(ctx, want)
			var apiErr *jetstream.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode != jetstream.JSErrCodeConsumerCreate {
				return cons, err
			}
			why = apiErr.Description // a setting the projector never sets, which JetStream cannot update
		}
		log.Error("the durable consumer is not the projector's: deleting it and starting it anew from the start of the stream",
			"consumer", want.Durable, "why", why)
		if err := s.DeleteConsumer(ctx, want.Durable); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, fmt.Errorf("delete the consumer another made under the projector's name (%s): %w", why, err)
		}
		cons, err := s.CreateConsumer(ctx, want)
		if errors.Is(err, jetstream.ErrConsumerExists) {
			continue
		}
		return cons, err
	}
	return nil, errors.New("another keeps creating a consumer under the projector's name")
}

// notOurs says why the consumer configured as have does not deliver what the projector's, want, would have: "" when
// it does.
func notOurs(have, want jetstream.ConsumerConfig) string {
	filters := func(c jetstream.ConsumerConfig) []string {
		f := slices.Clone(c.FilterSubjects)
		if c.FilterSubject != "" {
			f = append(f, c.FilterSubject)
		}
		slices.Sort(f)
		return f
	}
	switch {
	case have.Durable != want.Durable:
		return "it is not durable"
	case !slices.Equal(filters(have), filters(want)):
		return fmt.Sprintf("it is filtered on %v, the projector's on %v", filters(have), filters(want))
	case have.DeliverPolicy != want.DeliverPolicy || have.OptStartSeq != 0 || have.OptStartTime != nil:
		return "it does not deliver the stream from its first message"
	case have.AckPolicy != want.AckPolicy:
		return fmt.Sprintf("it acknowledges %s, the projector each message", have.AckPolicy)
	case have.MaxDeliver > 0:
		return fmt.Sprintf("it gives up on a message after %d deliveries", have.MaxDeliver)
	}
	return ""
}

// Run projects events until ctx ends, or, with untilCaughtUp, until every event in the stream is written. When ctx
// ends it writes the batch in flight before returning, so a stop never leaves written but unacked events behind.
func (c *Consumer) Run(ctx context.Context, untilCaughtUp bool) (st Stats, err error) {
	// The loop turns at every tick; a write may hold it up to the ack wait.
	c.m.Health.Running(c.cfg.AckWait + c.cfg.FlushInterval)
	defer func() { c.m.Health.Stopped(err) }()
	msgs := make(chan jetstream.Msg, c.cfg.BatchSize)
	cc, err := c.cons.Consume(func(m jetstream.Msg) {
		select {
		case msgs <- m:
		case <-ctx.Done():
		}
	}, jetstream.PullMaxMessages(c.cfg.BatchSize), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		// Missed heartbeats, a lost connection, a deleted consumer: JetStream retries what it can.
		c.log.Warn("consuming failed", "err", err)
		c.m.Health.NATSFailed(err)
	}))
	if err != nil {
		return st, fmt.Errorf("consume: %w", err)
	}
	defer cc.Stop()
	stopWatch := c.watch(ctx)
	defer stopWatch()

	// One batch is written while the next is collected and decoded: the store spends most of a write waiting on
	// ClickHouse, and decoding is most of the consumer's CPU.
	wr := c.startWriter()
	defer func() {
		// The writer keeps the stats: it alone knows what was written.
		var werr error
		st, werr = wr.stop()
		if err == nil {
			err = werr
		}
	}()
	batch := make([]jetstream.Msg, 0, c.cfg.BatchSize)
	flush := func(ctx context.Context) error {
		if len(batch) == 0 {
			return nil
		}
		d, err := c.decode(ctx, batch)
		batch = make([]jetstream.Msg, 0, c.cfg.BatchSize) // the writer holds the last one
		if err != nil {
			return err
		}
		return wr.submit(ctx, d)
	}
	tick := time.NewTicker(c.cfg.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-wr.done:
			return st, nil // with the writer's error, set by the deferred stop
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
			// Wait for the drained batch here, while dctx lasts.
			_, err := wr.stop()
			return st, err
		case m := <-msgs:
			batch = append(batch, m)
			if len(batch) >= c.cfg.BatchSize {
				if err := flush(ctx); err != nil {
					return st, err
				}
				// The interval starts again: a tick that fell during the write would flush the next few
				// messages as a batch of their own.
				tick.Reset(c.cfg.FlushInterval)
			}
		case <-tick.C:
			c.m.Health.Turn()
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

// watch probes the consumer's dependencies every ProbeInterval on a goroutine of its own, until the returned func
// is called: JetStream, for what waits in the stream (the lag) and whether it answers; ClickHouse, when no call to it
// is waiting and none answered within the interval, for whether it answers. The consumer loop and the writer can
// both be held up by a dependency that does not answer; the watch is not, so the health and the lag stay true then.
func (c *Consumer) watch(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	every := c.cfg.probeInterval()
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			c.probe(ctx, every)
			if p, ok := c.w.(Pinger); ok && c.m.Health.QuietFor(every) {
				c.ping(ctx, p, every)
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// probe asks NATS for the consumer's state: whether it answers, and how much of the stream is not written yet.
func (c *Consumer) probe(ctx context.Context, timeout time.Duration) {
	pctx, cancel := context.WithTimeout(ctx, min(timeout, probeTimeout))
	defer cancel()
	info, err := c.cons.Info(pctx)
	if err != nil {
		if ctx.Err() == nil {
			c.m.Health.NATSFailed(fmt.Errorf("consumer info: %w", err))
		}
		return
	}
	c.natsAnswered(info)
}

// ping asks ClickHouse whether it answers, as a write would find out.
func (c *Consumer) ping(ctx context.Context, p Pinger, timeout time.Duration) {
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := p.Ping(pctx)
	switch {
	case ctx.Err() != nil:
	case err != nil:
		c.m.Health.WriteFailed(fmt.Errorf("ping: %w", err))
	default:
		if d := c.m.Health.WriteSucceeded(); d > 0 {
			c.log.Info("ClickHouse answers again", "after", d.Round(time.Millisecond))
		}
	}
}

// natsAnswered records that NATS answered, with the consumer's state: the lag is what is not written yet, whether
// not delivered or delivered and not acknowledged.
func (c *Consumer) natsAnswered(info *jetstream.ConsumerInfo) {
	c.m.ConsumerLag.Set(float64(info.NumPending) + float64(info.NumAckPending))
	c.natsSucceeded()
}

func (c *Consumer) natsSucceeded() {
	if d := c.m.Health.NATSSucceeded(); d > 0 {
		c.log.Info("NATS answers again", "after", d.Round(time.Millisecond))
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
	c.natsAnswered(info)
	return info.NumPending == 0 && info.NumAckPending == 0, nil
}

// decoded is a batch of messages decoded: the events to write and the messages to quarantine.
type decoded struct {
	msgs     []jetstream.Msg
	recs     []store.Record
	rejected []store.Rejected
	reasons  map[metrics.Reason]int
	// verified counts the signatures verified, trusted those a recorded verdict vouched for.
	verified, trusted int
}

// verdictsTimeout bounds reading a batch's verdicts, which takes milliseconds.
const verdictsTimeout = 10 * time.Second

// A VerdictReader is a Writer that recorded the verdicts on signatures it was given (store.Record's Verdict): the
// consumer relies on them instead of verifying a message's signature again.
type VerdictReader interface {
	Verdicts(ctx context.Context, from, to uint64) (map[uint64][]store.Verdict, error)
}

// decode decodes and authorises a batch.
func (c *Consumer) decode(ctx context.Context, msgs []jetstream.Msg) (decoded, error) {
	d := decoded{msgs: msgs, recs: make([]store.Record, 0, len(msgs)), reasons: map[metrics.Reason]int{}}
	metas := make([]*jetstream.MsgMetadata, len(msgs))
	for i, m := range msgs {
		meta, err := m.Metadata()
		if err != nil {
			return decoded{}, fmt.Errorf("message metadata: %w", err)
		}
		metas[i] = meta
	}
	known := c.verdicts(ctx, metas)
	// Decoding and checking signatures is most of the CPU a batch takes here: spread over the cores.
	checked := make([]checkedMsg, len(msgs))
	parallel(len(msgs), func(i int) { checked[i] = c.check(msgs[i], known[metas[i].Sequence.Stream]) })
	for i, m := range msgs {
		meta := metas[i]
		ch := checked[i]
		if ch.err != nil {
			d.reasons[ch.reason]++
			c.log.Warn("quarantining message", "seq", meta.Sequence.Stream, "subject", m.Subject(), "reason", string(ch.reason), "err", ch.err)
			d.rejected = append(d.rejected, store.Rejected{Seq: meta.Sequence.Stream, Subject: m.Subject(), Payload: m.Data(), Reason: ch.err.Error(), ReceivedAt: meta.Timestamp})
			continue
		}
		if ch.verdict != nil {
			d.verified++
		} else if ch.trusted {
			d.trusted++
		}
		d.recs = append(d.recs, store.Record{Env: ch.env, Data: ch.d, Seq: meta.Sequence.Stream, ReceivedAt: meta.Timestamp, SubmittedBy: ch.by, Verdict: ch.verdict})
	}
	c.natsSucceeded() // messages arrived
	return d, nil
}

// verdicts reads the recorded verdicts on the batch's signatures, when signatures are checked and the writer keeps
// them. Without them (an error reading them) every signature is verified: slower, never less safe.
func (c *Consumer) verdicts(ctx context.Context, metas []*jetstream.MsgMetadata) map[uint64][]store.Verdict {
	vr, ok := c.w.(VerdictReader)
	if c.signers == nil || !ok || len(metas) == 0 {
		return nil
	}
	from, to := metas[0].Sequence.Stream, metas[0].Sequence.Stream
	for _, m := range metas {
		from, to = min(from, m.Sequence.Stream), max(to, m.Sequence.Stream)
	}
	// Bounded: a ClickHouse that does not answer must not hold the batch past AckWait; verifying is the fallback.
	vctx, cancel := context.WithTimeout(ctx, min(c.cfg.writeTimeout(), verdictsTimeout))
	defer cancel()
	known, err := vr.Verdicts(vctx, from, to)
	if err != nil {
		c.log.Warn("verifying every signature of the batch: the recorded verdicts cannot be read", "err", err)
		return nil
	}
	return known
}

// writer writes decoded batches on its own goroutine, one at a time and in the order submitted.
type writer struct {
	jobs    chan writeJob
	closing sync.Once
	done    chan struct{} // closed when the goroutine has ended; then err and st are its own
	err     error
	st      Stats
}

type writeJob struct {
	ctx context.Context
	d   decoded
}

func (c *Consumer) startWriter() *writer {
	w := &writer{jobs: make(chan writeJob), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for j := range w.jobs {
			if err := c.flush(j.ctx, j.d, &w.st); err != nil {
				w.err = err
				return
			}
		}
	}()
	return w
}

// submit hands a batch to the writer once it has written the one before; it returns the writer's error if the
// writer stopped on one. The write itself is not cut short by ctx (see flush).
func (w *writer) submit(ctx context.Context, d decoded) error {
	select {
	case w.jobs <- writeJob{ctx, d}:
		return nil
	case <-w.done:
		return w.err
	}
}

// stop waits for the batch being written and returns what the writer did. It may be called again.
func (w *writer) stop() (Stats, error) {
	w.closing.Do(func() { close(w.jobs) })
	<-w.done
	return w.st, w.err
}

// flush writes a decoded batch (retrying until the store accepts it or ctx ends) and acks every message.
func (c *Consumer) flush(ctx context.Context, d decoded, st *Stats) error {
	msgs, recs, rejected, reasons := d.msgs, d.recs, d.rejected, d.reasons
	began := time.Now()
	var last error // the last attempt's error, when the retries end with ctx
	written, attempts, err := retry.Do(ctx, retry.Policy{Initial: 250 * time.Millisecond, Max: 10 * time.Second},
		func(ctx context.Context) (store.Written, error) {
			start := time.Now()
			// A stop (SIGTERM) lets the write in flight finish, within WriteTimeout, rather than abandon a batch that
			// is half in ClickHouse: it is acked, and the stop does not wait for a redelivery.
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.writeTimeout())
			defer cancel()
			written, err := c.write(wctx, recs, rejected)
			c.m.Health.Turn()
			if err != nil {
				last = err
				return written, err
			}
			c.m.WriteSeconds.Observe(time.Since(start).Seconds())
			return written, nil
		}, func(attempt int, err error, _ time.Duration) {
			failing := c.m.Health.WriteFailed(err)
			c.m.WriteRetries.Inc()
			c.log.Warn("write failed, retrying", "batch", len(msgs), "attempt", attempt, "failing_for", failing.Round(time.Millisecond), "err", err)
			// Keep JetStream from redelivering the batch while ClickHouse is away.
			for _, m := range msgs {
				_ = m.InProgress()
			}
		})
	if err != nil {
		return fmt.Errorf("write batch of %d: %w (after %d attempts, the last: %v)", len(msgs), err, attempts, last)
	}
	if d := c.m.Health.WriteSucceeded(); d > 0 {
		c.log.Info("write succeeded again", "after", d.Round(time.Millisecond), "attempts", attempts)
	}
	for _, m := range msgs {
		if err := m.Ack(); err != nil {
			// The batch is written; an unacked message comes back and is written again without effect.
			c.log.Warn("ack failed", "subject", m.Subject(), "err", err)
		}
	}
	refused := len(written.Refused)
	for _, r := range written.Refused {
		c.log.Warn("quarantining an event the store refused", "seq", r.Seq, "subject", r.Subject, "reason", r.Reason)
	}
	st.Projected += len(recs) - refused
	st.Skipped += written.Skipped
	st.Rejected += len(rejected) + refused
	st.Batches++
	st.Verified += d.verified
	st.Trusted += d.trusted
	c.m.Projected.Add(float64(len(recs) - refused))
	c.m.Skipped.Add(float64(written.Skipped))
	for r, n := range reasons {
		c.m.Reject(r, n)
	}
	if refused > 0 {
		c.m.Reject(metrics.Refused, refused)
	}
	c.m.BatchSize.Observe(float64(len(msgs)))
	c.m.LastBatch.SetToCurrentTime()
	c.log.Debug("batch written", "events", len(recs)-refused, "skipped", written.Skipped, "rejected", len(rejected)+refused, "took", time.Since(began))
	return nil
}

// checkedMsg is a message decoded and authorised: its event and who submitted it, or why it is quarantined.
type checkedMsg struct {
	env    event.Envelope
	d      event.Data
	by     string
	err    error
	reason metrics.Reason
	// verdict is set when the signature was verified now; trusted when a recorded verdict vouched for it.
	verdict *store.Verdict
	trusted bool
}

// check decodes m and authorises its event, relying on a verdict of known, those recorded for m's sequence, when one
// is for this very message. It may run on several goroutines at once.
func (c *Consumer) check(m jetstream.Msg, known []store.Verdict) checkedMsg {
	env, d, err := event.Contract{Now: c.cfg.Now}.Decode(m.Data())
	if err != nil {
		return checkedMsg{err: err, reason: RejectReason(m.Data(), err)}
	}
	by, verdict, trusted, err := c.authorise(m.Subject(), m.Headers(), m.Data(), env, known)
	if err != nil {
		return checkedMsg{err: err, reason: metrics.Unauthorised}
	}
	return checkedMsg{env: env, d: d, by: by, verdict: verdict, trusted: trusted}
}

// parallel calls fn(i) for every i below n, on as many goroutines as there are cores, and returns when all are done.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), (n+63)/64)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				fn(i)
			}
		})
	}
	wg.Wait()
}

// authorise checks that a valid event env, stored on subject with header h and payload data, was submitted by a
// credential that may: that it was published on its own subject (the server's permissions are on the message's
// subject, so an event about another unit must not hide under it), and, when it is signed or signatures are
// required, that its signature is one of Config.SignersFile's credentials, over this subject and payload, by a
// credential that may submit events on it. It returns the verified signer's name, or "" for an unsigned event that
// the configuration accepts, with the verdict to record when it verified a signature now. Its errors are the
// quarantine's reason, starting "unauthorised: ".
//
// A verdict of known (recorded when the message was first verified) whose digest is this message's vouches for it
// instead (trusted): a replay or a rebuild verifies nothing again, and a key rotated since still vouches for what it
// signed while valid. A message that differs in any byte has another digest, and is verified as if new.
//
// Without SignersFile, signature headers are not evidence of anything, and are ignored.
func (c *Consumer) authorise(subject string, h nats.Header, data []byte, env event.Envelope, known []store.Verdict) (by string, verdict *store.Verdict, trusted bool, err error) {
	if subject != env.Subject {
		return "", nil, false, fmt.Errorf("unauthorised: published on %s, but the event is about %s", subject, env.Subject)
	}
	if c.signers == nil {
		return "", nil, false, nil
	}
	var digest string
	if len(known) > 0 {
		digest = natsauth.Digest(subject, h, data)
		for _, v := range known {
			if v.Digest == digest {
				return v.SubmittedBy, nil, true, nil
			}
		}
	}
	u, err := c.signers.Authorise(subject, h, data)
	switch {
	case errors.Is(err, natsauth.ErrUnsigned) && !c.cfg.RequireSignature:
		return "", nil, false, nil
	case errors.Is(err, natsauth.ErrUnsigned):
		return "", nil, false, errors.New("unauthorised: not signed, and EGOV_PROJECTOR_REQUIRE_SIGNATURE wants every event signed")
	case err != nil:
		return "", nil, false, fmt.Errorf("unauthorised: %w", err)
	}
	if digest == "" {
		digest = natsauth.Digest(subject, h, data)
	}
	return u.Name, &store.Verdict{Digest: digest, SubmittedBy: u.Name}, false, nil
}

func (c *Consumer) write(ctx context.Context, recs []store.Record, rejected []store.Rejected) (store.Written, error) {
	if bw, ok := c.w.(BatchWriter); ok {
		return bw.WriteBatch(ctx, recs, rejected)
	}
	return store.Written{}, c.w.Write(ctx, recs, rejected)
}

// RejectReason says why event.Decode refused payload with err, as one of the rejected metric's few reasons. It
// judges by the shape of the payload and by the fields FieldErrors names, not by the errors' wording, and takes a
// field's name with or without its "data." prefix.
func RejectReason(payload []byte, err error) metrics.Reason {
	if !isJSONObject(payload) {
		return metrics.MalformedJSON
	}
	fes, ok := errors.AsType[event.FieldErrors](err)
	if !ok {
		if fe, ok := errors.AsType[event.FieldError](err); ok {
			fes = event.FieldErrors{fe}
		}
	}
	if len(fes) == 0 {
		return metrics.Other
	}
	identity := true
	for _, fe := range fes {
		switch fe.Field {
		case "type":
			return metrics.UnknownType // without a known type, nothing else can be read
		case "id", "subject", "time":
		default:
			identity = false
		}
	}
	if identity {
		return metrics.Identity
	}
	return metrics.InvalidField
}

// isJSONObject reports whether b is one well-formed JSON object.
func isJSONObject(b []byte) bool {
	if !json.Valid(b) {
		return false
	}
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c == '{'
	}
	return false
}
