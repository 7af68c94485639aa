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

// valid is a small dashboard without faults: a time series and a stat, both on ClickHouse through a variable.
const valid = `{
  "uid": "egov-test",
  "title": "Test",
  "templating": {"list": [{"name": "datasource", "type": "datasource"}]},
  "panels": [
    {
      "id": 1, "type": "timeseries", "title": "Chart", "description": "A chart.",
      "datasource": {"type": "grafana-clickhouse-datasource", "uid": "${datasource}"},
      "targets": [{
        "refId": "A",
        "datasource": {"type": "grafana-clickhouse-datasource", "uid": "${datasource}"},
        "pluginVersion": "4.20.0", "editorType": "sql", "queryType": "timeseries", "format": 0,
        "rawSql": "SELECT toDateTime(day, 'Asia/Ho_Chi_Minh') AS time, sum(level4) AS n FROM coverage_daily FINAL WHERE $__dateFilter(day) GROUP BY day ORDER BY time"
      }]
    },
    {
      "id": 2, "type": "stat", "title": "Number", "description": "A number.",
      "datasource": {"type": "grafana-clickhouse-datasource", "uid": "${datasource}"},
      "targets": [{
        "refId": "A",
        "datasource": {"type": "grafana-clickhouse-datasource", "uid": "${datasource}"},
        "pluginVersion": "4.20.0", "editorType": "sql", "queryType": "table", "format": 1,
        "rawSql": "SELECT count() FROM assistant_changes FINAL WHERE (effective_at <= $__toTime)"
      }]
    }
  ]
}`

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

func TestValidDashboardHasNoProblems(t *testing.T) {
	if got := lint.Check(lint.Dashboard{Name: "valid", JSON: []byte(valid)}); len(got) > 0 {
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
		{"panel without description", replace(`"description": "A number."`, `"description": ""`), "panel 2: no description"},
		{"panel id twice", replace(`"id": 2`, `"id": 1`), "panel id used twice"},
		{"variable defined twice", replace(`{"name": "datasource", "type": "datasource"}`,
			`{"name": "datasource", "type": "datasource"}, {"name": "datasource", "type": "custom"}`), "defined twice"},
		{"undefined variable in SQL", replace(statSQL, statSQL+" AND unit_code = ${unit:singlequote}"),
			"target A SQL: variable ${unit:singlequote} is not defined"},
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
			got := lint.Check(lint.Dashboard{Name: "d.json", JSON: []byte(tt.change(valid))})
			if len(got) != 1 || !strings.Contains(got[0].String(), tt.want) {
				t.Errorf("problems:\n%s\nwant exactly one about %q", strings.Join(lines(got), "\n"), tt.want)
			}
		})
	}
}

func TestCheckFindsClashingUIDs(t *testing.T) {
	got := lint.Check(lint.Dashboard{Name: "a.json", JSON: []byte(valid)}, lint.Dashboard{Name: "b.json", JSON: []byte(valid)})
	if len(got) != 1 || !strings.Contains(got[0].String(), `b.json: dashboard: uid "egov-test" is also the uid of a.json`) {
		t.Errorf("problems: %v", lines(got))
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
	files, err := filepath.Glob(filepath.Join("..", "..", "projector", "schema", "*.sql"))
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
