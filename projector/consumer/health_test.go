package consumer_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/egovtrack/egovtrack/collectors/simulate"
	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
	"github.com/egovtrack/egovtrack/internal/units"
	"github.com/egovtrack/egovtrack/projector/consumer"
	"github.com/egovtrack/egovtrack/projector/metrics"
	"github.com/egovtrack/egovtrack/projector/store"
)

// waitFor waits until cond holds, checking it every few milliseconds, for at most limit; it returns how long it
// took, or fails the test saying what did not happen.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	began := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Since(began) > limit {
			t.Fatalf("%s: not within %s", what, limit)
		}
		<-tick.C
	}
	return time.Since(began)
}

// A ClickHouse that freezes (SIGSTOP: connections stay open, nothing answers, nothing fails) makes the projector
// unhealthy within its grace and a probe, whether a write is waiting on it or nothing arrives; meanwhile the lag tells
// what waits in the stream; thawed, it writes everything and is healthy again. The health once counted a hung write
// as failing only when it timed out at the ack wait, and the lag came from the last delivery: 0 while 20,000 waited.
func TestFrozenClickHouseShowsWithinTheGrace(t *testing.T) {
	const (
		grace = 2 * time.Second
		probe = 200 * time.Millisecond
	)
	for _, tt := range []struct {
		name    string
		writing bool // events arrive while ClickHouse is frozen
	}{
		{"while a write waits on it", true},
		{"while nothing arrives", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := chdbtest.Server(t)
			r := newRig(t)
			r.m.Health.Grace = grace
			// As `projector run` wires it: the health follows every call the store makes to ClickHouse.
			observed, err := store.Open(context.Background(), metrics.Observe(r.conn, r.m.Health), quiet, store.Config{})
			if err != nil {
				t.Fatal(err)
			}
			r.w = observed
			cfg := config(50, 20*time.Millisecond)
			cfg.ProbeInterval, cfg.WriteTimeout, cfg.AckWait = probe, 15*time.Second, 30*time.Second
			c := r.consumer(t, cfg)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { _, err := c.Run(ctx, false); done <- err }()
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("run: %v", err)
				}
			})
			written := func(n int) func() bool {
				return func() bool { return r.count(t, "SELECT count() FROM events FINAL") == uint64(n) }
			}
			waitFor(t, time.Minute, "the campaign written", written(r.sent))
			if err := r.m.Health.Check(); err != nil {
				t.Fatalf("unhealthy before the freeze: %v", err)
			}

			if err := srv.Freeze(); err != nil {
				t.Fatal(err)
			}
			thawed := false
			thaw := func() {
				if !thawed {
					thawed = true
					if err := srv.Thaw(); err != nil {
						t.Error(err)
					}
				}
			}
			t.Cleanup(thaw)
			frozen := time.Now()
			more := 0
			if tt.writing {
				o := simulate.Campaign2021(5)
				o.Units = []units.Unit{units.All()[12]}
				res, err := simulate.Run(context.Background(), r.nc, o, io.Discard, quiet)
				if err != nil {
					t.Fatal(err)
				}
				more = res.Stored
			}
			var reason error
			waitFor(t, grace+2*probe+5*time.Second, "unhealthy", func() bool { reason = r.m.Health.Check(); return reason != nil })
			took := time.Since(frozen)
			t.Logf("unhealthy %s after the freeze: %v", took.Round(time.Millisecond), reason)
			if !strings.HasPrefix(reason.Error(), "clickhouse: ") {
				t.Errorf("health says %q, want the reason to be clickhouse", reason)
			}
			if took > grace+2*probe+time.Second {
				t.Errorf("unhealthy only %s after ClickHouse froze, want within the grace (%s) and a probe", took, grace)
			}
			if tt.writing {
				waitFor(t, 5*time.Second, "the lag counts what waits", func() bool {
					return testutil.ToFloat64(r.m.ConsumerLag) >= float64(more)
				})
			}

			thaw()
			waitFor(t, time.Minute, "everything written after the thaw", written(r.sent+more))
			waitFor(t, 10*time.Second, "healthy again", func() bool { return r.m.Health.Check() == nil })
			waitFor(t, 10*time.Second, "no lag", func() bool { return testutil.ToFloat64(r.m.ConsumerLag) == 0 })
		})
	}
}

// A projector killed with a batch delivered and not acknowledged resumes at once when it starts again, not after
// the ack wait: JetStream would hold those messages, and every one behind them, for a minute.
func TestARestartResumesAtOnce(t *testing.T) {
	r := newRig(t)
	cfg := config(200, 20*time.Millisecond)
	cfg.AckWait, cfg.WriteTimeout = time.Minute, time.Second

	// The first run takes a batch and never writes it: killed mid-write.
	stuck := &stuckWriter{got: make(chan struct{})}
	r.w = stuck
	first := r.consumer(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := first.Run(ctx, false); done <- err }()
	<-stuck.got
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the run whose write never ends returned no error")
	}
	info, err := r.s.Consumer(context.Background(), cfg.Durable)
	if err != nil {
		t.Fatal(err)
	}
	ci, err := info.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ci.NumAckPending == 0 {
		t.Fatal("the killed run left nothing unacknowledged: the test tests nothing")
	}

	r.w = r.store
	began := time.Now()
	stats, err := r.consumer(t, cfg).Run(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	t.Logf("%d messages left unacknowledged; the next run wrote everything in %s (ack wait %s)", ci.NumAckPending, took.Round(time.Millisecond), cfg.AckWait)
	if took > cfg.AckWait/4 {
		t.Errorf("the next run took %s: it waited on the ack wait (%s)", took, cfg.AckWait)
	}
	if n := r.count(t, "SELECT count() FROM events FINAL"); n != uint64(r.sent) || stats.Projected < r.sent {
		t.Errorf("events holds %d, the run projected %d; want %d", n, stats.Projected, r.sent)
	}
}

// stuckWriter never finishes a write: it says it got a batch, then waits for its context to end.
type stuckWriter struct {
	got  chan struct{}
	once bool
}

func (w *stuckWriter) Write(ctx context.Context, _ []store.Record, _ []store.Rejected) error {
	if !w.once {
		w.once = true
		close(w.got)
	}
	<-ctx.Done()
	return ctx.Err()
}

var _ consumer.Writer = (*stuckWriter)(nil)
