package store_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/units"
	"github.com/egovtrack/egovtrack/projector/store"
)

// Holdings follows a merged unit's procedures to whoever holds them each day: merges, a split, a chain of two
// mergers, a unit merged twice (the first counts), a successor keeping its code, and a cycle (which must end).
func TestHoldings(t *testing.T) {
	p := func(c string) units.Ref { return units.Ref{Kind: units.Province, Code: c} }
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	main := func(from, to, on string) store.Edge {
		return store.Edge{Predecessor: p(from), Successor: p(to), EffectiveOn: day(on), Main: true}
	}
	moved := func(from, to, on string, procs ...string) store.Edge {
		return store.Edge{Predecessor: p(from), Successor: p(to), EffectiveOn: day(on), Procedures: procs}
	}
	for _, c := range []struct {
		name  string
		edges []store.Edge
		want  string
	}{
		{"a merger keeping a code", []store.Edge{main("24", "24", "2025-07-01"), main("27", "24", "2025-07-01")},
			"27/0 2025-07-01..forever 24"},
		{"a split", []store.Edge{main("A1", "B1", "2025-03-01"), moved("A1", "C1", "2025-03-01", "1.000001", "1.000002")},
			"A1/0 2025-03-01..forever B1; A1/1 2025-03-01..forever C1 [1.000001 1.000002]"},
		{"a chain of two mergers", []store.Edge{main("01", "02", "2025-01-01"), main("02", "03", "2025-07-01")},
			"01/0 2025-01-01..2025-07-01 02; 01/0 2025-07-01..forever 03; 02/0 2025-07-01..forever 03"},
		{"merged twice: the first counts", []store.Edge{main("01", "03", "2025-07-01"), main("01", "02", "2025-01-01")},
			"01/0 2025-01-01..forever 02"},
		{"a moved list follows its holder's merger", []store.Edge{main("A1", "B1", "2025-03-01"), moved("A1", "C1", "2025-03-01", "1.000001"), main("C1", "D1", "2026-01-01")},
			"A1/0 2025-03-01..forever B1; A1/1 2025-03-01..2026-01-01 C1 [1.000001]; A1/1 2026-01-01..forever D1 [1.000001]; C1/0 2026-01-01..forever D1"},
		{"a cycle ends", []store.Edge{main("01", "02", "2025-01-01"), main("02", "01", "2025-07-01")},
			"01/0 2025-01-01..2025-07-01 02; 01/0 2025-07-01..forever 01; 02/0 2025-07-01..forever 01"},
		{"no merger", []store.Edge{main("01", "01", "2025-07-01")}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, h := range store.Holdings(c.edges) {
				until := h.Until.Format(time.DateOnly)
				if h.Until.Equal(store.Forever) {
					until = "forever"
				}
				s := fmt.Sprintf("%s/%d %s..%s %s", h.Unit.Code, h.Leg, h.From.Format(time.DateOnly), until, h.Holder.Code)
				if len(h.Procedures) > 0 {
					s += fmt.Sprint(" ", h.Procedures)
				}
				got = append(got, s)
			}
			if g := strings.Join(got, "; "); g != c.want {
				t.Errorf("got  %s\nwant %s", g, c.want)
			}
		})
	}
}
