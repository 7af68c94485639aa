package consumer_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/egovtrack/egovtrack/collectors/simulate"
	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
	"github.com/egovtrack/egovtrack/internal/units"
	"github.com/egovtrack/egovtrack/projector/consumer"
	"github.com/egovtrack/egovtrack/projector/store"
)

func TestMain(m *testing.M) { chdbtest.Main(m) }

var quiet = slog.New(slog.DiscardHandler)

type rig struct {
	nc    *stream.Conn
	s     jetstream.Stream
	conn  driver.Conn
	store *store.Store
	sent  int // events published
}

// newRig publishes three units' simulated campaign to an embedded server and opens a fresh ClickHouse database.
func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	nc, err := stream.Connect(ctx, streamtest.New(t), quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	o := simulate.Campaign2021(3)
	all := units.All()
	o.Units = []units.Unit{all[0], all[30], all[70]}
	res, err := simulate.Run(ctx, nc, o, io.Discard, quiet)
	if err != nil {
		t.Fatal(err)
	}
	s, err := nc.Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn := chdbtest.Conn(t, chdbtest.New(t))
	st, err := store.Open(ctx, conn, quiet)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{nc: nc, s: s, conn: conn, store: st, sent: res.Stored}
}

func (r *rig) consumer(t *testing.T, cfg consumer.Config) *consumer.Consumer {
	t.Helper()
	c, err := consumer.New(context.Background(), r.s, cfg, r.store, quiet)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (r *rig) count(t *testing.T, q string) uint64 {
	t.Helper()
	var n uint64
	if err := r.conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func config(batch int, flush time.Duration) consumer.Config {
	return consumer.Config{Durable: "projector", BatchSize: batch, FlushInterval: flush, AckWait: time.Minute}
}

// Every event is written once and acked; a message that is not an event is quarantined, not dropped, and does not
// stop the projector.
func TestRunUntilCaughtUp(t *testing.T) {
	r := newRig(t)
	if err := r.nc.NC.Publish("egov.province.01.proc.1_000001", []byte(`{"id": 7, "garbage`)); err != nil {
		t.Fatal(err)
	}
	if err := r.nc.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	stats, err := r.consumer(t, config(500, 50*time.Millisecond)).Run(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Projected != r.sent || stats.Rejected != 1 {
		t.Errorf("projected %d and rejected %d, want %d and 1", stats.Projected, stats.Rejected, r.sent)
	}
	if n := r.count(t, "SELECT count() FROM events FINAL"); n != uint64(r.sent) {
		t.Errorf("events holds %d rows, want %d", n, r.sent)
	}
	if n := r.count(t, "SELECT count() FROM quarantine FINAL WHERE reason LIKE 'decode envelope%'"); n != 1 {
		t.Errorf("quarantine holds %d rows for the garbage message, want 1", n)
	}
	info, err := r.s.Consumer(context.Background(), "projector")
	if err != nil {
		t.Fatal(err)
	}
	ci, err := info.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ci.NumPending != 0 || ci.NumAckPending != 0 {
		t.Errorf("consumer has %d pending and %d unacked after catching up", ci.NumPending, ci.NumAckPending)
	}
}

// The whole stream delivered again, as after losing the consumer, changes nothing in ClickHouse.
func TestRedeliveryChangesNothing(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if _, err := r.consumer(t, config(700, 50*time.Millisecond)).Run(ctx, true); err != nil {
		t.Fatal(err)
	}
	const snapshot = `SELECT count(), sum(eligible), sum(level4), sum(procedures) FROM coverage_daily FINAL`
	var before, after [4]uint64
	if err := r.conn.QueryRow(ctx, snapshot).Scan(&before[0], &before[1], &before[2], &before[3]); err != nil {
		t.Fatal(err)
	}
	if err := r.s.DeleteConsumer(ctx, "projector"); err != nil {
		t.Fatal(err)
	}
	stats, err := r.consumer(t, config(300, 50*time.Millisecond)).Run(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Projected != r.sent {
		t.Fatalf("second pass projected %d, want the whole stream (%d)", stats.Projected, r.sent)
	}
	if err := r.conn.QueryRow(ctx, snapshot).Scan(&after[0], &after[1], &after[2], &after[3]); err != nil {
		t.Fatal(err)
	}
	if before != after {
		t.Errorf("coverage changed on redelivery: %v → %v", before, after)
	}
	if n := r.count(t, "SELECT count() FROM events FINAL"); n != uint64(r.sent) {
		t.Errorf("events holds %d rows after redelivery, want %d", n, r.sent)
	}
}

// Stopping writes the batch in flight before returning: what was delivered is stored, nothing is half-done.
func TestStopWritesTheBatchInFlight(t *testing.T) {
	r := newRig(t)
	ctx, cancel := context.WithCancel(context.Background())
	c := r.consumer(t, config(1_000_000, time.Hour)) // nothing is written until the stop
	done := make(chan error, 1)
	var stats consumer.Stats
	go func() {
		var err error
		stats, err = c.Run(ctx, false)
		done <- err
	}()
	waitDelivered(t, r.s, r.sent)
	if n := r.count(t, "SELECT count() FROM events"); n != 0 {
		t.Fatalf("%d events written before the stop, want none", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run after stop: %v", err)
	}
	if stats.Projected != r.sent {
		t.Errorf("the stop wrote %d events, want the %d delivered", stats.Projected, r.sent)
	}
	if n := r.count(t, "SELECT count() FROM events FINAL"); n != uint64(r.sent) {
		t.Errorf("events holds %d rows, want %d", n, r.sent)
	}
}

// waitDelivered waits until JetStream has handed every message to the consumer.
func waitDelivered(t *testing.T, s jetstream.Stream, n int) {
	t.Helper()
	cons, err := s.Consumer(context.Background(), "projector")
	if err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for {
		ci, err := cons.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if ci.NumPending == 0 && ci.NumAckPending == n {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("after 30s %d messages pending and %d delivered, want all %d delivered", ci.NumPending, ci.NumAckPending, n)
		}
	}
}
