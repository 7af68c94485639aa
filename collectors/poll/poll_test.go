package poll_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/collectors/poll"
	"github.com/egovtrack/egovtrack/collectors/reporting"
	"github.com/egovtrack/egovtrack/internal/event"
)

// Successive polls of one portal publish the catalogue, then nothing while it is unchanged, then exactly its
// differences; the first poll of a new day reports again.
func TestPollPublishesOnlyWhatChanged(t *testing.T) {
	t.Parallel()
	c := connect(t)
	p := newPortal(t)
	clk := &clock{t: day1}
	poller := newPoller(t, config(p.URL), c, clk)
	report := ev(event.ReportSubmitted, thaiNguyen, "")
	steps := []struct {
		name            string
		portal          http.Handler
		at              time.Time
		wantIfNoneMatch string // sent by the poller
		wantStatus      poll.Status
		wantCounts      event.ReportCounts
		wantEvents      []string
	}{
		{
			name: "first poll publishes the catalogue", portal: document(`"v1"`, catalogueV1), at: day1,
			wantStatus: poll.Submitted, wantCounts: event.ReportCounts{Registered: 3},
			wantEvents: sorted(
				ev(event.ProcedureRegistered, thaiNguyen, "1.000001"),
				ev(event.ProcedureRegistered, thaiNguyen, "1.000002"),
				ev(event.ProcedureRegistered, thaiNguyen, "1.000003"),
				report),
		},
		{
			name: "304 publishes nothing", portal: document(`"v1"`, catalogueV1), at: day1.Add(15 * time.Minute),
			wantIfNoneMatch: `"v1"`, wantStatus: poll.Unchanged,
		},
		{
			name: "a changed catalogue publishes exactly the diff", portal: document(`"v2"`, catalogueV2), at: day1.Add(30 * time.Minute),
			wantIfNoneMatch: `"v1"`, wantStatus: poll.Submitted,
			wantCounts: event.ReportCounts{Registered: 1, Changed: 1, Retired: 1, Unchanged: 1},
			wantEvents: sorted(
				ev(event.LevelChanged, thaiNguyen, "1.000001"),
				ev(event.ProcedureRetired, thaiNguyen, "1.000002"),
				ev(event.ProcedureRegistered, thaiNguyen, "1.000004"),
				report),
		},
		{
			// The portal's ETag has not changed, but the day has: the poll is unconditional, so that the day is reported.
			name: "the first poll of a new day fetches in full and reports", portal: document(`"v2"`, catalogueV2), at: day2,
			wantStatus: poll.Submitted, wantCounts: event.ReportCounts{Unchanged: 3}, wantEvents: []string{report},
		},
		{
			name: "after the new day's report, 304 again", portal: document(`"v2"`, catalogueV2), at: day2.Add(time.Hour),
			wantIfNoneMatch: `"v2"`, wantStatus: poll.Unchanged,
		},
		{
			name: "the same document served in full again the same day publishes nothing", portal: document("", catalogueV2),
			at: day2.Add(2 * time.Hour), wantIfNoneMatch: `"v2"`, wantStatus: poll.Repeat,
		},
	}
	for _, s := range steps {
		p.serve(s.portal)
		clk.set(s.at)
		before := stored(t, c)
		out, err := poller.PollOnce(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		reqs := p.requests()
		if len(reqs) != 1 {
			t.Fatalf("%s: %d requests, want 1", s.name, len(reqs))
		}
		if got := reqs[0].Get("If-None-Match"); got != s.wantIfNoneMatch {
			t.Errorf("%s: If-None-Match %q, want %q", s.name, got, s.wantIfNoneMatch)
		}
		if out.Status != s.wantStatus {
			t.Errorf("%s: status %s, want %s", s.name, out.Status, s.wantStatus)
		}
		if s.wantStatus == poll.Submitted && out.Result.Plan.Counts() != s.wantCounts {
			t.Errorf("%s: counts %+v, want %+v", s.name, out.Result.Plan.Counts(), s.wantCounts)
		}
		if got := eventsAfter(t, c, before); !slices.Equal(got, s.wantEvents) {
			t.Errorf("%s: published\n  %s\nwant\n  %s", s.name, strings.Join(got, "\n  "), strings.Join(s.wantEvents, "\n  "))
		}
	}
}

// A portal that gives Last-Modified but no ETag is asked with If-Modified-Since.
func TestPollUsesLastModifiedWithoutETag(t *testing.T) {
	t.Parallel()
	c := connect(t)
	p := newPortal(t)
	const modified = "Wed, 01 Sep 2021 02:00:00 GMT"
	p.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-Modified-Since") == modified {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Last-Modified", modified)
		w.Write(catalogueV1)
	}))
	poller := newPoller(t, config(p.URL), c, &clock{t: day1})
	ctx := context.Background()
	if out, err := poller.PollOnce(ctx); err != nil || out.Status != poll.Submitted {
		t.Fatalf("first poll: %v, %v; want submitted", out.Status, err)
	}
	out, err := poller.PollOnce(ctx)
	if err != nil || out.Status != poll.Unchanged {
		t.Fatalf("second poll: %v, %v; want unchanged", out.Status, err)
	}
	if reqs := p.requests(); reqs[1].Get("If-None-Match") != "" {
		t.Errorf("If-None-Match %q sent without an ETag", reqs[1].Get("If-None-Match"))
	}
}

// Network errors, timeouts, 429 and 5xx are retried, and the poll then succeeds.
func TestPollRetriesWhatMayPass(t *testing.T) {
	t.Parallel()
	ok := document(`"v1"`, catalogueV1)
	tooMany := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	cases := []struct {
		name         string
		portal       http.Handler
		wantRequests int
	}{
		{"500 then success", sequence(raw(500, "text/plain", []byte("database down")), ok), 2},
		{"503 twice then success", sequence(raw(503, "", nil), raw(503, "", nil), ok), 3},
		{"429 with Retry-After then success", sequence(tooMany, ok), 2},
		{"connection dropped then success", sequence(http.HandlerFunc(dropConnection), ok), 2},
		{"timeout then success", sequence(http.HandlerFunc(hang), ok), 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := connect(t)
			p := newPortal(t)
			p.serve(tc.portal)
			cfg := config(p.URL)
			cfg.Timeout = 300 * time.Millisecond
			out, err := newPoller(t, cfg, c, &clock{t: day1}).PollOnce(context.Background())
			if err != nil {
				t.Fatalf("poll: %v", err)
			}
			if out.Status != poll.Submitted {
				t.Errorf("status %s, want submitted", out.Status)
			}
			if n := len(p.requests()); n != tc.wantRequests {
				t.Errorf("%d requests, want %d", n, tc.wantRequests)
			}
			if n := stored(t, c); n != 4 {
				t.Errorf("stream holds %d events, want 3 registrations and a report", n)
			}
		})
	}
}

// A poll that fails records nothing, returns an error saying why, and keeps the last ETag, so that the next poll
// asks for the document again and records it.
func TestFailedPollRecordsNothing(t *testing.T) {
	t.Parallel()
	invalid := doc(thaiNguyen,
		item{"1.000001", "Cấp giấy phép xây dựng", "Xây dựng", true, 3},
		item{"1.000002", "Đăng ký khai sinh", "Hộ tịch", true, 7},
	)
	big := append(append([]byte(`{"unit": {"kind": "province", "code": "19"}, "procedures": [`), bytes.Repeat([]byte(" "), 8000)...), "]}"...)
	cases := []struct {
		name         string
		portal       http.Handler
		timeout      time.Duration
		wantErr      error
		wantInErr    string
		wantRequests int
	}{
		{name: "portal keeps answering 500", portal: raw(500, "text/html", []byte("<h1>Lỗi hệ thống</h1>")),
			wantErr: poll.ErrStatus, wantInErr: "after 3 attempts", wantRequests: 3},
		{name: "404 is not retried", portal: raw(404, "text/plain", []byte("not found")),
			wantErr: poll.ErrStatus, wantInErr: "404 Not Found: not found", wantRequests: 1},
		{name: "401 is not retried", portal: raw(401, "", nil), wantErr: poll.ErrStatus, wantRequests: 1},
		{name: "Retry-After beyond the longest backoff ends the poll", portal: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusServiceUnavailable)
		}), wantErr: poll.ErrStatus, wantInErr: "retry after 1h0m0s", wantRequests: 1},
		{name: "a slow portal times out", portal: http.HandlerFunc(hang), timeout: 50 * time.Millisecond,
			wantErr: context.DeadlineExceeded, wantRequests: 3},
		{name: "garbage JSON", portal: raw(200, "application/json", []byte(`{"unit": {"kind": "province", "code": "19"}, "procedures": [}`)),
			wantErr: poll.ErrMalformed, wantInErr: "not JSON at byte", wantRequests: 1},
		{name: "JSON of the wrong shape", portal: raw(200, "application/json", []byte(`{"unit": "province/19", "procedures": []}`)),
			wantErr: poll.ErrMalformed, wantInErr: "unit is a JSON string", wantRequests: 1},
		{name: "two documents", portal: raw(200, "application/json", append(slices.Clone(catalogueV2), catalogueV2...)),
			wantErr: poll.ErrMalformed, wantInErr: "more data after the document", wantRequests: 1},
		{name: "invalid UTF-8", portal: raw(200, "application/json", bytes.Replace(catalogueV2, []byte("Đăng"), []byte("\xd0ang"), 1)),
			wantErr: poll.ErrMalformed, wantInErr: "invalid UTF-8 at byte", wantRequests: 1},
		{name: "an empty catalogue", portal: raw(200, "application/json", doc(thaiNguyen)),
			wantErr: poll.ErrMalformed, wantInErr: `"procedures" is missing or empty`, wantRequests: 1},
		{name: "an HTML page with 200", portal: raw(200, "text/html; charset=utf-8", []byte("<html>Đăng nhập</html>")),
			wantErr: poll.ErrContentType, wantRequests: 1},
		{name: "a document about another unit", portal: raw(200, "application/json", doc(haNoi, item{"1.000001", "Cấp giấy phép xây dựng", "Xây dựng", true, 4})),
			wantErr: poll.ErrWrongUnit, wantInErr: "about province/01", wantRequests: 1},
		{name: "an invalid row rejects the whole document", portal: raw(200, "application/json", invalid),
			wantErr: poll.ErrInvalidRows, wantInErr: `row 2, level "7": 7 is out of range 1–4`, wantRequests: 1},
		{name: "an oversized body, streamed", portal: raw(200, "application/json", big),
			wantErr: poll.ErrTooLarge, wantInErr: "more than 4096 bytes", wantRequests: 1},
		{name: "an oversized body, announced", portal: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			w.Write(big)
		}), wantErr: poll.ErrTooLarge, wantInErr: "Content-Length", wantRequests: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := connect(t)
			p := newPortal(t)
			cfg := config(p.URL)
			if tc.timeout > 0 {
				cfg.Timeout = tc.timeout
			}
			poller := newPoller(t, cfg, c, &clock{t: day1})
			ctx := context.Background()

			p.serve(document(`"v1"`, catalogueV1))
			if _, err := poller.PollOnce(ctx); err != nil {
				t.Fatalf("first poll: %v", err)
			}
			before := stored(t, c)

			p.serve(tc.portal)
			out, err := poller.PollOnce(ctx)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("poll: %v (outcome %+v), want %v", err, out, tc.wantErr)
			}
			t.Logf("error: %v", err)
			if !strings.Contains(err.Error(), tc.wantInErr) {
				t.Errorf("error %q does not say %q", err, tc.wantInErr)
			}
			if out.Status != 0 || out.Result.Published.Stored != 0 {
				t.Errorf("outcome %+v with an error, want none", out)
			}
			if n := len(p.requests()); n != tc.wantRequests {
				t.Errorf("%d requests, want %d", n, tc.wantRequests)
			}
			if after := stored(t, c); after != before {
				t.Errorf("stream grew from %d to %d events; a failed poll must record nothing", before, after)
			}

			// The failure did not replace the ETag: the next poll asks with the one of the last recorded document.
			p.serve(document(`"v2"`, catalogueV2))
			out, err = poller.PollOnce(ctx)
			if err != nil || out.Status != poll.Submitted {
				t.Fatalf("poll after the failure: %v, %v; want submitted", out.Status, err)
			}
			if got := p.requests()[0].Get("If-None-Match"); got != `"v1"` {
				t.Errorf("If-None-Match after the failure %q, want %q", got, `"v1"`)
			}
		})
	}
}

// The invalid rows error lists every bad value, row by row.
func TestInvalidRowsAreListed(t *testing.T) {
	t.Parallel()
	c := connect(t)
	p := newPortal(t)
	p.serve(raw(200, "application/json", []byte(`{"unit": {"kind": "province", "code": "19"}, "procedures": [
		{"code": "1.000001", "name": "Cấp giấy phép xây dựng", "sector": "Xây dựng", "eligible": true, "level": 4},
		{"code": "12345", "name": " ", "sector": "Hộ tịch", "level": "full"},
		{"code": "1.000001", "name": "Đăng ký khai sinh", "sector": "Hộ tịch", "eligible": false, "level": "mostly"}]}`)))
	_, err := newPoller(t, config(p.URL), c, &clock{t: day1}).PollOnce(context.Background())
	var re *poll.RowsError
	if !errors.As(err, &re) {
		t.Fatalf("poll: %v, want a RowsError", err)
	}
	want := []reporting.RowError{
		{Line: 2, Column: reporting.ColCode, Value: "12345", Reason: "is not a procedure code of the national database, like 1.001234"},
		{Line: 2, Column: reporting.ColName, Value: " ", Reason: "is empty"},
		{Line: 2, Column: reporting.ColEligible, Value: "", Reason: "is not one of có/không (yes/no)"},
		{Line: 3, Column: reporting.ColCode, Value: "1.000001", Reason: "is already on row 1"},
		{Line: 3, Column: reporting.ColLevel, Value: "mostly", Reason: `"mostly" is not a level (1–4, partial or full)`},
	}
	if !slices.Equal(re.Rows, want) {
		t.Errorf("row errors\n  %v\nwant\n  %v", re.Rows, want)
	}
	if n := stored(t, c); n != 0 {
		t.Errorf("stream holds %d events, want none", n)
	}
}

// Run with an interval of 0 polls once; a failure is returned, and every invalid value logged.
func TestRunOnceLogsRowErrors(t *testing.T) {
	t.Parallel()
	c := connect(t)
	p := newPortal(t)
	p.serve(raw(200, "application/json", doc(thaiNguyen, item{"1.000001", "Cấp giấy phép xây dựng", "Xây dựng", nil, 9})))
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	err := poll.Run(context.Background(), config(p.URL), c, c, log, func() time.Time { return day1 })
	if !errors.Is(err, poll.ErrInvalidRows) {
		t.Fatalf("Run: %v, want invalid rows", err)
	}
	for _, want := range []string{
		`msg="invalid procedure" unit=province/19 row=1 column=eligible value="" reason="is not one of có/không (yes/no)"`,
		`msg="invalid procedure" unit=province/19 row=1 column=level value=9 reason="9 is out of range 1–4"`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}
	if n := stored(t, c); n != 0 {
		t.Errorf("stream holds %d events, want none", n)
	}
}

// Run polls every interval until its context ends, then returns nil; a failed poll is logged and the next one
// tries again.
func TestRunPollsUntilCancelled(t *testing.T) {
	t.Parallel()
	c := connect(t)
	p := newPortal(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var polls atomic.Int32
	notFound, ok := raw(http.StatusNotFound, "text/plain", nil), document(`"v1"`, catalogueV1)
	p.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch polls.Add(1) {
		case 1:
			notFound(w, r)
			return
		case 3:
			cancel()
		}
		ok(w, r)
	}))
	cfg := config(p.URL)
	cfg.Interval = time.Millisecond
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	if err := poll.Run(ctx, cfg, c, c, log, func() time.Time { return day1 }); err != nil {
		t.Fatalf("Run: %v", err)
	}
	reqs := p.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d polls, want 3: the cancel came during the third", len(reqs))
	}
	if got := reqs[2].Get("If-None-Match"); got != `"v1"` {
		t.Errorf("third poll sent If-None-Match %q, want %q", got, `"v1"`)
	}
	if !strings.Contains(logs.String(), `msg="poll failed, nothing recorded" unit=province/19 err="poll http://127.0.0.1`) {
		t.Errorf("the failed first poll is not logged:\n%s", logs.String())
	}
	if n := stored(t, c); n != 4 {
		t.Errorf("stream holds %d events, want 3 registrations and one report", n)
	}
}

// The bearer token reaches the portal and nothing else: not the log, not an error, not a printed configuration.
func TestTokenIsSentButNeverShown(t *testing.T) {
	t.Parallel()
	const token = "s3cret-t0ken-of-thai-nguyen"
	c := connect(t)
	p := newPortal(t)
	p.serve(sequence(raw(500, "text/plain", []byte("busy")), raw(401, "text/plain", []byte("bad token"))))
	cfg := config(p.URL)
	cfg.Token = token
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	err := poll.Run(context.Background(), cfg, c, c, log, func() time.Time { return day1 })
	if !errors.Is(err, poll.ErrStatus) {
		t.Fatalf("Run: %v, want the 401", err)
	}
	for _, h := range p.requests() {
		if got := h.Get("Authorization"); got != "Bearer "+token {
			t.Errorf("Authorization %q, want the bearer token", got)
		}
	}
	for what, s := range map[string]string{
		"log": logs.String(), "error": err.Error(),
		"%v": fmt.Sprintf("%v", cfg), "%+v": fmt.Sprintf("%+v", cfg), "%#v": fmt.Sprintf("%#v", cfg), "%s": fmt.Sprintf("%s", cfg.Token),
	} {
		if strings.Contains(s, token) {
			t.Errorf("the token shows in the %s: %s", what, s)
		}
	}
	if !strings.Contains(logs.String(), "token=true") {
		t.Errorf("the log does not say a token is configured:\n%s", logs.String())
	}
}

// The example of README.md is a document the poller accepts.
func TestREADMEExampleIsAccepted(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```json\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("README.md has no ```json example")
	}
	c := connect(t)
	p := newPortal(t)
	p.serve(document(`"example"`, m[1]))
	out, err := newPoller(t, config(p.URL), c, &clock{t: day1}).PollOnce(context.Background())
	if err != nil {
		t.Fatalf("the README's example: %v", err)
	}
	if got := out.Result.Plan.Added; len(got) != 3 {
		t.Errorf("the README's example registered %v, want its 3 procedures", got)
	}
}
