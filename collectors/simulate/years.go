package simulate

import (
	"bytes"
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/egovtrack/egovtrack/collectors/lineage"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// Through2025 is the 2021 campaign, then the years to the end of 2025 through the 2025 reorganisation
// (lineage.Reorganisation2025): each unit goes on reporting weekly and adding a few procedures a year until it is
// merged away; a successor restates its catalogue, its predecessors' procedures among them, a few weeks after the
// merger.
func Through2025(seed uint64) (Options, error) {
	o := Campaign2021(seed)
	o.Until = time.Date(2025, 12, 31, 0, 0, 0, 0, event.Vietnam)
	envs, err := lineage.Read(bytes.NewReader(lineage.Reorganisation2025))
	if err != nil {
		return Options{}, err
	}
	for _, env := range envs {
		d, err := env.UncheckedData() // checked by lineage.Read
		if err != nil {
			return Options{}, err
		}
		o.Reorganisation = append(o.Reorganisation, d)
	}
	return o, nil
}

// procState is a procedure as a unit's events leave it.
type procState struct {
	procedure
	eligible, active bool
	level            event.Level
}

// foldUnit is the unit's catalogue as its events leave it, in code order.
func foldUnit(ds []event.Data) []procState {
	byCode := map[string]*procState{}
	sorted := slices.Clone(ds)
	slices.SortStableFunc(sorted, func(a, b event.Data) int { return a.OccurredAt().Compare(b.OccurredAt()) })
	for _, d := range sorted {
		switch d := d.(type) {
		case *event.ProcedureRegisteredData:
			byCode[d.Procedure] = &procState{procedure: procedure{d.Procedure, d.Name, d.Sector}, eligible: d.Eligible, active: true, level: d.Level}
		case *event.LevelChangedData:
			if p := byCode[d.Procedure]; p != nil {
				p.level = d.To
			}
		case *event.ProcedureRetiredData:
			if p := byCode[d.Procedure]; p != nil {
				p.active = false
			}
		}
	}
	out := make([]procState, 0, len(byCode))
	for _, p := range byCode {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b procState) int { return cmp.Compare(a.code, b.code) })
	return out
}

// laterYears simulates from the day after o.End to o.Until: byUnit holds each unit's events of the campaign, and
// gets the later ones added.
func laterYears(o Options, byUnit map[units.Ref][]event.Data, order []units.Ref) ([]event.Data, error) {
	ends := map[units.Ref]time.Time{} // the day a unit is merged away
	var mergers []*event.UnitMergedData
	var out []event.Data
	for _, d := range o.Reorganisation {
		out = append(out, d)
		m, ok := d.(*event.UnitMergedData)
		if !ok {
			continue
		}
		mergers = append(mergers, m)
		day, err := m.EffectiveOn.Time()
		if err != nil {
			return nil, err
		}
		for _, p := range m.Predecessors {
			if p != m.Successor {
				if e, ok := ends[p]; !ok || day.Before(e) {
					ends[p] = day
				}
			}
		}
	}
	from := o.End.AddDate(0, 0, 1)
	later := o
	later.End = o.Until // workTime keeps times up to End
	// Units' own years: a few new procedures a year, upgraded some months later; weekly reports. Until merged away.
	for i, u := range order {
		rng := rand.New(rand.NewPCG(o.Seed, 1000+uint64(i)))
		end := o.Until.AddDate(0, 0, 1)
		if e, ok := ends[u]; ok && e.Before(end) {
			end = e
		}
		cat := foldUnit(byUnit[u])
		if len(cat) == 0 {
			continue
		}
		var ds []event.Data
		for k := range 4 * int(end.Sub(from).Hours()/24/365+1) {
			base := cat[rng.IntN(len(cat))]
			at := workTime(rng, from.Add(time.Duration(rng.Float64()*float64(end.Sub(from)))), later)
			if !at.Before(end) || !at.After(o.End.AddDate(0, 0, 1)) {
				continue
			}
			code := fmt.Sprintf("%s.%03d", base.code, 900+k)
			ds = append(ds, &event.ProcedureRegisteredData{Unit: u, Procedure: code, Name: base.name + " (mới)", Sector: base.sector, Eligible: true, Level: 3, EffectiveAt: at})
			if up := workTime(rng, at.AddDate(0, 1+rng.IntN(5), 0), later); up.Before(end) && up.After(at) {
				ds = append(ds, &event.LevelChangedData{Unit: u, Procedure: code, From: 3, To: 4, EffectiveAt: up})
			}
		}
		ds = append(ds, weeklyReports(u, from, end, len(cat))...)
		byUnit[u] = append(byUnit[u], ds...)
		out = append(out, ds...)
	}
	// Successors restate their catalogues: every active procedure of a predecessor they do not list yet, at its level,
	// and a report; then they go on reporting.
	for _, m := range mergers {
		// On the first Friday from the merger, before the weekly report: the successor's first report of its merged
		// catalogue, so that no report supersedes its predecessors' procedures before it lists them.
		day, _ := m.EffectiveOn.Time()
		for day.Weekday() != time.Friday {
			day = day.AddDate(0, 0, 1)
		}
		at := day.Add(15 * time.Hour)
		if at.After(o.Until) {
			continue
		}
		have := map[string]bool{}
		for _, p := range foldUnit(byUnit[m.Successor]) {
			if p.active {
				have[p.code] = true
			}
		}
		var ds []event.Data
		for _, p := range m.Predecessors {
			if p == m.Successor {
				continue
			}
			for _, s := range foldUnit(byUnit[p]) {
				if !s.active || have[s.code] {
					continue
				}
				have[s.code] = true
				ds = append(ds, &event.ProcedureRegisteredData{Unit: m.Successor, Procedure: s.code, Name: s.name, Sector: s.sector,
					Eligible: s.eligible, Level: s.level, EffectiveAt: at})
			}
		}
		n := len(have)
		ds = append(ds, &event.ReportSubmittedData{Unit: m.Successor, Collector: "simulate", ReportedAt: at.Add(time.Minute),
			Counts: event.ReportCounts{Registered: len(ds), Unchanged: n - len(ds)}})
		if _, existed := byUnit[m.Successor]; !existed {
			// A unit with a new code reports from then on; the others already do.
			ds = append(ds, weeklyReports(m.Successor, at.AddDate(0, 0, 1), o.Until.AddDate(0, 0, 1), n)...)
		}
		byUnit[m.Successor] = append(byUnit[m.Successor], ds...)
		out = append(out, ds...)
	}
	return out, nil
}

// weeklyReports are a unit's Friday reports from from until before end, each stating its catalogue unchanged.
func weeklyReports(u units.Ref, from, end time.Time, active int) []event.Data {
	var out []event.Data
	for day := from; day.Before(end); day = day.AddDate(0, 0, 1) {
		if day.Weekday() == time.Friday {
			out = append(out, &event.ReportSubmittedData{Unit: u, Collector: "simulate", ReportedAt: day.Add(16*time.Hour + 30*time.Minute),
				Counts: event.ReportCounts{Unchanged: active}})
		}
	}
	return out
}
