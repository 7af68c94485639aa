package board

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/table"
)

// League is the league table for the digital office and the EMC-style rankings: every ministry and province ranked
// by coverage, with its change over 30 days, its gap to the trajectory, its status and when it last reported. Each
// row opens the unit's dashboard.
func League() (dashboard.Dashboard, error) {
	return finish(newDashboard(LeagueUID,
		"Xếp hạng bộ, ngành, địa phương theo tỷ lệ dịch vụ công trực tuyến mức độ 4. Every ministry and province "+
			"ranked by level-4 coverage of its eligible procedures on the latest day within the time range.",
		"league").
		WithVariable(historyVariable()).
		WithPanel(leagueTable()).
		Build())
}

func leagueTable() *table.PanelBuilder {
	return dataTable(1, "Every ministry and province by level-4 coverage",
		"Ranked by coverage on the latest day within the time range (equal coverage, equal rank; units with nothing "+
			"eligible last). Change: percentage points since 30 days earlier. Gap: percentage points above (+) or below "+
			"(−) the unit's trajectory: its own target's when one is set for it, the national one otherwise (40% on 30 "+
			"June 2021 to 100% on 31 December 2021), drawn from the target-set events. Status: at 100%, on track (at or above the trajectory) or behind (below it). Last report: the unit's "+
			"latest report up to the end of the range. Click a unit to open its dashboard. Bảng xếp hạng.",
		leagueSQL).
		Height(30).
		OverrideByName("rank", column("#", "none")).
		OverrideByName("name", column("Bộ, ngành, địa phương / unit", "string", unitLink("ref"))).
		OverrideByName("kind", column("Kind", "string", mappingsProperty(kindLabels))).
		OverrideByName("ref", column("Code", "string")).
		OverrideByName("coverage", percent("Coverage")).
		OverrideByName("change_30d", points("Change, 30 days")).
		OverrideByName("trajectory", percent("Trajectory")).
		OverrideByName("gap", points("Gap to trajectory", signColours(), colouredText())).
		OverrideByName("status", column("Status", "string", mappingsProperty(statusLabels), colouredCells())).
		OverrideByName("eligible", column("Eligible", "none")).
		OverrideByName("level4", column("At level 4", "none")).
		OverrideByName("last_report", column("Last report", "dateTimeAsLocal"))
}

// signColours colours negative numbers red and the others green.
func signColours() dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: "thresholds", Value: map[string]any{
		"mode":  "absolute",
		"steps": []any{map[string]any{"color": "red", "value": nil}, map[string]any{"color": "green", "value": 0}},
	}}
}

// colouredText colours a table column's text by its thresholds or mappings.
func colouredText() dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: "custom.cellOptions", Value: map[string]any{"type": "color-text"}}
}

// leagueSQL: one row per unit with coverage on the latest day, ranked by coverage (competition ranking: equal
// coverage, equal rank; nothing eligible ranks last). Ranks come from the sorted array of every unit's coverage, as
// ClickHouse 18.16 has no window functions; the units' rows travel in an array of tuples beside it (a tuple, as
// groupArray skips NULLs), so that unitStatus is computed once.
var leagueSQL = `SELECT
    rank,
    name,
    kind,
    ref,
    unit_coverage AS coverage,
    unit_coverage - unit_coverage_before AS change_30d,
    trajectory,
    unit_coverage - trajectory AS gap,
    status,
    eligible_now AS eligible,
    level4_now AS level4,
    if(has_report = 0, NULL, latest_report) AS last_report
FROM
(
    SELECT
        ref,
        name,
        kind,
        unit_coverage,
        unit_coverage_before,
        trajectory,
        status,
        eligible_now,
        level4_now,
        rank
    FROM
    (
        SELECT
            tupleElement(unit, 1) AS ref,
            tupleElement(unit, 2) AS unit_coverage,
            tupleElement(unit, 3) AS unit_coverage_before,
            tupleElement(unit, 4) AS trajectory,
            tupleElement(unit, 5) AS status,
            tupleElement(unit, 6) AS eligible_now,
            tupleElement(unit, 7) AS level4_now,
            indexOf(ranked, ifNull(unit_coverage, -1)) AS rank
        FROM
        (
            SELECT
                groupArray((ref, unit_coverage, unit_coverage_before, trajectory, status, eligible_now, level4_now)) AS unit_rows,
                arrayReverseSort(groupArray(ifNull(unit_coverage, -1))) AS ranked
            FROM ` + unitStatus + `
        )
        ARRAY JOIN unit_rows AS unit
    ) AS ranked_units
    ANY LEFT JOIN
    ` + UnitNames + ` AS names USING ref
) AS named_units
ANY LEFT JOIN
` + lastReports + ` AS last_reports USING ref
ORDER BY rank, name, ref`
