package board

// The SQL of the panels. It runs on ClickHouse 18.16 and 24.x+: no toStartOfInterval (so no $__timeInterval), no
// window functions, no WITH FILL, no DateTime64. Tables are named without their database: the datasource's default
// database (egov) applies, and tests run the same SQL in a database of their own. Every table is a
// ReplacingMergeTree read with FINAL, so that rows written twice (redelivery, rebuild) count once.

// vnDays keeps the Vietnamese days that the dashboard's time range touches, from the day of its start to the day of
// its end, both in Vietnam's zone. $__dateFilter(day) would take the edges as days of the plugin's own zone (UTC in
// Grafana's images), a day off for seven hours of every Vietnamese day. $__fromTime and $__toTime stand as function
// arguments, followed by a closing parenthesis, as the plugin's macro scanner needs (see chquery).
const vnDays = `day >= toDate($__fromTime, 'Asia/Ho_Chi_Minh') AND day <= toDate($__toTime, 'Asia/Ho_Chi_Minh')`

// latestDay is the last Vietnamese day within the time range that has coverage. coverage_daily is dense (one row
// per unit per day up to the last day any unit reported), so that day has a row for every unit already reporting.
const latestDay = `(
    SELECT max(day)
    FROM coverage_daily FINAL
    WHERE ` + vnDays + `
)`

// coverageNowSQL: the national share of eligible procedures at level 4 on the latest day, in percent. No row (so
// "no data") when nothing in the range is eligible.
const coverageNowSQL = `SELECT 100 * sum(level4) / sum(eligible) AS coverage
FROM coverage_daily FINAL
WHERE day = ` + latestDay + `
HAVING sum(eligible) > 0`

// unitsAtFullSQL: the units whose every eligible procedure is at level 4 on the latest day. A unit with nothing
// eligible is not counted.
const unitsAtFullSQL = `SELECT countIf(eligible > 0 AND level4 = eligible) AS units
FROM coverage_daily FINAL
WHERE day = ` + latestDay

// assistantLiveSQL: the units whose virtual assistant is live at the end of the time range: the latest stage change
// of each unit by effective time, stream sequence breaking ties. The comparison is in parentheses so that the
// plugin's macro scanner ends $__toTime at once.
const assistantLiveSQL = `SELECT countIf(current_stage = 'live') AS units
FROM
(
    SELECT
        unit_kind,
        unit_code,
        argMax(stage, (effective_at, stream_seq)) AS current_stage
    FROM assistant_changes FINAL
    WHERE (effective_at <= $__toTime)
    GROUP BY unit_kind, unit_code
)`

// dailyWithTrajectory is one row per Vietnamese day in the range: the national sums of eligible and level-4
// procedures, and the target in force for level-4 coverage (the latest set, by set_at) joined on the scope. Its
// columns: day, day_eligible, day_level4, has_target (0 when no target is set), t_baseline, t_baseline_date,
// t_target, t_deadline. The join keeps days without a target: ANY LEFT JOIN on a constant scope, since ClickHouse
// 18.16 has no other way to attach a one-row table to every row.
const dailyWithTrajectory = `(
    SELECT
        day,
        'national' AS scope,
        sum(eligible) AS day_eligible,
        sum(level4) AS day_level4
    FROM coverage_daily FINAL
    WHERE ` + vnDays + `
    GROUP BY day
)
ANY LEFT JOIN
(
    SELECT
        scope,
        1 AS has_target,
        argMax(baseline, (set_at, stream_seq)) AS t_baseline,
        argMax(baseline_date, (set_at, stream_seq)) AS t_baseline_date,
        argMax(target, (set_at, stream_seq)) AS t_target,
        argMax(deadline, (set_at, stream_seq)) AS t_deadline
    FROM targets FINAL
    WHERE metric = 'level4_coverage' AND scope = 'national'
    GROUP BY scope
) USING scope`

// coverageExpr is the day's national coverage in percent, NULL when nothing is eligible.
const coverageExpr = `if(day_eligible = 0, NULL, 100 * day_level4 / day_eligible)`

// trajectoryExpr is where the target's straight line stands on a day, in percent: from the baseline on the baseline
// date to the target on the deadline, the target after it, nothing before the baseline date or without a target.
const trajectoryExpr = `if(has_target = 0 OR day < t_baseline_date, NULL,
        if(day >= t_deadline, t_target,
            t_baseline + (t_target - t_baseline)
                * dateDiff('day', t_baseline_date, day) / dateDiff('day', t_baseline_date, t_deadline)))`

// coverageSeriesSQL: the chart, two lines, one point per Vietnamese day at its midnight in Vietnam.
const coverageSeriesSQL = `SELECT
    toDateTime(day, 'Asia/Ho_Chi_Minh') AS time,
    ` + coverageExpr + ` AS coverage,
    ` + trajectoryExpr + ` AS trajectory
FROM ` + dailyWithTrajectory + `
ORDER BY time`

// coverageTableSQL: the numbers under the chart, latest day first. The day is a string so that Grafana shows the
// Vietnamese day as it is rather than a midnight converted between zones.
const coverageTableSQL = `SELECT
    toString(day) AS date,
    day_eligible AS eligible,
    day_level4 AS level4,
    ` + coverageExpr + ` AS coverage,
    ` + trajectoryExpr + ` AS trajectory
FROM ` + dailyWithTrajectory + `
ORDER BY day DESC`
