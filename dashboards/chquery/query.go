// Package chquery is the query type of the Grafana ClickHouse datasource plugin (grafana-clickhouse-datasource, v4)
// for grafana-foundation-sdk, which has none: a raw-SQL target, its builder, its registration with the SDK's runtime
// so that dashboards can be decoded again, and the expansion of the plugin's macros so that tests can run the SQL.
package chquery

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
)

// PluginType is the plugin id, used as the datasource type of every target and as the variant's identifier.
const PluginType = "grafana-clickhouse-datasource"

// PluginVersion is the plugin version written into every target. The plugin rewrites ("migrates") a target that has
// no pluginVersion, so it must be there.
const PluginVersion = "4.20.0"

// EditorSQL is the only editor our targets use: raw SQL, not the plugin's query builder.
const EditorSQL = "sql"

// QueryType says how the plugin's frontend treats the result.
type QueryType string

const (
	TimeSeries QueryType = "timeseries"
	Table      QueryType = "table"
)

// Format says how the plugin's backend shapes the result. It is a number in the JSON: the plugin rewrites a target
// whose format is missing.
type Format int

const (
	FormatTimeSeries Format = 0
	FormatTable      Format = 1
)

// formatOf is the format the plugin itself pairs with each query type.
var formatOf = map[QueryType]Format{TimeSeries: FormatTimeSeries, Table: FormatTable}

// Query is one raw-SQL target of a ClickHouse panel, in the form the plugin saves it.
type Query struct {
	RefID         string               `json:"refId"`
	Datasource    common.DataSourceRef `json:"datasource"`
	PluginVersion string               `json:"pluginVersion"`
	EditorType    string               `json:"editorType"`
	RawSQL        string               `json:"rawSql"`
	QueryType     QueryType            `json:"queryType"`
	Format        Format               `json:"format"`
}

var _ variants.Dataquery = Query{}

// ImplementsDataqueryVariant marks Query as a panel target for the SDK.
func (Query) ImplementsDataqueryVariant() {}

// DataqueryType is the identifier the SDK's runtime finds the variant by: the datasource type.
func (Query) DataqueryType() string { return PluginType }

// Equals reports whether other is a Query with the same fields.
func (q Query) Equals(other variants.Dataquery) bool {
	o, ok := other.(Query)
	if !ok {
		return false
	}
	return q.RefID == o.RefID && q.Datasource.Equals(o.Datasource) && q.PluginVersion == o.PluginVersion &&
		q.EditorType == o.EditorType && q.RawSQL == o.RawSQL && q.QueryType == o.QueryType && q.Format == o.Format
}

// Validate returns cog.BuildErrors naming every field that the plugin would not run as written, or nil.
func (q Query) Validate() error {
	var errs cog.BuildErrors
	add := func(path, msg string) { errs = append(errs, &cog.BuildError{Path: path, Message: msg}) }
	if q.RefID == "" {
		add("refId", "is empty")
	}
	if q.Datasource.Type == nil || *q.Datasource.Type != PluginType {
		add("datasource.type", "must be "+PluginType)
	}
	if q.Datasource.Uid == nil || *q.Datasource.Uid == "" {
		add("datasource.uid", "is empty")
	}
	if q.PluginVersion == "" {
		add("pluginVersion", "is empty: the plugin would migrate the query")
	}
	if q.EditorType != EditorSQL {
		add("editorType", fmt.Sprintf("is %q, not %q", q.EditorType, EditorSQL))
	}
	if q.RawSQL == "" {
		add("rawSql", "is empty")
	}
	if want, ok := formatOf[q.QueryType]; !ok {
		add("queryType", fmt.Sprintf("is %q, not %q or %q", q.QueryType, TimeSeries, Table))
	} else if q.Format != want {
		add("format", fmt.Sprintf("is %d, but queryType %q needs %d", q.Format, q.QueryType, want))
	}
	if len(errs) == 0 {
		return nil // an untyped nil: a nil BuildErrors in an error is not == nil
	}
	return errs
}

// requiredFields are the keys a strictly decoded target must have.
var requiredFields = []string{"refId", "datasource", "pluginVersion", "editorType", "rawSql", "queryType", "format"}

// UnmarshalStrict decodes a target, failing on unknown fields, missing fields and wrong types (such as a format
// written as a string).
func UnmarshalStrict(raw []byte) (Query, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return Query{}, fmt.Errorf("clickhouse query: %w", err)
	}
	var errs []error
	for _, f := range requiredFields {
		if v, ok := fields[f]; !ok || string(v) == "null" {
			errs = append(errs, fmt.Errorf("clickhouse query: field %q is missing", f))
		}
	}
	if len(errs) > 0 {
		return Query{}, errors.Join(errs...)
	}
	var q Query
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields() // applies to the nested datasource too: DataSourceRef has no UnmarshalJSON of its own
	if err := dec.Decode(&q); err != nil {
		return Query{}, fmt.Errorf("clickhouse query: %w", err)
	}
	return q, nil
}

// VariantConfig tells the SDK's runtime how to decode targets whose datasource type is PluginType. Both unmarshalers
// are set: the runtime calls the strict one without checking it for nil.
func VariantConfig() variants.DataqueryConfig {
	return variants.DataqueryConfig{
		Identifier: PluginType,
		DataqueryUnmarshaler: func(raw []byte) (variants.Dataquery, error) {
			var q Query
			if err := json.Unmarshal(raw, &q); err != nil {
				return nil, fmt.Errorf("clickhouse query: %w", err)
			}
			return q, nil
		},
		StrictDataqueryUnmarshaler: func(raw []byte) (variants.Dataquery, error) {
			q, err := UnmarshalStrict(raw)
			if err != nil {
				return nil, err
			}
			return q, nil
		},
	}
}

// Register registers the variant with the SDK's process-wide runtime, so that dashboard.Dashboard's UnmarshalJSON
// and UnmarshalJSONStrict decode ClickHouse targets into Query instead of a map. Registering again is harmless.
func Register() {
	cog.NewRuntime().RegisterDataqueryVariant(VariantConfig())
}

// Ref is the datasource reference of a panel or target: the plugin type and a uid, which may be a variable such as
// "${datasource}".
func Ref(uid string) common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr(PluginType), Uid: cog.ToPtr(uid)}
}

// Builder builds a Query for the SDK's panel builders (WithTarget, Targets).
type Builder struct {
	q Query
}

var _ cog.Builder[variants.Dataquery] = (*Builder)(nil)

// NewBuilder starts a table query on the given datasource uid; set RefID and the SQL, and TimeSeries for a chart.
func NewBuilder(datasourceUID string) *Builder {
	return &Builder{q: Query{
		Datasource:    Ref(datasourceUID),
		PluginVersion: PluginVersion,
		EditorType:    EditorSQL,
		QueryType:     Table,
		Format:        FormatTable,
	}}
}

// RefID names the query within its panel ("A", "B", …).
func (b *Builder) RefID(id string) *Builder { b.q.RefID = id; return b }

// SQL sets the raw SQL, macros and variables included.
func (b *Builder) SQL(sql string) *Builder { b.q.RawSQL = sql; return b }

// TimeSeries makes the query a time series: its SQL must return a column aliased time, ordered by it.
func (b *Builder) TimeSeries() *Builder {
	b.q.QueryType, b.q.Format = TimeSeries, FormatTimeSeries
	return b
}

// Table makes the query a table (the default), which stat and table panels read.
func (b *Builder) Table() *Builder {
	b.q.QueryType, b.q.Format = Table, FormatTable
	return b
}

// Build returns the Query, or cog.BuildErrors when it is not valid: the SDK's panel builders type-assert the error of
// a target builder to cog.BuildErrors and panic on anything else.
func (b *Builder) Build() (variants.Dataquery, error) {
	if err := b.q.Validate(); err != nil {
		return nil, cog.MakeBuildErrors("clickhouse.query", err)
	}
	return b.q, nil
}
