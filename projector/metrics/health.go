package metrics

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DefaultGrace is how long the projector may fail to reach ClickHouse or NATS, or wait for ClickHouse to answer,
// before it reports itself unhealthy: long enough to retry through a ClickHouse restart or a NATS reconnect without
// alarming anyone, and short enough that, with the consumer's probes every few seconds (consumer.Config's
// ProbeInterval, 5 s), a ClickHouse that died or froze shows within 30 s.
const DefaultGrace = 25 * time.Second

// Health is the projector's own view of whether it works: its consumer loop turns, and its last contact with
// ClickHouse and with NATS succeeded or has failed for less than Grace. The consumer reports to it; /healthz asks it.
// Its methods are safe for concurrent use.
type Health struct {
	// Now is the clock; tests replace it. Set it and Grace before use.
	Now func() time.Time
	// Grace is how long a failing write or NATS error is tolerated before the projector is unhealthy.
	Grace time.Duration

	mu      sync.Mutex
	state   runState
	stopped error         // why the loop stopped, if it failed
	turn    time.Time     // the loop's last turn
	maxTurn time.Duration // the longest the loop may take between turns
	write   failure       // ClickHouse
	nats    failure
	// calls are the ClickHouse calls (writes, pings) waiting for an answer, by when each began; lastAnswer is when
	// ClickHouse last answered one.
	calls      map[int]time.Time
	nextCall   int
	lastAnswer time.Time
}

type runState int

const (
	starting runState = iota
	running
	stopped
)

// failure is a dependency failing since a time; since is zero while it works.
type failure struct {
	since time.Time
	err   error
}

// NewHealth returns the health of a projector whose consumer has not started yet.
func NewHealth() *Health {
	return &Health{Now: time.Now, Grace: DefaultGrace}
}

// Running records that the consumer loop started. maxTurn is the longest the loop may take between two turns (an
// insert, say) before it counts as stuck; Grace is added to it.
func (h *Health) Running(maxTurn time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.state, h.maxTurn, h.turn = running, maxTurn, h.Now()
}

// Turn records that the consumer loop is alive.
func (h *Health) Turn() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.turn = h.Now()
}

// Stopped records that the consumer loop returned, with err when it failed.
func (h *Health) Stopped(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.state, h.stopped = stopped, err
}

// Calling records that a call to ClickHouse (a write, a ping) began; done records that it ended, whatever its
// outcome. A call that has not answered for longer than Grace makes the projector unhealthy: a frozen server fails
// nothing, it only never answers.
func (h *Health) Calling() (done func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.calls == nil {
		h.calls = map[int]time.Time{}
	}
	id := h.nextCall
	h.nextCall++
	h.calls[id] = h.Now()
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.calls, id)
	}
}

// QuietFor reports whether no call to ClickHouse is waiting and none has answered for at least d: time to ask it
// whether it is there.
func (h *Health) QuietFor(d time.Duration) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.calls) == 0 && h.Now().Sub(h.lastAnswer) >= d
}

// WriteFailed records a failed write to ClickHouse; it returns how long writes have been failing.
func (h *Health) WriteFailed(err error) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.write.fail(h.Now(), err)
}

// WriteSucceeded records a successful write to ClickHouse; it returns how long writes had been failing before, 0 if
// they had not.
func (h *Health) WriteSucceeded() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastAnswer = h.Now()
	return h.write.ok(h.Now())
}

// NATSFailed records an error from NATS.
func (h *Health) NATSFailed(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nats.fail(h.Now(), err)
}

// NATSSucceeded records a successful exchange with NATS: messages delivered, or an answer to a request. It returns
// how long NATS had been failing before, 0 if it had not.
func (h *Health) NATSSucceeded() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.nats.ok(h.Now())
}

// NATSFailing reports whether NATS's last answer was an error.
func (h *Health) NATSFailing() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.nats.since.IsZero()
}

func (f *failure) fail(now time.Time, err error) time.Duration {
	if f.since.IsZero() {
		f.since = now
	}
	f.err = err
	return now.Sub(f.since)
}

func (f *failure) ok(now time.Time) time.Duration {
	if f.since.IsZero() {
		return 0
	}
	d := now.Sub(f.since)
	*f = failure{}
	return d
}

// Check returns nil when the projector is healthy, or a short reason why it is not.
func (h *Health) Check() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.Now()
	switch h.state {
	case starting:
		return errors.New("starting: the consumer is not running yet")
	case stopped:
		if h.stopped != nil {
			return fmt.Errorf("stopped: %s", brief(h.stopped))
		}
		return errors.New("stopped")
	}
	if d := now.Sub(h.turn); d > h.maxTurn+h.Grace {
		return fmt.Errorf("consumer: stuck for %s", d.Round(time.Second))
	}
	if d := now.Sub(h.write.since); !h.write.since.IsZero() && d > h.Grace {
		return fmt.Errorf("clickhouse: write failing since %s: %s", d.Round(time.Second), brief(h.write.err))
	}
	for _, began := range h.calls {
		if d := now.Sub(began); d > h.Grace {
			return fmt.Errorf("clickhouse: no answer for %s", d.Round(time.Second))
		}
	}
	if d := now.Sub(h.nats.since); !h.nats.since.IsZero() && d > h.Grace {
		return fmt.Errorf("nats: failing since %s: %s", d.Round(time.Second), brief(h.nats.err))
	}
	return nil
}

// brief shortens an error to one line of at most 200 bytes: a reason for a probe, not a log.
func brief(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "…"
	}
	return s
}

// ServeHTTP answers 200 "ok" when the projector is healthy and 503 with the reason when it is not.
func (h *Health) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if err := h.Check(); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}
