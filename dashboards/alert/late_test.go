package alert_test

import (
	"fmt"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/collectors/simulate"
	"github.com/egovtrack/egovtrack/dashboards/alert"
	"github.com/egovtrack/egovtrack/dashboards/internal/campaigntest"
	"github.com/egovtrack/egovtrack/internal/enginetest"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// lateDossiersInGo is each unit's share of late dossiers, in percent, among those it settled in the 30 Vietnamese days up to
// at's day (at least minSettled of them), from the events: a dossier's earliest settlement against the due time of
// its earliest receipt, each event once.
func lateDossiersInGo(c *campaigntest.Campaign, at time.Time, minSettled int) map[string]float64 {
	type dossier struct {
		unit             units.Ref
		due, received    time.Time
		settled          time.Time
		hasDue, hasSettl bool
	}
	ds := map[string]*dossier{}
	seen := map[string]bool{}
	for _, ev := range c.Events {
		if seen[ev.Env.ID] {
			continue
		}
		seen[ev.Env.ID] = true
		of := func(u units.Ref, id string) *dossier {
			if ds[u.String()+id] == nil {
				ds[u.String()+id] = &dossier{unit: u}
			}
			return ds[u.String()+id]
		}
		switch d := ev.Data.(type) {
		case *event.DossierReceivedData:
			if x := of(d.Unit, d.Dossier); !x.hasDue || d.ReceivedAt.Before(x.received) {
				x.due, x.received, x.hasDue = d.DueAt, d.ReceivedAt, true
			}
		case *event.DossierSettledData:
			if x := of(d.Unit, d.Dossier); !x.hasSettl || d.SettledAt.Before(x.settled) {
				x.settled, x.hasSettl = d.SettledAt, true
			}
		}
	}
	last := at.In(event.Vietnam).Format(time.DateOnly)
	first := at.In(event.Vietnam).AddDate(0, 0, -29).Format(time.DateOnly)
	settled, late := map[units.Ref]int{}, map[units.Ref]int{}
	for _, x := range ds {
		if !x.hasDue || !x.hasSettl {
			continue
		}
		if day := x.settled.In(event.Vietnam).Format(time.DateOnly); day < first || day > last {
			continue
		}
		settled[x.unit]++
		if x.settled.Unix() > x.due.Unix() {
			late[x.unit]++
		}
	}
	out := map[string]float64{}
	for u, n := range settled {
		if n >= minSettled {
			un, _ := units.Lookup(u)
			out[u.String()+" "+un.Name] = 100 * float64(late[u]) / float64(n)
		}
	}
	return out
}

// The late-dossiers rule fires, on both engines and at each evaluation, for exactly the units whose share of late
// dossiers over the last 30 days the events put above the threshold, with that share as its value.
func TestLateDossiersFireAsTheEventsSay(t *testing.T) {
	o := simulate.Campaign2021(campaigntest.Seed)
	all := units.All()
	o.Units = []units.Unit{all[0], all[5], all[20], all[40], all[len(all)-3], all[len(all)-9]}
	o.DossiersPerDay = 4
	envs, err := simulate.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	c := campaigntest.Project(t, envs, envs[len(envs)-500:]) // the last 500 published again
	e := c.Engines(t)
	// The threshold between the units' shares on the campaign's last day, so that some fire and some do not.
	shares := lateDossiersInGo(c, evaluations[2], alert.Defaults.LateMinSettled)
	var vals []float64
	for _, v := range shares {
		vals = append(vals, v)
	}
	sort.Float64s(vals)
	if len(vals) < 3 {
		t.Fatalf("%d units settled enough dossiers: the fixture proves little", len(vals))
	}
	cfg := alert.Defaults
	cfg.LatePercent = int(math.Floor(vals[len(vals)/2]))
	r := ruleWith(t, cfg, alert.LateUID)
	fired, quiet := 0, 0
	for _, at := range evaluations {
		want := map[string]float64{}
		for k, v := range lateDossiersInGo(c, at, cfg.LateMinSettled) {
			if v > float64(cfg.LatePercent) {
				want[k] = v
			}
		}
		fired, quiet = fired+len(want), quiet+len(o.Units)-len(want)
		for _, eng := range []enginetest.Engine{e.Server, e.Local} {
			t.Run(fmt.Sprintf("%s on %s", at.Format(time.DateOnly), eng.Name()), func(t *testing.T) {
				got := map[string]float64{}
				for _, inst := range firing(t, eng, r, at) {
					got[inst.key()] = inst.value
				}
				if len(got) != len(want) {
					t.Errorf("%d units fire, the events say %d: %v, want %v", len(got), len(want), got, want)
				}
				for k, v := range want {
					if g, ok := got[k]; !ok || math.Abs(g-v) > 1e-9 {
						t.Errorf("%s: fires %v (%v), the events say %.6f", k, g, ok, v)
					}
				}
			})
		}
	}
	t.Logf("threshold %d%% (the shares on 31 December: %.1f): %d firings, %d quiet units over %d evaluations", cfg.LatePercent, vals, fired, quiet, len(evaluations))
	if fired == 0 || quiet == 0 {
		t.Errorf("%d firings, %d quiet units at threshold %d%%: want both", fired, quiet, cfg.LatePercent)
	}
}
