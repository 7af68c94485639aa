package event

import (
	"strings"

	"github.com/egovtrack/egovtrack/internal/units"
)

// SubjectRoot is the first token of every subject; a stream bound to SubjectRoot+".>" holds every event.
const SubjectRoot = "egov"

// ProcedureSubject is the subject of one procedure's events: egov.<kind>.<unit>.proc.<procedure>, with the dots of
// the procedure code escaped as "_" ("1.001234" → "1_001234"). One subject per procedure lets the latest event of a
// procedure be read back from the stream, and a unit be confined to egov.<kind>.<unit>.>.
func ProcedureSubject(u units.Ref, procedure string) string {
	return UnitSubject(u, "proc."+strings.ReplaceAll(procedure, ".", "_"))
}

// UnitSubject is the subject of a unit's own aggregate: egov.<kind>.<unit>.<what>.
func UnitSubject(u units.Ref, what string) string {
	return SubjectRoot + "." + string(u.Kind) + "." + u.Code + "." + what
}

// UnitPrefix is the wildcard of every subject of one unit.
func UnitPrefix(u units.Ref) string { return SubjectRoot + "." + string(u.Kind) + "." + u.Code + ".>" }

// TargetSubject is the subject of a target: egov.national.target.<metric> or egov.<kind>.<unit>.target.<metric>.
func TargetSubject(s Scope, m Metric) string {
	if u, ok := s.Unit(); ok {
		return UnitSubject(u, "target."+string(m))
	}
	return SubjectRoot + ".national.target." + string(m)
}
