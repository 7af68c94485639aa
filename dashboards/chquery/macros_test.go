package chquery_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/dashboards/chquery"
)

// The request of the examples: 1 June 2021 00:00 to 15 January 2022 23:59:59 in Vietnam (UTC+7), as Grafana sends
// it for the national dashboard's default range.
var (
	vn      = time.FixedZone("ICT", 7*3600)
	request = chquery.Request{
		From:     time.Date(2021, 6, 1, 0, 0, 0, 0, vn),     // 1622480400
		To:       time.Date(2022, 1, 15, 23, 59, 59, 0, vn), // 1642265999
		Interval: 6 * time.Hour,
		Vars:     map[string]string{"datasource": "egov-clickhouse", "unit": "province/01", "name": "Bà Rịa's"},
	}
)

func TestExpand(t *testing.T) {
	tests := []struct {
		name, sql, want string
	}{
		{
			name: "timeFilter",
			sql:  "WHERE $__timeFilter(effective_at)",
			want: "WHERE effective_at >= toDateTime(1622480400) AND effective_at <= toDateTime(1642265999)",
		},
		{
			// The plugin's dates are those of its own zone (UTC): 1 June 00:00 in Vietnam is still 31 May there.
			name: "dateFilter in UTC days",
			sql:  "WHERE $__dateFilter(day)",
			want: "WHERE day >= toDate('2021-05-31') AND day <= toDate('2022-01-15')",
		},
		{
			name: "fromTime and toTime as arguments",
			sql:  "day >= toDate($__fromTime, 'Asia/Ho_Chi_Minh') AND day <= toDate($__toTime, 'Asia/Ho_Chi_Minh')",
			want: "day >= toDate(toDateTime(1622480400), 'Asia/Ho_Chi_Minh') AND day <= toDate(toDateTime(1642265999), 'Asia/Ho_Chi_Minh')",
		},
		{
			name: "toTime at the end",
			sql:  "WHERE t <= $__toTime",
			want: "WHERE t <= toDateTime(1642265999)",
		},
		{
			name: "interval_s",
			sql:  "intDiv(toUInt32(t), $__interval_s) * $__interval_s AS time FROM x)",
			want: "intDiv(toUInt32(t), 21600) * 21600 AS time FROM x)",
		},
		{
			name: "macro argument with parentheses",
			sql:  "WHERE $__timeFilter(toDateTime(day))",
			want: "WHERE toDateTime(day) >= toDateTime(1622480400) AND toDateTime(day) <= toDateTime(1642265999)",
		},
		{
			name: "variables",
			sql:  "uid = '$datasource' AND scope = ${unit:singlequote} AND name = ${name:sqlstring} AND raw = [[unit]] AND ${unit:raw}",
			want: `uid = 'egov-clickhouse' AND scope = 'province/01' AND name = 'Bà Rịa''s' AND raw = province/01 AND province/01`,
		},
		{
			name: "singlequote escapes with a backslash",
			sql:  "${name:singlequote}",
			want: `'Bà Rịa\'s'`,
		},
		{
			name: "Grafana's own variables",
			sql:  "$__from $__to ${__interval_ms}",
			want: "1622480400000 1642265999000 21600000",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chquery.Expand(tt.sql, request)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Expand(%q)\n got %q\nwant %q", tt.sql, got, tt.want)
			}
		})
	}
}

func TestExpandIntervalIsAtLeastOneSecond(t *testing.T) {
	r := request
	r.Interval = 10 * time.Millisecond
	got, err := chquery.Expand("$__interval_s)", r)
	if err != nil || got != "1)" {
		t.Errorf("Expand = %q, %v; want \"1)\"", got, err)
	}
}

func TestExpandFails(t *testing.T) {
	tests := []struct {
		name, sql, want string
	}{
		{"unknown variable", "WHERE scope = ${province}", "${province} has no value"},
		{"unknown format", "${unit:lucene}", "format"},
		{"macro ClickHouse 18.16 cannot run", "SELECT $__timeInterval(t) AS time", "$__timeInterval"},
		{"unknown macro", "WHERE $__timeFilterz(t)", "$__timeFilterz"},
		// The plugin would take " AND f(x)" as the arguments of $__toTime and drop it.
		{"argument-less macro followed by a call", "WHERE t <= $__toTime AND f(x) > 0", "$__toTime AND f(x)"},
		{"comma in an argument", "WHERE $__timeFilter(toDateTime(day, 'Asia/Ho_Chi_Minh'))", "2 arguments"},
		{"filter without its column", "WHERE $__timeFilter", "0 arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chquery.Expand(tt.sql, request)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Expand(%q) = %q, %v; want an error about %q", tt.sql, got, err, tt.want)
			}
		})
	}
}

func TestCalls(t *testing.T) {
	tests := []struct {
		sql  string
		want []chquery.Call
	}{
		{
			sql:  "toDate($__fromTime, 'Asia/Ho_Chi_Minh')",
			want: []chquery.Call{{Name: "fromTime", Text: "$__fromTime"}},
		},
		{
			sql:  "$__timeFilter( toDate(x) ) AND $__from",
			want: []chquery.Call{{Name: "timeFilter", Text: "$__timeFilter( toDate(x) )", Args: []string{"toDate(x)"}, HasArgs: true}},
		},
		{
			sql:  "$__toTime\nGROUP BY a, f(b)",
			want: []chquery.Call{{Name: "toTime", Text: "$__toTime\nGROUP BY a, f(b)", Args: []string{"b"}, HasArgs: true}},
		},
	}
	for _, tt := range tests {
		got := chquery.Calls(tt.sql)
		if !slices.EqualFunc(got, tt.want, func(a, b chquery.Call) bool {
			return a.Name == b.Name && a.Text == b.Text && slices.Equal(a.Args, b.Args) && a.HasArgs == b.HasArgs
		}) {
			t.Errorf("Calls(%q)\n got %+v\nwant %+v", tt.sql, got, tt.want)
		}
	}
}
