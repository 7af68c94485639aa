package simulate

import (
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
)

// A simulation that would start or end outside the time domain is refused at once, naming the bound, before a single
// event is made: a campaign of 1900 would otherwise be published, and stored by ClickHouse as 2036.
func TestSimulationOutsideTheTimeDomainIsRefused(t *testing.T) {
	start, end := time.Date(2021, 6, 30, 0, 0, 0, 0, event.Vietnam), time.Date(2021, 12, 31, 0, 0, 0, 0, event.Vietnam)
	const before = " is before 2000-01-01T00:00:00+07:00, the earliest time egovtrack records"
	const future = " is in the future: egovtrack records times up to 5 minutes from now"
	cases := []struct {
		start, end time.Time
		err        string
	}{
		{time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), end, "simulation start: 1900-01-01T00:00:00Z" + before},
		{time.Time{}, end, "simulation start: 0001-01-01T00:00:00Z" + before},
		{time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), end, "simulation start: 1969-12-31T00:00:00Z" + before},
		{start, time.Date(2106, 2, 8, 0, 0, 0, 0, time.UTC), "simulation end: 2106-02-08T00:00:00Z" + future},
		{start, time.Date(2150, 1, 1, 0, 0, 0, 0, event.Vietnam), "simulation end: 2150-01-01T00:00:00+07:00" + future},
	}
	for _, c := range cases {
		envs, err := Generate(Options{Seed: 1, Start: c.start, End: c.end})
		if err == nil || err.Error() != c.err || len(envs) > 0 {
			t.Errorf("Generate from %s to %s: %d events, %v; want none, %s", c.start, c.end, len(envs), err, c.err)
		}
		n := 0
		for _, err := range Bulk(BulkOptions{Seed: 1, Events: 100, ProceduresPerUnit: 10, Start: c.start, End: c.end}) {
			if err == nil || err.Error() != c.err {
				t.Errorf("Bulk from %s to %s: event %d, %v; want none, %s", c.start, c.end, n, err, c.err)
				break
			}
			n++
		}
	}
}
