package lint

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/egovtrack/egovtrack/dashboards/alert"
	"github.com/egovtrack/egovtrack/dashboards/chquery"
)

// rulesFileJSON is the part of an alerting provisioning file that Grafana checks when it loads it.
type rulesFileJSON struct {
	APIVersion int `json:"apiVersion"`
	Groups     []struct {
		Name     string     `json:"name"`
		Folder   string     `json:"folder"`
		Interval string     `json:"interval"`
		Rules    []ruleJSON `json:"rules"`
	} `json:"groups"`
}

type ruleJSON struct {
	UID          string            `json:"uid"`
	Title        string            `json:"title"`
	Condition    string            `json:"condition"`
	For          string            `json:"for"`
	NoDataState  string            `json:"noDataState"`
	ExecErrState string            `json:"execErrState"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	DashboardUID string            `json:"dashboardUid"`
	PanelID      int64             `json:"panelId"`
	Data         []struct {
		RefID             string `json:"refId"`
		DatasourceUID     string `json:"datasourceUid"`
		RelativeTimeRange struct {
			From int64 `json:"from"`
			To   int64 `json:"to"`
		} `json:"relativeTimeRange"`
		Model json.RawMessage `json:"model"`
	} `json:"data"`
}

var (
	ruleUID = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	// promDuration is the duration syntax Grafana reads a group's interval and a rule's for in (Prometheus's).
	promDuration = regexp.MustCompile(`^(([0-9]+)(y|w|d|h|m|s|ms))+$|^0$`)
)

// RulesRequire are what the rules' checks need to know of the rest: the provisioned datasource's uid, the dashboards
// (uid → its panel ids) rules may link to, and the labels every rule must set (those the notification policy routes
// on).
type RulesRequire struct {
	DatasourceUID string
	Panels        map[string][]int64
	Labels        []string
}

// CheckRules returns the problems Grafana would refuse the alerting provisioning file for when it loads it, or that
// would make a rule useless: uids unique, at most 40 characters, of letters, digits, - and _; titles unique within a
// folder; every group a name, a folder and an interval; every rule a condition that is one of its queries' refIds,
// queries on the provisioned datasource or expressions over the rule's refIds, a time range that ends before it
// starts and not in the future, a for, states Grafana knows, the labels routing needs, a summary, and a link to a
// panel that exists.
func CheckRules(name string, data []byte, req RulesRequire) []Problem {
	var f rulesFileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return []Problem{{name, "file", fmt.Sprintf("not an alerting provisioning file: %v", err)}}
	}
	c := checker{name: name}
	if f.APIVersion != 1 {
		c.add("file", "apiVersion is %d, want 1", f.APIVersion)
	}
	if len(f.Groups) == 0 {
		c.add("file", "no rule groups")
	}
	uids := map[string]bool{}
	titles := map[string]bool{} // folder + title
	for _, g := range f.Groups {
		where := "group " + g.Name
		if g.Name == "" || g.Folder == "" {
			c.add(where, "a group needs a name and a folder")
		}
		if !promDuration.MatchString(g.Interval) {
			c.add(where, "interval %q is not a duration Grafana reads (1m, 1h…)", g.Interval)
		}
		if len(g.Rules) == 0 {
			c.add(where, "no rules")
		}
		for _, r := range g.Rules {
			c.rule(where+" rule "+r.UID, r, req)
			if uids[r.UID] {
				c.add(where, "uid %q is used twice", r.UID)
			}
			uids[r.UID] = true
			if titles[g.Folder+"\x00"+r.Title] {
				c.add(where, "title %q is used twice in folder %s", r.Title, g.Folder)
			}
			titles[g.Folder+"\x00"+r.Title] = true
		}
	}
	return c.problems
}

func (c *checker) rule(where string, r ruleJSON, req RulesRequire) {
	switch {
	case r.UID == "":
		c.add(where, "no uid")
	case len(r.UID) > MaxUIDLen:
		c.add(where, "uid is %d characters, more than the %d Grafana accepts", len(r.UID), MaxUIDLen)
	case !ruleUID.MatchString(r.UID):
		c.add(where, "uid %q holds characters other than letters, digits, - and _", r.UID)
	}
	if r.Title == "" {
		c.add(where, "no title")
	}
	if !promDuration.MatchString(r.For) {
		c.add(where, "for %q is not a duration Grafana reads", r.For)
	}
	if !slices.Contains([]string{"NoData", "Alerting", "OK", "KeepLast"}, r.NoDataState) {
		c.add(where, "noDataState %q is not one Grafana knows", r.NoDataState)
	}
	if !slices.Contains([]string{"Error", "Alerting", "OK", "KeepLast"}, r.ExecErrState) {
		c.add(where, "execErrState %q is not one Grafana knows", r.ExecErrState)
	}
	for _, l := range req.Labels {
		if r.Labels[l] == "" {
			c.add(where, "label %s is not set: the notification policy routes on it", l)
		}
	}
	if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
		c.add(where, "a summary and a description are what the message says")
	}
	if r.DashboardUID != "" && !slices.Contains(req.Panels[r.DashboardUID], r.PanelID) {
		c.add(where, "links to panel %d of dashboard %q, which does not exist", r.PanelID, r.DashboardUID)
	}
	refs := map[string]bool{}
	for _, q := range r.Data {
		if refs[q.RefID] || q.RefID == "" {
			c.add(where, "refId %q is empty or used twice", q.RefID)
		}
		refs[q.RefID] = true
	}
	if !refs[r.Condition] {
		c.add(where, "condition %q is none of the rule's refIds", r.Condition)
	}
	for _, q := range r.Data {
		qw := where + " query " + q.RefID
		if q.RelativeTimeRange.From <= q.RelativeTimeRange.To || q.RelativeTimeRange.To < 0 ||
			time.Duration(q.RelativeTimeRange.From)*time.Second > 31*24*time.Hour {
			c.add(qw, "time range from %ds to %ds ago: it must start before it ends, end now or earlier, and span at most 31 days",
				q.RelativeTimeRange.From, q.RelativeTimeRange.To)
		}
		switch q.DatasourceUID {
		case alert.ExpressionDatasource:
			var m struct {
				Expression string `json:"expression"`
			}
			if err := json.Unmarshal(q.Model, &m); err != nil || !refs[m.Expression] || m.Expression == q.RefID {
				c.add(qw, "the expression reads %q, which is not another query of the rule", m.Expression)
			}
		case req.DatasourceUID:
			var m chquery.Query
			if err := json.Unmarshal(q.Model, &m); err != nil {
				c.add(qw, "not a ClickHouse query: %v", err)
				continue
			}
			if m.Datasource.Uid == nil || *m.Datasource.Uid != req.DatasourceUID || m.RefID != q.RefID {
				c.add(qw, "its model names another datasource or refId than the query")
			}
			c.sql(qw, m)
		default:
			c.add(qw, "datasource %q is neither the provisioned ClickHouse (%s) nor an expression", q.DatasourceUID, req.DatasourceUID)
		}
	}
}
