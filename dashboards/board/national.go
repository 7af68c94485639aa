package board

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/egovtrack/egovtrack/dashboards/chquery"
)

// National is the national overview for the digital office and the minister's briefing: are we on track for 100% by
// 31 December, how many units are done, on track or behind, when 100% comes at the current pace, ministries against
// provinces, and the virtual assistants live.
func National() (dashboard.Dashboard, error) {
	return finish(newDashboard(NationalUID,
		"Tổng quan toàn quốc: tỷ lệ dịch vụ công trực tuyến mức độ 4 và trợ lý ảo. "+
			"Level-4 coverage of eligible online public services and virtual assistants, all ministries and provinces.",
		"national").
		WithVariable(historyVariable()).
		WithPanel(coverageNow()).
		WithPanel(count(2, "Units at 100%", "Ministries and provinces whose every eligible procedure is at level 4, "+
			"on the latest day within the time range. Số bộ, ngành, địa phương đạt 100% thủ tục đủ điều kiện ở mức độ 4.",
			countStatus(statusFull)).Span(4)).
		WithPanel(count(3, "Units on track", "Ministries and provinces below 100% whose coverage is at or above the "+
			"trajectory on the latest day within the time range. The trajectory is drawn from the target-set events: "+
			"the latest national level-4 coverage target, a straight line from its baseline (40% on 30 June 2021) to its "+
			"goal (100% on 31 December 2021); a unit with a target of its own is held to that one instead. Đơn vị đúng lộ trình.",
			countStatus(statusOnTrack)).Span(4).
			Thresholds(thresholds(step("blue", nil)))).
		WithPanel(count(4, "Units behind", "Ministries and provinces whose coverage is below the trajectory on the "+
			"latest day within the time range: the national target's straight line from its baseline to its goal "+
			"(from the target-set events). Units at 100% are never behind. Đơn vị chậm so với lộ trình.",
			countStatus(statusBehind)).Span(4).
			Thresholds(thresholds(step("green", nil), step("red", cog.ToPtr(1.0))))).
		WithPanel(word(5, "100% at the pace of the last 30 days",
			"The day national coverage would reach 100% if it kept rising as fast as over the 30 days up to the "+
				"latest day within the time range: (100% − coverage) ÷ (its rise over those 30 days ÷ 30), rounded up "+
				"to whole days. Ngày đạt 100% nếu giữ tốc độ 30 ngày gần nhất. The table \"How the 100% date is worked "+
				"out\" shows the numbers.",
			ForecastSQL, "forecast", valueMappings(forecastLabels)).Span(4)).
		WithPanel(count(6, "Virtual assistant live", "Ministries and provinces whose virtual assistant for civil "+
			"servants is in operation at the end of the time range. Số bộ, ngành, địa phương đã đưa trợ lý ảo vào vận hành.",
			assistantLiveSQL).Span(4)).
		WithPanel(coverageChart(7, "Coverage against the 40% → 100% trajectory",
			"National level-4 coverage of eligible procedures per Vietnamese day, and the trajectory of the target in "+
				"force: a straight line from its baseline to its goal by its deadline. Tỷ lệ mức độ 4 toàn quốc theo ngày "+
				"so với lộ trình mục tiêu (40% giữa năm 2021 → 100% cuối năm 2021).",
			coverageSeries(allUnits, "'national'"))).
		WithPanel(coverageDays(8, "Show the data: national coverage per day",
			"The numbers behind the chart, latest day first: eligible procedures, those at level 4, coverage and the "+
				"trajectory. Số liệu theo ngày: thủ tục đủ điều kiện, thủ tục mức độ 4, tỷ lệ và lộ trình.",
			coverageTable(allUnits, "'national'")).Span(14)).
		WithPanel(forecastTable()).
		WithPanel(kindsChart()).
		WithPanel(kindsTable()).
		Build())
}

func coverageNow() *stat.PanelBuilder {
	return bigNumber(1, "Level-4 coverage now",
		"Share of eligible procedures that are at level 4, all ministries and provinces, on the latest day within "+
			"the time range. Tỷ lệ thủ tục đủ điều kiện đã cung cấp trực tuyến mức độ 4, toàn quốc, ngày gần nhất.",
		coverageNowSQL).
		Span(4).
		Unit("percent").
		Decimals(1).
		Min(0).
		Max(100).
		Thresholds(thresholds(step("red", nil), step("orange", cog.ToPtr(40.0)), step("green", cog.ToPtr(100.0))))
}

const (
	coverageName   = "Level-4 coverage"
	trajectoryName = "Trajectory to the target"
)

// coverageChart is a chart of a coverage series (see coverageSeries): coverage against the trajectory.
func coverageChart(id uint32, title, description, sql string) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Id(id).
		Title(title).
		Description(description).
		Datasource(chquery.Ref(datasourceRef)).
		WithTarget(query("A", sql).TimeSeries()).
		Height(10).
		Span(24).
		Unit("percent").
		Decimals(1).
		Min(0).
		Max(100).
		LineWidth(2).
		FillOpacity(0).
		ShowPoints(common.VisibilityModeNever).
		SpanNulls(common.BoolOrFloat64{Bool: cog.ToPtr(false)}).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderNone)).
		OverrideByName("coverage", []dashboard.DynamicConfigValue{displayName(coverageName)}).
		OverrideByName("trajectory", []dashboard.DynamicConfigValue{
			displayName(trajectoryName),
			{Id: "custom.lineStyle", Value: map[string]any{"dash": []any{10, 10}, "fill": "dash"}},
		})
}

// coverageDays is the table of a coverage table query (see coverageTable).
func coverageDays(id uint32, title, description, sql string) *table.PanelBuilder {
	return dataTable(id, title, description, sql).
		OverrideByName("date", column("Day (Vietnam)", "string")).
		OverrideByName("eligible", column("Eligible procedures", "none")).
		OverrideByName("level4", column("At level 4", "none")).
		OverrideByName("coverage", percent(coverageName+" %")).
		OverrideByName("trajectory", percent(trajectoryName+" %"))
}

// forecastLabels translate the forecast's codes; a date shows as it is.
var forecastLabels = []label{
	{"reached", "Đã đạt 100% / reached", "green"},
	{"no_history", "Chưa đủ 30 ngày số liệu / less than 30 days of data", "text"},
	{"stalled", "Không tăng / not rising", "red"},
	{"beyond", "Sau hơn 10 năm / more than 10 years", "red"},
	{"overflow", "Quá lớn để tính / too many procedures to work out", "text"},
}

func forecastTable() *table.PanelBuilder {
	return dataTable(9, "How the 100% date is worked out",
		"National coverage on the latest day within the time range and 30 days earlier, the pace between them in "+
			"percentage points a day, the days still needed at that pace and the day 100% would be reached. Cách tính "+
			"ngày đạt 100%.",
		ForecastSQL).
		Span(10).
		OverrideByName("day", column("Latest day", "string")).
		OverrideByName("coverage", percent("Coverage then")).
		OverrideByName("day_before", column("30 days earlier", "string")).
		OverrideByName("coverage_before", percent("Coverage 30 days earlier")).
		OverrideByName("pace", column("Pace", "suffix: pp/day", decimals(2))).
		OverrideByName("days_to_full", column("Days to 100% at that pace", "d")).
		OverrideByName("forecast", column("100% reached on", "string", mappingsProperty(forecastLabels)))
}

func kindsChart() *timeseries.PanelBuilder {
	return coverageChart(10, "Ministries and provinces side by side",
		"Level-4 coverage of eligible procedures per Vietnamese day, of the ministries and ministerial-level "+
			"agencies together and of the provinces and centrally-run cities together, against the national "+
			"trajectory. Tỷ lệ mức độ 4 của khối bộ, ngành và khối địa phương.",
		kindsSeriesSQL).
		Span(14).
		OverrideByName("ministries", []dashboard.DynamicConfigValue{displayName("Bộ, ngành / ministries")}).
		OverrideByName("provinces", []dashboard.DynamicConfigValue{displayName("Tỉnh, thành phố / provinces")})
}

func kindsTable() *table.PanelBuilder {
	return dataTable(11, "Show the data: ministries and provinces",
		"Ministries and provinces on the latest day within the time range: units, eligible procedures, those at level "+
			"4, coverage, and how many units are at 100%, on track or behind their trajectory (their own target's, or the "+
			"national one). Số liệu khối bộ, "+
			"ngành và khối địa phương.",
		kindsTableSQL).
		Span(10).
		OverrideByName("kind", column("", "string", mappingsProperty(kindLabels))).
		OverrideByName("units", column("Units", "none")).
		OverrideByName("eligible", column("Eligible", "none")).
		OverrideByName("level4", column("At level 4", "none")).
		OverrideByName("coverage", percent("Coverage")).
		OverrideByName("at_full", column("At 100%", "none")).
		OverrideByName("on_track", column("On track", "none")).
		OverrideByName("behind", column("Behind", "none"))
}

// coverageNowSQL: the national share of eligible procedures at level 4 on the latest day, in percent. No row (so
// "no data") when nothing in the range is eligible.
var coverageNowSQL = `SELECT 100 * sum(share_level4) / sum(share_eligible) AS coverage
FROM ` + coverageRows(AsWasSQL, "day IN "+latestDay) + ` AS coverage
HAVING sum(share_eligible) > 0`

// countStatus counts the units with a status on the latest day (see unitStatus).
func countStatus(status string) string {
	return `SELECT countIf(status = '` + status + `') AS units
FROM ` + unitStatus
}

// assistantLiveSQL: the units whose virtual assistant is live at the end of the time range.
const assistantLiveSQL = `SELECT countIf(current_stage = 'live') AS units
FROM ` + stageNow

// ForecastSQL is when national coverage reaches 100% at the pace of the paceDays days up to the latest day (the
// deadline alert rule, dashboards/alert, reads it too): the coverage then and paceDays earlier and the pace in
// percentage points a day (figures to read), the whole days still needed (0 once reached), and forecast, the day as
// YYYY-MM-DD or a code: reached (already at 100%), no_history (no coverage paceDays earlier, or nothing eligible
// then), stalled (not rising), beyond (more than ten years away), overflow (counts too large to work out exactly). No
// forecast when nothing is eligible; no row when the range has no coverage.
//
// The days are worked out from the counts in integers, not from the percentages shown: with E and L the eligible
// procedures and those at level 4, now (1) and paceDays earlier (0), coverage rose by L1/E1 − L0/E0 in paceDays days
// and lacks 1 − L1/E1, so days = ceil(paceDays·(E1−L1)·E0 / (L1·E0 − L0·E1)). In floating point a whole answer comes
// out a hair above itself (150.00000000000006) and rounds up to a day late. The products fit in Int64 while neither E
// exceeds maxExact (30·(5·10⁸)² < 2⁶³); ClickHouse 18.16 evaluates both branches of if(), so the divisor is kept at 1
// or more where it is not used.
var ForecastSQL = `SELECT
    toString(latest) AS day,
    coverage_now AS coverage,
    toString(latest - ` + paceDays + `) AS day_before,
    coverage_before,
    pace,
    days_to_full,
    multiIf(
        eligible_now = 0, NULL,
        level4_now >= eligible_now, 'reached',
        has_before = 0, 'no_history',
        gain <= 0, 'stalled',
        exact = 0, 'overflow',
        days_to_full > 3650, 'beyond',
        toString(latest + days_to_full)) AS forecast
FROM
(
    SELECT
        latest,
        coverage_now,
        eligible_now,
        level4_now,
        has_before,
        if(has_before = 0, NULL, share_before) AS coverage_before,
        if(has_before = 0, NULL, (coverage_now - share_before) / ` + paceDays + `) AS pace,
        toInt64(level4_now) * toInt64(eligible_before) - toInt64(level4_before) * toInt64(eligible_now) AS gain,
        greatest(eligible_now, eligible_before) <= ` + maxExact + ` AS exact,
        ` + paceDays + ` * (toInt64(eligible_now) - toInt64(level4_now)) * toInt64(eligible_before) AS lacking,
        multiIf(
            eligible_now > 0 AND level4_now >= eligible_now, 0,
            has_before = 0 OR gain <= 0 OR exact = 0, NULL,
            intDiv(lacking, greatest(gain, 1)) + (lacking % greatest(gain, 1) > 0)) AS days_to_full
    FROM
    (
        SELECT
            max(day) AS latest,
            argMax(day_eligible, day) AS eligible_now,
            argMax(day_level4, day) AS level4_now,
            argMin(day_eligible, day) AS eligible_before,
            argMin(day_level4, day) AS level4_before,
            ` + shareOf("level4_now", "eligible_now") + ` AS coverage_now,
            ` + shareOf("level4_before", "eligible_before") + ` AS share_before,
            min(day) < max(day) AND eligible_before > 0 AS has_before
        FROM
        (
            SELECT
                day,
                sum(unit_eligible) AS day_eligible,
                sum(unit_level4) AS day_level4
            FROM
            (
                SELECT
                    day,
                    share_eligible AS unit_eligible,
                    share_level4 AS unit_level4
                FROM ` + coverageRows(AsWasSQL, "day IN "+latestDays) + ` AS coverage
            )
            GROUP BY day
        )
        HAVING count() > 0
    )
)`

// maxExact is the most eligible procedures for which ForecastSQL works out the days in Int64 (see there): about three
// thousand times the 170,000 procedures of all ministries and provinces at national scale.
const maxExact = "500000000"

// kindsSeriesSQL: coverage of the ministries and of the provinces per Vietnamese day, and the trajectory.
var kindsSeriesSQL = `SELECT
    toDateTime(day, 'Asia/Ho_Chi_Minh') AS time,
    ` + shareOf("m_level4", "m_eligible") + ` AS ministries,
    ` + shareOf("p_level4", "p_eligible") + ` AS provinces,
    ` + TrajectoryOn("day") + ` AS trajectory
FROM
(
    SELECT
        day,
        'national' AS scope,
        sumIf(share_eligible, unit_kind = 'ministry') AS m_eligible,
        sumIf(share_level4, unit_kind = 'ministry') AS m_level4,
        sumIf(share_eligible, unit_kind = 'province') AS p_eligible,
        sumIf(share_level4, unit_kind = 'province') AS p_level4
    FROM ` + coverageRows(AsWasSQL, vnDays) + ` AS coverage
    GROUP BY day
) AS days
ANY LEFT JOIN
` + NationalTarget + ` AS target USING scope
ORDER BY time`

// kindsTableSQL: the ministries and the provinces on the latest day, with their units' statuses counted.
var kindsTableSQL = `SELECT
    unit_kind AS kind,
    count() AS units,
    sum(eligible_now) AS eligible,
    sum(level4_now) AS level4,
    ` + shareOf("sum(level4_now)", "sum(eligible_now)") + ` AS coverage,
    countIf(status = '` + statusFull + `') AS at_full,
    countIf(status = '` + statusOnTrack + `') AS on_track,
    countIf(status = '` + statusBehind + `') AS behind
FROM ` + unitStatus + `
GROUP BY unit_kind
ORDER BY kind`
