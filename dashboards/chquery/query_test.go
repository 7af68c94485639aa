package chquery_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/stat"

	"github.com/egovtrack/egovtrack/dashboards/chquery"
	_ "github.com/egovtrack/egovtrack/dashboards/internal/golden" // accepts -update
)

func TestBuilderWritesThePluginsRawSQLTarget(t *testing.T) {
	tests := []struct {
		name    string
		builder *chquery.Builder
		want    string
	}{
		{
			name:    "table",
			builder: chquery.NewBuilder("${datasource}").RefID("A").SQL("SELECT 1"),
			want: `{"refId":"A","datasource":{"type":"grafana-clickhouse-datasource","uid":"${datasource}"},` +
				`"pluginVersion":"4.20.0","editorType":"sql","rawSql":"SELECT 1","queryType":"table","format":1}`,
		},
		{
			name:    "time series",
			builder: chquery.NewBuilder("egov-clickhouse").RefID("B").SQL("SELECT 1 AS time").TimeSeries(),
			want: `{"refId":"B","datasource":{"type":"grafana-clickhouse-datasource","uid":"egov-clickhouse"},` +
				`"pluginVersion":"4.20.0","editorType":"sql","rawSql":"SELECT 1 AS time","queryType":"timeseries","format":0}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := tt.builder.Build()
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(q)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("JSON\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestBuildErrorsAreBuildErrors(t *testing.T) {
	tests := []struct {
		name    string
		builder *chquery.Builder
		path    string
	}{
		{"no refId", chquery.NewBuilder("ds").SQL("SELECT 1"), "clickhouse.query.refId"},
		{"no SQL", chquery.NewBuilder("ds").RefID("A"), "clickhouse.query.rawSql"},
		{"no datasource", chquery.NewBuilder("").RefID("A").SQL("SELECT 1"), "clickhouse.query.datasource.uid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.builder.Build()
			var errs cog.BuildErrors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Fatalf("Build() error = %#v, want one cog.BuildErrors", err)
			}
			if errs[0].Path != tt.path {
				t.Errorf("path %q, want %q", errs[0].Path, tt.path)
			}
		})
	}

	// The SDK's panel builders type-assert a target's error to cog.BuildErrors: no panic, the panel fails to build.
	_, err := stat.NewPanelBuilder().WithTarget(chquery.NewBuilder("ds").RefID("A")).Build()
	if err == nil || !strings.Contains(err.Error(), "rawSql") {
		t.Errorf("panel Build() error = %v, want the target's", err)
	}
}

func TestValidate(t *testing.T) {
	valid, err := chquery.NewBuilder("ds").RefID("A").SQL("SELECT 1").Build()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(*chquery.Query)
		want   string // in the error; "" for valid
	}{
		{"valid", func(*chquery.Query) {}, ""},
		{"format does not match", func(q *chquery.Query) { q.Format = chquery.FormatTimeSeries }, "format"},
		{"logs", func(q *chquery.Query) { q.QueryType, q.Format = "logs", 2 }, "queryType"},
		{"builder editor", func(q *chquery.Query) { q.EditorType = "builder" }, "editorType"},
		{"no plugin version", func(q *chquery.Query) { q.PluginVersion = "" }, "pluginVersion"},
		{"other plugin", func(q *chquery.Query) { q.Datasource = chquery.Ref("ds"); *q.Datasource.Type = "mysql" }, "datasource.type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := valid.(chquery.Query)
			q.Datasource = chquery.Ref("ds")
			tt.change(&q)
			err := q.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error about %s", err, tt.want)
			}
		})
	}
}

func TestUnmarshalers(t *testing.T) {
	const valid = `{"refId":"A","datasource":{"type":"grafana-clickhouse-datasource","uid":"x"},` +
		`"pluginVersion":"4.20.0","editorType":"sql","rawSql":"SELECT 1","queryType":"table","format":1}`
	tests := []struct {
		name       string
		json       string
		strictErr  string // "" when the strict unmarshaler accepts it
		lenientErr bool
	}{
		{name: "valid", json: valid},
		{name: "unknown field", json: strings.Replace(valid, `"refId"`, `"hide":false,"refId"`, 1), strictErr: "hide"},
		{name: "unknown datasource field", json: strings.Replace(valid, `"uid":"x"`, `"uid":"x","name":"y"`, 1), strictErr: "name"},
		{name: "format as a string", json: strings.Replace(valid, `"format":1`, `"format":"table"`, 1), strictErr: "format", lenientErr: true},
		{name: "no format", json: strings.Replace(valid, `,"format":1`, ``, 1), strictErr: "format"},
		{name: "no pluginVersion", json: strings.Replace(valid, `"pluginVersion":"4.20.0",`, ``, 1), strictErr: "pluginVersion"},
		{name: "not an object", json: `[]`, strictErr: "cannot unmarshal", lenientErr: true},
	}
	cfg := chquery.VariantConfig()
	if cfg.Identifier != chquery.PluginType || cfg.DataqueryUnmarshaler == nil || cfg.StrictDataqueryUnmarshaler == nil {
		t.Fatalf("VariantConfig() = %+v: want the plugin type and both unmarshalers", cfg)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := cfg.StrictDataqueryUnmarshaler([]byte(tt.json))
			switch {
			case tt.strictErr == "" && err != nil:
				t.Errorf("strict: %v", err)
			case tt.strictErr == "" && q.(chquery.Query).RawSQL != "SELECT 1":
				t.Errorf("strict: decoded %+v", q)
			case tt.strictErr != "" && (err == nil || !strings.Contains(err.Error(), tt.strictErr)):
				t.Errorf("strict: error %v, want one about %s", err, tt.strictErr)
			}
			if _, err := cfg.DataqueryUnmarshaler([]byte(tt.json)); (err != nil) != tt.lenientErr {
				t.Errorf("lenient: error %v, want an error: %v", err, tt.lenientErr)
			}
		})
	}
}

func TestEquals(t *testing.T) {
	a, _ := chquery.NewBuilder("ds").RefID("A").SQL("SELECT 1").Build()
	b, _ := chquery.NewBuilder("ds").RefID("A").SQL("SELECT 1").Build()
	c, _ := chquery.NewBuilder("ds").RefID("A").SQL("SELECT 2").Build()
	if !a.Equals(b) || a.Equals(c) || a.Equals(nil) {
		t.Errorf("Equals: a==b %v, a==c %v, a==nil %v", a.Equals(b), a.Equals(c), a.Equals(nil))
	}
}
