package board

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"

	"github.com/egovtrack/egovtrack/dashboards/chquery"
)

// UnitVar is the unit dashboard's variable: a unit's reference, "province/01".
const UnitVar = "unit"

// DefaultUnit is the unit the unit dashboard opens on: Hà Nội.
const DefaultUnit, defaultUnitName = "province/01", "Hà Nội"

// Unit is one ministry's or province's dashboard, for its officer and for the digital office's follow-up: its
// coverage against the trajectory, what is left to do by sector, and what changed lately.
func Unit() (dashboard.Dashboard, error) {
	return finish(newDashboard(UnitUID,
		"Một bộ, ngành hoặc địa phương: tỷ lệ mức độ 4 so với lộ trình, thủ tục chưa đạt mức độ 4, thay đổi gần đây. "+
			"One ministry or province: its level-4 coverage against the trajectory, what is left to do, what changed.",
		"unit").
		WithVariable(historyVariable()).
		WithVariable(unitVariable()).
		WithPanel(unitNumber(1, "Level-4 coverage now",
			"Share of the unit's eligible procedures at level 4 on the latest day within the time range. Tỷ lệ thủ tục "+
				"đủ điều kiện ở mức độ 4.",
			"coverage").
			Unit("percent").Decimals(1).Min(0).Max(100).
			Thresholds(thresholds(step("red", nil), step("orange", cog.ToPtr(40.0)), step("green", cog.ToPtr(100.0))))).
		WithPanel(unitNumber(2, "Left to do",
			"Eligible procedures of the unit not yet at level 4 on the latest day within the time range: the table "+
				"\"Procedures not yet at level 4\" lists them. Số thủ tục đủ điều kiện chưa đạt mức độ 4.",
			"left_to_do").
			Unit("none").Decimals(0).
			Thresholds(thresholds(step("green", nil), step("orange", cog.ToPtr(1.0))))).
		WithPanel(unitNumber(3, "Gap to trajectory",
			"Percentage points above (+) or below (−) the unit's trajectory on the latest day within the time "+
				"range: its own target's when one is set for it, the national one otherwise (40% on 30 June 2021 to 100% "+
				"on 31 December 2021), drawn from the target-set events. Chênh lệch so với lộ trình (điểm phần trăm).",
			"gap").
			Unit("suffix: pp").Decimals(1).
			Thresholds(thresholds(step("red", nil), step("green", cog.ToPtr(0.0))))).
		WithPanel(word(4, "Status",
			"At 100%, on track (below 100%, at or above the trajectory) or behind (below the trajectory), on the latest "+
				"day within the time range. Trạng thái so với lộ trình.",
			unitNowSQL, "status", valueMappings(statusLabels))).
		WithPanel(word(5, "Virtual assistant",
			"The stage of the unit's virtual assistant for civil servants at the end of the time range. Giai đoạn "+
				"triển khai trợ lý ảo.",
			unitAboutSQL, "stage", valueMappings(stageNameLabels))).
		WithPanel(word(6, "Last report",
			"When the unit last reported (Vietnam time), up to the end of the time range; the Reporting health "+
				"dashboard compares it with the unit's expected cadence. Lần báo cáo gần nhất.",
			unitAboutSQL, "last_report", valueMappings([]label{{"never", "Chưa báo cáo / never", "red"}}))).
		WithPanel(coverageChart(7, "Coverage against the trajectory",
			"The unit's level-4 coverage of eligible procedures per Vietnamese day, and the trajectory it is held "+
				"to: its own target's when one is set for it, the national one otherwise. Tỷ lệ mức độ 4 của đơn vị theo ngày so với lộ trình.",
			coverageSeries(unitFilter, ScopeOf(unitRef)))).
		WithPanel(coverageDays(8, "Show the data: the unit's coverage per day",
			"The numbers behind the chart, latest day first. Số liệu theo ngày.",
			coverageTable(unitFilter, ScopeOf(unitRef)))).
		WithPanel(dataTable(9, "Not yet at level 4, by sector",
			"The unit's eligible procedures at the end of the time range, by sector: how many, how many at level 4, how "+
				"many not yet, most left to do first. Thủ tục đủ điều kiện chưa đạt mức độ 4 theo lĩnh vực.",
			sectorsSQL).
			Span(10).
			OverrideByName("sector", column("Lĩnh vực / sector", "string")).
			OverrideByName("procedures", column("Eligible", "none")).
			OverrideByName("at_level4", column("At level 4", "none")).
			OverrideByName("not_yet", column("Not yet", "none")).
			OverrideByName("coverage", percent("Coverage"))).
		WithPanel(dataTable(10, "Procedures not yet at level 4",
			"Every eligible procedure of the unit below level 4 at the end of the time range, by sector, with its "+
				"level and when it last changed. Danh sách thủ tục chưa đạt mức độ 4.",
			openProceduresSQL).
			Span(14).
			OverrideByName("sector", column("Lĩnh vực / sector", "string")).
			OverrideByName("code", column("Mã TTHC / code", "string")).
			OverrideByName("name", column("Thủ tục / procedure", "string")).
			OverrideByName("level", column("Level", "none")).
			OverrideByName("since", column("Last change", "dateTimeAsLocal"))).
		WithPanel(dataTable(12, "Formed from, merged into",
			"The reorganisations of the unit (2025: 63 provinces into 34, 22 ministries into 17): the day it was formed "+
				"and the units it was formed from, by their names before (itself among them when it kept its code), and the "+
				"day it was merged into another unit. As it is, its lines before it was formed add up those units'. "+
				"Sáp nhập: hình thành từ, sáp nhập vào.",
			formedFromSQL).
			Span(24).
			Height(5).
			OverrideByName("day", column("Từ ngày / from", "string")).
			OverrideByName("what", column("", "string", mappingsProperty([]label{{"formed", "Hình thành từ / formed from", "text"},
				{"merged", "Sáp nhập vào / merged into", "text"}}))).
			OverrideByName("units", column("Đơn vị / units", "string"))).
		WithPanel(dataTable(11, "Recent changes",
			"The unit's procedures registered, moved between levels or retired within the time range, latest first "+
				"(at most 200). Thay đổi gần đây.",
			recentChangesSQL).
			OverrideByName("time", column("When", "dateTimeAsLocal")).
			OverrideByName("code", column("Mã TTHC / code", "string")).
			OverrideByName("name", column("Thủ tục / procedure", "string")).
			OverrideByName("what", column("Change", "string", mappingsProperty(changeLabels))).
			OverrideByName("level", column("Level from then on", "none",
				mappingsProperty([]label{{"0", "—", "text"}})))).
		Build())
}

// unitVariable is the unit to show. The ClickHouse plugin takes a query's first column as the variable's value and
// its second as the text shown (one column is both): the value is the reference that the SQL filters on, the text the
// unit's Vietnamese name today. The units listed are the view's (HistoryVar): as it is, today's; as it was, those that
// existed at some time within the range. It is read again when the range changes.
func unitVariable() *dashboard.QueryVariableBuilder {
	return dashboard.NewQueryVariableBuilder(UnitVar).
		Label("Đơn vị / Unit").
		Description("The ministry or province to show; its name as the label, its reference (kind/code) as the value. " +
			"As it is: today's units; as it was: those that existed within the time range.").
		Datasource(chquery.Ref(datasourceRef)).
		Query(dashboard.StringOrMap{String: cog.ToPtr(unitVariableSQL)}).
		Definition(unitVariableSQL).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortDisabled).
		Multi(false).
		IncludeAll(false).
		Current(dashboard.VariableOption{
			Text:  dashboard.StringOrArrayOfString{String: cog.ToPtr(defaultUnitName)},
			Value: dashboard.StringOrArrayOfString{String: cog.ToPtr(DefaultUnit)},
		})
}

// unitVariableSQL lists the units of the view, provinces first: value, then text.
var unitVariableSQL = `SELECT
    concat(unit_kind, '/', unit_code) AS value,
    unit_name AS text
FROM ` + unitNamesNow + ` AS names
ANY LEFT JOIN ` + unitSpans + ` AS spans USING (unit_kind, unit_code)
WHERE if(` + historyView + ` = '` + HistoryAsIs + `',
    born_on <= today() AND (has_end = 0 OR merged_on > today()),
    born_on <= toDate($__toTime, 'Asia/Ho_Chi_Minh') AND (has_end = 0 OR merged_on > toDate($__fromTime, 'Asia/Ho_Chi_Minh')))
ORDER BY unit_kind DESC, unit_code`

// unitNumber is a stat panel of one column of unitNowSQL.
func unitNumber(id uint32, title, description, field string) *stat.PanelBuilder {
	return bigNumber(id, title, description, unitNowSQL).
		Span(4).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false).Fields("/^" + field + "$/"))
}

// unitFilter keeps the rows of the unit chosen in the variable. It compares unit_kind and unit_code themselves, not
// their concatenation, so that ClickHouse reads only the unit's range of tables sorted by unit first.
// unitRef is the unit the dashboard shows, as its reference 'province/01'.
const unitRef = `${` + UnitVar + `:singlequote}`

const unitFilter = `unit_kind = splitByChar('/', ${` + UnitVar + `:singlequote})[1]
        AND unit_code = splitByChar('/', ${` + UnitVar + `:singlequote})[2]`

// unitNowSQL: the unit on the latest day: coverage, eligible procedures not at level 4, gap to the trajectory in
// percentage points, and status (see unitStatus).
var unitNowSQL = `SELECT
    unit_coverage AS coverage,
    eligible_now - level4_now AS left_to_do,
    unit_coverage - trajectory AS gap,
    status
FROM ` + unitStatusOf(unitFilter) + `
WHERE ref = ${` + UnitVar + `:singlequote}`

// stageNotReported is the stage of a unit that has reported none.
const stageNotReported = "not_reported"

// unitAboutSQL: the unit's virtual-assistant stage and latest report at the end of the time range, as text.
const unitAboutSQL = `SELECT
    if(has_stage = 0, '` + stageNotReported + `', toString(current_stage)) AS stage,
    if(has_report = 0, 'never', toString(latest_report)) AS last_report
FROM
(
    SELECT
        ref,
        has_report,
        latest_report
    FROM
    (
        SELECT ref
        FROM ` + UnitNames + `
        WHERE ref = ${` + UnitVar + `:singlequote}
    ) AS the_unit
    ANY LEFT JOIN
    ` + lastReports + ` AS last_reports USING ref
) AS unit_reports
ANY LEFT JOIN
` + stageNow + ` AS stages USING ref`

// procedureState is each of the unit's procedures at the end of the time range, folded from its changes as
// internal/coverage folds them: the latest registration gives name, sector and eligibility; the latest registration
// or level change gives the level; the latest registration or retirement says whether it is offered. Its columns:
// procedure_code, proc_name, proc_sector, proc_eligible, proc_level, proc_offered (1 when offered), proc_changed_at.
// Without FINAL: a change written twice is the same row twice, which none of these aggregates counts.
const procedureState = `(
    SELECT
        procedure_code,
        argMaxIf(name, (effective_at, stream_seq), change = 'registered') AS proc_name,
        argMaxIf(sector, (effective_at, stream_seq), change = 'registered') AS proc_sector,
        argMaxIf(eligible, (effective_at, stream_seq), change = 'registered') AS proc_eligible,
        argMaxIf(level, (effective_at, stream_seq), change != 'retired') AS proc_level,
        (countIf(change = 'registered') > 0
            AND argMaxIf(change, (effective_at, stream_seq), change != 'level_changed') = 'registered') AS proc_offered,
        max(effective_at) AS proc_changed_at
    FROM procedure_changes /* no FINAL: a change written twice moves no argMax or max */
    WHERE ` + unitFilter + ` AND (effective_at <= $__toTime)
    GROUP BY procedure_code
)`

// sectorsSQL: the unit's eligible procedures on offer by sector, most left to do first.
const sectorsSQL = `SELECT
    proc_sector AS sector,
    count() AS procedures,
    countIf(proc_level = 4) AS at_level4,
    countIf(proc_level != 4) AS not_yet,
    100 * at_level4 / procedures AS coverage
FROM ` + procedureState + `
WHERE proc_offered = 1 AND proc_eligible = 1
GROUP BY proc_sector
ORDER BY not_yet DESC, sector`

// openProceduresSQL: the unit's eligible procedures on offer below level 4.
const openProceduresSQL = `SELECT
    proc_sector AS sector,
    procedure_code AS code,
    proc_name AS name,
    proc_level AS level,
    proc_changed_at AS since
FROM ` + procedureState + `
WHERE proc_offered = 1 AND proc_eligible = 1 AND proc_level != 4
ORDER BY sector, code`

// changeLabels name the kinds of procedure change.
var changeLabels = []label{
	{"registered", "Đăng ký / registered", "blue"},
	{"level_changed", "Đổi mức độ / level changed", "text"},
	{"retired", "Bãi bỏ / retired", "orange"},
}

// recentChangesSQL: the unit's procedure changes within the range, latest first, with the procedure's name from its
// latest registration. A change written twice is listed once (LIMIT 1 BY event_id rather than FINAL over the unit's
// changes), and only the 200 shown are joined to names.
const recentChangesSQL = `SELECT
    effective_at AS time,
    procedure_code AS code,
    proc_name AS name,
    toString(change) AS what,
    level
FROM
(
    SELECT
        event_id,
        effective_at,
        stream_seq,
        procedure_code,
        change,
        level
    FROM procedure_changes /* no FINAL: LIMIT 1 BY event_id lists a change written twice once */
    WHERE ` + unitFilter + ` AND $__timeFilter(effective_at)
    ORDER BY effective_at DESC, stream_seq DESC
    LIMIT 1 BY event_id
    LIMIT 200
) AS changes
ANY LEFT JOIN
(
    SELECT
        procedure_code,
        argMax(name, (effective_at, stream_seq)) AS proc_name
    FROM procedure_changes /* no FINAL: a registration written twice moves no argMax */
    WHERE ` + unitFilter + ` AND change = 'registered'
    GROUP BY procedure_code
) AS names USING procedure_code
ORDER BY effective_at DESC, stream_seq DESC
LIMIT 200`
