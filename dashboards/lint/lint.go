// Package lint checks dashboard JSON for the mistakes that Grafana only shows when a panel is opened: uids that
// clash or are too long, links and drill-downs to dashboards that do not exist (or with variables the target does not
// have), variables that are not defined or that SQL uses unquoted, macros the ClickHouse plugin does not have (or
// that ClickHouse 18.16 cannot run), time series without a time column or time filter, SQL that 18.16 rejects, joined
// subqueries without an alias (which ClickHouse 20.3 and later reject), tables
// read without FINAL (unless a comment says why that counts no row twice), targets the plugin would rewrite, and what
// egovtrack asks of every dashboard: read-only, a ClickHouse datasource variable, every panel titled, described and
// with a unit. It reads plain JSON, so it checks hand-made dashboards too.
package lint

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/egovtrack/egovtrack/dashboards/chquery"
)

// MaxUIDLen is the longest dashboard uid Grafana accepts.
const MaxUIDLen = 40

// ReplacingTables are egovtrack's ClickHouse tables (projector/migrations), all ReplacingMergeTree: a query must read
// them with FINAL, or rows written twice count twice. A test keeps this list in step with the schema.
var ReplacingTables = []string{
	"events", "procedure_changes", "procedures", "coverage_daily", "assistant_changes", "reports", "targets",
	"unit_lineage", "unit_names", "unit_holders", "dossier_facts", "dossier_counts", "dossier_months",
	"units", "quarantine", "signature_verdicts",
}

// Dashboard is one dashboard's JSON and a name for messages (its file name, say).
type Dashboard struct {
	Name string
	JSON []byte
}

// Problem is one fault found.
type Problem struct {
	Dashboard string // the Dashboard's Name
	Where     string // "dashboard", "panel 4", "panel 4 target A", …
	Message   string
}

func (p Problem) String() string { return p.Dashboard + ": " + p.Where + ": " + p.Message }

// Check returns every problem in the dashboards, which are checked together: uids must not clash, and links may only
// lead to dashboards among them.
func Check(dashboards ...Dashboard) []Problem {
	var out []Problem
	parsed := make([]*dashboardJSON, len(dashboards))
	known := map[string][]string{} // uid → its variables
	seen := map[string]string{}    // uid → dashboard name
	var clashes []Problem
	for i, d := range dashboards {
		var dj dashboardJSON
		if err := json.Unmarshal(d.JSON, &dj); err != nil {
			out = append(out, Problem{d.Name, "dashboard", fmt.Sprintf("not dashboard JSON: %v", err)})
			continue
		}
		parsed[i] = &dj
		if dj.UID == "" {
			continue
		}
		if other, ok := seen[dj.UID]; ok {
			clashes = append(clashes, Problem{d.Name, "dashboard", fmt.Sprintf("uid %q is also the uid of %s", dj.UID, other)})
			continue
		}
		seen[dj.UID] = d.Name
		for _, v := range dj.Templating.List {
			known[dj.UID] = append(known[dj.UID], v.Name)
		}
	}
	for i, d := range dashboards {
		if parsed[i] == nil {
			continue
		}
		c := checker{name: d.Name, known: known}
		c.dashboard(parsed[i])
		out = append(out, c.problems...)
	}
	return append(out, clashes...)
}

type checker struct {
	name     string
	uid      string
	vars     []string
	known    map[string][]string // every dashboard checked: uid → its variables
	problems []Problem
}

func (c *checker) add(where, format string, args ...any) {
	c.problems = append(c.problems, Problem{Dashboard: c.name, Where: where, Message: fmt.Sprintf(format, args...)})
}

// The parts of a dashboard that are checked; everything else is ignored.
type dashboardJSON struct {
	UID        string     `json:"uid"`
	Title      string     `json:"title"`
	Editable   *bool      `json:"editable"`
	Links      []linkJSON `json:"links"`
	Templating struct {
		List []variableJSON `json:"list"`
	} `json:"templating"`
	Panels []panelJSON `json:"panels"`
}

type variableJSON struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"` // a string, or an object with rawSql (the plugin's newer variable editor)
	Datasource *refJSON        `json:"datasource"`
}

// linkJSON is a dashboard link or a data link: both have a title and a URL.
type linkJSON struct {
	Title string `json:"title"`
	Type  string `json:"type"` // dashboard links: "link" or "dashboards"
	URL   string `json:"url"`
}

type panelJSON struct {
	ID          int               `json:"id"`
	Type        string            `json:"type"`
	Title       string            `json:"title"`
	Description string            `json:"description"`
	Datasource  *refJSON          `json:"datasource"`
	Targets     []json.RawMessage `json:"targets"`
	FieldConfig *struct {
		Defaults struct {
			Unit  string     `json:"unit"`
			Links []linkJSON `json:"links"`
		} `json:"defaults"`
		Overrides []struct {
			Properties []struct {
				ID    string          `json:"id"`
				Value json.RawMessage `json:"value"`
			} `json:"properties"`
		} `json:"overrides"`
	} `json:"fieldConfig"`
	Panels []panelJSON `json:"panels"` // a collapsed row's panels
}

type refJSON struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

var uidChars = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (c *checker) dashboard(d *dashboardJSON) {
	c.uid = d.UID
	switch {
	case d.UID == "":
		c.add("dashboard", "no uid: Grafana would make up a new one at every load, breaking links")
	case len(d.UID) > MaxUIDLen:
		c.add("dashboard", "uid %q is %d characters, more than %d", d.UID, len(d.UID), MaxUIDLen)
	case !uidChars.MatchString(d.UID):
		c.add("dashboard", "uid %q has characters other than letters, digits, - and _", d.UID)
	}
	if d.Title == "" {
		c.add("dashboard", "no title")
	}
	if d.Editable == nil || *d.Editable {
		c.add("dashboard", "editable: viewers could change a generated dashboard; make it read-only")
	}
	hasDatasource := false
	for _, v := range d.Templating.List {
		if slices.Contains(c.vars, v.Name) {
			c.add("templating", "variable %q is defined twice", v.Name)
		}
		c.vars = append(c.vars, v.Name)
		if v.Type == "datasource" && jsonString(v.Query) == chquery.PluginType {
			hasDatasource = true
		}
	}
	if !hasDatasource {
		c.add("templating", "no variable of type datasource for %s: viewers could not pick the ClickHouse datasource",
			chquery.PluginType)
	}
	for _, v := range d.Templating.List {
		c.variable(v)
	}
	for i, l := range d.Links {
		c.link(fmt.Sprintf("dashboard link %d", i+1), l)
	}
	ids := map[int]bool{}
	var walk func([]panelJSON)
	walk = func(panels []panelJSON) {
		for _, p := range panels {
			if p.Type != "row" {
				if ids[p.ID] {
					c.add(fmt.Sprintf("panel %d", p.ID), "panel id used twice")
				}
				ids[p.ID] = true
				c.panel(p)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
}

func (c *checker) panel(p panelJSON) {
	where := fmt.Sprintf("panel %d", p.ID)
	if p.Title == "" {
		c.add(where, "no title")
	}
	if p.Description == "" {
		c.add(where, "no description: say what the number means")
	}
	c.usesVars(where+" title", p.Title)
	if p.Datasource != nil {
		c.usesVars(where+" datasource", p.Datasource.UID)
	}
	if p.FieldConfig == nil || p.FieldConfig.Defaults.Unit == "" {
		c.add(where, "no unit: say what the numbers count (\"none\" for plain counts, \"string\" for text)")
	}
	if p.FieldConfig != nil {
		for i, l := range p.FieldConfig.Defaults.Links {
			c.link(fmt.Sprintf("%s data link %d", where, i+1), l)
		}
		for i, o := range p.FieldConfig.Overrides {
			for _, prop := range o.Properties {
				if prop.ID != "links" {
					continue
				}
				var links []linkJSON
				if err := json.Unmarshal(prop.Value, &links); err != nil {
					c.add(fmt.Sprintf("%s override %d", where, i+1), "links: %v", err)
					continue
				}
				for j, l := range links {
					c.link(fmt.Sprintf("%s override %d data link %d", where, i+1, j+1), l)
				}
			}
		}
	}
	for i, raw := range p.Targets {
		c.target(where, i, raw)
	}
}

// variable checks a query variable's SQL as a table query's.
func (c *checker) variable(v variableJSON) {
	if v.Type != "query" {
		return
	}
	where := "variable " + v.Name
	if v.Datasource == nil || v.Datasource.Type != chquery.PluginType {
		c.add(where, "not a %s query: only ClickHouse variables are checked here", chquery.PluginType)
		return
	}
	c.usesVars(where+" datasource", v.Datasource.UID)
	sql := jsonString(v.Query)
	if sql == "" {
		var q struct {
			RawSQL string `json:"rawSql"`
		}
		_ = json.Unmarshal(v.Query, &q)
		sql = q.RawSQL
	}
	if sql == "" {
		c.add(where, "no SQL")
		return
	}
	for _, r := range chquery.VarRefs(sql) {
		if r.Name == v.Name {
			c.add(where, "its query uses the variable itself")
		}
	}
	c.sql(where, chquery.Query{RawSQL: sql, QueryType: chquery.Table})
}

// jsonString is raw as a JSON string, or "" when it is something else.
func jsonString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// usesVars reports variables in s that are neither defined nor Grafana's own.
func (c *checker) usesVars(where, s string) {
	for _, r := range chquery.VarRefs(s) {
		if !slices.Contains(c.vars, r.Name) && !slices.Contains(chquery.Builtins, r.Name) {
			c.add(where, "variable %s is not defined", r.Text)
		}
	}
}

func (c *checker) target(panel string, i int, raw json.RawMessage) {
	var head struct {
		RefID      string   `json:"refId"`
		Datasource *refJSON `json:"datasource"`
	}
	where := fmt.Sprintf("%s target #%d", panel, i+1)
	if err := json.Unmarshal(raw, &head); err != nil {
		c.add(where, "not a target: %v", err)
		return
	}
	if head.RefID != "" {
		where = panel + " target " + head.RefID
	}
	if head.Datasource == nil || head.Datasource.Type != chquery.PluginType {
		c.add(where, "not a %s target: only ClickHouse targets are checked here", chquery.PluginType)
		return
	}
	q, err := chquery.UnmarshalStrict(raw)
	if err != nil {
		c.add(where, "%v", err)
		return
	}
	if err := q.Validate(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			c.add(where, "%s", line)
		}
	}
	c.usesVars(where+" datasource", head.Datasource.UID)
	c.sql(where, q)
}

var (
	timeColumn  = regexp.MustCompile("(?i)\\bAS\\s+`?time`?(\\s|,|$)")
	orderByTime = regexp.MustCompile("(?i)\\bORDER\\s+BY\\s+`?time`?\\b")
	// A read without FINAL is accepted when a comment right after the table says why rows written twice do not
	// count twice there: /* no FINAL: argMax by version keeps a row's latest version */.
	tableRead   = regexp.MustCompile(`(?i)\b(FROM|JOIN)\s+(\w+\.)?(\w+)(\s+FINAL\b|\s+/\*\s*no FINAL:[^*]+\*/)?`)
	unsupported = []struct {
		re     *regexp.Regexp
		reason string
	}{
		{regexp.MustCompile(`(?i)\btoStartOfInterval\b`), "toStartOfInterval does not exist in ClickHouse 18.16"},
		{regexp.MustCompile(`(?i)\bWITH\s+FILL\b`), "WITH FILL does not exist in ClickHouse 18.16"},
		{regexp.MustCompile(`(?i)\bOVER\s*\(`), "window functions do not exist in ClickHouse 18.16"},
		{regexp.MustCompile(`(?i)\b(DateTime64|now64|toDateTime64)\b`), "DateTime64 does not exist in ClickHouse 18.16"},
		{regexp.MustCompile(`(?i)\bLowCardinality\b`), "LowCardinality needs a setting in ClickHouse 18.16"},
		{regexp.MustCompile(`(?i)\bJSONExtract\w*\b`),
			"JSON functions do not exist in ClickHouse 18.16: use visitParamExtract*"},
		{regexp.MustCompile(`(?i)\bneighbor\s*\(`), "neighbor does not exist in ClickHouse 18.16"},
	}
	// Why a macro the plugin has is not one our SQL may use.
	macroReasons = map[string]string{
		"timeInterval": "it expands to toStartOfInterval, which ClickHouse 18.16 lacks: bucket by " +
			"toDate(c, 'Asia/Ho_Chi_Minh') or intDiv(toUInt32(c), $__interval_s) * $__interval_s",
		"timeInterval_ms": "it expands to toStartOfInterval and DateTime64, which ClickHouse 18.16 lacks",
		"timeFilter_ms":   "it expands to DateTime64, which ClickHouse 18.16 lacks",
		"fromTime_ms":     "it expands to DateTime64, which ClickHouse 18.16 lacks",
		"toTime_ms":       "it expands to DateTime64, which ClickHouse 18.16 lacks",
		"timeFrom":        "it was wrong before plugin 4.19: use $__fromTime",
		"timeTo":          "it was wrong before plugin 4.19: use $__toTime",
		"timeGroup":       "it was wrong before plugin 4.19: group by toDate(c, 'Asia/Ho_Chi_Minh')",
	}
)

func (c *checker) sql(where string, q chquery.Query) {
	sql := q.RawSQL
	c.usesVars(where+" SQL", sql)
	for _, r := range chquery.VarRefs(sql) {
		// A dashboard variable's value is text: quoted by Grafana it cannot end the string and inject SQL.
		if !slices.Contains(chquery.Builtins, r.Name) && r.Format != "singlequote" {
			c.add(where+" SQL", "variable %s is not quoted: write ${%s:singlequote}", r.Text, r.Name)
		}
	}
	calls := map[string]bool{}
	for _, call := range chquery.Calls(sql) {
		calls[call.Name] = true
		m, ok := chquery.Macros[call.Name]
		switch {
		case slices.Contains(chquery.FrontendMacros, call.Name):
		case !ok && macroReasons[call.Name] != "":
			c.add(where, "macro $__%s may not be used: %s", call.Name, macroReasons[call.Name])
		case !ok:
			c.add(where, "macro $__%s is not one the ClickHouse plugin has", call.Name)
		case m.Args == 0 && call.HasArgs:
			c.add(where, "macro $__%s takes no arguments, but the plugin would take %q as its call: "+
				"follow it with a closing parenthesis before any opening one, e.g. toDate($__%s, 'Asia/Ho_Chi_Minh')",
				call.Name, call.Text, call.Name)
		case len(call.Args) != m.Args:
			c.add(where, "macro $__%s takes %d argument(s), %q has %d (an argument cannot contain a comma)",
				call.Name, m.Args, call.Text, len(call.Args))
		}
	}
	for _, u := range unsupported {
		if u.re.MatchString(sql) {
			c.add(where, "%s", u.reason)
		}
	}
	for _, msg := range UnaliasedJoins(sql) {
		c.add(where, "%s", msg)
	}
	for _, m := range tableRead.FindAllStringSubmatch(sql, -1) {
		table := m[3]
		if !slices.Contains(ReplacingTables, table) {
			continue
		}
		if m[2] != "" {
			c.add(where, "table %s%s names its database: leave it to the datasource's default database", m[2], table)
		}
		if m[4] == "" {
			c.add(where, "table %s is read without FINAL: rows written twice would count twice "+
				"(or say why they do not, in /* no FINAL: … */ after the table)", table)
		}
	}
	if q.QueryType != chquery.TimeSeries {
		return
	}
	if !timeColumn.MatchString(sql) {
		c.add(where, "time series without a column aliased time")
	}
	if !orderByTime.MatchString(sql) {
		c.add(where, "time series not ordered by time")
	}
	if !calls["timeFilter"] && !calls["dateFilter"] && !(calls["fromTime"] && calls["toTime"]) {
		c.add(where, "time series without a time filter: use $__timeFilter(c), $__dateFilter(day), "+
			"or both $__fromTime and $__toTime")
	}
}
