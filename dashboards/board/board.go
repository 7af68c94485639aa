// Package board holds egovtrack's Grafana dashboards, built with grafana-foundation-sdk, and the SQL of their panels.
// Every panel reads ClickHouse through the grafana-clickhouse-datasource plugin (see chquery), chosen by the
// dashboard variable DatasourceVar, which starts on the datasource that deploy/grafana provisions.
package board

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

const (
	// DatasourceUID is the uid of the provisioned ClickHouse datasource.
	DatasourceUID = "egov-clickhouse"
	// DatasourceName is its name in Grafana.
	DatasourceName = "ClickHouse (egov)"
	// DatasourceVar is the dashboard variable that picks the datasource; panels use it as "${datasource}".
	DatasourceVar = "datasource"
)

// All builds every dashboard, in a fixed order.
func All() ([]dashboard.Dashboard, error) {
	builds := []func() (dashboard.Dashboard, error){National}
	out := make([]dashboard.Dashboard, 0, len(builds))
	for _, build := range builds {
		d, err := build()
		if err != nil {
			return nil, fmt.Errorf("build dashboard: %w", err)
		}
		out = append(out, d)
	}
	return out, nil
}
