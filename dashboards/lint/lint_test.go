package lint_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	_ "github.com/egovtrack/egovtrack/dashboards/internal/golden" // accepts -update
	"github.com/egovtrack/egovtrack/dashboards/lint"
)

// valid is a small dashboard without faults: a time series and a stat, both on ClickHouse through a variable, a
// query variable, a link to the other dashboard and a data link to it with a unit selected.
const valid = `{
  "uid": "egov-test",
  "title": "Test",
  "editable": false,
  "links": [{"title": "Other", "type": "link", "url": "/d/egov-other", "keepTime": true}],
  "templating": {"list": [
    {"name": "datasource", "type": "datasource", "query": "grafana-clickhouse-datasource"},
    {"name": "region", "type": "query", "datasource": {"type": "grafana-clickhouse-datasource", "uid": "${datasource}"},
     "query": "SELECT code AS value, name AS text FROM units FINAL WHERE kind = 'province'"}
  ]},
  "panels": [
    {
      "id": 1, "type": "timeseries", "title": "Chart", "description": "A chart.",
      "datasource": {"type": "grafana-clickhouse-datasource", "uid": "${datasource}"},
      "fieldConfig": {"defaults": {"unit": "percent"}, "overrides": []},
      "targets": [{
        "refId": "A",
        "datasource": {"type": "grafana-clickhouse-datasource", "uid": "${datasource}"},
        "pluginVersion": "4.20.0", "editorType": "sql", "queryType": "timeseries", "format": 0,
        "rawSql": "SELECT toDateTime(day, 'Asia/Ho_Chi_Minh') AS time, sum(level4) AS n FROM coverage_daily FINAL WHERE $__dateFilter(day) GROUP BY day ORDER BY time"
      }]
    },
    {
      "id": 2, "type": "table", "title": "Table", "description": "A table.",
      "datasource": {"type": "grafana-clickhouse-datasource", "uid": "${datasource}"},
      "fieldConfig": {"defaults": {"unit": "none"}, "overrides": [{
        "matcher": {"id": "byName", "options": "name"},
        "properties": [{"id": "links", "value": [
          {"title": "Open", "url": "/d/egov-other?var-unit=${__data.fields.ref}&${datasource:queryparam}&${__url_time_range}"}
        ]}]
      }]},
      "targets": [{
        "refId": "A",
        "datasource": {"type": "grafana-clickhouse-datasource", "uid": "${datasource}"},
        "pluginVersion": "4.20.0", "editorType": "sql", "queryType": "table", "format": 1,
        "rawSql": "SELECT count() FROM assistant_changes FINAL WHERE (effective_at <= $__toTime)"
      }]
    }
  ]
}`

// other is the dashboard valid links to: it has the variables valid's links hand it.
const other = `{
  "uid": "egov-other",
  "title": "Other",
  "editable": false,
  "templating": {"list": [
    {"name": "datasource", "type": "datasource", "query": "grafana-clickhouse-datasource"},
    {"name": "unit", "type": "custom"}
  ]},
  "panels": []
}`

func check(s string) []lint.Problem {
	return lint.Check(lint.Dashboard{Name: "d.json", JSON: []byte(s)}, lint.Dashboard{Name: "other.json", JSON: []byte(other)})
}

const (
	chartSQL = "SELECT toDateTime(day, 'Asia/Ho_Chi_Minh') AS time, sum(level4) AS n FROM coverage_daily FINAL WHERE $__dateFilter(day) GROUP BY day ORDER BY time"
	statSQL  = "SELECT count() FROM assistant_changes FINAL WHERE (effective_at <= $__toTime)"
)

func replace(old, new string) func(string) string {
	return func(s string) string {
		if !strings.Contains(s, old) {
			panic("test fixture has no " + old)
		}
		return strings.Replace(s, old, new, 1)
	}
}

// A table may be read without FINAL where a comment says why rows written twice do not count twice.
func TestReadWithoutFinalSayingWhy(t *testing.T) {
	d := replace(`FROM assistant_changes FINAL`, `FROM assistant_changes /* no FINAL: count() > 0 is the same */`)(valid)
	if got := check(d); len(got) > 0 {
		t.Errorf("problems in a dashboard that says why it reads without FINAL: %v", got)
	}
}

func TestValidDashboardHasNoProblems(t *testing.T) {
	if got := check(valid); len(got) > 0 {
		t.Errorf("problems in the valid dashboard: %v", got)
	}
}

func TestCheckFindsEachFault(t *testing.T) {
	tests := []struct {
		name   string
		change func(string) string
		want   string // in the one problem found
	}{
		{"no uid", replace(`"uid": "egov-test",`, ``), "no uid"},
		{"uid too long", replace(`"egov-test"`, `"egov-national-overview-of-level-four-coverage"`), "more than 40"},
		{"uid with a space", replace(`"egov-test"`, `"egov test"`), "characters"},
		{"panel without description", replace(`"description": "A table."`, `"description": ""`), "panel 2: no description"},
		{"panel without unit", replace(`"defaults": {"unit": "percent"}`, `"defaults": {}`), "panel 1: no unit"},
		{"editable", replace(`"editable": false,`, `"editable": true,`), "read-only"},
		{"editable by default", replace(`"editable": false,`, ``), "read-only"},
		{"no datasource variable", replace(`{"name": "datasource", "type": "datasource", "query": "grafana-clickhouse-datasource"},`,
			`{"name": "datasource", "type": "custom", "query": "egov-clickhouse"},`), "no variable of type datasource"},
		{"link to an unknown dashboard", replace(`"url": "/d/egov-other"`, `"url": "/d/egov-gone/gone"`),
			`dashboard link 1: leads to dashboard uid "egov-gone"`},
		{"link without title", replace(`{"title": "Other", "type": "link"`, `{"title": "", "type": "link"`),
			"dashboard link 1: no title"},
		{"link by a variable uid", replace(`"url": "/d/egov-other"`, `"url": "/d/${__dashboard}"`), "is a variable"},
		{"link with an undefined variable", replace(`"url": "/d/egov-other"`, `"url": "/d/egov-other?from=$start"`),
			"dashboard link 1: variable $start is not defined"},
		{"data link to an unknown dashboard", replace(`/d/egov-other?var-unit`, `/d/egov-unit?var-unit`),
			`override 1 data link 1: leads to dashboard uid "egov-unit"`},
		{"data link passing a variable its target lacks", replace(`var-unit=`, `var-province=`),
			`passes variable "province" to dashboard "egov-other"`},
		{"data link passing a variable its target lacks, as queryparam", replace(`${datasource:queryparam}`, `${region:queryparam}`),
			`passes variable "region" to dashboard "egov-other"`},
		{"data link with an undefined variable", replace(`${__data.fields.ref}`, `${unit}`),
			"override 1 data link 1: variable ${unit} is not defined"},
		{"a joined subquery without an alias", replace(statSQL,
			`SELECT count() FROM (SELECT 1 AS k) AS l ANY LEFT JOIN (SELECT 1 AS k, count() AS n FROM assistant_changes FINAL WHERE (effective_at <= $__toTime)) USING k`),
			"panel 2 target A: the subquery right of JOIN has no alias"},
		{"variable query without FINAL", replace(`FROM units FINAL WHERE kind`, `FROM units WHERE kind`),
			"variable region: table units is read without FINAL"},
		{"variable query with an unknown macro", replace(`WHERE kind = 'province'"`, `WHERE $__unitFilter(kind)"`),
			"variable region: macro $__unitFilter"},
		{"variable query with an undefined variable", replace(`WHERE kind = 'province'"`, `WHERE kind = ${kind:singlequote}"`),
			"variable region SQL: variable ${kind:singlequote} is not defined"},
		{"variable query on itself", replace(`WHERE kind = 'province'"`, `WHERE code != ${region:singlequote}"`),
			"uses the variable itself"},
		{"variable query on another datasource", replace(`{"type": "grafana-clickhouse-datasource", "uid": "${datasource}"},
     "query"`, `{"type": "mysql", "uid": "${datasource}"},
     "query"`), "variable region: not a grafana-clickhouse-datasource query"},
		{"panel id twice", replace(`"id": 2`, `"id": 1`), "panel id used twice"},
		{"variable defined twice", replace(`{"name": "datasource", "type": "datasource", "query": "grafana-clickhouse-datasource"}`,
			`{"name": "datasource", "type": "datasource", "query": "grafana-clickhouse-datasource"}, {"name": "datasource", "type": "custom"}`), "defined twice"},
		{"undefined variable in SQL", replace(statSQL, statSQL+" AND unit_code = ${unit:singlequote}"),
			"target A SQL: variable ${unit:singlequote} is not defined"},
		{"variable in SQL without quotes", replace(statSQL, statSQL+" AND unit_code = '${region}'"),
			"target A SQL: variable ${region} is not quoted"},
		{"variable in SQL quoted by hand", replace(statSQL, statSQL+" AND unit_code = '$region'"),
			"target A SQL: variable $region is not quoted"},
		{"undefined variable as datasource", replace(`"id": 1, "type": "timeseries", "title": "Chart", "description": "A chart.",
      "datasource": {"type": "grafana-clickhouse-datasource", "uid": "${datasource}"}`,
			`"id": 1, "type": "timeseries", "title": "Chart", "description": "A chart.",
      "datasource": {"type": "grafana-clickhouse-datasource", "uid": "$ds"}`), "panel 1 datasource: variable $ds"},
		{"macro ClickHouse 18.16 cannot run", replace("toDateTime(day, 'Asia/Ho_Chi_Minh') AS time",
			"$__timeInterval(day) AS time"), "$__timeInterval may not be used"},
		{"macro wrong before 4.19", replace(`(effective_at <= $__toTime)`, `$__timeTo(effective_at)`), "$__timeTo may not be used"},
		{"unknown macro", replace(`(effective_at <= $__toTime)`, `(effective_at <= $__nowTime)`), "$__nowTime is not one"},
		{"macro that would swallow a call", replace(`(effective_at <= $__toTime)`, `effective_at <= $__toTime AND f(x) > 0`),
			"would take \"$__toTime AND f(x)\""},
		{"comma in a macro argument", replace(`$__dateFilter(day)`, `$__dateFilter(toDate(t, 'Asia/Ho_Chi_Minh'))`),
			"has 2"},
		{"time series without time column", replace(`AS time, sum`, `AS t, sum`), "without a column aliased time"},
		{"time series not ordered by time", replace(`ORDER BY time`, `ORDER BY day`), "not ordered by time"},
		{"time series without time filter", replace(` WHERE $__dateFilter(day)`, ``), "without a time filter"},
		{"format as a string", replace(`"format": 0`, `"format": "time_series"`), "format"},
		{"no pluginVersion", replace(`"pluginVersion": "4.20.0", "editorType": "sql", "queryType": "table"`,
			`"editorType": "sql", "queryType": "table"`), "pluginVersion"},
		{"unknown target field", replace(`"refId": "A",`, `"refId": "A", "hide": false,`), "hide"},
		{"format against queryType", replace(`"queryType": "table", "format": 1`, `"queryType": "table", "format": 0`),
			"format"},
		{"table without FINAL", replace(`FROM assistant_changes FINAL`, `FROM assistant_changes`), "without FINAL"},
		{"table without FINAL, the comment not saying why", replace(`FROM assistant_changes FINAL`, `FROM assistant_changes /* no FINAL */`),
			"without FINAL"},
		{"table with its database", replace(`FROM assistant_changes FINAL`, `FROM egov.assistant_changes FINAL`),
			"names its database"},
		{"toStartOfInterval", replace(`toDateTime(day, 'Asia/Ho_Chi_Minh') AS time`,
			`toStartOfInterval(toDateTime(day), INTERVAL 1 day) AS time`), "toStartOfInterval"},
		{"window function", replace(`sum(level4) AS n`, `sum(level4) OVER (ORDER BY day) AS n`), "window functions"},
		{"WITH FILL", replace(`ORDER BY time"`, `ORDER BY time WITH FILL"`), "WITH FILL"},
		{"DateTime64", replace(`toDateTime(day, 'Asia/Ho_Chi_Minh')`, `toDateTime64(day, 3)`), "DateTime64"},
		{"another datasource", replace(`"datasource": {"type": "grafana-clickhouse-datasource", "uid": "${datasource}"},
        "pluginVersion": "4.20.0", "editorType": "sql", "queryType": "table"`,
			`"datasource": {"type": "prometheus", "uid": "${datasource}"},
        "pluginVersion": "4.20.0", "editorType": "sql", "queryType": "table"`), "only ClickHouse targets"},
		{"not JSON", func(string) string { return "{" }, "not dashboard JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := check(tt.change(valid))
			if len(got) != 1 || !strings.Contains(got[0].String(), tt.want) {
				t.Errorf("problems:\n%s\nwant exactly one about %q", strings.Join(lines(got), "\n"), tt.want)
			}
		})
	}
}

func TestCheckFindsClashingUIDs(t *testing.T) {
	got := lint.Check(lint.Dashboard{Name: "a.json", JSON: []byte(valid)}, lint.Dashboard{Name: "b.json", JSON: []byte(valid)},
		lint.Dashboard{Name: "other.json", JSON: []byte(other)})
	if len(got) != 1 || !strings.Contains(got[0].String(), `b.json: dashboard: uid "egov-test" is also the uid of a.json`) {
		t.Errorf("problems: %v", lines(got))
	}
}

// A link to a dashboard that is not checked with it is reported: links are resolved among the dashboards checked.
func TestLinksAreResolvedAmongTheDashboardsChecked(t *testing.T) {
	got := lint.Check(lint.Dashboard{Name: "d.json", JSON: []byte(valid)})
	if len(got) != 2 {
		t.Fatalf("problems:\n%s\nwant the dashboard link and the data link", strings.Join(lines(got), "\n"))
	}
	for _, p := range got {
		if !strings.Contains(p.Message, `leads to dashboard uid "egov-other"`) {
			t.Errorf("problem %s, want one about the missing target", p)
		}
	}
}

func lines(ps []lint.Problem) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// The tables that must be read with FINAL are every ReplacingMergeTree of the projection schema, no more, no less.
func TestReplacingTablesMatchTheSchema(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "projector", "migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no schema files: %v", err)
	}
	table := regexp.MustCompile(`(?s)CREATE TABLE IF NOT EXISTS (\w+)\s*\(.*?\)\s*ENGINE\s*=\s*(\w+)`)
	var replacing []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range table.FindAllStringSubmatch(string(b), -1) {
			if m[2] == "ReplacingMergeTree" {
				replacing = append(replacing, m[1])
			}
		}
	}
	slices.Sort(replacing)
	got := slices.Sorted(slices.Values(lint.ReplacingTables))
	if !slices.Equal(got, replacing) {
		t.Errorf("lint.ReplacingTables = %v, the schema's ReplacingMergeTree tables are %v", got, replacing)
	}
}

// The shape every dashboard used before ClickHouse 20.3 made aliases compulsory is refused; the same join with
// aliases, ARRAY JOIN and a join of plain tables are not.
func TestUnaliasedJoins(t *testing.T) {
	tests := []struct {
		name, sql string
		want      []string // which sides are refused
	}{
		{"the old shape", "SELECT a FROM (SELECT 1 AS a) ANY LEFT JOIN (SELECT 1 AS a) USING a", []string{"left", "right"}},
		{"aliased", "SELECT a FROM (SELECT 1 AS a) AS l ANY LEFT JOIN (SELECT 1 AS a) AS r USING a", nil},
		{"aliased without AS", "SELECT a FROM (SELECT 1 AS a) l ALL INNER JOIN (SELECT 1 AS a) r ON l.a = r.a", nil},
		{"only the left", "SELECT a FROM (SELECT 1 AS a) LEFT JOIN (SELECT 1 AS a) AS r USING a", []string{"left"}},
		{"only the right, ON", "SELECT a FROM t AS l JOIN (SELECT 1 AS a) ON l.a = a", []string{"right"}},
		{"a table function", "SELECT a FROM t ANY LEFT JOIN numbers(10) USING number", []string{"right"}},
		{"global", "SELECT a FROM (SELECT 1 AS a) GLOBAL ANY LEFT JOIN t USING a", []string{"left"}},
		{"plain tables", "SELECT a FROM t FINAL ANY LEFT JOIN u USING a", nil},
		{"array join", "SELECT x FROM (SELECT [1, 2] AS xs) ARRAY JOIN xs AS x", nil},
		{"left array join", "SELECT x FROM (SELECT [1, 2] AS xs) LEFT ARRAY JOIN xs AS x", nil},
		{"words in comments and strings", "SELECT 'x) JOIN (y' AS s FROM t /* (a) JOIN (b) */ -- ) JOIN (\n", nil},
		{"nested, the inner join unaliased", "SELECT a FROM (SELECT a FROM (SELECT 1 AS a) ANY LEFT JOIN u USING a) AS l ANY LEFT JOIN u AS r USING a", []string{"left"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := lint.UnaliasedJoins(tt.sql)
			var sides []string
			for _, msg := range got {
				side, _, _ := strings.Cut(strings.TrimPrefix(msg, "the subquery "), " of JOIN")
				sides = append(sides, side)
			}
			if !slices.Equal(sides, tt.want) {
				t.Errorf("refused %q (%q), want %q", sides, got, tt.want)
			}
		})
	}
}
