package provision_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/geomap"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/egovtrack/egovtrack/dashboards/chquery"
)

// The strict decoding of grafana-foundation-sdk v0.0.22 loses values. Its UnmarshalJSONStrict methods return their
// cog.BuildErrors as an error even when there are none (a typed nil, never == nil), and some callers throw the value
// away on any non-nil error:
//   - PanelOrRowPanel.UnmarshalJSONStrict returns before keeping the panel, so Dashboard.UnmarshalJSONStrict yields
//     every panel as null;
//   - the panel variants' strict options and field config unmarshalers return nil, so panel options vanish and the
//     custom field config stays an untyped map.
//
// The errors themselves still surface (cog.MakeBuildErrors flattens an empty list to nothing), so decodeStrict lets
// the SDK check the whole dashboard, then decodes each panel again itself, with fixed variants for the panel types
// our dashboards use.

// panelTypes are the panel types whose strict decoding is fixed here; a dashboard with another type fails the test
// until it is added.
var panelTypes = map[string]bool{}

// registerStrict registers the SDK's panel variants, the fixed ones for the panel types our dashboards use, and our
// query.
func registerStrict() {
	plugins.RegisterDefaultPlugins()
	chquery.Register()
	rt := cog.NewRuntime()
	for _, cfg := range []variants.PanelcfgConfig{
		fixed(stat.VariantConfig(), keeping[stat.Options](), nil),
		fixed(timeseries.VariantConfig(), keeping[timeseries.Options](), keeping[timeseries.FieldConfig]()),
		fixed(table.VariantConfig(), keeping[table.Options](), keeping[table.FieldConfig]()),
		fixed(statetimeline.VariantConfig(), keeping[statetimeline.Options](), keeping[statetimeline.FieldConfig]()),
		fixed(geomap.VariantConfig(), keeping[geomap.Options](), nil), // geomap has no custom field config
	} {
		rt.RegisterPanelcfgVariant(cfg)
		panelTypes[cfg.Identifier] = true
	}
}

func fixed(cfg variants.PanelcfgConfig, options, fieldConfig func([]byte) (any, error)) variants.PanelcfgConfig {
	cfg.StrictOptionsUnmarshaler = options
	if fieldConfig != nil {
		cfg.StrictFieldConfigUnmarshaler = fieldConfig
	}
	return cfg
}

// keeping is a strict unmarshaler for *T that keeps the value when the error list is empty.
func keeping[T any, P interface {
	*T
	UnmarshalJSONStrict([]byte) error
}]() func([]byte) (any, error) {
	return func(raw []byte) (any, error) {
		v := P(new(T))
		if err := realError(v.UnmarshalJSONStrict(raw)); err != nil {
			return nil, err
		}
		return v, nil
	}
}

// realError turns an empty cog.BuildErrors into nil.
func realError(err error) error {
	var errs cog.BuildErrors
	if errors.As(err, &errs) && len(errs) == 0 {
		return nil
	}
	return err
}

// decodeStrict decodes a dashboard, failing on any unknown field, missing required field or wrong type, at every
// level the SDK knows (panel options and ClickHouse targets included).
func decodeStrict(data []byte) (dashboard.Dashboard, error) {
	var d dashboard.Dashboard
	if err := realError(d.UnmarshalJSONStrict(data)); err != nil {
		return d, err
	}
	var raw struct {
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return d, err
	}
	d.Panels = nil
	for i, rawPanel := range raw.Panels {
		var head struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(rawPanel, &head); err != nil {
			return d, err
		}
		if !panelTypes[head.Type] {
			return d, fmt.Errorf("panels[%d]: no strict decoding for panel type %q: add it to registerStrict", i, head.Type)
		}
		var p dashboard.Panel
		if err := realError(p.UnmarshalJSONStrict(rawPanel)); err != nil {
			return d, fmt.Errorf("panels[%d]: %w", i, err)
		}
		d.Panels = append(d.Panels, dashboard.PanelOrRowPanel{Panel: &p})
	}
	return d, nil
}
