package consumer_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/event/eventtest"
	"github.com/egovtrack/egovtrack/internal/units"
)

// publishUnchecked publishes d as a client that skipped validation would have, or as anyone did before the time
// domain was checked: the envelope its fact derives, with its id as Nats-Msg-Id, whatever its times.
func publishUnchecked(t *testing.T, r *rig, d event.Data) string {
	t.Helper()
	env := eventtest.Unchecked(t, "/egovtrack/collectors/serve", d)
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(d.Subject())
	m.Data = b
	if _, err := r.raw.JS.PublishMsg(context.Background(), m, jetstream.WithMsgID(env.ID)); err != nil {
		t.Fatal(err)
	}
	return d.Subject()
}

// Events outside the time domain that the stream already holds (published before it was checked, or by a client
// that skipped validation) are quarantined with the bound they pass, among a campaign that is projected in full:
// nothing of them reaches ClickHouse, which stored 1900-01-01 as 2036-02-07 and filled coverage_daily up to 2036.
func TestStoredEventsOutsideTheTimeDomainAreQuarantined(t *testing.T) {
	r := newRig(t)
	unit := units.All()[0].Ref
	before := " is before 2000-01-01T00:00:00+07:00, the earliest time egovtrack records"
	old := []struct {
		d      event.Data
		reason string
	}{
		{&event.ProcedureRegisteredData{Unit: unit, Procedure: "1.999901", Name: "Đăng ký khai sinh", Sector: "Hộ tịch", Eligible: true, Level: 4,
			EffectiveAt: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)}, "data.effective_at: 1900-01-01T00:00:00Z" + before},
		{&event.ProcedureRetiredData{Unit: unit, Procedure: "1.999902", EffectiveAt: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)},
			"data.effective_at: 1969-12-31T00:00:00Z" + before},
		{&event.AssistantStageChangedData{Unit: unit, Stage: event.StageLive, EffectiveAt: time.Date(2106, 2, 8, 0, 0, 0, 0, time.UTC)},
			"data.effective_at: 2106-02-08T00:00:00Z is in the future: egovtrack records times up to 5 minutes from now"},
		{&event.ReportSubmittedData{Unit: unit, Collector: "serve", ReportedAt: time.Time{}},
			"data.reported_at: 0001-01-01T00:00:00Z" + before},
		{&event.TargetSetData{Metric: event.MetricLevel4Coverage, Scope: event.ScopeOf(unit), Baseline: 40, BaselineDate: "2021-06-30",
			Target: 100, Deadline: "2150-01-01", SetAt: time.Date(2021, 7, 1, 2, 0, 0, 0, time.UTC)},
			"data.deadline: 2150-01-01 is after 2100-12-31, the latest day egovtrack records"},
	}
	want := map[string]string{}
	for _, o := range old {
		want[publishUnchecked(t, r, o.d)] = o.reason
	}

	stats := runOnce(t, r)
	if stats.Projected != r.sent || stats.Rejected != len(old) {
		t.Errorf("projected %d and quarantined %d, want %d and %d", stats.Projected, stats.Rejected, r.sent, len(old))
	}
	got := quarantined(t, r)
	for subject, reason := range want {
		if got[subject] != reason {
			t.Errorf("%s: quarantined %q, want %q", subject, got[subject], reason)
		}
	}
	if n := r.count(t, "SELECT count() FROM events FINAL"); n != uint64(r.sent) {
		t.Errorf("events holds %d rows, want the campaign's %d", n, r.sent)
	}
	today := string(event.DateOf(time.Now()))
	for _, q := range []string{
		"SELECT count() FROM coverage_daily WHERE day > toDate('" + today + "') OR day < toDate('2000-01-01')",
		"SELECT count() FROM procedure_changes WHERE day > toDate('" + today + "') OR day < toDate('2000-01-01')",
		"SELECT count() FROM assistant_changes WHERE day > toDate('" + today + "') OR day < toDate('2000-01-01')",
		"SELECT count() FROM targets WHERE deadline > toDate('2100-12-31') OR deadline < toDate('2000-01-01')",
		"SELECT count() FROM reports WHERE reported_at < toDateTime('2000-01-01 00:00:00')",
	} {
		if n := r.count(t, q); n != 0 {
			t.Errorf("%s: %d, want 0", q, n)
		}
	}
}
