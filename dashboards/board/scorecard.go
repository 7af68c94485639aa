package board

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/egovtrack/egovtrack/dashboards/chquery"
	"github.com/egovtrack/egovtrack/internal/scorecard"
)

// ScorecardUID is the uid of the Decision 766 scorecard dashboard.
const ScorecardUID = "egov-scorecard-766"

// MonthsVar is the scorecard's period: the last 1, 3, 6, 9 or 12 months up to the month of the range's end.
const MonthsVar = "months"

// Scorecard is the dashboard "Bộ chỉ số 766": every ministry and province scored on the indicators of Decision 766
// that dossier and catalogue events allow (internal/scorecard), for a period of whole months ending with the month
// of the time range's end; for the unit chosen, its indicators, its monthly trend and the procedures with the most
// late dossiers.
func Scorecard() (dashboard.Dashboard, error) {
	card := scorecard.Decision766()
	return finish(newDashboard(ScorecardUID,
		"Bộ chỉ số chỉ đạo, điều hành và đánh giá chất lượng phục vụ người dân, doanh nghiệp (Quyết định 766/QĐ-TTg). "+
			"Ministries and provinces scored on the indicators that dossier and catalogue events allow: "+computedList(card)+
			". Not computed: "+notComputedList(card)+". Points: min(1, ratio ÷ threshold) × the indicator's points; the score "+
			"is the points earned out of the points of the indicators scored (an indicator with nothing to divide by is not "+
			"scored), on 100. Weights marked assumed are not published by the decision.",
		"scorecard", "766").
		WithVariable(historyVariable()).
		WithVariable(monthsVariable()).
		WithVariable(unitVariable()).
		WithPanel(scorecardRanking(card)).
		WithPanel(unitIndicators(card)).
		WithPanel(scorecardTrend()).
		WithPanel(lateProcedures()).
		Build())
}

func monthsVariable() *dashboard.CustomVariableBuilder {
	opt := func(text, value string, selected bool) dashboard.VariableOption {
		return dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: cog.ToPtr(text)},
			Value: dashboard.StringOrArrayOfString{String: cog.ToPtr(value)}, Selected: cog.ToPtr(selected)}
	}
	return dashboard.NewCustomVariableBuilder(MonthsVar).
		Label("Kỳ đánh giá / Period").
		Description("Whole months up to the month of the time range's end: a month, a quarter, 6, 9 or 12 months.").
		Values(dashboard.StringOrMap{String: cog.ToPtr("Tháng / month : 1, Quý / quarter : 3, 6 tháng / 6 months : 6, 9 tháng / 9 months : 9, 12 tháng / 12 months : 12")}).
		Multi(false).
		IncludeAll(false).
		Current(opt("Tháng / month", "1", true)).
		Options([]dashboard.VariableOption{
			opt("Tháng / month", "1", true), opt("Quý / quarter", "3", false), opt("6 tháng / 6 months", "6", false),
			opt("9 tháng / 9 months", "9", false), opt("12 tháng / 12 months", "12", false),
		})
}

func computedList(c scorecard.Card) string {
	var out []string
	for _, in := range c.Computed() {
		out = append(out, fmt.Sprintf("%s %s (%d points, %s)", in.ID, in.NameEn, in.Points, in.Weight))
	}
	return strings.Join(out, "; ")
}

func notComputedList(c scorecard.Card) string {
	var out []string
	for _, in := range c.Indicators {
		if !in.Computed {
			out = append(out, fmt.Sprintf("%s %s (%d points: %s)", in.ID, in.NameEn, in.Points, in.WhyNot))
		}
	}
	return strings.Join(out, "; ")
}

// The period's first and last months, as Dates: whole months up to the month of the range's end, in Vietnam.
const (
	periodLast  = `toStartOfMonth(toDate($__toTime, 'Asia/Ho_Chi_Minh'))`
	periodFirst = `addMonths(toStartOfMonth(toDate($__toTime, 'Asia/Ho_Chi_Minh')), 1 - toInt32(${` + MonthsVar + `:singlequote}))`
)

// ScorecardMeasuresSQL is every unit's measures (scorecard.Measures, each a column m_<measure>) for the period: the
// dossier counts of its months, and the catalogue at the range's end. A unit is listed when it has either.
var ScorecardMeasuresSQL = scorecardMeasures("1 = 1")

// scorecardMeasures is ScorecardMeasuresSQL of the units where holds (a condition on unit_kind and unit_code), read
// only for them. The dossier measures come from the unit rows of dossier_counts (one a unit and month: the month
// rows summed, with the sets of procedures received online, for a fee, paid online), so that a year's ranking reads
// 12 rows a unit; the measures counting procedures are the sizes of the sets' unions over the period, intersected
// where they must be (online services used: received online and offered online at the range's end).
func scorecardMeasures(where string) string {
	return `SELECT
    unit_kind,
    unit_code,
    m_received,
    m_received_online,
    m_received_fee,
    m_paid_online,
    m_settled,
    m_settled_on_time,
    m_results,
    m_results_electronic,
    m_digitised,
    m_feedback,
    m_satisfied,
    m_feedback_on_time,
    m_procedures,
    m_procedures_online,
    toUInt64(length(arrayIntersect(online_received_set, online_offered_set))) AS m_online_procedures_used,
    toUInt64(length(fee_received_set)) AS m_fee_procedures,
    toUInt64(length(arrayIntersect(fee_received_set, paid_online_set))) AS m_fee_procedures_paid_online
FROM
(
    SELECT
        unit_kind,
        unit_code,
        sum(toUInt64(received)) AS m_received,
        sum(toUInt64(received_online)) AS m_received_online,
        sum(toUInt64(received_fee)) AS m_received_fee,
        sum(toUInt64(paid_online)) AS m_paid_online,
        sum(toUInt64(settled)) AS m_settled,
        sum(toUInt64(settled_on_time)) AS m_settled_on_time,
        sum(toUInt64(results)) AS m_results,
        sum(toUInt64(results_electronic)) AS m_results_electronic,
        sum(toUInt64(digitised)) AS m_digitised,
        sum(toUInt64(feedback)) AS m_feedback,
        sum(toUInt64(satisfied)) AS m_satisfied,
        sum(toUInt64(feedback_on_time)) AS m_feedback_on_time,
        groupUniqArrayArray(procedures_online) AS online_received_set,
        groupUniqArrayArray(procedures_fee) AS fee_received_set,
        groupUniqArrayArray(procedures_paid_online) AS paid_online_set
    FROM dossier_counts FINAL
    WHERE grain = 'unit' AND period >= ` + periodFirst + ` AND period <= ` + periodLast + ` AND ` + where + `
    GROUP BY unit_kind, unit_code
) AS dossiers
ALL FULL OUTER JOIN
(
    SELECT
        unit_kind,
        unit_code,
        countIf(last_change != 'retired') AS m_procedures,
        countIf(last_change != 'retired' AND last_level >= 3) AS m_procedures_online,
        groupArrayIf(procedure_code, last_change != 'retired' AND last_level >= 3) AS online_offered_set
    FROM
    (
        SELECT
            unit_kind,
            unit_code,
            procedure_code,
            argMax(toString(change), (effective_at, stream_seq)) AS last_change,
            argMaxIf(level, (effective_at, stream_seq), change != 'retired') AS last_level
        FROM procedure_changes /* no FINAL: a change written twice leaves argMax unchanged */
        WHERE (effective_at <= $__toTime) AND ` + where + `
        GROUP BY unit_kind, unit_code, procedure_code
    ) AS procedures
    GROUP BY unit_kind, unit_code
) AS catalogue USING (unit_kind, unit_code)`
}

// indicatorPoints is an indicator's points for a unit, NULL when its denominator is zero (not scored).
func indicatorPoints(in scorecard.Indicator) string {
	return fmt.Sprintf("if(m_%s = 0, NULL, least(1, m_%s / m_%s / %s) * %d)", in.Denominator, in.Numerator, in.Denominator,
		strconv.FormatFloat(in.Threshold, 'f', -1, 64), in.Points)
}

func indicatorMax(in scorecard.Indicator) string {
	return fmt.Sprintf("if(m_%s = 0, 0, %d)", in.Denominator, in.Points)
}

// IndicatorColumn is the column of ScorecardSQL holding an indicator's ratio: i_ and its id, "2.1" as i_2_1.
func IndicatorColumn(in scorecard.Indicator) string {
	return "i_" + strings.ReplaceAll(in.ID, ".", "_")
}

// ScorecardSQL is every unit's score for the period (units merged away by the range's end left out): its name, its points and the points possible, its score on
// 100 (NULL when nothing was scored), each group's points (g<n>, NULL when none of its indicators was scored) and each
// indicator's ratio in percent (i_<id>, NULL when not scored), best score first.
func ScorecardSQL(c scorecard.Card) string {
	var pts, maxes, ratios []string
	groups := map[int][]scorecard.Indicator{}
	for _, in := range c.Computed() {
		pts = append(pts, "ifNull("+indicatorPoints(in)+", 0)")
		maxes = append(maxes, indicatorMax(in))
		ratios = append(ratios, fmt.Sprintf("if(m_%s = 0, NULL, 100 * m_%s / m_%s) AS %s", in.Denominator, in.Numerator, in.Denominator, IndicatorColumn(in)))
		groups[in.Group] = append(groups[in.Group], in)
	}
	cols := []string{"unit_kind", "unit_code", "earned", "possible"}
	for _, m := range scorecard.Measures {
		cols = append(cols, "m_"+string(m))
	}
	var gcols []string
	for _, g := range c.Groups {
		ins := groups[g.Group]
		if len(ins) == 0 {
			continue
		}
		var sum, any []string
		for _, in := range ins {
			sum = append(sum, "ifNull("+indicatorPoints(in)+", 0)")
			any = append(any, "m_"+string(in.Denominator)+" > 0")
		}
		gcols = append(gcols, fmt.Sprintf("if(%s, %s, NULL) AS g%d", strings.Join(any, " OR "), strings.Join(sum, " + "), g.Group))
	}
	return `SELECT
    concat(unit_kind, '/', unit_code) AS ref,
    unit_name AS name,
    unit_kind AS kind,
    if(possible = 0, NULL, 100 * earned / possible) AS score,
    earned,
    possible,
    ` + strings.Join(gcols, ",\n    ") + `,
    ` + strings.Join(ratios, ",\n    ") + `,
    m_received AS received,
    m_settled AS settled
FROM
(
    SELECT ` + strings.Join(cols, ", ") + `
    FROM
    (
        SELECT
            *,
            ` + strings.Join(pts, "\n            + ") + ` AS earned,
            ` + strings.Join(maxes, "\n            + ") + ` AS possible
        FROM (` + ScorecardMeasuresSQL + `) AS measures
    ) AS scored
    ANY LEFT JOIN ` + unitSpans + ` AS spans USING (unit_kind, unit_code)
    WHERE has_end = 0 OR merged_on > toDate($__toTime, 'Asia/Ho_Chi_Minh')
) AS living
ANY LEFT JOIN ` + unitNamesNow + ` AS names USING (unit_kind, unit_code)
ORDER BY isNull(score), score DESC, name, ref`
}

func scorecardRanking(c scorecard.Card) *table.PanelBuilder {
	p := dataTable(1, "Xếp hạng / ranking by the 766 score",
		"Every ministry and province with dossiers or a catalogue, best score first, for the period (whole months up to "+
			"the month of the range's end). Score: points earned ÷ points possible × 100, the possible points being those "+
			"of the indicators the unit has something to divide by. G2–G5: the points of each group (group 1 is not "+
			"computed: no event carries it). Then each indicator's ratio. Click a unit to see its indicators below.",
		ScorecardSQL(c)).
		Height(16).
		OverrideByName("ref", column("Code", "string", scorecardLink("ref"))).
		OverrideByName("name", column("Bộ, ngành, địa phương / unit", "string", scorecardLink("ref"))).
		OverrideByName("kind", column("Kind", "string", mappingsProperty(kindLabels))).
		OverrideByName("score", column("Score / 100", "none", decimals(1))).
		OverrideByName("earned", column("Points", "none", decimals(1))).
		OverrideByName("possible", column("Of", "none")).
		OverrideByName("received", column("Dossiers received", "none")).
		OverrideByName("settled", column("Dossiers settled", "none"))
	for _, g := range c.Groups {
		p.OverrideByName(fmt.Sprintf("g%d", g.Group), column(fmt.Sprintf("G%d %s (/%d)", g.Group, g.NameEn, g.Points), "none", decimals(1)))
	}
	for _, in := range c.Computed() {
		p.OverrideByName(IndicatorColumn(in), percent(in.ID+" "+in.NameEn))
	}
	return p
}

// scorecardLink opens this dashboard with the row's unit chosen.
func scorecardLink(refField string) dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: "links", Value: []any{map[string]any{
		"title": "Xem chỉ số của đơn vị / The unit's indicators",
		"url": DashboardPath(ScorecardUID) + "?var-" + UnitVar + "=${__data.fields." + refField + "}" +
			"&var-" + MonthsVar + "=${" + MonthsVar + "}&${" + DatasourceVar + ":queryparam}&${__url_time_range}",
	}}}
}

// UnitIndicatorsSQL is the chosen unit's indicators for the period, one row each: id, name, group, numerator,
// denominator, ratio (percent, NULL when not scored), threshold (percent), points earned and points possible.
func UnitIndicatorsSQL(c scorecard.Card) string {
	var rows []string
	for _, in := range c.Computed() {
		rows = append(rows, fmt.Sprintf("('%s', '%s', %d, toUInt64(m_%s), toUInt64(m_%s), %s, toFloat64(%s), toUInt8(%d))",
			in.ID, strings.ReplaceAll(in.Name+" / "+in.NameEn, "'", "\\'"), in.Group, in.Numerator, in.Denominator,
			strconv.FormatFloat(in.Threshold*100, 'f', -1, 64), "ifNull("+indicatorPoints(in)+", 0)", in.Points))
	}
	return `SELECT
    row.1 AS id,
    row.2 AS indicator,
    row.3 AS grp,
    row.4 AS numerator,
    row.5 AS denominator,
    if(row.5 = 0, NULL, 100 * row.4 / row.5) AS ratio,
    row.6 AS threshold,
    if(row.5 = 0, NULL, row.7) AS earned,
    if(row.5 = 0, 0, row.8) AS possible
FROM
(
    SELECT arrayJoin([` + strings.Join(rows, ",\n        ") + `]) AS row
    FROM (` + scorecardMeasures(unitFilter) + `) AS measures
) AS indicators
ORDER BY id`
}

func unitIndicators(c scorecard.Card) *table.PanelBuilder {
	return dataTable(2, "The unit's indicators / chỉ số của đơn vị",
		"The chosen unit's indicators for the period: numerator, denominator, ratio, the threshold of full marks, the "+
			"points earned and possible (none when there is nothing to divide by).",
		UnitIndicatorsSQL(c)).
		Height(12).
		Span(12).
		OverrideByName("id", column("#", "string")).
		OverrideByName("indicator", column("Chỉ số / indicator", "string")).
		OverrideByName("grp", column("Group", "none")).
		OverrideByName("ratio", percent("Ratio")).
		OverrideByName("threshold", column("Full marks at", "percent")).
		OverrideByName("earned", column("Points", "none", decimals(2))).
		OverrideByName("possible", column("Of", "none"))
}

// ScorecardTrendSQL is the chosen unit's dossier ratios per month within the time range, in percent: online
// receipts, settled on time, paid online, electronic results, digitised, satisfied.
var ScorecardTrendSQL = `SELECT
    toDateTime(period, 'Asia/Ho_Chi_Minh') AS time,
    if(sum(received) = 0, NULL, 100 * sum(received_online) / sum(received)) AS online,
    if(sum(settled) = 0, NULL, 100 * sum(settled_on_time) / sum(settled)) AS on_time,
    if(sum(received_fee) = 0, NULL, least(100, 100 * sum(paid_online) / sum(received_fee))) AS paid_online,
    if(sum(results) = 0, NULL, 100 * sum(results_electronic) / sum(results)) AS electronic,
    if(sum(received) = 0, NULL, least(100, 100 * sum(digitised) / sum(received))) AS digitised_share,
    if(sum(feedback) = 0, NULL, 100 * sum(satisfied) / sum(feedback)) AS satisfied_share
FROM dossier_counts FINAL
WHERE grain = 'unit' AND ` + unitFilter + `
    AND period >= toStartOfMonth(toDate($__fromTime, 'Asia/Ho_Chi_Minh')) AND period <= toDate($__toTime, 'Asia/Ho_Chi_Minh')
GROUP BY period
ORDER BY time`

var trendSeries = []struct{ column, name string }{
	{"online", "Received online (3.3)"}, {"on_time", "Settled on time (2.1)"}, {"paid_online", "Paid online (3.5)"},
	{"electronic", "Electronic results (4.1)"}, {"digitised_share", "Digitised (4.2)"}, {"satisfied_share", "Satisfied (5.2)"},
}

func scorecardTrend() *timeseries.PanelBuilder {
	p := timeseries.NewPanelBuilder().
		Id(3).
		Title("The unit's dossiers month by month").
		Description("The chosen unit's dossier ratios for each month within the time range, in percent (the ratios of " +
			"the scorecard's dossier indicators, before thresholds). Xu hướng theo tháng.").
		Datasource(chquery.Ref(datasourceRef)).
		WithTarget(query("A", ScorecardTrendSQL).TimeSeries()).
		Height(12).
		Span(12).
		Unit("percent").
		Decimals(1).
		Min(0).
		Max(100).
		ShowPoints(common.VisibilityModeAlways).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderNone))
	for _, s := range trendSeries {
		p.OverrideByName(s.column, []dashboard.DynamicConfigValue{displayName(s.name)})
	}
	return p
}

// LateProceduresSQL is the chosen unit's procedures with the most dossiers settled late in the period: procedure,
// its name, settled, late, late share in percent.
var LateProceduresSQL = `SELECT
    procedure,
    name,
    settled_all AS settled,
    late,
    100 * late / settled_all AS late_share
FROM
(
    SELECT
        procedure,
        sum(settled) AS settled_all,
        sum(settled) - sum(settled_on_time) AS late
    FROM dossier_counts FINAL
    WHERE grain = 'month' AND ` + unitFilter + `
        AND period >= ` + periodFirst + ` AND period <= ` + periodLast + `
    GROUP BY procedure
    HAVING late > 0
) AS late_ones
ANY LEFT JOIN
(
    SELECT procedure_code AS procedure, name
    FROM procedures FINAL
    WHERE ` + unitFilter + `
) AS names USING (procedure)
ORDER BY late DESC, procedure
LIMIT 20`

func lateProcedures() *table.PanelBuilder {
	return dataTable(4, "Procedures with the most late dossiers / thủ tục trễ hạn nhiều nhất",
		"The chosen unit's 20 procedures with the most dossiers settled after their due time in the period, and their "+
			"share of the procedure's settled dossiers.",
		LateProceduresSQL).
		Height(12).
		OverrideByName("procedure", column("Procedure", "string")).
		OverrideByName("name", column("Thủ tục / name", "string")).
		OverrideByName("late_share", percent("Late share"))
}
