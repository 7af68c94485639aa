package simulate

import (
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
)

func bulkOptions(n int) BulkOptions {
	return BulkOptions{Seed: 1, Events: n, ProceduresPerUnit: 2000,
		Start: time.Date(2020, 1, 1, 0, 0, 0, 0, event.Vietnam), End: time.Date(2022, 1, 1, 0, 0, 0, 0, event.Vietnam)}
}

// Bulk yields exactly the number asked for, each valid and distinct, each level change following on from the
// procedure's level, in order of time, the same for the same seed.
func TestBulk(t *testing.T) {
	for _, n := range []int{1, 85, 1000, 50_000} {
		ids := map[string]bool{}
		levels := map[string]event.Level{}
		var last time.Time
		count := 0
		for env, err := range Bulk(bulkOptions(n)) {
			if err != nil {
				t.Fatalf("n=%d: %v", n, err)
			}
			d, err := env.Decode()
			if err != nil {
				t.Fatalf("n=%d: event %d fails the contract: %v", n, count, err)
			}
			if ids[env.ID] {
				t.Fatalf("n=%d: id %s twice", n, env.ID)
			}
			ids[env.ID] = true
			switch d := d.(type) {
			case *event.ProcedureRegisteredData:
				levels[env.Subject] = d.Level
			case *event.LevelChangedData:
				if levels[env.Subject] != d.From {
					t.Fatalf("n=%d: %s changes from %d, but is at %d", n, env.Subject, d.From, levels[env.Subject])
				}
				levels[env.Subject] = d.To
			}
			if env.Time.Before(last) {
				t.Fatalf("n=%d: event %d goes back in time", n, count)
			}
			last = env.Time
			count++
		}
		if count != n {
			t.Errorf("Bulk yielded %d events, want %d", count, n)
		}
	}
	var a, b []string
	for env := range Bulk(bulkOptions(500)) {
		a = append(a, env.ID)
	}
	for env := range Bulk(bulkOptions(500)) {
		b = append(b, env.ID)
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("event %d differs between two runs with the same seed", i)
		}
	}
}
