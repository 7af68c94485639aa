package metrics_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/egovtrack/egovtrack/projector/metrics"
)

var quiet = slog.New(slog.DiscardHandler)

var names = []string{
	"egov_projector_events_projected_total",
	"egov_projector_events_rejected_total",
	"egov_projector_events_skipped_total",
	"egov_projector_batch_size",
	"egov_projector_write_seconds",
	"egov_projector_write_retries_total",
	"egov_projector_consumer_lag",
	"egov_projector_last_batch_timestamp_seconds",
}

// Every metric is registered under its name, every reason's series exists from the start, and each counts what it is
// given.
func TestNewRegistersAndCounts(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	for _, name := range names {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n == 0 {
			t.Errorf("%s: %d series gathered (err %v), want at least 1", name, n, err)
		}
	}
	if n := testutil.CollectAndCount(m.Rejected); n != len(metrics.Reasons) {
		t.Errorf("rejected has %d series before any rejection, want one per reason (%d)", n, len(metrics.Reasons))
	}

	m.Projected.Add(7)
	m.Skipped.Add(2)
	m.Reject(metrics.MalformedJSON, 1)
	m.Reject(metrics.Identity, 3)
	m.WriteRetries.Inc()
	m.ConsumerLag.Set(42)
	m.BatchSize.Observe(11)
	m.WriteSeconds.Observe(0.2)

	for _, c := range []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"projected", m.Projected, 7},
		{"skipped", m.Skipped, 2},
		{"rejected malformed_json", m.Rejected.WithLabelValues("malformed_json"), 1},
		{"rejected identity", m.Rejected.WithLabelValues("identity"), 3},
		{"rejected other", m.Rejected.WithLabelValues("other"), 0},
		{"write retries", m.WriteRetries, 1},
		{"consumer lag", m.ConsumerLag, 42},
	} {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("%s = %g, want %g", c.name, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(m.Rejected); n != len(metrics.Reasons) {
		t.Errorf("rejected has %d series, want %d: reasons are a fixed set", n, len(metrics.Reasons))
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// Metrics on no registry count all the same, for a consumer that serves none.
func TestNewWithoutRegistry(t *testing.T) {
	m := metrics.New(nil)
	m.Projected.Inc()
	if got := testutil.ToFloat64(m.Projected); got != 1 {
		t.Errorf("projected = %g, want 1", got)
	}
}

// clock is a settable time for Health.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) advance(d time.Duration) { c.now = c.now.Add(d) }
func newHealth(c *clock) *metrics.Health { h := metrics.NewHealth(); h.Now = c.Now; return h }
func get(t *testing.T, h http.Handler) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	return rec.Code, strings.TrimSpace(rec.Body.String())
}

// /healthz says ok while the loop turns and ClickHouse and NATS answer, or have failed for less than the grace; it
// says why not otherwise.
func TestHealth(t *testing.T) {
	const grace, maxTurn = 30 * time.Second, time.Minute // the test's own grace, whatever the default
	chDown := errors.New("dial tcp 127.0.0.1:9000: connect: connection refused")
	for _, tc := range []struct {
		name     string
		steps    func(h *metrics.Health, c *clock)
		wantCode int
		wantBody string // prefix
	}{
		{"before the consumer runs", func(h *metrics.Health, c *clock) {}, 503, "starting"},
		{"running", func(h *metrics.Health, c *clock) { h.Running(maxTurn) }, 200, "ok"},
		{"write failing within the grace", func(h *metrics.Health, c *clock) {
			h.Running(maxTurn)
			h.WriteFailed(chDown)
			c.advance(grace)
			h.Turn()
		}, 200, "ok"},
		{"write failing beyond the grace", func(h *metrics.Health, c *clock) {
			h.Running(maxTurn)
			h.WriteFailed(chDown)
			c.advance(12 * time.Second)
			h.WriteFailed(errors.New("code: 241, message: Memory limit exceeded"))
			c.advance(grace - 12*time.Second + time.Second)
			h.Turn()
		}, 503, "clickhouse: write failing since 31s: code: 241, message: Memory limit exceeded"},
		{"write recovered", func(h *metrics.Health, c *clock) {
			h.Running(maxTurn)
			h.WriteFailed(chDown)
			c.advance(2 * grace)
			if d := h.WriteSucceeded(); d != 2*grace {
				t.Errorf("WriteSucceeded says writes failed for %s, want %s", d, 2*grace)
			}
		}, 200, "ok"},
		{"a call unanswered within the grace", func(h *metrics.Health, c *clock) {
			h.Running(maxTurn)
			h.Calling()
			c.advance(grace)
			h.Turn()
		}, 200, "ok"},
		{"a call unanswered beyond the grace", func(h *metrics.Health, c *clock) {
			h.Running(maxTurn)
			done := h.Calling()
			c.advance(5 * time.Second)
			h.Calling()() // another call answered meanwhile: the first still waits
			c.advance(grace - 5*time.Second + time.Second)
			h.Turn()
			_ = done
		}, 503, "clickhouse: no answer for 31s"},
		{"a call answered late", func(h *metrics.Health, c *clock) {
			h.Running(maxTurn)
			done := h.Calling()
			c.advance(grace + time.Second)
			done()
			h.Turn()
		}, 200, "ok"},
		{"nats failing beyond the grace", func(h *metrics.Health, c *clock) {
			h.Running(maxTurn)
			h.NATSFailed(errors.New("nats: no heartbeat received"))
			c.advance(grace + time.Second)
			h.Turn()
		}, 503, "nats: failing since 31s: nats: no heartbeat received"},
		{"nats answering again", func(h *metrics.Health, c *clock) {
			h.Running(maxTurn)
			h.NATSFailed(errors.New("nats: no heartbeat received"))
			c.advance(grace + time.Second)
			h.NATSSucceeded()
		}, 200, "ok"},
		{"loop stuck", func(h *metrics.Health, c *clock) {
			h.Running(maxTurn)
			c.advance(maxTurn + grace + time.Second)
		}, 503, "consumer: stuck for 1m31s"},
		{"stopped", func(h *metrics.Health, c *clock) { h.Running(maxTurn); h.Stopped(nil) }, 503, "stopped"},
		{"stopped by an error", func(h *metrics.Health, c *clock) {
			h.Running(maxTurn)
			h.Stopped(errors.New("consume: consumer deleted\n(twice)"))
		}, 503, "stopped: consume: consumer deleted (twice)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{now: time.Date(2021, 7, 1, 8, 0, 0, 0, time.UTC)}
			h := newHealth(c)
			h.Grace = grace
			tc.steps(h, c)
			code, body := get(t, h)
			if code != tc.wantCode || !strings.HasPrefix(body, tc.wantBody) {
				t.Errorf("GET /healthz = %d %q, want %d %q", code, body, tc.wantCode, tc.wantBody)
			}
			if (h.Check() == nil) != (tc.wantCode == 200) {
				t.Errorf("Check() = %v, disagreeing with the handler's %d", h.Check(), code)
			}
		})
	}
}

// QuietFor says when to ask ClickHouse whether it answers: no call waiting, and none answered for a while.
func TestQuietFor(t *testing.T) {
	c := &clock{now: time.Date(2021, 7, 1, 8, 0, 0, 0, time.UTC)}
	h := newHealth(c)
	h.WriteSucceeded()
	if h.QuietFor(5 * time.Second) {
		t.Error("quiet just after an answer")
	}
	c.advance(5 * time.Second)
	if !h.QuietFor(5 * time.Second) {
		t.Error("not quiet 5 s after the last answer")
	}
	done := h.Calling()
	if h.QuietFor(5 * time.Second) {
		t.Error("quiet while a call waits")
	}
	done()
	if !h.QuietFor(5 * time.Second) {
		t.Error("not quiet once the call ended without an answer recorded")
	}
}

// A long error is cut to a line a probe can show.
func TestHealthShortensReasons(t *testing.T) {
	c := &clock{now: time.Now()}
	h := newHealth(c)
	h.Running(time.Minute)
	h.WriteFailed(errors.New(strings.Repeat("ồ", 500)))
	c.advance(time.Hour)
	h.Turn()
	if _, body := get(t, h); len(body) > 300 || !strings.HasSuffix(body, "…") {
		t.Errorf("body of %d bytes: %q, want at most 300 ending in …", len(body), body)
	}
}

// The handler serves every metric's name on /metrics and the health on /healthz.
func TestHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	m.Reject(metrics.UnknownType, 1)
	srv := httptest.NewServer(metrics.Handler(reg, m.Health))
	defer srv.Close()

	code, body := fetch(t, srv.URL+"/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics = %d", code)
	}
	for _, name := range names {
		if !strings.Contains(body, "\n"+name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if !strings.Contains(body, `egov_projector_events_rejected_total{reason="unknown_type"} 1`) {
		t.Errorf("/metrics lacks the unknown_type rejection:\n%s", body)
	}

	if code, body := fetch(t, srv.URL+"/healthz"); code != 503 || !strings.HasPrefix(body, "starting") {
		t.Errorf("GET /healthz before the consumer runs = %d %q, want 503 starting…", code, body)
	}
	m.Health.Running(time.Minute)
	if code, body := fetch(t, srv.URL+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("GET /healthz = %d %q, want 200 ok", code, body)
	}
	if code, _ := fetch(t, srv.URL+"/"); code != 404 {
		t.Errorf("GET / = %d, want 404", code)
	}
}

func fetch(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// Listen binds before it returns: a taken address is an error at once, a free one serves until Shutdown.
func TestListen(t *testing.T) {
	m := metrics.New(nil)
	srv, err := metrics.Listen("127.0.0.1:0", metrics.Handler(prometheus.NewRegistry(), m.Health), quiet)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := fetch(t, "http://"+srv.Addr()+"/healthz"); code != 503 {
		t.Errorf("GET /healthz = %d, want 503 (not started)", code)
	}

	_, err = metrics.Listen(srv.Addr(), http.NotFoundHandler(), quiet)
	if err == nil || !strings.HasPrefix(err.Error(), "metrics endpoint: ") {
		t.Errorf("Listen on a taken address: %v, want a metrics endpoint error", err)
	}

	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", srv.Addr()); err == nil {
		t.Errorf("%s still accepts connections after Shutdown", srv.Addr())
	}
}
