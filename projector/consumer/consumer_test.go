package consumer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/egovtrack/egovtrack/collectors/simulate"
	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
	"github.com/egovtrack/egovtrack/internal/units"
	"github.com/egovtrack/egovtrack/projector/consumer"
	"github.com/egovtrack/egovtrack/projector/metrics"
	"github.com/egovtrack/egovtrack/projector/store"
)

func TestMain(m *testing.M) { chdbtest.Main(m) }

var quiet = slog.New(slog.DiscardHandler)

type rig struct {
	nc    *stream.Conn
	raw   *streamtest.Client // newRig's: for messages that are no events, which nc does not publish
	s     jetstream.Stream
	conn  driver.Conn
	store *store.Store
	sent  int // events published
	// w and m are what the next consumer writes to and reports to: the store and fresh metrics unless a test says.
	w consumer.Writer
	m *metrics.Metrics
}

// newRig publishes three units' simulated campaign to an embedded server and opens a fresh ClickHouse database.
func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	ns := streamtest.New(t)
	nc, err := stream.Connect(ctx, ns, quiet)
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
	r := openRig(t, nc)
	r.raw, r.sent = streamtest.Dial(t, ns), res.Stored
	return r
}

// openRig opens a fresh ClickHouse database and the store on it, to project what nc's stream holds.
func openRig(t *testing.T, nc *stream.Conn) *rig {
	t.Helper()
	ctx := context.Background()
	s, err := nc.Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn := chdbtest.Conn(t, chdbtest.New(t))
	st, err := store.Open(ctx, conn, quiet, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{nc: nc, s: s, conn: conn, store: st, w: st, m: metrics.New(nil)}
}

func (r *rig) consumer(t *testing.T, cfg consumer.Config) *consumer.Consumer {
	t.Helper()
	c, err := consumer.New(context.Background(), r.s, cfg, r.w, r.m, quiet)
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
// stop the projector. The metrics count what was projected, and what was rejected by reason.
func TestRunUntilCaughtUp(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.raw.Publish(t, "egov.province.01.proc.1_000001", []byte(`{"id": 7, "garbage`))
	// Two events of the stream sent again, changed: one to a type nobody knows, one to an id not its own.
	first, err := r.s.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, change := range []func(*event.Envelope){
		func(e *event.Envelope) { e.Type = "gov.egov.procedure.teleported.v1" },
		func(e *event.Envelope) { e.ID = "00000000-0000-4000-8000-000000000000" },
	} {
		var env event.Envelope
		if err := json.Unmarshal(first.Data, &env); err != nil {
			t.Fatal(err)
		}
		change(&env)
		r.raw.Publish(t, first.Subject, mustJSON(t, env))
	}
	stats, err := r.consumer(t, config(500, 50*time.Millisecond)).Run(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Projected != r.sent || stats.Rejected != 3 {
		t.Errorf("projected %d and rejected %d, want %d and 3", stats.Projected, stats.Rejected, r.sent)
	}
	if n := r.count(t, "SELECT count() FROM events FINAL"); n != uint64(r.sent) {
		t.Errorf("events holds %d rows, want %d", n, r.sent)
	}
	if n := r.count(t, "SELECT count() FROM quarantine FINAL WHERE reason LIKE 'decode envelope%'"); n != 1 {
		t.Errorf("quarantine holds %d rows for the garbage message, want 1", n)
	}
	if n := r.count(t, "SELECT count() FROM quarantine FINAL"); n != 3 {
		t.Errorf("quarantine holds %d rows, want 3", n)
	}

	m := r.m
	for _, c := range []struct {
		name string
		c    prometheus.Collector
		want int
	}{
		{"projected", m.Projected, r.sent},
		{"skipped", m.Skipped, 0},
		{"rejected malformed_json", m.Rejected.WithLabelValues(string(metrics.MalformedJSON)), 1},
		{"rejected unknown_type", m.Rejected.WithLabelValues(string(metrics.UnknownType)), 1},
		{"rejected identity", m.Rejected.WithLabelValues(string(metrics.Identity)), 1},
		{"rejected invalid_field", m.Rejected.WithLabelValues(string(metrics.InvalidField)), 0},
		{"rejected other", m.Rejected.WithLabelValues(string(metrics.Other)), 0},
		{"write retries", m.WriteRetries, 0},
		{"consumer lag", m.ConsumerLag, 0},
	} {
		if got := testutil.ToFloat64(c.c); got != float64(c.want) {
			t.Errorf("%s = %g, want %d", c.name, got, c.want)
		}
	}
	if n, sum := histogram(t, m.BatchSize); n != uint64(stats.Batches) || sum != float64(r.sent+3) {
		t.Errorf("batch size observed %d batches of %g messages in all, want %d of %d", n, sum, stats.Batches, r.sent+3)
	}
	if n, _ := histogram(t, m.WriteSeconds); n != uint64(stats.Batches) {
		t.Errorf("write seconds observed %d writes, want one per batch (%d)", n, stats.Batches)
	}
	if last := testutil.ToFloat64(m.LastBatch); time.Since(time.Unix(int64(last), 0)) > time.Minute {
		t.Errorf("last batch at %g, want about now", last)
	}
	if err := m.Health.Check(); err == nil || err.Error() != "stopped" {
		t.Errorf("health after the run: %v, want stopped", err)
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
	r.w, r.m = skipCounter{r.store, r.conn}, metrics.New(nil)
	stats, err := r.consumer(t, config(300, 50*time.Millisecond)).Run(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Projected != r.sent || stats.Skipped != r.sent {
		t.Fatalf("second pass projected %d and skipped %d, want the whole stream (%d) for both", stats.Projected, stats.Skipped, r.sent)
	}
	if p, s := testutil.ToFloat64(r.m.Projected), testutil.ToFloat64(r.m.Skipped); p != float64(r.sent) || s != float64(r.sent) {
		t.Errorf("metrics say %g projected and %g skipped, want %d for both", p, s, r.sent)
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

// While ClickHouse refuses a batch, the consumer retries it, counts the retries, and says so on /healthz once the
// failure outlasts the grace; the batch is then written once.
func TestWriteFailureShowsInHealth(t *testing.T) {
	r := newRig(t)
	r.m.Health.Grace = 0 // any failure is reported at once
	w := &failingOnce{w: r.store, m: r.m, err: errors.New("code: 210, message: Connection refused (localhost:9000)")}
	r.w = w
	stats, err := r.consumer(t, config(100_000, 50*time.Millisecond)).Run(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Projected != r.sent {
		t.Errorf("projected %d, want %d", stats.Projected, r.sent)
	}
	if got := testutil.ToFloat64(r.m.WriteRetries); got != 1 {
		t.Errorf("write retries = %g, want 1", got)
	}
	if w.health == nil || !strings.HasPrefix(w.health.Error(), "clickhouse: write failing since ") ||
		!strings.HasSuffix(w.health.Error(), ": code: 210, message: Connection refused (localhost:9000)") {
		t.Errorf("health during the retry: %v, want clickhouse: write failing since …: code: 210…", w.health)
	}
	if n := r.count(t, "SELECT count() FROM events FINAL"); n != uint64(r.sent) {
		t.Errorf("events holds %d rows, want %d", n, r.sent)
	}
}

// failingOnce refuses the first write with err, and records what the health says when the retry comes.
type failingOnce struct {
	w      consumer.Writer
	m      *metrics.Metrics
	err    error
	calls  int
	health error
}

func (f *failingOnce) Write(ctx context.Context, recs []store.Record, rejected []store.Rejected) error {
	f.calls++
	switch f.calls {
	case 1:
		return f.err
	case 2:
		f.health = f.m.Health.Check()
	}
	return f.w.Write(ctx, recs, rejected)
}

// skipCounter is the store, saying how many events of each batch the raw log already holds, as consumer.BatchWriter
// asks, counted by a query of its own rather than by the store.
type skipCounter struct {
	*store.Store
	conn driver.Conn
}

func (s skipCounter) WriteBatch(ctx context.Context, recs []store.Record, rejected []store.Rejected) (store.Written, error) {
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.Env.ID
	}
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT uniqExact(id) FROM events WHERE has(?, toString(id))", ids).Scan(&n); err != nil {
		return store.Written{}, err
	}
	return store.Written{Skipped: int(n)}, s.Write(ctx, recs, rejected)
}

// The reason a message is rejected for is one of a fixed few, judged by the payload's shape and the fields named,
// whatever the wording of the error.
func TestRejectReason(t *testing.T) {
	valid, err := event.New("egovtrack/test", &event.LevelChangedData{
		Unit: units.Ref{Kind: units.Province, Code: "01"}, Procedure: "1.000001", From: 3, To: 4,
		EffectiveAt: time.Date(2021, 7, 1, 8, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	changed := func(change func(e *event.Envelope)) []byte {
		e := valid
		change(&e)
		return mustJSON(t, e)
	}
	object := []byte(`{}`)
	for _, tc := range []struct {
		name    string
		payload []byte
		err     error // nil: what event.Decode says of payload
		want    metrics.Reason
	}{
		{"malformed", []byte(`{"id": 7, "garbage`), nil, metrics.MalformedJSON},
		{"empty", []byte(``), nil, metrics.MalformedJSON},
		{"array", []byte(`[{"id": "x"}]`), nil, metrics.MalformedJSON},
		{"string", []byte(`"an event"`), nil, metrics.MalformedJSON},
		{"null", []byte(` null `), nil, metrics.MalformedJSON},
		{"unknown type", changed(func(e *event.Envelope) { e.Type = "gov.egov.procedure.teleported.v1" }), nil, metrics.UnknownType},
		{"no type", changed(func(e *event.Envelope) { e.Type = "" }), nil, metrics.UnknownType},
		{"id not derived", changed(func(e *event.Envelope) { e.ID = "00000000-0000-4000-8000-000000000000" }), nil, metrics.Identity},
		{"time not the fact's", changed(func(e *event.Envelope) { e.Time = e.Time.Add(time.Hour) }), nil, metrics.Identity},
		{"subject not the fact's", changed(func(e *event.Envelope) { e.Subject = "egov.province.01.proc.1_000002" }), nil, metrics.Identity},
		{"no source", changed(func(e *event.Envelope) { e.Source = "" }), nil, metrics.InvalidField},
		{"data breaks its schema", changed(func(e *event.Envelope) {
			e.Data = json.RawMessage(strings.Replace(string(e.Data), `"to":4`, `"to":9`, 1))
		}), nil, metrics.InvalidField},
		// Field names with or without the data's prefix, wrapped or not.
		{"bare field", object, event.FieldErrors{{Field: "to", Message: "is the same level as from"}}, metrics.InvalidField},
		{"data field", object, event.FieldErrors{{Field: "data.to", Message: "is the same level as from"}}, metrics.InvalidField},
		{"identity fields", object, event.FieldErrors{{Field: "id"}, {Field: "time"}}, metrics.Identity},
		{"identity and data", object, event.FieldErrors{{Field: "id"}, {Field: "data.unit.code"}}, metrics.InvalidField},
		{"type among others", object, event.FieldErrors{{Field: "data"}, {Field: "type"}}, metrics.UnknownType},
		{"wrapped", object, fmt.Errorf("decode: %w", event.FieldErrors{{Field: "subject"}}), metrics.Identity},
		{"one field error", object, event.FieldError{Field: "data.deadline"}, metrics.InvalidField},
		{"anything else", object, errors.New("boom"), metrics.Other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err
			if err == nil {
				if _, _, err = event.Decode(tc.payload); err == nil {
					t.Fatalf("Decode(%s) accepted it", tc.payload)
				}
			}
			if got := consumer.RejectReason(tc.payload, err); got != tc.want {
				t.Errorf("RejectReason(%s, %v) = %s, want %s", tc.payload, err, got, tc.want)
			}
		})
	}
	if _, _, err := event.Decode(mustJSON(t, valid)); err != nil {
		t.Fatalf("the valid event is refused: %v", err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// histogram returns how many observations h has and their sum.
func histogram(t *testing.T, h prometheus.Histogram) (uint64, float64) {
	t.Helper()
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
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
