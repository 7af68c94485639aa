package intake_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/collectors/intake"
	"github.com/egovtrack/egovtrack/internal/event/eventtest"
)

// outsideTheDomain are times the time domain refuses (event.CheckTime), as a client may write them, with the message
// naming the bound. 1900 was accepted and wrapped by ClickHouse to 2036; 0001-01-01 was refused as missing.
var outsideTheDomain = []struct{ time, message string }{
	{"1900-01-01T00:00:00Z", "1900-01-01T00:00:00Z is before 2000-01-01T00:00:00+07:00, the earliest time egovtrack records"},
	{"0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z is before 2000-01-01T00:00:00+07:00, the earliest time egovtrack records"},
	{"1969-12-31T00:00:00Z", "1969-12-31T00:00:00Z is before 2000-01-01T00:00:00+07:00, the earliest time egovtrack records"},
	{"2106-02-08T00:00:00Z", "2106-02-08T00:00:00Z is in the future: egovtrack records times up to 5 minutes from now"},
	{"2150-01-01T00:00:00Z", "2150-01-01T00:00:00Z is in the future: egovtrack records times up to 5 minutes from now"},
}

// An event whose time lies outside the time domain is refused with 422, naming the field and the bound, whether sent
// in the short form or as a full envelope, alone or in an array; nothing is stored.
func TestEventsOutsideTheTimeDomainAreRefused(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for _, c := range outsideTheDomain {
		at, err := time.Parse(time.RFC3339, c.time)
		if err != nil {
			t.Fatal(err)
		}
		shortForm := `{"type": "gov.egov.procedure.level_changed.v1", "data": {"unit": {"kind": "province", "code": "19"}, ` +
			`"procedure": "1.000001", "from": 3, "to": 4, "effective_at": "` + c.time + `"}}`
		full := string(eventtest.UncheckedJSON(t, "/thai-nguyen/dich-vu-cong", registered("1.000001", 3, at)))
		requests := []struct {
			name, contentType, body, field string
		}{
			{"short form", "application/json", shortForm, "data.effective_at"},
			{"full envelope", "application/cloudevents+json", full, "data.effective_at"},
			{"in an array", "application/json", `[` + string(mustJSON(t, short(registered("1.000002", 3, day(0))))) + `, ` + shortForm + `]`, "[1].data.effective_at"},
		}
		for _, req := range requests {
			t.Run(c.time+"/"+req.name, func(t *testing.T) {
				r := a.do(http.MethodPost, eventsPath, tokenThaiNguyen, req.contentType, strings.NewReader(req.body))
				if r.status != http.StatusUnprocessableEntity {
					t.Fatalf("status %d, body %s; want 422", r.status, r.body)
				}
				want := []intake.FieldError{{Field: req.field, Message: c.message}}
				if got := r.errorBody(t).Fields; !slices.Equal(got, want) {
					t.Errorf("fields %+v, want %+v", got, want)
				}
			})
		}
	}
	if n := a.stored(); n != 0 {
		t.Errorf("the stream holds %d events, want none", n)
	}
}

// A time left out, or null, is missing; given as 0001-01-01T00:00:00Z it is that time (Go's zero time, which the
// short form decodes it to, is no longer taken for a time never set).
func TestShortFormTellsAMissingTimeFromTheZeroTime(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	const data = `"unit": {"kind": "province", "code": "19"}, "procedure": "1.000001", "from": 3, "to": 4`
	cases := []struct{ data, message string }{
		{data, "is missing"},
		{data + `, "effective_at": null`, "is missing"},
		{data + `, "effective_at": "0001-01-01T00:00:00Z"`, "0001-01-01T00:00:00Z is before 2000-01-01T00:00:00+07:00, the earliest time egovtrack records"},
	}
	for _, c := range cases {
		body := `{"type": "gov.egov.procedure.level_changed.v1", "data": {` + c.data + `}}`
		r := a.do(http.MethodPost, eventsPath, tokenThaiNguyen, "application/json", strings.NewReader(body))
		want := []intake.FieldError{{Field: "data.effective_at", Message: c.message}}
		if got := r.errorBody(t).Fields; r.status != http.StatusUnprocessableEntity || !slices.Equal(got, want) {
			t.Errorf("%s: status %d, fields %+v; want 422, %+v", body, r.status, got, want)
		}
	}
}

// A catalogue takes effect at the server's clock. A clock outside the time domain (a machine whose clock was reset)
// is the server's fault: 500, nothing stored, and the log says why, where the events used to be published at that time.
func TestCatalogueOnAClockOutsideTheTimeDomainStoresNothing(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	body := `{"procedures": [{"code": "1.000001", "name": "Đăng ký khai sinh", "sector": "Hộ tịch", "eligible": true, "level": 4}]}`
	for _, c := range outsideTheDomain {
		at, err := time.Parse(time.RFC3339, c.time)
		if err != nil {
			t.Fatal(err)
		}
		a.clock.set(at)
		r := a.do(http.MethodPut, cataloguePath, tokenThaiNguyen, "application/json", strings.NewReader(body))
		if r.status != http.StatusInternalServerError {
			t.Errorf("clock at %s: status %d, body %s; want 500", c.time, r.status, r.body)
		}
		if !strings.Contains(a.logs.String(), c.message) {
			t.Errorf("clock at %s: the log does not say %q", c.time, c.message)
		}
	}
	if n := a.stored(); n != 0 {
		t.Errorf("the stream holds %d events, want none", n)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b)
}
