package board

import "strings"

// The SQL of the panels. It runs on ClickHouse 18.16 and 24.x+: no toStartOfInterval (so no $__timeInterval), no
// window functions, no WITH FILL, no DateTime64. Tables are named without their database: the datasource's default
// database (egov) applies, and tests run the same SQL in a database of their own. Every table is a
// ReplacingMergeTree read with FINAL, so that rows written twice (redelivery, rebuild) count once, unless the query
// only takes aggregates that a row written twice leaves unchanged (max, argMax, countIf(…) > 0), or keeps each key's
// row of the highest version itself (argMax by version), as FINAL would: FINAL over a big table, or over every
// monthly partition of a long range, costs hundreds of milliseconds to seconds.
//
// Three habits follow from ClickHouse 18.16 and from the plugin:
//   - One JOIN per SELECT: 18.16 has no other. Queries that need several nest them, each joining with ANY LEFT
//     JOIN … USING; a one-row table is attached to every row through a constant key (scope = 'national'). A
//     subquery on either side of a JOIN has an alias, (SELECT …) AS name: ClickHouse 20.3 and later refuse it
//     without one (ALIAS_REQUIRED), and dashboards/lint refuses it too. Never SELECT * over such a join: 18.16 then
//     adds the right side's key again, as name.key.
//   - An alias never reuses the name of a column the same SELECT reads: ClickHouse substitutes aliases everywhere in
//     their SELECT, so `argMax(eligible, day) AS eligible` would nest an aggregate in itself.
//   - $__fromTime and $__toTime stand as a function's argument or in parentheses, followed by a closing
//     parenthesis, as the plugin's macro scanner needs (see chquery).
//
// "The latest day" of a panel is the last Vietnamese day within the time range that has coverage: coverage_daily is
// dense (one row per unit per day up to the last day any unit reported), so that day has a row for every unit
// already reporting. Figures "now" are figures of that day.

// vnDays keeps the Vietnamese days that the dashboard's time range touches, from the day of its start to the day of
// its end, both in Vietnam's zone. $__dateFilter(day) would take the edges as days of the plugin's own zone (UTC in
// Grafana's images), a day off for seven hours of every Vietnamese day.
const vnDays = `day >= toDate($__fromTime, 'Asia/Ho_Chi_Minh') AND day <= toDate($__toTime, 'Asia/Ho_Chi_Minh')`

// latestDay is the last Vietnamese day within the time range that has coverage, as a set of one day for IN. It is a
// set rather than a scalar subquery because ClickHouse 18.16 runs a scalar subquery again for every analysis of the
// queries around it, while it builds a set once, and prunes partitions with it. It reads without FINAL: every version
// of a row has the same day.
const latestDay = `(
    SELECT max(day)
    FROM coverage_daily /* no FINAL: every version of a row has the same day */
    WHERE ` + vnDays + `
)`

// paceDays is how far back "the pace of the last 30 days" looks.
const paceDays = "30"

// latestDays is the latest day and the day paceDays before it, as a set for IN (see latestDay).
var latestDays = `(
    SELECT arrayJoin([max(day), max(day) - ` + paceDays + `])
    FROM coverage_daily /* no FINAL: every version of a row has the same day */
    WHERE ` + vnDays + `
)`

// targetsWhere is the target in force for level-4 coverage of each scope the condition keeps, one row per scope:
// the latest set (by set_at, stream sequence breaking ties). Its columns: scope, has_target (1; 0 after a join finds
// none), t_baseline, t_baseline_date, t_target, t_deadline.
func targetsWhere(condition string) string {
	return `(
    SELECT
        scope,
        1 AS has_target,
        argMax(baseline, (set_at, stream_seq)) AS t_baseline,
        argMax(baseline_date, (set_at, stream_seq)) AS t_baseline_date,
        argMax(target, (set_at, stream_seq)) AS t_target,
        argMax(deadline, (set_at, stream_seq)) AS t_deadline
    FROM targets FINAL
    WHERE metric = 'level4_coverage'` + condition + `
    GROUP BY scope
)`
}

// NationalTarget is the national target in force, as one row keyed by scope = 'national' (see targetsWhere). The
// national figures are held to it; a unit to its own target when one is set for it (TargetsByScope, ScopeOf).
var NationalTarget = targetsWhere(" AND scope = 'national'")

// TargetsByScope is the target in force of every scope a target was set for, 'national' and units' ('province/01'),
// one row each (see targetsWhere).
var TargetsByScope = targetsWhere("")

// ScopeOf is the scope of the target the unit ref (an expression giving 'province/01') is held to: its own when a
// level-4 coverage target was set for it, the national one otherwise. Join TargetsByScope on it.
func ScopeOf(ref string) string {
	return `if(` + ref + ` IN (SELECT scope FROM targets FINAL WHERE metric = 'level4_coverage'), ` + ref + `, 'national')`
}

// TrajectoryOn is where the target's straight line stands on the day in column day, in percent: from the baseline on
// the baseline date to the target on the deadline, the target after it, NULL before the baseline date or without a
// target. It reads the columns of targetsWhere.
func TrajectoryOn(day string) string {
	return strings.NewReplacer("{day}", day).Replace(`if(has_target = 0 OR {day} < t_baseline_date, NULL,
        if({day} >= t_deadline, t_target,
            t_baseline + (t_target - t_baseline)
                * dateDiff('day', t_baseline_date, {day}) / dateDiff('day', t_baseline_date, t_deadline)))`)
}

// shareOf is level4 of eligible in percent, NULL when nothing is eligible.
func shareOf(level4, eligible string) string {
	return "if(" + eligible + " = 0, NULL, 100 * " + level4 + " / " + eligible + ")"
}

// allUnits is the filter of dailyCoverage that keeps every unit.
const allUnits = "1"

// dailyCoverage is one row per Vietnamese day in the range: the sums of eligible and level-4 procedures of the
// units that filter keeps (allUnits, or unitFilter), and the target of scope (an SQL expression: 'national', or
// ScopeOf a unit) joined on. Its columns: day, day_eligible, day_level4 and TargetsByScope's.
func dailyCoverage(filter, scope string) string {
	return `(
    SELECT
        day,
        ` + scope + ` AS scope,
        sum(share_eligible) AS day_eligible,
        sum(share_level4) AS day_level4
    FROM ` + coverageRows(historyView, vnDays) + ` AS coverage
    WHERE ` + filter + `
    GROUP BY day
) AS days
ANY LEFT JOIN
` + TargetsByScope + ` AS target USING scope`
}

// coverageSeries is a chart of coverage and its trajectory, one point per Vietnamese day at its midnight in Vietnam.
func coverageSeries(filter, scope string) string {
	return `SELECT
    toDateTime(day, 'Asia/Ho_Chi_Minh') AS time,
    ` + shareOf("day_level4", "day_eligible") + ` AS coverage,
    ` + TrajectoryOn("day") + ` AS trajectory
FROM ` + dailyCoverage(filter, scope) + `
ORDER BY time`
}

// coverageTable is the numbers under a coverage chart, latest day first. The day is a string so that Grafana shows
// the Vietnamese day as it is rather than a midnight converted between zones.
func coverageTable(filter, scope string) string {
	return `SELECT
    toString(day) AS date,
    day_eligible AS eligible,
    day_level4 AS level4,
    ` + shareOf("day_level4", "day_eligible") + ` AS coverage,
    ` + TrajectoryOn("day") + ` AS trajectory
FROM ` + dailyCoverage(filter, scope) + `
ORDER BY day DESC`
}

// Statuses of a unit on the latest day, as unitStatus's status column holds them.
const (
	statusFull       = "full"     // every eligible procedure at level 4
	statusOnTrack    = "on_track" // below 100%, at or above the trajectory
	statusBehind     = "behind"   // below the trajectory
	statusNoTarget   = "no_target"
	statusNoEligible = "nothing_eligible"
)

// unitStatus is one row per unit that has coverage on the latest day: its figures then, its coverage paceDays
// earlier, its trajectory then (its own target's, or the national one: ScopeOf) and its status. Its columns: unit_kind, unit_code, ref ('province/01'),
// latest, eligible_now, level4_now, unit_coverage (NULL when nothing is eligible), unit_coverage_before (NULL
// without a row paceDays earlier), trajectory (NULL before the baseline date or without a target) and status:
//
//	full              every eligible procedure is at level 4
//	on_track          below 100%, and coverage is at or above the trajectory
//	behind            coverage is below the trajectory
//	no_target         below 100%, and no trajectory applies that day
//	nothing_eligible  the unit has no eligible procedure
//
// It reads coverage as the dashboard's history variable shows it (coverageIn), one row per unit and day.
var unitStatus = unitStatusOf(allUnits)

// unitStatusOf is unitStatus for the units that filter keeps (allUnits, or unitFilter, which reads only the unit's
// rows).
func unitStatusOf(filter string) string {
	return `(
    SELECT
        unit_kind,
        unit_code,
        concat(unit_kind, '/', unit_code) AS ref,
        latest,
        eligible_now,
        level4_now,
        ` + shareOf("level4_now", "eligible_now") + ` AS unit_coverage,
        if(has_before = 0 OR eligible_before = 0, NULL, 100 * level4_before / eligible_before) AS unit_coverage_before,
        ` + TrajectoryOn("latest") + ` AS trajectory,
        multiIf(
            eligible_now = 0, '` + statusNoEligible + `',
            level4_now = eligible_now, '` + statusFull + `',
            trajectory IS NULL, '` + statusNoTarget + `',
            ifNull(unit_coverage >= trajectory, 0), '` + statusOnTrack + `',
            '` + statusBehind + `') AS status
    FROM
    (
        SELECT
            unit_kind,
            unit_code,
            ` + ScopeOf("concat(unit_kind, '/', unit_code)") + ` AS scope,
            max(day) AS latest,
            argMax(eligible, (day, version)) AS eligible_now,
            argMax(level4, (day, version)) AS level4_now,
            min(day) < max(day) AS has_before,
            argMin(eligible, (day, -toInt64(version))) AS eligible_before,
            argMin(level4, (day, -toInt64(version))) AS level4_before
        FROM ` + CoverageIn(historyView, "day IN "+latestDays) + ` AS coverage
        WHERE ` + filter + `
        GROUP BY unit_kind, unit_code
        HAVING latest IN ` + latestDay + `
    ) AS unit_days
    ANY LEFT JOIN
    ` + TargetsByScope + ` AS target USING scope
)`
}

// UnitNames is every unit's reference and Vietnamese name today (unitNamesNow: renames and mergers included). Its
// columns: ref, name, kind.
const UnitNames = `(
    SELECT
        concat(unit_kind, '/', unit_code) AS ref,
        unit_name AS name,
        unit_kind AS kind
    FROM ` + unitNamesNow + ` AS now
)`

// lastReports is each unit's latest report up to the end of the time range. Its columns: ref, has_report (1; 0
// after a join finds none), latest_report, latest_collector.
const lastReports = `(
    SELECT
        concat(unit_kind, '/', unit_code) AS ref,
        1 AS has_report,
        max(reported_at) AS latest_report,
        argMax(collector, (reported_at, stream_seq)) AS latest_collector
    FROM reports FINAL
    WHERE (reported_at <= $__toTime)
    GROUP BY unit_kind, unit_code
)`

// stageNow is each unit's virtual-assistant stage at the end of the time range: its latest change by effective
// time, stream sequence breaking ties. Its columns: ref, has_stage (1; 0 after a join finds none), current_stage
// (the enum), stage_since (when it reached it), stage_users (civil servants using it, when known).
const stageNow = `(
    SELECT
        concat(unit_kind, '/', unit_code) AS ref,
        1 AS has_stage,
        argMax(stage, (effective_at, stream_seq)) AS current_stage,
        max(effective_at) AS stage_since,
        argMax(users, (effective_at, stream_seq)) AS stage_users
    FROM assistant_changes FINAL
    WHERE (effective_at <= $__toTime)
    GROUP BY unit_kind, unit_code
)`
