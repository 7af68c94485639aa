package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/collectors/simulate"
	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
	"github.com/egovtrack/egovtrack/internal/units"
	"github.com/egovtrack/egovtrack/projector/consumer"
	"github.com/egovtrack/egovtrack/projector/projection"
)

// The ClickHouse password appears nowhere the projector writes: not in its log at debug level, while it projects
// or when ClickHouse refuses it (a wrong password, a database the user may not use), nor on /metrics or /healthz.
func TestPasswordStaysSecret(t *testing.T) {
	const secret = "pw-Ca-Mau-96-secret"
	ch, _ := chdbtest.Protected(t, secret)
	ns := streamtest.New(t)
	nc, err := stream.Connect(t.Context(), ns, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	o := simulate.Campaign2021(5)
	o.Units = units.All()[:1]
	if _, err := simulate.Run(t.Context(), nc, o, io.Discard, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	nc.Close()

	out := &watchedLog{}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := config{Config: projection.Config{NATS: ns, ClickHouse: ch,
		Consumer: consumer.Config{Durable: "projector", BatchSize: 500, FlushInterval: 50 * time.Millisecond, AckWait: time.Minute}},
		MetricsAddr: freeAddr(t)}

	// Running: scrape /metrics and /healthz once a batch is written, then stop.
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	go func() { ran <- runProjector(ctx, cfg, io.Discard, io.Discard, log) }()
	select {
	case <-out.wait(`msg="batch written"`):
	case err := <-ran:
		t.Fatalf("run stopped before writing a batch: %v\n%s", err, out)
	case <-time.After(time.Minute):
		t.Fatalf("no batch written within a minute:\n%s", out)
	}
	var scraped strings.Builder
	for _, path := range []string{"/metrics", "/healthz"} {
		resp, err := http.Get("http://" + cfg.MetricsAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(b) == 0 {
			t.Errorf("%s: status %d, %d bytes", path, resp.StatusCode, len(b))
		}
		scraped.Write(b)
	}
	cancel()
	if err := <-ran; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("run: %v", err)
	}
	if !strings.Contains(scraped.String(), "egov_projector_") {
		t.Errorf("/metrics holds no projector metric:\n%s", scraped.String())
	}

	// Refused: each failure is logged as main logs it.
	for name, set := range map[string]func(*config){
		"wrong password":                  func(c *config) { c.ClickHouse.Password = secret + "x" },
		"a database the user may not use": func(c *config) { c.ClickHouse.Database = "egov_other" },
	} {
		bad := cfg
		bad.MetricsAddr = "off"
		set(&bad)
		err := runProjector(t.Context(), bad, io.Discard, io.Discard, log)
		if err == nil {
			t.Errorf("%s: run succeeded", name)
			continue
		}
		log.Error("projector run failed", "case", name, "err", err)
	}
	if !strings.Contains(out.String(), "egov_other") || !strings.Contains(out.String(), "level=DEBUG") {
		t.Errorf("the log lacks the refusals or the debug lines:\n%s", out)
	}
	for what, s := range map[string]string{"the log": out.String(), "/metrics and /healthz": scraped.String()} {
		if strings.Contains(s, secret) {
			t.Errorf("%s contains the password:\n%s", what, s)
		}
	}
}

// watchedLog keeps what the projector logs and tells when a line containing a string has been written.
type watchedLog struct {
	mu       sync.Mutex
	b        strings.Builder
	watchers map[string]chan struct{}
}

func (l *watchedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
	for s, ch := range l.watchers {
		if strings.Contains(l.b.String(), s) {
			close(ch)
			delete(l.watchers, s)
		}
	}
	return len(p), nil
}

// wait returns a channel closed once the log contains s.
func (l *watchedLog) wait(s string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch := make(chan struct{})
	if strings.Contains(l.b.String(), s) {
		close(ch)
		return ch
	}
	if l.watchers == nil {
		l.watchers = map[string]chan struct{}{}
	}
	l.watchers[s] = ch
	return ch
}

func (l *watchedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freeAddr is a 127.0.0.1 address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr())
}
