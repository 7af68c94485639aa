package event_test

import (
	"testing"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

func TestProcedureSubject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		unit      units.Ref
		procedure string
		want      string
	}{
		{hanoi, "1.001234", "egov.province.01.proc.1_001234"},
		{thaiNguyen, "2.000889", "egov.province.19.proc.2_000889"},
		{mic, "1.001234", "egov.ministry.BTTTT.proc.1_001234"},
		{hcmc, "1.001234.000.00.00.H12", "egov.province.79.proc.1_001234_000_00_00_H12"},
	}
	for _, tt := range tests {
		got := event.ProcedureSubject(tt.unit, tt.procedure)
		if got != tt.want {
			t.Errorf("ProcedureSubject(%s, %q) = %q, want %q", tt.unit, tt.procedure, got, tt.want)
		}
		if !validNATSSubject(got) {
			t.Errorf("ProcedureSubject(%s, %q) = %q is not a valid NATS subject", tt.unit, tt.procedure, got)
		}
	}
}

func TestUnitSubjects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, got, want string
	}{
		{"unit prefix of a province", event.UnitPrefix(hanoi), "egov.province.01.>"},
		{"unit prefix of a ministry", event.UnitPrefix(mic), "egov.ministry.BTTTT.>"},
		{"assistant", event.UnitSubject(hanoi, "assistant"), "egov.province.01.assistant"},
		{"national target", event.TargetSubject(event.National, event.MetricLevel4Coverage), "egov.national.target.level4_coverage"},
		{"province target", event.TargetSubject(event.ScopeOf(thaiNguyen), event.MetricLevel4Coverage), "egov.province.19.target.level4_coverage"},
		{"ministry target", event.TargetSubject(event.ScopeOf(mic), event.MetricAssistantLive), "egov.ministry.BTTTT.target.assistant_live_units"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestScopeUnit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		scope  event.Scope
		want   units.Ref
		wantOK bool
	}{
		{event.National, units.Ref{}, false},
		{"", units.Ref{}, false},
		{"province/19", thaiNguyen, true},
		{"ministry/BTTTT", mic, true},
		{event.ScopeOf(hcmc), hcmc, true},
		{"province/", units.Ref{Kind: units.Province}, true},
		{"province/01/x", units.Ref{Kind: units.Province, Code: "01/x"}, true},
	}
	for _, tt := range tests {
		got, ok := tt.scope.Unit()
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Scope(%q).Unit() = %v, %v; want %v, %v", tt.scope, got, ok, tt.want, tt.wantOK)
		}
	}
	if s := event.ScopeOf(thaiNguyen); s != "province/19" {
		t.Errorf("ScopeOf(%v) = %q, want province/19", thaiNguyen, s)
	}
}
