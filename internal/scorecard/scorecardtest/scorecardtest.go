// Package scorecardtest computes Decision 766's measures and scores from the events themselves, with exact
// fractions, as a reference for what ClickHouse's statements give: the scorecard dashboard's test and the demo's.
package scorecardtest

import (
	"cmp"
	"math/big"
	"slices"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/scorecard"
	"github.com/egovtrack/egovtrack/internal/units"
)

// Event is one event as the stream holds it: its id (a repeat of an id counts once), its data and its sequence.
type Event struct {
	ID   string
	Data event.Data
	Seq  uint64
}

// Measures are one unit's measures for a period, as the reference counts them.
type Measures map[scorecard.Measure]int64

// Reference counts every unit's measures over the months from first to last (Vietnamese months, given by
// their first days) and the catalogue at the instant to, from the events themselves: one pass in stream order, each
// dossier's facts kept whole and the counted ones chosen at the end, the catalogue folded procedure by procedure.
// Events published twice count once.
func Reference(events []Event, first, last, to time.Time) map[units.Ref]Measures {
	type fact struct {
		d   event.Data
		seq uint64
	}
	type procKey struct {
		unit units.Ref
		code string
	}
	type procState struct {
		at     time.Time
		seq    uint64
		active bool
		level  event.Level
	}
	seen := map[string]bool{}
	dossiers := map[string][]fact{}
	var dossierOrder []string
	procs := map[procKey]*procState{}
	later := func(at time.Time, seq uint64, p *procState) bool {
		return p == nil || at.After(p.at) || at.Equal(p.at) && seq > p.seq
	}
	for _, ev := range events {
		if seen[ev.ID] {
			continue
		}
		seen[ev.ID] = true
		if id, ok := event.DossierOf(ev.Data); ok {
			u, _ := event.UnitOf(ev.Data)
			k := u.String() + "|" + id
			if dossiers[k] == nil {
				dossierOrder = append(dossierOrder, k)
			}
			dossiers[k] = append(dossiers[k], fact{ev.Data, ev.Seq})
			continue
		}
		switch d := ev.Data.(type) {
		case *event.ProcedureRegisteredData:
			k := procKey{d.Unit, d.Procedure}
			if !d.EffectiveAt.After(to) && later(d.EffectiveAt, ev.Seq, procs[k]) {
				procs[k] = &procState{d.EffectiveAt, ev.Seq, true, d.Level}
			}
		case *event.LevelChangedData:
			k := procKey{d.Unit, d.Procedure}
			if !d.EffectiveAt.After(to) && later(d.EffectiveAt, ev.Seq, procs[k]) {
				procs[k] = &procState{d.EffectiveAt, ev.Seq, true, d.To}
			}
		case *event.ProcedureRetiredData:
			k := procKey{d.Unit, d.Procedure}
			if !d.EffectiveAt.After(to) && later(d.EffectiveAt, ev.Seq, procs[k]) {
				lvl := event.Level(0)
				if p := procs[k]; p != nil {
					lvl = p.level
				}
				procs[k] = &procState{d.EffectiveAt, ev.Seq, false, lvl}
			}
		}
	}
	out := map[units.Ref]Measures{}
	m := func(u units.Ref) Measures {
		if out[u] == nil {
			out[u] = Measures{}
		}
		return out[u]
	}
	inPeriod := func(t time.Time) bool {
		v := t.In(event.Vietnam)
		mo := time.Date(v.Year(), v.Month(), 1, 0, 0, 0, 0, event.Vietnam)
		return !mo.Before(first) && !mo.After(last)
	}
	onlineUsed := map[procKey]bool{}
	feeProc := map[procKey]bool{}
	paidProc := map[procKey]bool{}
	for _, k := range dossierOrder {
		fs := dossiers[k]
		// Of each type, the earliest by its time, to the second (as stored); equal times, the first in the stream.
		slices.SortStableFunc(fs, func(a, b fact) int {
			return cmp.Or(cmp.Compare(a.d.OccurredAt().Unix(), b.d.OccurredAt().Unix()), cmp.Compare(a.seq, b.seq))
		})
		counted := map[event.Type]event.Data{}
		for _, f := range fs {
			if counted[f.d.EventType()] == nil {
				counted[f.d.EventType()] = f.d
			}
		}
		r, ok := counted[event.DossierReceived].(*event.DossierReceivedData)
		if !ok {
			continue
		}
		u := r.Unit
		pk := procKey{u, r.Procedure}
		b := func(x bool) int64 {
			if x {
				return 1
			}
			return 0
		}
		for _, d := range counted {
			if !inPeriod(d.OccurredAt()) {
				continue
			}
			mu := m(u)
			switch d := d.(type) {
			case *event.DossierReceivedData:
				mu[scorecard.Received]++
				mu[scorecard.ReceivedOnline] += b(d.Channel == event.ChannelOnline)
				mu[scorecard.ReceivedFee] += b(d.Fee)
				if d.Channel == event.ChannelOnline {
					onlineUsed[pk] = true
				}
				if d.Fee {
					feeProc[pk] = true
				}
			case *event.DossierPaidData:
				mu[scorecard.PaidOnline] += b(d.Online)
				if d.Online {
					paidProc[pk] = true
				}
			case *event.DossierSettledData:
				mu[scorecard.Settled]++
				mu[scorecard.SettledOnTime] += b(d.SettledAt.Unix() <= r.DueAt.Unix())
			case *event.DossierResultIssuedData:
				mu[scorecard.Results]++
				mu[scorecard.ResultsElectronic] += b(d.Electronic)
			case *event.DossierDigitisedData:
				mu[scorecard.Digitised]++
			case *event.DossierFeedbackGivenData:
				mu[scorecard.Feedback]++
				mu[scorecard.Satisfied] += b(d.Satisfied)
				mu[scorecard.FeedbackOnTime] += b(d.HandledOnTime)
			}
		}
	}
	for k := range feeProc {
		m(k.unit)[scorecard.FeeProcedures]++
		if paidProc[k] {
			m(k.unit)[scorecard.FeeProceduresPaidOnline]++
		}
	}
	for k, p := range procs {
		mu := m(k.unit)
		if p.active {
			mu[scorecard.Procedures]++
			if p.level >= 3 {
				mu[scorecard.ProceduresOnline]++
				if onlineUsed[k] {
					mu[scorecard.OnlineProceduresUsed]++
				}
			}
		}
	}
	return out
}

// Score scores one unit's measures with exact fractions: points and possible points, per indicator and in
// all. An indicator with a zero denominator is absent from the map.
func Score(c scorecard.Card, mu Measures) (per map[string]*big.Rat, earned, possible *big.Rat) {
	per = map[string]*big.Rat{}
	earned, possible = new(big.Rat), new(big.Rat)
	for _, in := range c.Computed() {
		den := mu[in.Denominator]
		if den == 0 {
			continue
		}
		thr := new(big.Rat).SetFloat64(in.Threshold)
		ratio := big.NewRat(mu[in.Numerator], den)
		p := new(big.Rat).Quo(ratio, thr)
		if p.Cmp(big.NewRat(1, 1)) > 0 {
			p.SetInt64(1)
		}
		p.Mul(p, big.NewRat(int64(in.Points), 1))
		per[in.ID] = p
		earned.Add(earned, p)
		possible.Add(possible, big.NewRat(int64(in.Points), 1))
	}
	return per, earned, possible
}

// Percent is a unit's score on 100 (its points out of the points possible), nil when no indicator is scored.
func Percent(c scorecard.Card, mu Measures) *big.Rat {
	_, earned, possible := Score(c, mu)
	if possible.Sign() == 0 {
		return nil
	}
	return new(big.Rat).Quo(new(big.Rat).Mul(earned, big.NewRat(100, 1)), possible)
}
