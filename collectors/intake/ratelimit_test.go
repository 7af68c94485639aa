package intake_test

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/egovtrack/egovtrack/collectors/intake"
)

// A flood with one token is refused with 429, Retry-After and the API's JSON error once the token's burst is spent,
// before anything is read or stored, and whatever path it aims at; another unit's token is not slowed down.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	const burst, rate = 3, 0.01 // refilling one request takes 100 s: nothing refills during the test
	a := newAPI(t, func(c *intake.Config) { c.Burst, c.Rate = burst, rate })
	for i := range burst {
		if r := a.send(http.MethodPost, eventsPath, short(registered(fmt.Sprintf("1.00000%d", i), 3, day(0)))); r.status != http.StatusAccepted {
			t.Fatalf("request %d of the burst: status %d, body %s", i+1, r.status, r.body)
		}
	}
	flood := []struct {
		name  string
		path  string
		token string
	}{
		{"own unit", eventsPath, tokenThaiNguyen},
		{"own unit, catalogue", cataloguePath, tokenThaiNguyen},
		{"another unit's path", "/v1/units/province/01/events", tokenThaiNguyen},
	}
	for _, f := range flood {
		method := http.MethodPost
		if f.path == cataloguePath {
			method = http.MethodPut
		}
		r := a.do(method, f.path, f.token, "application/json", strings.NewReader(`{"this body": "is never read"}`))
		if r.status != http.StatusTooManyRequests {
			t.Errorf("%s: status %d, body %s; want 429", f.name, r.status, r.body)
			continue
		}
		e := r.errorBody(t)
		if !strings.Contains(e.Error, "too many requests") {
			t.Errorf("%s: error %q", f.name, e.Error)
		}
		secs, err := strconv.Atoi(r.header.Get("Retry-After"))
		if want := int(math.Ceil(1 / rate)); err != nil || secs < 1 || secs > want {
			t.Errorf("%s: Retry-After %q, want whole seconds from 1 to %d", f.name, r.header.Get("Retry-After"), want)
		}
	}
	if n := a.stored(); n != burst {
		t.Errorf("the stream holds %d events, want the %d of the burst", n, burst)
	}
	// Hà Nội's token has a bucket of its own.
	r := a.do(http.MethodPost, "/v1/units/province/01/events", tokenHaNoi, "application/json",
		strings.NewReader(`{"type": "gov.egov.procedure.registered.v1", "data": {"unit": {"kind": "province", "code": "01"},
		 "procedure": "1.000001", "name": "Cấp giấy phép xây dựng", "sector": "Xây dựng", "eligible": true, "level": 3,
		 "effective_at": "2021-09-01T09:00:00+07:00"}}`))
	if r.status != http.StatusAccepted {
		t.Errorf("another token while the first is limited: status %d, body %s; want 202", r.status, r.body)
	}
	logs := a.logs.String()
	if !strings.Contains(logs, "request over the token's rate limit refused") || !strings.Contains(logs, "credential=province/19:") {
		t.Errorf("the refusals are not logged with the credential:\n%s", logs)
	}
	if strings.Contains(logs, tokenThaiNguyen) {
		t.Error("the log contains the token")
	}
}
