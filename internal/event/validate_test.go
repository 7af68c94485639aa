package event_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// Valid facts for the validation cases to break, one change at a time.

func registered(f func(*event.ProcedureRegisteredData)) event.Data {
	d := &event.ProcedureRegisteredData{
		Unit: thaiNguyen, Procedure: "1.001234", Name: "Cấp giấy phép xây dựng", Sector: "Xây dựng",
		Eligible: true, Level: 3, EffectiveAt: factTime,
	}
	f(d)
	return d
}

func changed(f func(*event.LevelChangedData)) event.Data {
	d := &event.LevelChangedData{Unit: thaiNguyen, Procedure: "1.001234", From: 3, To: 4, EffectiveAt: factTime}
	f(d)
	return d
}

func retired(f func(*event.ProcedureRetiredData)) event.Data {
	d := &event.ProcedureRetiredData{Unit: thaiNguyen, Procedure: "1.001234", EffectiveAt: factTime}
	f(d)
	return d
}

func stage(f func(*event.AssistantStageChangedData)) event.Data {
	d := &event.AssistantStageChangedData{Unit: hanoi, Stage: event.StageLive, EffectiveAt: factTime}
	f(d)
	return d
}

func report(f func(*event.ReportSubmittedData)) event.Data {
	d := &event.ReportSubmittedData{Unit: hcmc, Collector: "sheet", ReportedAt: factTime}
	f(d)
	return d
}

func target(f func(*event.TargetSetData)) event.Data {
	d := &event.TargetSetData{
		Metric: event.MetricLevel4Coverage, Scope: event.National,
		Baseline: 40, BaselineDate: "2021-06-30", Target: 100, Deadline: "2021-12-31", SetAt: factTime,
	}
	f(d)
	return d
}

func TestNewRefusesInvalidFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data event.Data
		// want maps every field that must be refused to a part of its message; no other field may be refused.
		want map[string]string
	}{
		// Units.
		{"unknown province", changed(func(d *event.LevelChangedData) { d.Unit.Code = "03" }),
			map[string]string{"data.unit": "province/03 is not a known unit"}},
		{"unknown ministry", stage(func(d *event.AssistantStageChangedData) { d.Unit = units.Ref{Kind: units.Ministry, Code: "BXYZ"} }),
			map[string]string{"data.unit": "ministry/BXYZ is not a known unit"}},
		{"unknown kind of unit", report(func(d *event.ReportSubmittedData) { d.Unit.Kind = "district" }),
			map[string]string{"data.unit.kind": `"district" is not one of ministry, province`}},
		{"unit code in lower case", stage(func(d *event.AssistantStageChangedData) { d.Unit = units.Ref{Kind: units.Ministry, Code: "btttt"} }),
			map[string]string{"data.unit.code": `"btttt" is not a unit code`}},
		{"province code of a ministry", retired(func(d *event.ProcedureRetiredData) { d.Unit.Kind = units.Ministry }),
			map[string]string{"data.unit": "ministry/19 is not a known unit"}},
		{"missing unit", registered(func(d *event.ProcedureRegisteredData) { d.Unit = units.Ref{} }),
			map[string]string{"data.unit.kind": "is missing", "data.unit.code": "is missing"}},
		{"missing unit code", changed(func(d *event.LevelChangedData) { d.Unit.Code = "" }),
			map[string]string{"data.unit.code": "is missing"}},

		// Procedure codes.
		{"code without dot", changed(func(d *event.LevelChangedData) { d.Procedure = "1001234" }),
			map[string]string{"data.procedure": `"1001234" is not a procedure code like 1.001234`}},
		{"code too short", changed(func(d *event.LevelChangedData) { d.Procedure = "1.00123" }),
			map[string]string{"data.procedure": `"1.00123" is not a procedure code`}},
		{"code too long", registered(func(d *event.ProcedureRegisteredData) { d.Procedure = "1.0012345" }),
			map[string]string{"data.procedure": `"1.0012345" is not a procedure code`}},
		{"code of letters", retired(func(d *event.ProcedureRetiredData) { d.Procedure = "abc" }),
			map[string]string{"data.procedure": `"abc" is not a procedure code`}},
		{"code with trailing dot", retired(func(d *event.ProcedureRetiredData) { d.Procedure = "1.001234." }),
			map[string]string{"data.procedure": `"1.001234." is not a procedure code`}},
		{"code with space", changed(func(d *event.LevelChangedData) { d.Procedure = "1.001234 " }),
			map[string]string{"data.procedure": `"1.001234 " is not a procedure code`}},
		{"code with wildcard", changed(func(d *event.LevelChangedData) { d.Procedure = "1.001234.*" }),
			map[string]string{"data.procedure": `"1.001234.*" is not a procedure code`}},
		{"missing code", registered(func(d *event.ProcedureRegisteredData) { d.Procedure = "" }),
			map[string]string{"data.procedure": "is missing"}},

		// Levels.
		{"registered at level 0", registered(func(d *event.ProcedureRegisteredData) { d.Level = 0 }),
			map[string]string{"data.level": "is missing or 0"}},
		{"registered at level 5", registered(func(d *event.ProcedureRegisteredData) { d.Level = 5 }),
			map[string]string{"data.level": "5 is out of range 1–4"}},
		{"change from level 0", changed(func(d *event.LevelChangedData) { d.From = 0 }),
			map[string]string{"data.from": "is missing or 0"}},
		{"change to level 5", changed(func(d *event.LevelChangedData) { d.To = 5 }),
			map[string]string{"data.to": "5 is out of range 1–4"}},
		{"change to the same level", changed(func(d *event.LevelChangedData) { d.From, d.To = 4, 4 }),
			map[string]string{"data.to": "is the same level as from (4)"}},

		// Times.
		{"effective beyond the clock skew", changed(func(d *event.LevelChangedData) {
			d.EffectiveAt = now.Add(event.MaxClockSkew + time.Second)
		}), map[string]string{"data.effective_at": "2021-12-20T03:05:01Z is in the future"}},
		{"registered a day ahead", registered(func(d *event.ProcedureRegisteredData) { d.EffectiveAt = now.AddDate(0, 0, 1) }),
			map[string]string{"data.effective_at": "is in the future"}},
		{"retired in the future", retired(func(d *event.ProcedureRetiredData) { d.EffectiveAt = now.Add(time.Hour) }),
			map[string]string{"data.effective_at": "is in the future"}},
		{"stage in the future", stage(func(d *event.AssistantStageChangedData) { d.EffectiveAt = now.Add(time.Hour) }),
			map[string]string{"data.effective_at": "is in the future"}},
		{"report in the future", report(func(d *event.ReportSubmittedData) { d.ReportedAt = now.Add(time.Hour) }),
			map[string]string{"data.reported_at": "is in the future"}},
		{"target set in the future", target(func(d *event.TargetSetData) { d.SetAt = now.Add(time.Hour) }),
			map[string]string{"data.set_at": "is in the future"}},
		{"missing effective time", changed(func(d *event.LevelChangedData) { d.EffectiveAt = time.Time{} }),
			map[string]string{"data.effective_at": "is missing"}},
		{"missing report time", report(func(d *event.ReportSubmittedData) { d.ReportedAt = time.Time{} }),
			map[string]string{"data.reported_at": "is missing"}},

		// Registration.
		{"missing name", registered(func(d *event.ProcedureRegisteredData) { d.Name = "" }),
			map[string]string{"data.name": "is missing"}},
		{"blank name", registered(func(d *event.ProcedureRegisteredData) { d.Name = " \t" }),
			map[string]string{"data.name": "is blank"}},
		{"name of no-break spaces", registered(func(d *event.ProcedureRegisteredData) { d.Name = "\u00a0\u3000" }),
			map[string]string{"data.name": "is blank"}},
		{"missing sector", registered(func(d *event.ProcedureRegisteredData) { d.Sector = "" }),
			map[string]string{"data.sector": "is missing"}},
		{"missing name and sector", registered(func(d *event.ProcedureRegisteredData) { d.Name, d.Sector = "", "" }),
			map[string]string{"data.name": "is missing", "data.sector": "is missing"}},

		// Assistant and reports.
		{"unknown stage", stage(func(d *event.AssistantStageChangedData) { d.Stage = "beta" }),
			map[string]string{"data.stage": `"beta" is not one of not_started, planned, pilot, live`}},
		{"missing stage", stage(func(d *event.AssistantStageChangedData) { d.Stage = "" }),
			map[string]string{"data.stage": "is missing"}},
		{"stage in the wrong case", stage(func(d *event.AssistantStageChangedData) { d.Stage = "Live" }),
			map[string]string{"data.stage": `"Live" is not one of`}},
		{"missing collector", report(func(d *event.ReportSubmittedData) { d.Collector = "" }),
			map[string]string{"data.collector": "is missing"}},
		{"negative count", report(func(d *event.ReportSubmittedData) { d.Counts.Retired = -1 }),
			map[string]string{"data.counts.retired": "-1 must not be negative"}},
		{"count beyond what the projector stores", report(func(d *event.ReportSubmittedData) { d.Counts.Unchanged = 1 << 32 }),
			map[string]string{"data.counts.unchanged": "4294967296 is more than 4294967295"}},
		{"collector in upper case", report(func(d *event.ReportSubmittedData) { d.Collector = "Sheet" }),
			map[string]string{"data.collector": `"Sheet" does not match`}},
		{"digest not a SHA-256", report(func(d *event.ReportSubmittedData) { d.Digest = "sha256:abc" }),
			map[string]string{"data.digest": `"sha256:abc" does not match`}},
		{"blank reason", retired(func(d *event.ProcedureRetiredData) { d.Reason = " " }),
			map[string]string{"data.reason": "is blank"}},

		// Targets.
		{"unknown metric", target(func(d *event.TargetSetData) { d.Metric = "level3_coverage" }),
			map[string]string{"data.metric": `"level3_coverage" is not one of level4_coverage, assistant_live_units`}},
		{"missing metric", target(func(d *event.TargetSetData) { d.Metric = "" }),
			map[string]string{"data.metric": "is missing"}},
		{"scope neither national nor a unit", target(func(d *event.TargetSetData) { d.Scope = "vietnam" }),
			map[string]string{"data.scope": `"vietnam" is neither "national" nor kind/code of a unit`}},
		{"missing scope", target(func(d *event.TargetSetData) { d.Scope = "" }),
			map[string]string{"data.scope": "is missing"}},
		{"scope of an unknown unit", target(func(d *event.TargetSetData) { d.Scope = "province/99" }),
			map[string]string{"data.scope": "province/99 is not a known unit"}},
		{"scope of a unit without code", target(func(d *event.TargetSetData) { d.Scope = "province/" }),
			map[string]string{"data.scope": `"province/" is neither "national" nor kind/code of a unit`}},
		{"scope of a unit in the wrong case", target(func(d *event.TargetSetData) { d.Scope = "ministry/btttt" }),
			map[string]string{"data.scope": `"ministry/btttt" is neither`}},
		{"negative baseline", target(func(d *event.TargetSetData) { d.Baseline = -1 }),
			map[string]string{"data.baseline": "-1 is not a percentage 0–100"}},
		{"baseline above 100", target(func(d *event.TargetSetData) { d.Baseline = 100.5 }),
			map[string]string{"data.baseline": "100.5 is not a percentage 0–100"}},
		{"baseline not a number", target(func(d *event.TargetSetData) { d.Baseline = math.NaN() }),
			map[string]string{"data.baseline": "NaN is not a percentage 0–100"}},
		{"target above 100", target(func(d *event.TargetSetData) { d.Target = 101 }),
			map[string]string{"data.target": "101 is not a percentage 0–100"}},
		{"negative target", target(func(d *event.TargetSetData) { d.Target = -0.1 }),
			map[string]string{"data.target": "-0.1 is not a percentage 0–100"}},
		{"infinite target", target(func(d *event.TargetSetData) { d.Target = math.Inf(1) }),
			map[string]string{"data.target": "+Inf is not a percentage 0–100"}},
		{"deadline on the baseline day", target(func(d *event.TargetSetData) { d.Deadline = d.BaselineDate }),
			map[string]string{"data.deadline": "must be after baseline_date"}},
		{"deadline before the baseline", target(func(d *event.TargetSetData) { d.Deadline = "2021-06-29" }),
			map[string]string{"data.deadline": "must be after baseline_date"}},
		{"baseline date with no such month", target(func(d *event.TargetSetData) { d.BaselineDate = "2021-13-01" }),
			map[string]string{"data.baseline_date": `"2021-13-01" is not a date YYYY-MM-DD`}},
		{"baseline date written the Vietnamese way", target(func(d *event.TargetSetData) { d.BaselineDate = "30/06/2021" }),
			map[string]string{"data.baseline_date": `"30/06/2021" is not a date YYYY-MM-DD`}},
		{"deadline without leading zeros", target(func(d *event.TargetSetData) { d.Deadline = "2021-12-1" }),
			map[string]string{"data.deadline": `"2021-12-1" is not a date YYYY-MM-DD`}},
		{"deadline with a time", target(func(d *event.TargetSetData) { d.Deadline = "2021-12-31T00:00:00Z" }),
			map[string]string{"data.deadline": `"2021-12-31T00:00:00Z" is not a date`}},
		{"deadline on 31 February", target(func(d *event.TargetSetData) { d.Deadline = "2022-02-31" }),
			map[string]string{"data.deadline": `"2022-02-31" is not a date`}},
		{"missing dates", target(func(d *event.TargetSetData) { d.BaselineDate, d.Deadline = "", "" }),
			map[string]string{"data.baseline_date": "is missing", "data.deadline": "is missing"}},

		// Several problems are all reported.
		{"everything wrong with a level change", &event.LevelChangedData{},
			map[string]string{
				"data.unit.kind": "is missing", "data.unit.code": "is missing", "data.procedure": "is missing",
				"data.from": "is missing or 0", "data.to": "is missing or 0", "data.effective_at": "is missing",
			}},
		{"a schema error and a Go check at once", changed(func(d *event.LevelChangedData) {
			d.Procedure, d.EffectiveAt = "1.1", now.Add(time.Hour)
		}), map[string]string{"data.procedure": `"1.1" is not a procedure code`, "data.effective_at": "is in the future"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, err := contract.New("test", tt.data)
			if err == nil {
				t.Fatalf("New = %+v, want errors on %v", env, tt.want)
			}
			var fes event.FieldErrors
			if !errors.As(err, &fes) {
				t.Fatalf("error %q (%T) is not a FieldErrors", err, err)
			}
			for field, msg := range tt.want {
				if !hasField(fes, field, msg) {
					t.Errorf("errors %q do not name %s with %q", fes, field, msg)
				}
			}
			for _, fe := range fes {
				if _, ok := tt.want[fe.Field]; !ok {
					t.Errorf("unexpected error on %s: %s", fe.Field, fe.Message)
				}
			}
			// Validate, the check New makes, finds the same.
			if verr := contract.Validate(tt.data); verr == nil || verr.Error() != err.Error() {
				t.Errorf("Validate = %v, want %v", verr, err)
			}
		})
	}
}

func TestNewRefusesMissingSource(t *testing.T) {
	t.Parallel()
	_, err := contract.New("", changed(func(*event.LevelChangedData) {}))
	var fes event.FieldErrors
	if !errors.As(err, &fes) || !hasField(fes, "source", "is missing") {
		t.Errorf("New without source: error %v, want source is missing", err)
	}
}

func TestNewAcceptsEdgeCases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data event.Data
	}{
		{"long procedure code", registered(func(d *event.ProcedureRegisteredData) { d.Procedure = "1.001234.000.00.00.H12" })},
		{"ministry unit", changed(func(d *event.LevelChangedData) { d.Unit = mic })},
		{"level 1", registered(func(d *event.ProcedureRegisteredData) { d.Level = 1 })},
		{"level 4, not eligible", registered(func(d *event.ProcedureRegisteredData) { d.Level, d.Eligible = 4, false })},
		{"downgrade", changed(func(d *event.LevelChangedData) { d.From, d.To = 4, 1 })},
		{"effective now", changed(func(d *event.LevelChangedData) { d.EffectiveAt = now })},
		{"effective within the clock skew", changed(func(d *event.LevelChangedData) { d.EffectiveAt = now.Add(event.MaxClockSkew - time.Second) })},
		{"effective at the edge of the clock skew", changed(func(d *event.LevelChangedData) { d.EffectiveAt = now.Add(event.MaxClockSkew) })},
		{"reported within the clock skew", report(func(d *event.ReportSubmittedData) { d.ReportedAt = now.Add(time.Minute) })},
		{"effective long ago", retired(func(d *event.ProcedureRetiredData) { d.EffectiveAt = time.Date(2011, 6, 13, 0, 0, 0, 0, event.Vietnam) })},
		{"every stage", stage(func(d *event.AssistantStageChangedData) { d.Stage = event.StageNotStarted })},
		{"no users yet", stage(func(d *event.AssistantStageChangedData) { d.Stage, d.Users = event.StagePilot, users(0) })},
		{"empty report", report(func(d *event.ReportSubmittedData) { d.Counts = event.ReportCounts{} })},
		{"percentages at the bounds", target(func(d *event.TargetSetData) { d.Baseline, d.Target = 0, 100 })},
		{"target below the baseline", target(func(d *event.TargetSetData) { d.Baseline, d.Target = 60, 50 })},
		{"deadline the day after", target(func(d *event.TargetSetData) { d.Deadline = "2021-07-01" })},
		{"scope of a ministry", target(func(d *event.TargetSetData) { d.Scope = event.ScopeOf(mic) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := contract.New("test", tt.data); err != nil {
				t.Errorf("New: %v", err)
			}
		})
	}
}

func TestValidProcedureCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code string
		want bool
	}{
		{"1.001234", true},
		{"2.000889", true},
		{"1.001234.000.00.00.H12", true},
		{"1.001234.000.00.00.h12", false}, // upper case only: one procedure, one subject
		{"1.004227.000.00.00.H56", true},
		{"", false},
		{"1001234", false},
		{"1.00123", false},
		{"1.0012345", false},
		{"12.001234", false},
		{"a.001234", false},
		{"abc", false},
		{".001234", false},
		{"1.001234.", false},
		{"1.001234..H12", false},
		{"1.001234.H-12", false},
		{"1.001234.>", false},
		{"1_001234", false},
		{" 1.001234", false},
		{"1.001234\n", false},
		{"1.００1234", false},
	}
	for _, tt := range tests {
		if got := event.ValidProcedureCode(tt.code); got != tt.want {
			t.Errorf("ValidProcedureCode(%q) = %v, want %v", tt.code, got, tt.want)
		}
	}
}

// Every message names its field once, so a list of them reads well in a log line.
func TestFieldErrorsText(t *testing.T) {
	t.Parallel()
	es := event.FieldErrors{{Field: "unit", Message: "is missing"}, {Field: "to", Message: "5 is out of range 1–4"}}
	if got, want := es.Error(), "unit: is missing; to: 5 is out of range 1–4"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !strings.HasPrefix(es[1].Error(), "to: ") {
		t.Errorf("FieldError.Error() = %q, want it to start with the field", es[1].Error())
	}
}
