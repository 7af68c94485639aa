// Package simulate generates the second half of 2021 as the ministries and provinces would have reported it: every
// unit's catalogue of procedures on 30 June, the level changes that take national level-4 coverage of eligible
// procedures from about 40% to about 97% by 31 December, the virtual assistant's rollout, weekly reports and the
// ministry's targets. The same seed always gives the same events.
package simulate

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// Source is the CloudEvents source of simulated events.
const Source = "/egovtrack/collectors/simulate"

// Options shape a simulation.
type Options struct {
	Seed uint64
	// Start is the campaign's baseline day (catalogues are registered then) and End its deadline, both Vietnamese
	// days.
	Start, End time.Time
	// Units to simulate; empty means every unit of the reference data.
	Units []units.Unit
	// Until, when after End, runs the simulation on to that day through Reorganisation (Through2025).
	Until          time.Time
	Reorganisation []event.Data
	// DossiersPerDay, when above 0, adds every unit's dossiers from Start to End (Dossiers), at this mean of receipts
	// a working day, for the procedures of its catalogue.
	DossiersPerDay float64
}

// Campaign2021 is the MIC's campaign of the second half of 2021.
func Campaign2021(seed uint64) Options {
	return Options{
		Seed:  seed,
		Start: time.Date(2021, 6, 30, 0, 0, 0, 0, event.Vietnam),
		End:   time.Date(2021, 12, 31, 0, 0, 0, 0, event.Vietnam),
	}
}

// Generate returns every event of the simulation, ordered by the time it took effect.
func Generate(o Options) ([]event.Envelope, error) {
	us := o.Units
	if len(us) == 0 {
		us = units.All()
	}
	if err := checkSpan(o.Start, o.End); err != nil {
		return nil, err
	}
	if !o.End.After(o.Start) {
		return nil, fmt.Errorf("simulation end %s is not after its start %s", o.End.Format(event.DateLayout), o.Start.Format(event.DateLayout))
	}
	var ds []event.Data
	ds = append(ds, targets(o)...)
	shared := provinceCatalogue()
	byUnit := map[units.Ref][]event.Data{}
	var order []units.Ref
	for i, u := range us {
		// Each unit has its own random source, so adding or removing a unit leaves the others unchanged.
		rng := rand.New(rand.NewPCG(o.Seed, uint64(i)+1))
		cat := shared
		if u.Kind == units.Ministry {
			cat = ministryCatalogue(rng, i)
		}
		uds := simulateUnit(rng, o, u.Ref, cat)
		byUnit[u.Ref], order = uds, append(order, u.Ref)
		ds = append(ds, uds...)
	}
	if o.Until.After(o.End) {
		if err := checkSpan(o.Start, o.Until); err != nil {
			return nil, err
		}
		later, err := laterYears(o, byUnit, order)
		if err != nil {
			return nil, err
		}
		ds = append(ds, later...)
	}
	if o.DossiersPerDay > 0 {
		for d, err := range Dossiers(DossierOptions{Seed: o.Seed, Procedures: proceduresOf(ds), Start: o.Start, End: o.End, PerDay: o.DossiersPerDay}) {
			if err != nil {
				return nil, err
			}
			ds = append(ds, d)
		}
	}
	envs := make([]event.Envelope, 0, len(ds))
	for _, d := range ds {
		env, err := event.New(Source, d)
		if err != nil {
			return nil, fmt.Errorf("simulated %s on %s: %w", d.EventType(), d.Subject(), err)
		}
		envs = append(envs, env)
	}
	slices.SortStableFunc(envs, func(a, b event.Envelope) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Subject, b.Subject))
	})
	return envs, nil
}

// checkSpan refuses a simulation whose start or end lies outside the time domain (event.CheckTime), once and before
// generating anything: its events would lie outside too.
func checkSpan(start, end time.Time) error {
	if err := event.CheckTime(start); err != nil {
		return fmt.Errorf("simulation start: %w", err)
	}
	if err := event.CheckTime(end); err != nil {
		return fmt.Errorf("simulation end: %w", err)
	}
	return nil
}

func targets(o Options) []event.Data {
	setAt := o.Start.AddDate(0, 0, 16).Add(9 * time.Hour) // the mid-year review of 16 July 2021
	base, deadline := event.DateOf(o.Start), event.DateOf(o.End)
	return []event.Data{
		&event.TargetSetData{Metric: event.MetricLevel4Coverage, Scope: event.National, Baseline: 40, BaselineDate: base, Target: 100, Deadline: deadline, SetAt: setAt},
		&event.TargetSetData{Metric: event.MetricAssistantLive, Scope: event.National, Baseline: 0, BaselineDate: base, Target: 100, Deadline: deadline, SetAt: setAt},
	}
}

type procedure struct {
	code, name, sector string
}

// provinceCatalogue is the list of province-level procedures every province picks its own from: provinces share
// the national database's codes.
func provinceCatalogue() []procedure {
	var out []procedure
	n := 0
	for _, s := range sectors {
		for _, b := range s.bases {
			for _, v := range variants {
				n++
				out = append(out, procedure{code: fmt.Sprintf("1.%06d", 1000+n*7), name: procedureName(v, b), sector: s.name})
			}
		}
	}
	return out
}

// ministryCatalogue draws a ministry's own procedures from a few sectors, with codes of its own.
func ministryCatalogue(rng *rand.Rand, unitIndex int) []procedure {
	var out []procedure
	for _, si := range rng.Perm(len(sectors))[:2+rng.IntN(4)] {
		s := sectors[si]
		for _, b := range s.bases {
			for _, v := range variants {
				out = append(out, procedure{code: fmt.Sprintf("2.%06d", unitIndex*1000+len(out)+1), name: procedureName(v, b), sector: s.name})
			}
		}
	}
	return out
}

// pace is how one unit moves through the campaign.
type pace struct {
	startShare float64   // share of its eligible procedures at level 4 on the start day
	endShare   float64   // share it reaches by the end
	from, to   time.Time // when it does its upgrades
	stopsAt    time.Time // after this it stops reporting (stale units); zero when it never stops
}

func drawPace(rng *rand.Rand, o Options) pace {
	days := o.End.Sub(o.Start).Hours() / 24
	p := pace{startShare: clamp(0.40+0.14*rng.NormFloat64(), 0.08, 0.8)}
	switch r := rng.Float64(); {
	case r < 0.72: // most units make it
		p.endShare = 1
	case r < 0.95:
		p.endShare = 0.9 + 0.09*rng.Float64()
	default: // a few stall
		p.endShare = math.Max(p.startShare+0.1, 0.7+0.15*rng.Float64())
	}
	p.from = o.Start.Add(time.Duration(1+rng.Float64()*days*0.4) * 24 * time.Hour)
	p.to = p.from.Add(time.Duration(float64(o.End.Sub(p.from)) * (0.5 + 0.5*rng.Float64())))
	if rng.Float64() < 0.05 {
		p.stopsAt = o.Start.Add(time.Duration((0.5 + 0.4*rng.Float64()) * float64(o.End.Sub(o.Start))))
	}
	return p
}

func simulateUnit(rng *rand.Rand, o Options, u units.Ref, cat []procedure) []event.Data {
	p := drawPace(rng, o)
	if u.Kind == units.Province {
		// A province offers most, not all, of the shared list.
		keep := 0.6 + 0.3*rng.Float64()
		var own []procedure
		for _, c := range cat {
			if rng.Float64() < keep {
				own = append(own, c)
			}
		}
		cat = own
	}
	type state struct {
		procedure
		eligible bool
		level    event.Level
	}
	var out []event.Data
	states := make([]state, len(cat))
	var eligible, atFour []int
	for i, c := range cat {
		s := state{procedure: c, eligible: rng.Float64() < 0.88}
		switch {
		case s.eligible && rng.Float64() < p.startShare:
			s.level = 4
			atFour = append(atFour, i)
		case rng.Float64() < 0.7:
			s.level = 3
		default:
			s.level = 2
		}
		if s.eligible {
			eligible = append(eligible, i)
		}
		states[i] = s
		out = append(out, &event.ProcedureRegisteredData{
			Unit: u, Procedure: c.code, Name: c.name, Sector: c.sector, Eligible: s.eligible, Level: s.level,
			EffectiveAt: workTime(rng, o.Start, o),
		})
	}
	change := func(i int, to event.Level, at time.Time) {
		out = append(out, &event.LevelChangedData{Unit: u, Procedure: states[i].code, From: states[i].level, To: to, EffectiveAt: at})
		states[i].level = to
	}

	// Upgrades: enough eligible procedures to reach the unit's end share, in a random order.
	need := int(math.Ceil(p.endShare*float64(len(eligible)))) - len(atFour)
	var todo []int
	for _, i := range eligible {
		if states[i].level != 4 {
			todo = append(todo, i)
		}
	}
	rng.Shuffle(len(todo), func(a, b int) { todo[a], todo[b] = todo[b], todo[a] })
	todo = todo[:max(0, min(need, len(todo)))]
	upgraded := map[int]bool{}
	for _, i := range todo {
		upgraded[i] = true
		// Later in the window more often: the campaign's pressure grows towards the deadline.
		at := p.from.Add(time.Duration(math.Sqrt(rng.Float64()) * float64(p.to.Sub(p.from))))
		at = workTime(rng, at, o)
		if states[i].level == 2 && rng.Float64() < 0.5 {
			mid := workTime(rng, p.from.Add(at.Sub(p.from)/2), o)
			if !mid.Before(at) { // office hours moved it past the upgrade: keep the order of the two steps
				mid = at.Add(-time.Hour)
			}
			change(i, 3, mid)
		}
		change(i, 4, at)
		if rng.Float64() < 0.04 { // a few step back (say the payment link broke), most recover
			back := workTime(rng, at.AddDate(0, 0, 5+rng.IntN(25)), o)
			if back.Before(o.End) {
				change(i, 3, back)
				again := workTime(rng, back.AddDate(0, 0, 7+rng.IntN(25)), o)
				if again.Before(o.End.AddDate(0, 0, 1)) && rng.Float64() < 0.8 {
					change(i, 4, again)
				}
			}
		}
	}

	// A few procedures are abolished and leave the denominator; a few new ones appear.
	for i := range states {
		if !upgraded[i] && rng.Float64() < 0.01 {
			at := workTime(rng, o.Start.Add(time.Duration(rng.Float64()*float64(o.End.Sub(o.Start)))), o)
			out = append(out, &event.ProcedureRetiredData{Unit: u, Procedure: states[i].code, Reason: "bãi bỏ", EffectiveAt: at})
		}
	}
	for k := range max(1, len(cat)/100) {
		c := cat[rng.IntN(len(cat))]
		lvl := event.Level(3)
		if p.endShare == 1 || rng.Float64() < 0.6 { // units bent on 100% launch new services fully online
			lvl = 4
		}
		code := fmt.Sprintf("%s.%03d", c.code, k+1) // a newer, suffixed code
		at := workTime(rng, o.Start.Add(time.Duration((0.3+0.6*rng.Float64())*float64(o.End.Sub(o.Start)))), o)
		out = append(out, &event.ProcedureRegisteredData{Unit: u, Procedure: code, Name: c.name + " (mới)", Sector: c.sector, Eligible: true, Level: lvl, EffectiveAt: at})
	}

	out = append(out, assistant(rng, o, u)...)
	return append(out, reports(o, u, p, out)...)
}

// assistant rolls a unit's virtual assistant out: planned, piloted, live, each only if its day comes before the end.
func assistant(rng *rand.Rand, o Options, u units.Ref) []event.Data {
	out := []event.Data{&event.AssistantStageChangedData{Unit: u, Stage: event.StageNotStarted, EffectiveAt: workTime(rng, o.Start, o)}}
	at := o.Start
	for _, st := range []struct {
		stage    event.Stage
		min, max int // days after the previous stage
		users    [2]uint32
	}{
		{event.StagePlanned, 7, 100, [2]uint32{0, 0}},
		{event.StagePilot, 20, 80, [2]uint32{20, 200}},
		{event.StageLive, 20, 80, [2]uint32{200, 3000}},
	} {
		at = workTime(rng, at.AddDate(0, 0, st.min+rng.IntN(st.max-st.min+1)), o)
		if at.After(o.End.AddDate(0, 0, 1)) {
			break
		}
		d := &event.AssistantStageChangedData{Unit: u, Stage: st.stage, EffectiveAt: at}
		if st.users[1] > 0 {
			n := st.users[0] + uint32(rng.IntN(int(st.users[1]-st.users[0])))
			d.Users = &n
		}
		out = append(out, d)
	}
	return out
}

// reports adds the unit's weekly report, each Friday afternoon, counting what changed that week. Stale units stop.
func reports(o Options, u units.Ref, p pace, ds []event.Data) []event.Data {
	var out []event.Data
	active := 0
	for day := o.Start; !day.After(o.End); day = day.AddDate(0, 0, 1) {
		if day.Weekday() != time.Friday {
			continue
		}
		at := day.Add(16*time.Hour + 30*time.Minute)
		if !p.stopsAt.IsZero() && at.After(p.stopsAt) {
			break
		}
		weekStart := at.AddDate(0, 0, -7)
		var c event.ReportCounts
		for _, d := range ds {
			t := d.OccurredAt()
			if !t.After(weekStart) || t.After(at) {
				continue
			}
			switch d.(type) {
			case *event.ProcedureRegisteredData:
				c.Registered++
				active++
			case *event.LevelChangedData:
				c.Changed++
			case *event.ProcedureRetiredData:
				c.Retired++
				active--
			}
		}
		c.Unchanged = max(0, active-c.Registered-c.Changed)
		out = append(out, &event.ReportSubmittedData{Unit: u, Collector: "simulate", ReportedAt: at, Counts: c})
	}
	return out
}

// workTime moves t into office hours in Vietnam (08:00–17:30), and most weekend times to the Monday after: offices
// are quiet at weekends, not closed. It never goes past the end day.
func workTime(rng *rand.Rand, t time.Time, o Options) time.Time {
	t = t.In(event.Vietnam)
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, event.Vietnam)
	switch day.Weekday() {
	case time.Saturday:
		if rng.Float64() < 0.85 {
			day = day.AddDate(0, 0, 2)
		}
	case time.Sunday:
		if rng.Float64() < 0.85 {
			day = day.AddDate(0, 0, 1)
		}
	}
	if day.After(o.End) {
		day = o.End
	}
	return day.Add(8*time.Hour + time.Duration(rng.IntN(9*60+30))*time.Minute)
}

func clamp(v, lo, hi float64) float64 { return math.Min(hi, math.Max(lo, v)) }
