package event

import (
	"fmt"
	"slices"
	"time"

	"github.com/egovtrack/egovtrack/internal/units"
)

// UnitMergedData: from a day on, the predecessors are one unit, the successor, and their procedures count for it
// (the 2025 mergers: 63 provinces into 34, 22 ministries into 17). The successor may keep the code of one of the
// predecessors (24 Bắc Ninh ← 24, 27): a unit is its code and the days it is valid for, so code 24 names old Bắc
// Giang until 30 June 2025 and the merged Bắc Ninh from 1 July. A predecessor whose procedures go partly to another
// unit (a ministry's sectors) lists them in Moved; the rest follow the successor.
type UnitMergedData struct {
	Successor    units.Ref   `json:"successor"`
	Name         string      `json:"name"` // the successor's name from EffectiveOn
	Predecessors []units.Ref `json:"predecessors"`
	EffectiveOn  Date        `json:"effective_on"`
	Moved        []Moved     `json:"moved,omitempty"`
	// DecidedBy names the decision (Nghị quyết 202/2025/QH15), when given.
	DecidedBy string    `json:"decided_by,omitempty"`
	DecidedAt time.Time `json:"decided_at"`
}

// Moved is a predecessor's procedures that go to a unit other than the successor.
type Moved struct {
	From       units.Ref `json:"from"`
	To         units.Ref `json:"to"`
	Procedures []string  `json:"procedures"`
}

// UnitRenamedData: from a day on, a unit has another name; its code, procedures and history stay.
type UnitRenamedData struct {
	Unit        units.Ref `json:"unit"`
	Name        string    `json:"name"`
	EffectiveOn Date      `json:"effective_on"`
	DecidedBy   string    `json:"decided_by,omitempty"`
	DecidedAt   time.Time `json:"decided_at"`
}

func (d *UnitMergedData) EventType() Type       { return UnitMerged }
func (d *UnitMergedData) Subject() string       { return LineageSubject(d.Successor) }
func (d *UnitMergedData) OccurredAt() time.Time { return d.DecidedAt }

func (d *UnitRenamedData) EventType() Type       { return UnitRenamed }
func (d *UnitRenamedData) Subject() string       { return LineageSubject(d.Unit) }
func (d *UnitRenamedData) OccurredAt() time.Time { return d.DecidedAt }

// LineageSubject is the subject of a unit's reorganisation: egov.national.lineage.<kind>.<code>. It lies outside
// every unit's own subjects, so that only the digital office's credential may publish one: a unit cannot declare
// itself merged.
func LineageSubject(u units.Ref) string {
	return SubjectRoot + ".national.lineage." + string(u.Kind) + "." + u.Code
}

// checkLineage checks what the schemas cannot: units in the reference data, of one kind, none twice; a moved
// procedure from a predecessor to another known unit, listed once.
func (c Contract) checkLineage(es *FieldErrors, d Data, given bool) {
	switch d := d.(type) {
	case *UnitMergedData:
		checkUnit(es, "data.successor", d.Successor)
		seen := map[units.Ref]bool{}
		for i, p := range d.Predecessors {
			f := fmt.Sprintf("data.predecessors[%d]", i)
			checkUnit(es, f, p)
			switch {
			case p.Kind != d.Successor.Kind:
				es.add(f, fmt.Sprintf("%s is not a %s like the successor: units merge within their kind", p, d.Successor.Kind))
			case seen[p]:
				es.add(f, fmt.Sprintf("%s is listed twice", p))
			}
			seen[p] = true
		}
		if len(d.Predecessors) == 1 && d.Predecessors[0] == d.Successor {
			es.add("data.predecessors", "name only the successor itself: that is a rename (gov.egov.unit.renamed.v1)")
		}
		procs := map[string]bool{}
		for i, m := range d.Moved {
			f := fmt.Sprintf("data.moved[%d]", i)
			if !slices.Contains(d.Predecessors, m.From) {
				es.add(f+".from", fmt.Sprintf("%s is not one of the predecessors", m.From))
			}
			checkUnit(es, f+".to", m.To)
			if m.To == d.Successor {
				es.add(f+".to", "is the successor, where every procedure not moved goes anyway")
			}
			for j, p := range m.Procedures {
				key := m.From.String() + " " + p
				if procs[key] {
					es.add(fmt.Sprintf("%s.procedures[%d]", f, j), fmt.Sprintf("%s of %s is moved twice", p, m.From))
				}
				procs[key] = true
			}
		}
		checkDay(es, "data.effective_on", d.EffectiveOn)
		c.checkTime(es, "data.decided_at", d.DecidedAt, given)
	case *UnitRenamedData:
		checkUnit(es, "data.unit", d.Unit)
		checkDay(es, "data.effective_on", d.EffectiveOn)
		c.checkTime(es, "data.decided_at", d.DecidedAt, given)
	}
}
