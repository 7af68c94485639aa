package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/egovtrack/egovtrack/internal/chsql"
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
}

// Holding is one row of unit_holders: who holds a merged unit's leg of procedures from FromDay until UntilDay.
type Holding struct {
	Unit       units.Ref
	Leg        uint16 // 0: the procedures not moved; i: the i-th list moved elsewhere
	From       time.Time
	Until      time.Time
	Holder     units.Ref
	Procedures []string
}

// Forever is the until_day of the last holder: after the last day egovtrack records.
var Forever = time.Date(2101, 1, 1, 0, 0, 0, 0, time.UTC)

// EdgesOf returns the unit_lineage rows of a merger.
func EdgesOf(d *event.UnitMergedData) []Edge {
	day, _ := d.EffectiveOn.Time() // validated by event.Decode
	on := dateOnly(day)
	var out []Edge
	for _, p := range d.Predecessors {
		out = append(out, Edge{Predecessor: p, Successor: d.Successor, EffectiveOn: on, Main: true})
	}
	for _, m := range d.Moved {
		out = append(out, Edge{Predecessor: m.From, Successor: m.To, EffectiveOn: on, Procedures: m.Procedures})
	}
	return out
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
		if c, ok := ceases[e.Predecessor]; !ok || e.EffectiveOn.Before(c.EffectiveOn) ||
			e.EffectiveOn.Equal(c.EffectiveOn) && e.Successor.String() < c.Successor.String() {
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

// lineageIn reports whether a batch holds a merger.
func lineageIn(recs []Record) bool {
	for _, r := range recs {
		if _, ok := r.Data.(*event.UnitMergedData); ok {
			return true
		}
	}
	return false
}

// refreshHoldings computes unit_holders again from every merger stored: mergers are a few dozen rows, so the whole
// is read and written whenever a batch holds one. Rows of the same unit, leg and first day are replaced by the
// latest computation (version: the latest stream sequence read).
func (s *Store) refreshHoldings(ctx context.Context) error {
	rows, err := s.conn.Query(ctx, chsql.LoadLineage.SQL)
	if err != nil {
		return fmt.Errorf("read unit lineage: %w", err)
	}
	var edges []Edge
	var version uint64
	for rows.Next() {
		var e Edge
		var pk, pc, sk, sc string
		var main uint8
		var seq uint64
		if err := rows.Scan(&pk, &pc, &sk, &sc, &e.EffectiveOn, &main, &e.Procedures, &seq); err != nil {
			rows.Close()
			return fmt.Errorf("read unit lineage: %w", err)
		}
		e.Predecessor, e.Successor, e.Main = units.Ref{Kind: units.Kind(pk), Code: pc}, units.Ref{Kind: units.Kind(sk), Code: sc}, main == 1
		e.EffectiveOn = dateOnly(e.EffectiveOn)
		version = max(version, seq)
		edges = append(edges, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read unit lineage: %w", err)
	}
	in := &inserter{conn: s.conn, query: chsql.InsertHoldings.SQL}
	for _, h := range Holdings(edges) {
		in.add(string(h.Unit.Kind), h.Unit.Code, h.Leg, h.From, h.Until, string(h.Holder.Kind), h.Holder.Code, nonNil(h.Procedures), version)
	}
	if err := in.send(ctx); err != nil {
		return fmt.Errorf("write unit holders: %w", err)
	}
	return nil
}

// addLineage adds a merger's or a rename's rows.
func addLineage(lineage, names *inserter, id uuid.UUID, seq uint64, d event.Data) {
	switch d := d.(type) {
	case *event.UnitMergedData:
		for _, e := range EdgesOf(d) {
			lineage.add(string(e.Predecessor.Kind), e.Predecessor.Code, string(e.Successor.Kind), e.Successor.Code, e.EffectiveOn, boolU8(e.Main), nonNil(e.Procedures), id, seq)
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
