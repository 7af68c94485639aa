package alert_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"text/template"

	"github.com/grafana/grafana-foundation-sdk/go/alerting"

	"github.com/egovtrack/egovtrack/dashboards/alert"
	"github.com/egovtrack/egovtrack/dashboards/internal/golden"
	"github.com/egovtrack/egovtrack/internal/units"
)

func fixtureContacts(t *testing.T) alert.Contacts {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "contacts.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := alert.ReadContacts(f, "contacts.txt")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestReadContacts(t *testing.T) {
	c := fixtureContacts(t)
	if len(c.Operators) != 2 || len(c.Office) != 1 || len(c.Units) != 2 {
		t.Errorf("read %+v, want 1 office, 2 operators and 2 units' addresses", c)
	}
	for _, tc := range []struct{ name, file, want string }{
		{"no office", "operators a@example.vn\n", "the office and the operators must each have a line"},
		{"an unknown unit", "office a@example.vn\noperators b@example.vn\nprovince/99 c@example.vn\n", `line 3: "province/99" is neither`},
		{"not an address", "office a@example.vn\noperators Nguyễn Văn A\n", `line 2: "Nguyễn" is not an e-mail address`},
		{"twice", "office a@example.vn\noffice b@example.vn\n", "line 2: office is given on line 1 already"},
		{"no address", "office\n", "line 1: office has no e-mail address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := alert.ReadContacts(strings.NewReader(tc.file), "contacts")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// matches reports whether labels satisfy every matcher of a route (only "=" is used).
func matches(t *testing.T, p alerting.NotificationPolicy, labels map[string]string) bool {
	t.Helper()
	if p.ObjectMatchers == nil {
		return true
	}
	for _, m := range *p.ObjectMatchers {
		if len(m) != 3 || m[1] != "=" {
			t.Fatalf("matcher %v: only name = value is expected", m)
		}
		if labels[m[0]] != m[2] {
			return false
		}
	}
	return true
}

// receivers routes an alert with labels through the policy tree as Alertmanager does: into the first child route
// that matches, and on to the next only when that one says continue; the node itself when no child matches.
func receivers(t *testing.T, p alerting.NotificationPolicy, labels map[string]string) []string {
	t.Helper()
	var out []string
	for _, child := range p.Routes {
		if !matches(t, child, labels) {
			continue
		}
		out = append(out, receivers(t, child, labels)...)
		if child.Continue == nil || !*child.Continue {
			return out
		}
	}
	if len(out) == 0 {
		out = []string{*p.Receiver}
	}
	return out
}

// Each alert reaches whom it concerns: a unit's reminder its focal point, when it has one, and the office's daily
// digest in any case; the country's the office; the pipeline's the operators. Every receiver routed to exists, every
// label routed on is one the rules set, and the templates the e-mails name are defined.
func TestRoutingTellsWhomItConcerns(t *testing.T) {
	routing, err := alert.Routing(fixtureContacts(t))
	if err != nil {
		t.Fatal(err)
	}
	root := routing.Policies[0].NotificationPolicy
	thaiNguyen := units.Ref{Kind: units.Province, Code: "19"}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   []string
	}{
		{"a unit with a focal point", map[string]string{"alertname": "x", "audience": alert.AudienceUnits, "unit_kind": "province", "unit_code": "19"},
			[]string{alert.OfficeReceiver, alert.UnitReceiver(thaiNguyen)}},
		{"a unit without", map[string]string{"alertname": "x", "audience": alert.AudienceUnits, "unit_kind": "province", "unit_code": "01"},
			[]string{alert.OfficeReceiver}},
		{"the country", map[string]string{"alertname": "x", "audience": alert.AudienceOffice}, []string{alert.OfficeReceiver}},
		{"the pipeline", map[string]string{"alertname": "x", "audience": alert.AudienceOperators}, []string{alert.OperatorsReceiver}},
	} {
		if got := receivers(t, root, tc.labels); !slices.Equal(got, tc.want) {
			t.Errorf("%s: routed to %v, want %v", tc.name, got, tc.want)
		}
	}

	// Every receiver is a contact point, defined once.
	defined := map[string]bool{}
	for _, cp := range routing.ContactPoints {
		if defined[cp.Name] || len(cp.Receivers) != 1 || *cp.Receivers[0].Uid != cp.Name {
			t.Errorf("contact point %s: defined twice, or not one integration of its name", cp.Name)
		}
		defined[cp.Name] = true
	}
	var walk func(p alerting.NotificationPolicy)
	routedOn := map[string]bool{}
	walk = func(p alerting.NotificationPolicy) {
		if p.Receiver != nil && !defined[*p.Receiver] {
			t.Errorf("a route sends to %s, which is no contact point", *p.Receiver)
		}
		if p.ObjectMatchers != nil {
			for _, m := range *p.ObjectMatchers {
				routedOn[m[0]] = true
			}
		}
		for _, c := range p.Routes {
			walk(c)
		}
	}
	walk(root)

	// Every label routed on is set: audience by every rule, the unit's by the unit rules' queries.
	rules, err := alert.Rules(alert.Defaults)
	if err != nil {
		t.Fatal(err)
	}
	for label := range routedOn {
		if label == "audience" {
			for _, g := range rules.Groups {
				for _, r := range g.Rules {
					if r.Labels["audience"] == "" {
						t.Errorf("rule %s sets no audience", *r.Uid)
					}
				}
			}
			continue
		}
		if !slices.Contains(alert.UnitLabels, label) || !strings.Contains(alert.UnitSilentSQL(0), " AS "+label) {
			t.Errorf("routing on %s, which no rule's query gives", label)
		}
	}

	// The templates the e-mails name are defined.
	tmpl := parseTemplates(t)
	for _, cp := range routing.ContactPoints {
		for _, key := range []string{"subject", "message"} {
			settings, _ := cp.Receivers[0].Settings.(map[string]any)
			s, _ := settings[key].(string)
			name := strings.TrimSuffix(strings.TrimPrefix(s, `{{ template "`), `" . }}`)
			if tmpl.Lookup(name) == nil {
				t.Errorf("contact point %s: %s names template %q, which is not defined", cp.Name, key, name)
			}
		}
	}
}

func parseTemplates(t *testing.T) *template.Template {
	t.Helper()
	f, err := alert.Templates()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := template.New("")
	for _, tt := range f.Templates {
		if _, err := tmpl.New(*tt.Name).Parse(*tt.Template); err != nil {
			t.Fatalf("template %s: %v", *tt.Name, err)
		}
	}
	return tmpl
}

// notification is the part of Grafana's notification data the templates read.
type notification struct {
	Alerts       alerts
	CommonLabels map[string]string
	ExternalURL  string
}

type alerts []notifiedAlert

func (as alerts) Firing() []notifiedAlert   { return as.with("firing") }
func (as alerts) Resolved() []notifiedAlert { return as.with("resolved") }
func (as alerts) with(status string) []notifiedAlert {
	var out []notifiedAlert
	for _, a := range as {
		if a.Status == status {
			out = append(out, a)
		}
	}
	return out
}

type notifiedAlert struct {
	Status      string
	Labels      map[string]string
	Annotations map[string]string
}

// The e-mail a focal point gets reads as the golden file shows: Vietnamese first, then English, with the link to its
// unit's dashboard. `go test ./dashboards/alert -update` rewrites it.
func TestTheMessageReadsWell(t *testing.T) {
	tmpl := parseTemplates(t)
	n := notification{
		ExternalURL:  "https://grafana.example.gov.vn/",
		CommonLabels: map[string]string{"alertname": "Đơn vị chưa báo cáo đúng hạn / A unit has gone silent"},
		Alerts: alerts{
			{Status: "firing", Labels: map[string]string{"unit_name": "Tỉnh Thái Nguyên"}, Annotations: map[string]string{
				"summary":       "Tỉnh Thái Nguyên chưa gửi báo cáo quá chu kỳ 3 ngày / Tỉnh Thái Nguyên has not reported for 3 days past its cadence",
				"description":   "Đơn vị Tỉnh Thái Nguyên (province/19) chưa gửi báo cáo.",
				"dashboard_url": "d/egov-unit?var-unit=province/19",
			}},
			{Status: "resolved", Labels: map[string]string{"unit_name": "Bộ Thông tin và Truyền thông", "alertname": "Đơn vị chưa báo cáo đúng hạn / A unit has gone silent"}},
		},
	}
	var b bytes.Buffer
	for _, name := range []string{alert.SubjectTemplate, alert.MessageTemplate} {
		if err := tmpl.ExecuteTemplate(&b, name, n); err != nil {
			t.Fatal(err)
		}
		b.WriteString("\n---\n")
	}
	path := filepath.Join("testdata", "message.golden")
	if golden.Update() {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("the message is:\n%s\nthe golden file says:\n%s", b.Bytes(), want)
	}
}
