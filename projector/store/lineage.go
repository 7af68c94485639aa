package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/egovtrack/egovtrack/internal/chsql"
	"github.com/egovtrack/egovtrack/internal/coverage"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// Edge is one predecessor of a merger, as unit_lineage holds it.
type Edge struct {
	Predecessor, Successor units.Ref
	EffectiveOn            time.Time // the first day, as a Date column reads back (midnight UTC)
	// Main says the successor takes every procedure of the predecessor not moved; otherwise Procedures go to it.
	Main       bool
	Procedures []string
	Seq        uint64 // the merger's stream sequence: it applies to the facts after it in the stream
}

// Holding is one row of unit_holders: who holds a merged unit's leg of procedures from FromDay until UntilDay.
type Holding struct {
	Unit       units.Ref
	Leg        uint16 // 0: the procedures not moved; i: the i-th list moved elsewhere
	From       time.Time
	Until      time.Time
	Holder     units.Ref
	Procedures []string
	// Filled in by settle from the tables: the leg's first catalogue report by a holder while holding it (Forever:
	// none), its last holder, and a moved leg's procedures as they stand.
	Superseded time.Time
	End        units.Ref
	Moved      Counts
	UnitMoved  Counts // the unit's moved legs together
}

// Counts are procedures active, of them eligible, of those at level 4.
type Counts struct{ Procedures, Eligible, Level4 uint32 }

// Forever is the until_day of the last holder: after the last day egovtrack records.
var Forever = time.Date(2101, 1, 1, 0, 0, 0, 0, time.UTC)

// edgesOf returns the unit_lineage rows of a merger at stream sequence seq.
func edgesOf(d *event.UnitMergedData, seq uint64) []Edge {
	day, _ := d.EffectiveOn.Time() // validated by event.Decode
	on := dateOnly(day)
	var out []Edge
	for _, p := range d.Predecessors {
		out = append(out, Edge{Predecessor: p, Successor: d.Successor, EffectiveOn: on, Main: true, Seq: seq})
	}
	for _, m := range d.Moved {
		out = append(out, Edge{Predecessor: m.From, Successor: m.To, EffectiveOn: on, Procedures: m.Procedures, Seq: seq})
	}
	return out
}

// endsSooner says which of two mergers of a unit into others ends it: the earlier, the smaller successor's reference
// breaking a tie. Holdings and the store's refusals (afterMergers) both decide by it.
func endsSooner(a, b Edge) bool {
	return a.EffectiveOn.Before(b.EffectiveOn) || a.EffectiveOn.Equal(b.EffectiveOn) && a.Successor.String() < b.Successor.String()
}

// Holdings follows every merged unit's procedures through the mergers: a unit ceases on the first day it is merged
// into another unit (its own code going on as a successor is no end), and from then its procedures not moved belong
// to that successor, each moved list to the unit it was moved to, and each holder's to the unit it is merged into
// later, in turn. Mergers are facts: a unit merged twice ends at the first.
func Holdings(edges []Edge) []Holding {
	ceases := map[units.Ref]Edge{} // a unit's first main merger into another unit
	moved := map[units.Ref][]Edge{}
	for _, e := range edges {
		if e.Predecessor == e.Successor {
			continue
		}
		if !e.Main {
			moved[e.Predecessor] = append(moved[e.Predecessor], e)
			continue
		}
		if c, ok := ceases[e.Predecessor]; !ok || endsSooner(e, c) {
			ceases[e.Predecessor] = e
		}
	}
	// chain is the holders of a leg from a unit and a day on: the unit until it ceases, then its successor's chain.
	var chain func(holder units.Ref, from time.Time, seen map[units.Ref]bool) []Holding
	chain = func(holder units.Ref, from time.Time, seen map[units.Ref]bool) []Holding {
		next, ok := ceases[holder]
		if !ok || seen[holder] || !next.EffectiveOn.After(from) {
			return []Holding{{From: from, Until: Forever, Holder: holder}}
		}
		seen[holder] = true
		return append([]Holding{{From: from, Until: next.EffectiveOn, Holder: holder}}, chain(next.Successor, next.EffectiveOn, seen)...)
	}
	var out []Holding
	for u, e := range ceases {
		legs := [][]Holding{chain(e.Successor, e.EffectiveOn, map[units.Ref]bool{u: true})}
		ms := moved[u]
		slices.SortFunc(ms, func(a, b Edge) int {
			return cmp.Or(a.EffectiveOn.Compare(b.EffectiveOn), cmp.Compare(a.Successor.String(), b.Successor.String()))
		})
		for _, m := range ms {
			if !m.EffectiveOn.Equal(e.EffectiveOn) {
				continue // moved by another merger than the one that ends the unit: not one that took effect
			}
			hs := chain(m.Successor, m.EffectiveOn, map[units.Ref]bool{u: true})
			for i := range hs {
				hs[i].Procedures = m.Procedures
			}
			legs = append(legs, hs)
		}
		for leg, hs := range legs {
			for _, h := range hs {
				h.Unit, h.Leg = u, uint16(leg)
				out = append(out, h)
			}
		}
	}
	slices.SortFunc(out, func(a, b Holding) int {
		return cmp.Or(cmp.Compare(a.Unit.String(), b.Unit.String()), cmp.Compare(a.Leg, b.Leg), a.From.Compare(b.From))
	})
	return out
}

// holdingsTouched reports whether a batch changes what unit_holders says: a merger, a report of a unit holding
// merged units' procedures (it may supersede them), a change of a merged unit's procedures (a late event: the moved
// counts). Before the store knows the lineage (the first batch since it opened), every batch does.
func (s *Store) holdingsTouched(recs []Record) bool {
	if s.lineage == nil {
		return true
	}
	for _, r := range recs {
		switch d := r.Data.(type) {
		case *event.UnitMergedData:
			return true
		case *event.ReportSubmittedData:
			if s.lineage.holders[d.Unit] {
				return true
			}
		default:
			if u, ok := event.UnitOf(r.Data); ok && s.lineage.merged[u] {
				return true
			}
		}
	}
	return false
}

// lineageUnits are the units unit_holders names, as the store last computed it.
type lineageUnits struct {
	holders, merged map[units.Ref]bool
}

// refreshHoldings computes unit_holders again from every merger stored, the holders' catalogue reports and the
// moved procedures: a few dozen mergers and their units' reports, read whole whenever one of them changes. The rows
// of a computation replace those of the one before (version: the time of computing).
func (s *Store) refreshHoldings(ctx context.Context) error {
	edges, err := s.loadEdges(ctx)
	if err != nil {
		return err
	}
	s.edges = edges // afterMergers reads them from here until the next merger
	hs := Holdings(edges)
	lu := &lineageUnits{holders: map[units.Ref]bool{}, merged: map[units.Ref]bool{}}
	var holderCodes, movedCodes []string
	for _, h := range hs {
		lu.merged[h.Unit] = true
		if !lu.holders[h.Holder] {
			lu.holders[h.Holder] = true
			holderCodes = append(holderCodes, h.Holder.Code)
		}
		if h.Leg > 0 && !slices.Contains(movedCodes, h.Unit.Code) {
			movedCodes = append(movedCodes, h.Unit.Code)
		}
	}
	if len(hs) > 0 {
		reports, err := s.holderReports(ctx, holderCodes) // never empty: every holding has a holder
		if err != nil {
			return err
		}
		moved, err := s.movedProcedures(ctx, movedCodes)
		if err != nil {
			return err
		}
		settle(hs, reports, moved)
		in := &inserter{conn: s.conn, query: chsql.InsertHoldings.SQL}
		version := uint64(time.Now().UnixNano())
		for _, h := range hs {
			in.add(string(h.Unit.Kind), h.Unit.Code, h.Leg, h.From, h.Until, string(h.Holder.Kind), h.Holder.Code, nonNil(h.Procedures),
				h.Superseded, string(h.End.Kind), h.End.Code, h.Moved.Procedures, h.Moved.Eligible, h.Moved.Level4,
				h.UnitMoved.Procedures, h.UnitMoved.Eligible, h.UnitMoved.Level4, version)
		}
		if err := in.send(ctx); err != nil {
			return fmt.Errorf("write unit holders: %w", err)
		}
	}
	s.lineage = lu
	return nil
}

// procedureNow is a procedure as the procedures table holds it now.
type procedureNow struct {
	Active, Eligible bool
	Level            uint8
}

// settle fills in what each leg of holdings owes to the rest of the projection: the first day one of its holders
// reported a catalogue while holding it (reports: each unit's days of catalogue reports), its last holder, and a
// moved leg's procedures' counts as they stand (moved: the procedures of the units merged away).
func settle(hs []Holding, reports map[units.Ref][]time.Time, moved map[units.Ref]map[string]procedureNow) {
	type legKey struct {
		u   units.Ref
		leg uint16
	}
	sup, end := map[legKey]time.Time{}, map[legKey]units.Ref{}
	for _, h := range hs {
		k := legKey{h.Unit, h.Leg}
		if _, ok := sup[k]; !ok {
			sup[k] = Forever
		}
		for _, day := range reports[h.Holder] {
			if !day.Before(h.From) && day.Before(h.Until) && day.Before(sup[k]) {
				sup[k] = day
			}
		}
		end[k] = h.Holder // a leg's windows come in the order of their first day
	}
	totals := map[units.Ref]Counts{}
	counted := map[legKey]bool{}
	for i := range hs {
		h := &hs[i]
		k := legKey{h.Unit, h.Leg}
		h.Superseded, h.End = sup[k], end[k]
		h.Moved = Counts{}
		if h.Leg == 0 {
			continue
		}
		for _, code := range h.Procedures {
			p, ok := moved[h.Unit][code]
			if !ok || !p.Active {
				continue
			}
			h.Moved.Procedures++
			if p.Eligible {
				h.Moved.Eligible++
				if p.Level == uint8(event.FullOnline) {
					h.Moved.Level4++
				}
			}
		}
		if !counted[k] {
			counted[k] = true
			t := totals[h.Unit]
			t.Procedures, t.Eligible, t.Level4 = t.Procedures+h.Moved.Procedures, t.Eligible+h.Moved.Eligible, t.Level4+h.Moved.Level4
			totals[h.Unit] = t
		}
	}
	for i := range hs {
		hs[i].UnitMoved = totals[hs[i].Unit]
	}
}

func (s *Store) loadEdges(ctx context.Context) ([]Edge, error) {
	rows, err := s.conn.Query(ctx, chsql.LoadLineage.SQL)
	if err != nil {
		return nil, fmt.Errorf("read unit lineage: %w", err)
	}
	defer rows.Close()
	var edges []Edge
	for rows.Next() {
		var e Edge
		var pk, pc, sk, sc string
		var main uint8
		if err := rows.Scan(&pk, &pc, &sk, &sc, &e.EffectiveOn, &main, &e.Procedures, &e.Seq); err != nil {
			return nil, fmt.Errorf("read unit lineage: %w", err)
		}
		e.Predecessor, e.Successor, e.Main = units.Ref{Kind: units.Kind(pk), Code: pc}, units.Ref{Kind: units.Kind(sk), Code: sc}, main == 1
		e.EffectiveOn = dateOnly(e.EffectiveOn)
		edges = append(edges, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read unit lineage: %w", err)
	}
	return edges, nil
}

func (s *Store) holderReports(ctx context.Context, codes []string) (map[units.Ref][]time.Time, error) {
	rows, err := s.conn.Query(ctx, chsql.HolderReports.SQL, codes)
	if err != nil {
		return nil, fmt.Errorf("read holders' reports: %w", err)
	}
	defer rows.Close()
	out := map[units.Ref][]time.Time{}
	for rows.Next() {
		var kind, code string
		var day time.Time
		if err := rows.Scan(&kind, &code, &day); err != nil {
			return nil, fmt.Errorf("read holders' reports: %w", err)
		}
		u := units.Ref{Kind: units.Kind(kind), Code: code}
		out[u] = append(out[u], dateOnly(day))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read holders' reports: %w", err)
	}
	return out, nil
}

func (s *Store) movedProcedures(ctx context.Context, codes []string) (map[units.Ref]map[string]procedureNow, error) {
	out := map[units.Ref]map[string]procedureNow{}
	if len(codes) == 0 {
		return out, nil
	}
	rows, err := s.conn.Query(ctx, chsql.MovedProcedures.SQL, codes)
	if err != nil {
		return nil, fmt.Errorf("read moved procedures: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, code, proc string
		var active, eligible, level uint8
		if err := rows.Scan(&kind, &code, &proc, &active, &eligible, &level); err != nil {
			return nil, fmt.Errorf("read moved procedures: %w", err)
		}
		u := units.Ref{Kind: units.Kind(kind), Code: code}
		if out[u] == nil {
			out[u] = map[string]procedureNow{}
		}
		out[u][proc] = procedureNow{active == 1, eligible == 1, level}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read moved procedures: %w", err)
	}
	return out, nil
}

// addLineage adds a merger's or a rename's rows.
func addLineage(lineage, names *inserter, id uuid.UUID, seq uint64, d event.Data) {
	switch d := d.(type) {
	case *event.UnitMergedData:
		for _, e := range edgesOf(d, seq) {
			lineage.add(string(e.Predecessor.Kind), e.Predecessor.Code, string(e.Successor.Kind), e.Successor.Code, e.EffectiveOn, boolU8(e.Main), nonNil(e.Procedures), id, e.Seq)
		}
		day, _ := d.EffectiveOn.Time()
		names.add(string(d.Successor.Kind), d.Successor.Code, dateOnly(day), d.Name, id, seq)
	case *event.UnitRenamedData:
		day, _ := d.EffectiveOn.Time()
		names.add(string(d.Unit.Kind), d.Unit.Code, dateOnly(day), d.Name, id, seq)
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// errMergedAway is why the store refuses a fact of a unit dated on or after the day it was merged into another: the
// successor reports from then on (its credential, its catalogue). The fact is quarantined with the reason.
var errMergedAway = errors.New("the unit was merged away before the fact's day")

// afterMergers splits fresh (records the raw log does not hold yet) into those to write and those refused as facts of
// units merged away by then (see errMergedAway), by the mergers before each record in the stream: stored ones and
// those earlier in the batch. The verdict is the same however the stream is cut into batches, on a redelivery and on
// a rebuild. It runs under s.mu, with the store's caches.
func (s *Store) afterMergers(ctx context.Context, fresh []Record) ([]Record, []Rejected, error) {
	if s.edges == nil {
		edges, err := s.loadEdges(ctx)
		if err != nil {
			return nil, nil, err
		}
		s.edges = edges
	}
	ending := map[units.Ref][]Edge{} // the mergers of each unit into another, stored or in the batch
	for _, e := range s.edges {
		if e.Main && e.Predecessor != e.Successor {
			ending[e.Predecessor] = append(ending[e.Predecessor], e)
		}
	}
	var refusedRecs []Rejected
	kept := fresh[:0:0]
	for _, r := range fresh {
		if d, ok := r.Data.(*event.UnitMergedData); ok {
			for _, e := range edgesOf(d, r.Seq) {
				if e.Main && e.Predecessor != e.Successor {
					ending[e.Predecessor] = append(ending[e.Predecessor], e)
				}
			}
			s.edges = nil // read them back once written
		}
		u, ok := event.UnitOf(r.Data)
		switch r.Data.(type) {
		case *event.UnitMergedData, *event.UnitRenamedData, *event.TargetSetData:
			ok = false // the office's facts about units, not the units' own
		}
		var end *Edge
		for i, e := range ending[u] {
			if e.Seq < r.Seq && (end == nil || endsSooner(e, *end)) {
				end = &ending[u][i]
			}
		}
		if ok && end != nil && !dateOnly(coverage.DayOf(r.Data.OccurredAt())).Before(end.EffectiveOn) {
			refusedRecs = append(refusedRecs, refused(r, fmt.Errorf("%w: %s was merged into %s from %s, which reports its facts from then on",
				errMergedAway, u, end.Successor, end.EffectiveOn.Format(time.DateOnly))))
			continue
		}
		kept = append(kept, r)
	}
	return kept, refusedRecs, nil
}
