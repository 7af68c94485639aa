package simulate

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/coverage"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

func generate(t *testing.T, seed uint64) []event.Envelope {
	t.Helper()
	envs, err := Generate(Campaign2021(seed))
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return envs
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := generate(t, 7), generate(t, 7)
	if len(a) != len(b) {
		t.Fatalf("same seed gave %d and %d events", len(a), len(b))
	}
	for i := range a {
		if a[i].ID != b[i].ID {
			t.Fatalf("event %d: ids %s and %s differ for the same seed", i, a[i].ID, b[i].ID)
		}
	}
	if c := generate(t, 8); c[len(c)/2].ID == a[len(a)/2].ID && len(c) == len(a) {
		t.Errorf("another seed gave the same events")
	}
}

// Every event passes the contract, ids are unique, and each procedure's level changes follow on from one another.
func TestGenerateIsConsistent(t *testing.T) {
	envs := generate(t, 2021)
	ids := map[string]bool{}
	levels := map[string]event.Level{}
	for _, env := range envs {
		b, err := json.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		_, d, err := event.Decode(b)
		if err != nil {
			t.Fatalf("event %s on %s does not pass the contract: %v", env.ID, env.Subject, err)
		}
		if ids[env.ID] {
			t.Fatalf("id %s used twice", env.ID)
		}
		ids[env.ID] = true
		switch d := d.(type) {
		case *event.ProcedureRegisteredData:
			levels[env.Subject] = d.Level
		case *event.LevelChangedData:
			if levels[env.Subject] != d.From {
				t.Fatalf("%s at %s changes from level %d, but the procedure is at %d", env.Subject, d.EffectiveAt, d.From, levels[env.Subject])
			}
			levels[env.Subject] = d.To
		}
		if h := env.Time.In(event.Vietnam).Hour(); h < 8 || h > 17 {
			t.Errorf("%s happens at %s, outside office hours in Vietnam", env.ID, env.Time.In(event.Vietnam))
		}
	}
}

// National coverage goes from about 40% on 30 June to 96–100% on 31 December 2021, and units differ.
func TestGenerateFollowsTheCampaign(t *testing.T) {
	envs := generate(t, 2021)
	var cs []coverage.Change
	weekend, all := 0, 0
	for i, env := range envs {
		d, err := env.Decode()
		if err != nil {
			t.Fatal(err)
		}
		if c, ok := coverage.FromEvent(d, uint64(i+1)); ok {
			cs = append(cs, c)
			if c.Kind == coverage.LevelChanged {
				all++
				if wd := c.EffectiveAt.In(event.Vietnam).Weekday(); wd == time.Saturday || wd == time.Sunday {
					weekend++
				}
			}
		}
	}
	o := Campaign2021(2021)
	daily := coverage.Daily(cs, o.End)
	if len(daily) != len(units.All()) {
		t.Fatalf("coverage for %d units, want %d", len(daily), len(units.All()))
	}
	nat := coverage.National(daily)
	start, end := nat[coverage.DayOf(o.Start)].Share(), nat[coverage.DayOf(o.End)].Share()
	if start < 35 || start > 45 {
		t.Errorf("national coverage on %s is %.1f%%, want about 40%%", o.Start.Format(event.DateLayout), start)
	}
	if end < 96 || end > 100 {
		t.Errorf("national coverage on %s is %.1f%%, want 96–100%%", o.End.Format(event.DateLayout), end)
	}
	full, behind := 0, 0
	for _, s := range daily {
		switch last := s[len(s)-1]; {
		case last.Level4 == last.Eligible:
			full++
		case last.Share() < 90:
			behind++
		}
	}
	if full == 0 || full == len(daily) || behind == 0 {
		t.Errorf("units at 100%%: %d, below 90%%: %d of %d: paces should differ", full, behind, len(daily))
	}
	if weekend*10 > all {
		t.Errorf("%d of %d level changes at weekends: weekends should be quiet", weekend, all)
	}
	t.Logf("%d events; national coverage %.1f%% → %.1f%%; %d units at 100%%, %d below 90%%; %d of %d changes at weekends",
		len(envs), start, end, full, behind, weekend, all)
}

// Through 2025, every event passes the contract and no unit publishes anything of its own once merged away.
func TestThrough2025(t *testing.T) {
	o, err := Through2025(2021)
	if err != nil {
		t.Fatal(err)
	}
	envs, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	ends := map[units.Ref]string{}
	successors := map[units.Ref]bool{}
	for _, d := range o.Reorganisation {
		if m, ok := d.(*event.UnitMergedData); ok {
			successors[m.Successor] = true
			for _, p := range m.Predecessors {
				if p != m.Successor {
					ends[p] = string(m.EffectiveOn)
				}
			}
		}
	}
	restated, last := map[units.Ref]bool{}, time.Time{}
	for _, env := range envs {
		d, err := env.UncheckedData()
		if err != nil {
			t.Fatal(err)
		}
		if u, ok := event.UnitOf(d); ok && d.EventType() != event.UnitMerged && d.EventType() != event.UnitRenamed {
			if end, gone := ends[u]; gone && string(event.DateOf(d.OccurredAt())) >= end {
				t.Fatalf("%s publishes %s on %s, merged away on %s", u, d.EventType(), event.DateOf(d.OccurredAt()), end)
			}
			if r, ok := d.(*event.ReportSubmittedData); ok && successors[u] && r.Counts.Registered > 0 && r.ReportedAt.Year() == 2025 {
				restated[u] = true
			}
		}
		if env.Time.After(last) {
			last = env.Time
		}
	}
	if len(restated) != len(successors) {
		t.Errorf("%d of %d successors restated their catalogue in 2025", len(restated), len(successors))
	}
	if last.Year() != 2025 {
		t.Errorf("the last event is of %s", last)
	}
	t.Logf("%d events to %s", len(envs), last.Format(time.DateOnly))
}
