package intake_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/collectors/intake"
	"github.com/egovtrack/egovtrack/internal/event"
)

const dossiersPath = "/v1/units/province/19/dossiers"

func dossierEvents(n int) []event.Data {
	var out []event.Data
	for i := range n {
		id := fmt.Sprintf("%064x", i+1)
		at := day(0).Add(time.Duration(i) * time.Minute)
		out = append(out,
			&event.DossierReceivedData{Unit: thaiNguyen, Procedure: "1.000001", Dossier: id, Channel: event.ChannelOnline, Fee: true, ReceivedAt: at, DueAt: at.Add(72 * time.Hour)},
			&event.DossierSettledData{Unit: thaiNguyen, Dossier: id, SettledAt: at.Add(24 * time.Hour)})
	}
	return out
}

// A one-stop shop's batch of dossier events is stored once, each under its id, whatever the number of sends; the
// path takes dossier events only, and /events none.
func TestDossierEventsAreStoredOnce(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ds := dossierEvents(30)
	var body []map[string]any
	var want []string
	for _, d := range ds {
		body = append(body, short(d))
		want = append(want, id(t, d))
	}
	for try := 1; try <= 2; try++ {
		r := a.send(http.MethodPost, dossiersPath, body)
		if r.status != http.StatusAccepted {
			t.Fatalf("send %d: status %d, body %s; want 202", try, r.status, r.body)
		}
		if got := decode[intake.EventsResponse](t, r).IDs; !slices.Equal(got, want) {
			t.Errorf("send %d: ids %v\nwant %v", try, got, want)
		}
		if n := a.stored(); n != uint64(len(ds)) {
			t.Errorf("after send %d the stream holds %d events, want %d", try, n, len(ds))
		}
	}
	// Nothing was read back to check them: a request costs the same after millions of dossiers.
	if n := a.reader.reads.Load(); n != 0 {
		t.Errorf("the handler read %d subjects back from the stream for dossier events", n)
	}
	if got := a.envelopes(event.DossierSubject(thaiNguyen)); len(got) != len(ds) || got[0].Type != event.DossierReceived {
		t.Errorf("the unit's dossier subject holds %d events, first %v", len(got), got)
	}

	for _, tc := range []struct {
		name, path string
		body       any
		field      string
	}{
		{"a catalogue event to /dossiers", dossiersPath, []any{short(ds[0]), short(registered("1.000001", 2, day(0)))}, "[1].type"},
		{"a dossier event to /events", eventsPath, short(ds[0]), "type"},
		{"a dossier of another unit", dossiersPath, short(&event.DossierSettledData{Unit: haNoi, Dossier: strings.Repeat("ab", 32), SettledAt: day(1)}), "data.unit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := a.stored()
			r := a.send(http.MethodPost, tc.path, tc.body)
			if r.status != http.StatusUnprocessableEntity || !slices.Contains(r.fieldNames(), tc.field) {
				t.Errorf("status %d, fields %v; want 422 naming %s (%s)", r.status, r.fieldNames(), tc.field, r.body)
			}
			if a.stored() != before {
				t.Error("something was stored")
			}
		})
	}
}

// Dossier events have a bucket of their own: a token out of catalogue events still sends dossiers, and one out of
// dossier events is told when to come back; a batch larger than the bucket is refused as too large.
func TestDossierRateLimit(t *testing.T) {
	t.Parallel()
	a := newAPI(t, func(c *intake.Config) { c.EventBurst, c.EventRate, c.DossierBurst, c.DossierRate = 2, 0.001, 40, 1 })
	r := a.send(http.MethodPost, eventsPath, []any{short(registered("1.000001", 2, day(0))), short(registered("1.000002", 2, day(0)))})
	if r.status != http.StatusAccepted {
		t.Fatalf("catalogue events: status %d %s", r.status, r.body)
	}
	if r := a.send(http.MethodPost, eventsPath, short(registered("1.000003", 2, day(0)))); r.status != http.StatusTooManyRequests {
		t.Fatalf("the events bucket is empty, yet status %d", r.status)
	}
	var body []map[string]any
	for _, d := range dossierEvents(15) { // 30 events of the 40
		body = append(body, short(d))
	}
	if r := a.send(http.MethodPost, dossiersPath, body); r.status != http.StatusAccepted {
		t.Fatalf("dossiers with the events bucket empty: status %d %s", r.status, r.body)
	}
	r = a.send(http.MethodPost, dossiersPath, body)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || !strings.Contains(string(r.body), "DOSSIER_BURST") {
		t.Errorf("over the dossier bucket: status %d, Retry-After %q, body %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	big := append(body, body...)
	big = append(big, body...)
	if r := a.send(http.MethodPost, dossiersPath, big); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("90 dossier events, bucket of 40: status %d %s", r.status, r.body)
	}
}
