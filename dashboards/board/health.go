package board

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/egovtrack/egovtrack/dashboards/chquery"
)

// Health tells the digital office whether the figures can be trusted: which units have gone quiet for longer than
// they are expected to report, which messages the projector refused and why, and how long events take to reach
// ClickHouse. It opens on the last seven days, as it is about the pipeline today; "stale" is judged at the end of the
// time range, so a past range shows who was quiet then.
func Health() (dashboard.Dashboard, error) {
	return finish(newDashboard(HealthUID,
		"Tình trạng báo cáo: đơn vị chậm báo cáo so với chu kỳ, thông điệp bị từ chối, độ trễ nạp dữ liệu. "+
			"Is the data fresh: units silent for longer than their reporting cadence, rejected messages, ingestion lag.",
		"health").
		Time("now-7d", "now").
		WithPanel(count(1, "Stale units",
			"Ministries and provinces whose latest report is older than their expected reporting cadence "+
				"(units.cadence_days: weekly, fortnightly for small agencies) at the end of the time range, or that never "+
				"reported. The table lists them first. Đơn vị quá hạn báo cáo.",
			staleCountSQL).
			Span(8).
			Thresholds(thresholds(step("green", nil), step("red", cog.ToPtr(1.0))))).
		WithPanel(count(2, "Rejected messages",
			"Messages received within the time range that the projector could not accept (malformed, unknown type, "+
				"breaking the event contract) and kept in quarantine, nothing dropped silently. Thông điệp bị từ chối.",
			rejectedCountSQL).
			Span(8).
			Thresholds(thresholds(step("green", nil), step("orange", cog.ToPtr(1.0))))).
		WithPanel(bigNumber(3, "Ingestion lag, worst",
			"The longest time an event received within the time range took from JetStream storing it "+
				"(events.received_at) to its row in ClickHouse (events.projected_at); a lag of an hour or more is counted in whole "+
				"hours, rounded up. Độ trễ nạp dữ liệu lớn nhất.",
			lagWorstSQL).
			Span(8).
			Unit("s").
			Decimals(0).
			Thresholds(thresholds(step("green", nil), step("orange", cog.ToPtr(60.0)), step("red", cog.ToPtr(600.0))))).
		WithPanel(dataTable(4, "Last report against the expected cadence",
			"Every ministry and province: its latest report up to the end of the time range (Vietnam time), the "+
				"collector that sent it, its expected cadence, the days since, and stale when that is longer than the "+
				"cadence or it never reported. Stale units first. Click a unit to open its dashboard. Lần báo cáo gần nhất "+
				"so với chu kỳ.",
			freshnessSQL).
			Height(14).
			OverrideByName("name", column("Bộ, ngành, địa phương / unit", "string", unitLink("ref"))).
			OverrideByName("kind", column("Kind", "string", mappingsProperty(kindLabels))).
			OverrideByName("ref", column("Code", "string")).
			OverrideByName("last_report", column("Last report", "dateTimeAsLocal")).
			OverrideByName("collector", column("Collector", "string")).
			OverrideByName("cadence_days", column("Expected every", "d")).
			OverrideByName("days_since", column("Since then", "d", decimals(1))).
			OverrideByName("freshness", column("Status", "string", mappingsProperty(freshnessLabels), colouredCells()))).
		WithPanel(countChart(5, "Rejected messages over time",
			"Messages quarantined by the projector per interval of the time range, by when JetStream received them. "+
				"Thông điệp bị từ chối theo thời gian.",
			rejectedSeriesSQL, "rejected", "Rejected", "orange")).
		WithPanel(dataTable(6, "Rejected messages by reason",
			"Why the projector refused the messages received within the time range, the most frequent first: how "+
				"many, first and last seen, and one subject they came on. The messages themselves are in the quarantine "+
				"table. Lý do từ chối.",
			rejectedReasonsSQL).
			Span(12).
			OverrideByName("reason", column("Reason", "string")).
			OverrideByName("messages", column("Messages", "none")).
			OverrideByName("first_seen", column("First", "dateTimeAsLocal")).
			OverrideByName("last_seen", column("Last", "dateTimeAsLocal")).
			OverrideByName("example_subject", column("Subject, for example", "string"))).
		WithPanel(lagChart()).
		WithPanel(dataTable(8, "Show the data: ingestion lag per day",
			"Events received per Vietnamese day within the time range and how long they took to reach ClickHouse: "+
				"average, 95th percentile and worst, in seconds (a lag of an hour or more counted in whole hours, rounded up, "+
				"as after a rebuild); latest day first. Độ trễ theo ngày.",
			lagTableSQL).
			Span(12).
			OverrideByName("date", column("Day (Vietnam)", "string")).
			OverrideByName("events", column("Events", "none")).
			OverrideByName("avg_lag", column("Average", "s", decimals(1))).
			OverrideByName("p95_lag", column("95th percentile", "s", decimals(1))).
			OverrideByName("max_lag", column("Worst", "s"))).
		Build())
}

// freshnessLabels name a unit's reporting status.
var freshnessLabels = []label{
	{"fresh", "Đúng hạn / fresh", "green"},
	{"stale", "Quá hạn / stale", "red"},
}

// countChart is a bar chart of one count per interval.
func countChart(id uint32, title, description, sql, field, name, color string) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Id(id).
		Title(title).
		Description(description).
		Datasource(chquery.Ref(datasourceRef)).
		WithTarget(query("A", sql).TimeSeries()).
		Height(10).
		Span(12).
		Unit("none").
		Decimals(0).
		Min(0).
		DrawStyle(common.GraphDrawStyleBars).
		FillOpacity(80).
		LineWidth(1).
		ShowPoints(common.VisibilityModeNever).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderNone)).
		OverrideByName(field, []dashboard.DynamicConfigValue{displayName(name), fixedColour(color)})
}

func lagChart() *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Id(7).
		Title("Ingestion lag").
		Description("How long events took from JetStream storing them (received_at) to their row in ClickHouse "+
			"(projected_at), per interval of the time range by when they were received: the average and the worst, "+
			"in seconds (a lag of an hour or more counted in whole hours, rounded up). A rising line means the projector is "+
			"falling behind. Độ trễ nạp dữ liệu.").
		Datasource(chquery.Ref(datasourceRef)).
		WithTarget(query("A", lagSeriesSQL).TimeSeries()).
		Height(10).
		Span(12).
		Unit("s").
		Decimals(1).
		Min(0).
		LineWidth(2).
		FillOpacity(0).
		ShowPoints(common.VisibilityModeAuto).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderNone)).
		OverrideByName("avg_lag", []dashboard.DynamicConfigValue{displayName("Average")}).
		OverrideByName("max_lag", []dashboard.DynamicConfigValue{displayName("Worst")})
}

// ReportFreshness is every unit with its latest report up to the end of the time range, judged against its
// expected cadence. Its columns: ref, name, kind, cadence_days, last_report (NULL when none), collector,
// days_since (NULL when none) and freshness: stale when the latest report is more than cadence_days old at the end
// of the range, or there is none; fresh otherwise. The alert rules (dashboards/alert) read it too.
var ReportFreshness = `(
    SELECT
        ref,
        name,
        kind,
        cadence_days,
        if(has_report = 0, NULL, latest_report) AS last_report,
        if(has_report = 0, '', latest_collector) AS collector,
        if(has_report = 0, NULL, (toUInt32($__toTime) - toUInt32(latest_report)) / 86400) AS days_since,
        multiIf(has_report = 0, 'stale', ifNull(days_since > cadence_days, 0), 'stale', 'fresh') AS freshness
    FROM
    (
        SELECT
            concat(unit_kind, '/', unit_code) AS ref,
            unit_name AS name,
            unit_kind AS kind,
            if(cadence = 0, 7, cadence) AS cadence_days
        FROM
        (
            SELECT
                unit_kind,
                unit_code,
                unit_name,
                cadence
            FROM ` + unitNamesNow + ` AS named
            ANY LEFT JOIN
            (
                SELECT kind AS unit_kind, code AS unit_code, cadence_days AS cadence
                FROM units FINAL
            ) AS cadences USING (unit_kind, unit_code)
        ) AS known
        ANY LEFT JOIN ` + unitSpans + ` AS spans USING (unit_kind, unit_code)
        WHERE born_on <= toDate($__toTime, 'Asia/Ho_Chi_Minh') AND (has_end = 0 OR merged_on > toDate($__toTime, 'Asia/Ho_Chi_Minh'))
    ) AS all_units
    ANY LEFT JOIN
    ` + lastReports + ` AS last_reports USING ref
)`

// staleCountSQL: the stale units at the end of the time range.
var staleCountSQL = `SELECT countIf(freshness = 'stale') AS units
FROM ` + ReportFreshness

// freshnessSQL: every unit's latest report against its cadence, stale first, the longest silent first.
var freshnessSQL = `SELECT
    name,
    kind,
    ref,
    last_report,
    collector,
    cadence_days,
    days_since,
    freshness
FROM ` + ReportFreshness + `
ORDER BY freshness = 'stale' DESC, ifNull(days_since, 1000000) DESC, name, ref`

// rejectedCountSQL: the messages quarantined that were received within the time range.
const rejectedCountSQL = `SELECT count() AS messages
FROM quarantine FINAL
WHERE $__timeFilter(received_at)`

// bucket is the start of the panel's interval that a time falls in, as Grafana's interval_s asks: ClickHouse 18.16
// has no toStartOfInterval.
func bucket(column string) string {
	return `toDateTime(intDiv(toUInt32(` + column + `), $__interval_s) * $__interval_s, 'Asia/Ho_Chi_Minh')`
}

// rejectedSeriesSQL: messages quarantined per interval.
var rejectedSeriesSQL = `SELECT
    ` + bucket("received_at") + ` AS time,
    count() AS rejected
FROM quarantine FINAL
WHERE $__timeFilter(received_at)
GROUP BY time
ORDER BY time`

// rejectedReasonsSQL: the quarantined messages of the range by reason, the most frequent first.
const rejectedReasonsSQL = `SELECT
    reason,
    count() AS messages,
    min(received_at) AS first_seen,
    max(received_at) AS last_seen,
    any(subject) AS example_subject
FROM quarantine FINAL
WHERE $__timeFilter(received_at)
GROUP BY reason
ORDER BY messages DESC, reason`

// lagCounts is how many events received within the range took how long to reach ClickHouse, in seconds, from the
// tables that migration 0002 fills on every insert into events (reading events itself, sorted by id, took seconds).
// Its columns: received_at (a second, or the start of an hour), lag, events. The whole hours of the range come from
// ingestion_lag_hourly, every other second of the range from ingestion_lag; unless notHourly, an expression of the
// request that is 1 when the hours must not be used (an interval that is not whole hours, so that an hour would
// straddle two buckets), and 0 otherwise. It is arithmetic, not a condition, so that ClickHouse 18.16 folds it into
// the bounds and reads only the edges of the range from ingestion_lag (it does not fold if() or NOT on constants).
func lagCounts(notHourly string) string {
	// The first whole hour of the range, or just after the range when the hours are not used.
	firstHour := `toDateTime(intDiv(toUInt32($__fromTime) + 3599, 3600) * 3600 * (1 - ` + notHourly + `)
        + (toUInt32($__toTime) + 1) * ` + notHourly + `)`
	// The start of the last whole hour of the range.
	lastHour := `toDateTime(intDiv(toUInt32($__toTime) + 1, 3600) * 3600 - 3600)`
	return `(
    SELECT
        hour AS received_at,
        lag,
        events
    FROM ingestion_lag_hourly
    WHERE hour >= ` + firstHour + ` AND hour <= ` + lastHour + `
    UNION ALL
    SELECT
        received_at,
        lag,
        events
    FROM ingestion_lag
    WHERE $__timeFilter(received_at)
        AND (received_at < ` + firstHour + ` OR received_at >= ` + lastHour + ` + 3600)
)`
}

// notWholeHours is 1 when the panel's interval is not whole hours (see lagCounts).
const notWholeHours = `(($__interval_s) % 3600 != 0)`

// lagWorstSQL: the longest lag of the range; no row when nothing was received.
var lagWorstSQL = `SELECT max(lag) AS max_lag
FROM ` + lagCounts("0") + `
HAVING count() > 0`

// lagSeriesSQL: the average and worst lag per interval.
var lagSeriesSQL = `SELECT
    ` + bucket("received_at") + ` AS time,
    sum(lag * events) / sum(events) AS avg_lag,
    max(lag) AS max_lag
FROM ` + lagCounts(notWholeHours) + `
GROUP BY time
ORDER BY time`

// lagTableSQL: events and their lag per Vietnamese day of receipt, latest first. The 95th percentile is ClickHouse's
// quantile(0.95) as it is for up to 8,192 values (beyond, quantile samples; this stays exact): the lags sorted, the
// value at 0.95 × (events − 1) interpolated between the two around it, found in the day's counts per lag.
var lagTableSQL = `SELECT
    date,
    events,
    avg_lag,
    p95_below + (p95_at - floor(p95_at)) * (p95_above - p95_below) AS p95_lag,
    max_lag
FROM
(
    SELECT
        date,
        events,
        avg_lag,
        p95_at,
        lags[arrayFirstIndex(c -> c > floor(p95_at), upto)] AS p95_below,
        lags[arrayFirstIndex(c -> c > ceil(p95_at), upto)] AS p95_above,
        max_lag
    FROM
    (
        SELECT
            date,
            sum(lag_events) AS events,
            sum(lag * lag_events) / events AS avg_lag,
            max(lag) AS max_lag,
            0.95 * (events - 1) AS p95_at,
            arraySort(groupArray(lag)) AS lags,
            arrayCumSum(arraySort((n, l) -> l, groupArray(lag_events), groupArray(lag))) AS upto
        FROM
        (
            SELECT
                toString(toDate(received_at, 'Asia/Ho_Chi_Minh')) AS date,
                lag,
                sum(events) AS lag_events
            FROM ` + lagCounts("0") + `
            GROUP BY date, lag
        )
        GROUP BY date
    )
)
ORDER BY date DESC`
