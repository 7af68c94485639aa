package provision_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/alerting"

	"github.com/egovtrack/egovtrack/dashboards/alert"
	"github.com/egovtrack/egovtrack/dashboards/board"
	"github.com/egovtrack/egovtrack/dashboards/lint"
	"github.com/egovtrack/egovtrack/dashboards/provision"
)

// rulesFile is the generated alerting provisioning file.
func rulesFile(t *testing.T) []byte {
	t.Helper()
	files, err := provision.Files()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Path == provision.RulesFile {
			return f.Data
		}
	}
	t.Fatalf("no %s generated", provision.RulesFile)
	return nil
}

// rulesRequire is what the rules may link to and must set: the generated dashboards' panels, and the labels the
// routing reads.
func rulesRequire(t *testing.T) lint.RulesRequire {
	t.Helper()
	req := lint.RulesRequire{DatasourceUID: board.DatasourceUID, Panels: map[string][]int64{}, Labels: []string{"severity", "audience"}}
	for _, f := range dashboardFiles(t) {
		var d struct {
			UID    string `json:"uid"`
			Panels []struct {
				ID int64 `json:"id"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(f.Data, &d); err != nil {
			t.Fatal(err)
		}
		for _, p := range d.Panels {
			req.Panels[d.UID] = append(req.Panels[d.UID], p.ID)
		}
	}
	return req
}

func TestGeneratedRulesPassLint(t *testing.T) {
	for _, p := range lint.CheckRules(provision.RulesFile, rulesFile(t), rulesRequire(t)) {
		t.Error(p)
	}
}

// Each fault Grafana refuses a rules file for, made once in the generated file, is found.
func TestCheckRulesFindsEachFault(t *testing.T) {
	good := string(rulesFile(t))
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"condition names no query", `"condition": "B"`, `"condition": "C"`, `condition "C" is none of the rule's refIds`},
		{"uid too long", `"uid": "egov-unit-silent"`, `"uid": "` + strings.Repeat("x", 41) + `"`, "more than the 40 Grafana accepts"},
		{"uid twice", `"uid": "egov-pipeline-quarantined"`, `"uid": "egov-unit-silent"`, `uid "egov-unit-silent" is used twice`},
		{"another datasource", `"datasourceUid": "egov-clickhouse"`, `"datasourceUid": "prometheus"`, `datasource "prometheus" is neither`},
		{"expression on nothing", `"expression": "A"`, `"expression": "Z"`, `the expression reads "Z"`},
		{"time range ending in the future", `"to": 0`, `"to": -60`, "end now or earlier"},
		{"a panel that is not there", `"panelId": 4`, `"panelId": 400`, "links to panel 400"},
		{"routing label missing", `"audience": "units",`, ``, "label audience is not set"},
		{"bad for", `"for": "48h"`, `"for": "two days"`, `for "two days" is not a duration`},
		{"bad no-data state", `"noDataState": "OK"`, `"noDataState": "Fine"`, `noDataState "Fine"`},
		{"bad interval", `"interval": "1h"`, `"interval": "hourly"`, `interval "hourly"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(good, tc.old, tc.new, 1)
			if bad == good {
				t.Fatalf("%s is not in the generated file", tc.old)
			}
			ps := lint.CheckRules("rules", []byte(bad), rulesRequire(t))
			found := false
			for _, p := range ps {
				found = found || strings.Contains(p.Message, tc.want)
			}
			if !found {
				t.Errorf("no problem says %q; found %v", tc.want, ps)
			}
		})
	}
}

// Every rule survives a strict round trip through the SDK: what the file holds is what the SDK's types hold.
func TestRulesSurviveAStrictRoundTrip(t *testing.T) {
	registerStrict()
	var f struct {
		Groups []struct {
			Rules []json.RawMessage `json:"rules"`
		} `json:"groups"`
	}
	if err := json.Unmarshal(rulesFile(t), &f); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range f.Groups {
		for _, raw := range g.Rules {
			n++
			var file map[string]json.RawMessage
			if err := json.Unmarshal(raw, &file); err != nil {
				t.Fatal(err)
			}
			// The file format's link to a panel is not the SDK's: it carries it in annotations.
			delete(file, "dashboardUid")
			delete(file, "panelId")
			sdkJSON, err := json.Marshal(file)
			if err != nil {
				t.Fatal(err)
			}
			var r alerting.Rule
			if err := realError(r.UnmarshalJSONStrict(sdkJSON)); err != nil {
				t.Fatalf("strict decoding: %v\n%s", err, sdkJSON)
			}
			again, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, sdkJSON, again) {
				t.Errorf("rule %s changed through the SDK:\nfile: %s\nSDK:  %s", *r.Uid, sdkJSON, again)
			}
		}
	}
	want, err := alert.Rules(alert.Defaults)
	if err != nil {
		t.Fatal(err)
	}
	rules := 0
	for _, g := range want.Groups {
		rules += len(g.Rules)
	}
	if n != rules || n == 0 {
		t.Errorf("%d rules round-tripped, want the %d of dashboards/alert", n, rules)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}
