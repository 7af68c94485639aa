package lineage_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/egovtrack/egovtrack/collectors/lineage"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// The shipped 2025 reorganisation is valid and makes what the law made: 63 provinces into 34 and 22 ministries and
// agencies into 17, each old unit in exactly one merger or untouched.
func TestReorganisation2025(t *testing.T) {
	envs, err := lineage.Read(bytes.NewReader(lineage.Reorganisation2025))
	if err != nil {
		t.Fatal(err)
	}
	after := map[units.Kind]map[string]bool{units.Province: {}, units.Ministry: {}}
	gone := map[units.Ref]bool{}
	for _, u := range units.All() {
		after[u.Kind][u.Code] = true
	}
	for _, env := range envs {
		d, err := env.UncheckedData()
		if err != nil {
			t.Fatal(err)
		}
		m, ok := d.(*event.UnitMergedData)
		if !ok {
			continue
		}
		for _, p := range m.Predecessors {
			if gone[p] {
				t.Errorf("%s is merged twice", p)
			}
			gone[p] = true
			delete(after[p.Kind], p.Code)
		}
		after[m.Successor.Kind][m.Successor.Code] = true
	}
	if n := len(after[units.Province]); n != 34 {
		t.Errorf("%d provinces after 1 July 2025, want 34", n)
	}
	if n := len(after[units.Ministry]); n != 17 {
		t.Errorf("%d ministerial bodies after 1 March 2025, want 17", n)
	}
	// Publishing it again is the same facts: the same ids.
	again, err := lineage.Read(bytes.NewReader(lineage.Reorganisation2025))
	if err != nil {
		t.Fatal(err)
	}
	for i := range envs {
		if envs[i].ID != again[i].ID {
			t.Fatalf("event %d has id %s, then %s", i, envs[i].ID, again[i].ID)
		}
	}
}

// A bad file is refused whole, naming the line and the field.
func TestBadFilesNameTheLine(t *testing.T) {
	ok := `{"type": "gov.egov.unit.renamed.v1", "data": {"unit": {"kind": "province", "code": "46"}, "name": "Huế", "effective_on": "2025-01-01", "decided_at": "2024-11-30T02:00:00Z"}}`
	for _, c := range []struct{ name, file, want string }{
		{"unknown unit", `{"type": "gov.egov.unit.merged.v1", "data": {"successor": {"kind": "province", "code": "99"}, "name": "X", "predecessors": [{"kind": "province", "code": "01"}], "effective_on": "2025-07-01", "decided_at": "2025-06-12T02:00:00Z"}}`,
			"line 1: data.successor: province/99 is not a known unit"},
		{"kinds mixed", ok + "\n" + `{"type": "gov.egov.unit.merged.v1", "data": {"successor": {"kind": "province", "code": "01"}, "name": "Hà Nội", "predecessors": [{"kind": "province", "code": "01"}, {"kind": "ministry", "code": "BTC"}], "effective_on": "2025-07-01", "decided_at": "2025-06-12T02:00:00Z"}}`,
			"line 2: data.predecessors[1]: ministry/BTC is not a province like the successor"},
		{"moved to the successor", `{"type": "gov.egov.unit.merged.v1", "data": {"successor": {"kind": "province", "code": "24"}, "name": "Bắc Ninh", "predecessors": [{"kind": "province", "code": "24"}, {"kind": "province", "code": "27"}], "moved": [{"from": {"kind": "province", "code": "27"}, "to": {"kind": "province", "code": "24"}, "procedures": ["1.000001"]}], "effective_on": "2025-07-01", "decided_at": "2025-06-12T02:00:00Z"}}`,
			"data.moved[0].to: is the successor"},
		{"not a unit event", `{"type": "gov.egov.target.set.v1", "data": {}}`, "is not a unit event"},
		{"unknown field", `{"type": "gov.egov.unit.renamed.v1", "data": {"unit": {"kind": "province", "code": "46"}, "nom": "Huế"}}`, `unknown field "nom"`},
		{"duplicate key", `{"type": "gov.egov.unit.renamed.v1", "type": "gov.egov.unit.renamed.v1"}`, "type is given twice"},
		{"twice the same", ok + "\n\n# again\n" + ok, "line 4: the same fact as line 1"},
		{"formula as name", strings.Replace(ok, `"Huế"`, `"=HYPERLINK(1)"`, 1), "data.name"},
		{"too long", `{"type": "` + strings.Repeat("x", event.MaxSize+1) + `"}`, "line 1: longer than"},
		{"empty", "\n# nothing\n", "no event"},
		{"endless blank lines", strings.Repeat("\n", 10_001), "line 10001: more than 10000 lines"},
		{"too large", strings.Repeat("# "+strings.Repeat("x", 1000)+"\n", 9000), "is over 8388608 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := lineage.Read(strings.NewReader(c.file))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Read = %v, want an error containing %q", err, c.want)
			}
		})
	}
}
