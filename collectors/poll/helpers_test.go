package poll_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/collectors/poll"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
	"github.com/egovtrack/egovtrack/internal/units"
)

var (
	thaiNguyen = units.Ref{Kind: units.Province, Code: "19"}
	haNoi      = units.Ref{Kind: units.Province, Code: "01"}
	// day1 and day2 are two Vietnamese days of the campaign; polls are stamped with them.
	day1 = time.Date(2021, 9, 1, 10, 0, 0, 0, event.Vietnam)
	day2 = day1.AddDate(0, 0, 1)
)

// connect starts a real embedded JetStream server for the test and connects to it.
func connect(t *testing.T) *stream.Conn {
	t.Helper()
	c, err := stream.Connect(context.Background(), streamtest.New(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("connect to NATS: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// stored counts the messages in the stream.
func stored(t *testing.T, c *stream.Conn) uint64 {
	t.Helper()
	ctx := context.Background()
	s, err := c.Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// eventsAfter returns "type subject" of every event stored after stream sequence seq, sorted.
func eventsAfter(t *testing.T, c *stream.Conn, seq uint64) []string {
	t.Helper()
	var out []string
	err := c.Read(context.Background(), event.SubjectRoot+".>", func(s uint64, b []byte) error {
		if s <= seq {
			return nil
		}
		env, _, err := event.Decode(b)
		if err != nil {
			return fmt.Errorf("stored event %d: %w", s, err)
		}
		if env.Source != poll.Source {
			return fmt.Errorf("stored event %d has source %q, want %q", s, env.Source, poll.Source)
		}
		out = append(out, string(env.Type)+" "+env.Subject)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// ev names an expected event as eventsAfter does; code "" is the unit's report.
func ev(typ event.Type, unit units.Ref, code string) string {
	if code == "" {
		return string(typ) + " " + event.UnitSubject(unit, "report")
	}
	return string(typ) + " " + event.ProcedureSubject(unit, code)
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

// item is one procedure of a portal's document, written as a portal would.
type item struct {
	Code     string `json:"code"`
	Name     string `json:"name"`
	Sector   string `json:"sector"`
	Eligible any    `json:"eligible"`
	Level    any    `json:"level"`
}

func doc(unit units.Ref, items ...item) []byte {
	b, err := json.Marshal(map[string]any{"unit": unit, "procedures": items})
	if err != nil {
		panic(err)
	}
	return b
}

// catalogueV1 is the portal's first catalogue; catalogueV2 raises 1.000001 to level 4, drops 1.000002 and adds
// 1.000004.
var (
	catalogueV1 = doc(thaiNguyen,
		item{"1.000001", "Cấp giấy phép xây dựng", "Xây dựng", true, 3},
		item{"1.000002", "Đăng ký khai sinh", "Hộ tịch", true, "partial"},
		item{"1.000003", "Cấp giấy phép kinh doanh karaoke", "Văn hóa, Thể thao và Du lịch", false, 2},
	)
	catalogueV2 = doc(thaiNguyen,
		item{"1.000001", "Cấp giấy phép xây dựng", "Xây dựng", true, "full"},
		item{"1.000003", "Cấp giấy phép kinh doanh karaoke", "Văn hóa, Thể thao và Du lịch", false, 2},
		item{"1.000004", "Đăng ký kết hôn", "Hộ tịch", true, 4},
	)
)

// portal is a provincial portal whose behaviour a test swaps, recording the headers of every request.
type portal struct {
	*httptest.Server
	mu      sync.Mutex
	handler http.Handler
	headers []http.Header
}

func newPortal(t *testing.T) *portal {
	t.Helper()
	p := &portal{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.headers = append(p.headers, r.Header.Clone())
		h := p.handler
		p.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

// serve makes the portal answer with h from now on, and forgets the requests seen so far.
func (p *portal) serve(h http.Handler) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.handler, p.headers = h, nil
}

// requests returns the headers of the requests since the last serve.
func (p *portal) requests() []http.Header {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.headers)
}

// document answers body as JSON with etag, and 304 to a request that already has it, as a portal should.
func document(etag string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if etag != "" && r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if etag != "" {
			w.Header().Set("ETag", etag)
		}
		w.Write(body)
	}
}

// raw answers status, content type and body as given, whatever the request.
func raw(status int, contentType string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.Header().Set("ETag", `"bad"`) // must never be sent back
		w.WriteHeader(status)
		w.Write(body)
	}
}

// sequence answers the n-th request with hs[n], and every later one with the last.
func sequence(hs ...http.Handler) http.HandlerFunc {
	var mu sync.Mutex
	n := 0
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := hs[min(n, len(hs)-1)]
		n++
		mu.Unlock()
		h.ServeHTTP(w, r)
	}
}

// hang answers nothing until the client gives up.
func hang(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// dropConnection closes the connection without an answer: a network error to the client.
func dropConnection(w http.ResponseWriter, r *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	conn.Close()
}

// config is a test configuration: fast retries, short timeouts.
func config(url string) poll.Config {
	return poll.Config{
		URL:        url,
		Unit:       poll.UnitRef{Ref: thaiNguyen},
		Interval:   0,
		Timeout:    5 * time.Second,
		MaxBody:    4096,
		Retries:    2,
		Backoff:    time.Millisecond,
		MaxBackoff: 10 * time.Millisecond,
	}
}

// clock is a settable now for the poller.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func newPoller(t *testing.T, cfg poll.Config, c *stream.Conn, clk *clock) *poll.Poller {
	t.Helper()
	p, err := poll.NewPoller(cfg, c, c, slog.New(slog.DiscardHandler), clk.now)
	if err != nil {
		t.Fatalf("new poller: %v", err)
	}
	return p
}
