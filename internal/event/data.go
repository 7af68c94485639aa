package event

import (
	"time"

	"github.com/egovtrack/egovtrack/internal/units"
)

// ProcedureRegisteredData: a unit offers an administrative procedure, at a level, from a time on.
type ProcedureRegisteredData struct {
	Unit      units.Ref `json:"unit"`
	Procedure string    `json:"procedure"` // code in the national database, e.g. "1.001234"
	Name      string    `json:"name"`
	Sector    string    `json:"sector"`
	// Eligible says whether the procedure can be offered fully online (level 4); only eligible procedures count
	// towards coverage.
	Eligible    bool      `json:"eligible"`
	Level       Level     `json:"level"`
	EffectiveAt time.Time `json:"effective_at"`
}

// LevelChangedData: a procedure moved from one level to another.
type LevelChangedData struct {
	Unit        units.Ref `json:"unit"`
	Procedure   string    `json:"procedure"`
	From        Level     `json:"from"`
	To          Level     `json:"to"`
	EffectiveAt time.Time `json:"effective_at"`
}

// ProcedureRetiredData: a procedure is no longer offered and leaves the denominator.
type ProcedureRetiredData struct {
	Unit        units.Ref `json:"unit"`
	Procedure   string    `json:"procedure"`
	Reason      string    `json:"reason,omitempty"`
	EffectiveAt time.Time `json:"effective_at"`
}

// AssistantStageChangedData: a unit's virtual assistant for civil servants moved to a stage of its rollout.
type AssistantStageChangedData struct {
	Unit        units.Ref `json:"unit"`
	Stage       Stage     `json:"stage"`
	Users       *uint32   `json:"users,omitempty"` // civil servants using it, when known
	EffectiveAt time.Time `json:"effective_at"`
}

// ReportSubmittedData: one collector run reported a unit's status; the basis of freshness tracking.
type ReportSubmittedData struct {
	Unit       units.Ref    `json:"unit"`
	Collector  string       `json:"collector"` // simulate, sheet, poll, serve
	ReportedAt time.Time    `json:"reported_at"`
	Counts     ReportCounts `json:"counts"`
	// Digest names the reported catalogue by its content (see collectors/reporting), when the report was one.
	Digest string `json:"digest,omitempty"`
}

// ReportCounts says what one report changed.
type ReportCounts struct {
	Registered int `json:"registered"`
	Changed    int `json:"changed"`
	Retired    int `json:"retired"`
	Unchanged  int `json:"unchanged"`
}

// TargetSetData: an objective for a metric, from a baseline to a target by a deadline.
type TargetSetData struct {
	Metric       Metric    `json:"metric"`
	Scope        Scope     `json:"scope"`
	Baseline     float64   `json:"baseline"`
	BaselineDate Date      `json:"baseline_date"`
	Target       float64   `json:"target"`
	Deadline     Date      `json:"deadline"`
	SetAt        time.Time `json:"set_at"`
}

// Metric names what a target measures; values are percentages.
type Metric string

const (
	// MetricLevel4Coverage is the share of eligible procedures offered at level 4, in percent.
	MetricLevel4Coverage Metric = "level4_coverage"
	// MetricAssistantLive is the share of units whose virtual assistant is live, in percent.
	MetricAssistantLive Metric = "assistant_live_units"
)

// Scope is national ("national") or one unit ("province/01").
type Scope string

// National is the scope of a target for the whole country.
const National Scope = "national"

// ScopeOf returns the scope of one unit.
func ScopeOf(r units.Ref) Scope { return Scope(r.String()) }

// Unit returns the unit of a unit scope, or false for the national scope.
func (s Scope) Unit() (units.Ref, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return units.Ref{Kind: units.Kind(s[:i]), Code: string(s[i+1:])}, true
		}
	}
	return units.Ref{}, false
}

func (d *ProcedureRegisteredData) EventType() Type       { return ProcedureRegistered }
func (d *ProcedureRegisteredData) Subject() string       { return ProcedureSubject(d.Unit, d.Procedure) }
func (d *ProcedureRegisteredData) OccurredAt() time.Time { return d.EffectiveAt }

func (d *LevelChangedData) EventType() Type       { return LevelChanged }
func (d *LevelChangedData) Subject() string       { return ProcedureSubject(d.Unit, d.Procedure) }
func (d *LevelChangedData) OccurredAt() time.Time { return d.EffectiveAt }

func (d *ProcedureRetiredData) EventType() Type       { return ProcedureRetired }
func (d *ProcedureRetiredData) Subject() string       { return ProcedureSubject(d.Unit, d.Procedure) }
func (d *ProcedureRetiredData) OccurredAt() time.Time { return d.EffectiveAt }

func (d *AssistantStageChangedData) EventType() Type       { return AssistantStageChanged }
func (d *AssistantStageChangedData) Subject() string       { return UnitSubject(d.Unit, "assistant") }
func (d *AssistantStageChangedData) OccurredAt() time.Time { return d.EffectiveAt }

func (d *ReportSubmittedData) EventType() Type       { return ReportSubmitted }
func (d *ReportSubmittedData) Subject() string       { return UnitSubject(d.Unit, "report") }
func (d *ReportSubmittedData) OccurredAt() time.Time { return d.ReportedAt }

func (d *TargetSetData) EventType() Type       { return TargetSet }
func (d *TargetSetData) Subject() string       { return TargetSubject(d.Scope, d.Metric) }
func (d *TargetSetData) OccurredAt() time.Time { return d.SetAt }
