package board

import (
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Reorganisations (the 2025 mergers; README.md, "Reorganisations"). A code names a unit for the days it is valid:
// from the day a unit is merged into another, its procedures count for the unit that holds them (unit_holders, which
// the projector computes from the mergers), until that unit's first catalogue report on or after the day, which
// restates the procedures as its own. Two views of the same counts:
//
//   - as it was (HistoryAsWas): each day's units, as they existed that day;
//   - as it is (HistoryAsIs): today's units, each with the units it was formed from rolled up before it existed. A
//     unit split between successors rolls up into its main successor; the procedures moved elsewhere count for the
//     other from the day they moved.
//
// Every procedure counted one day counts once in both views, so the national figures are the same in both, and do
// not move on the day of a merger.

// HistoryVar is the dashboards' variable that chooses the view.
const HistoryVar = "history"

// The views, as the variable's values.
const (
	HistoryAsWas = "as_was"
	HistoryAsIs  = "as_is"
)

// historyView is the SQL of the chosen view: the variable as a string literal. National figures, the same in both
// views, read AsWasSQL (the view as a literal), so that the alert rules, which have no variables, share their SQL.
const (
	historyView = `${` + HistoryVar + `:singlequote}`
	AsWasSQL    = `'` + HistoryAsWas + `'`
)

// forever stands for "no end" where a Date is needed: after the last day egovtrack records.
const forever = `toDate('2101-01-01')`

// holdings are unit_holders' rows of the projector's latest computation. A computation replaces the rows of its
// keys; a merger that changes a unit's first day leaves the rows of the old day behind, which it must not read.
const holdings = `(
    SELECT
        unit_kind, unit_code, leg, from_day, until_day, holder_kind, holder_code, superseded_on, end_kind, end_code,
        moved_procedures, moved_eligible, moved_level4, unit_moved_procedures, unit_moved_eligible, unit_moved_level4
    FROM unit_holders FINAL
    WHERE version IN (SELECT max(version) FROM unit_holders /* no FINAL: a row written twice has the same version */)
)`

// unitLegs is, for every unit merged away, its legs' windows as arrays (one element per window of a leg), as the
// projector keeps them in unit_holders: holder, first and end day, the day a report superseded the leg, 1 for the
// main leg and 0 for a moved one, the leg's last holder, its moved counts; and the unit's first day merged and its
// moved totals. Its columns: unit_kind, unit_code, merged_on, h_kind, h_code, h_from, h_until, h_sup, h_main,
// h_end_kind, h_end_code, h_procedures, h_eligible, h_level4, total_moved_procedures, total_moved_eligible,
// total_moved_level4.
const unitLegs = `(
    SELECT
        unit_kind,
        unit_code,
        min(from_day) AS merged_on,
        groupArray(holder_kind) AS h_kind,
        groupArray(holder_code) AS h_code,
        groupArray(from_day) AS h_from,
        groupArray(until_day) AS h_until,
        groupArray(superseded_on) AS h_sup,
        groupArray(toUInt8(leg = 0)) AS h_main,
        groupArray(end_kind) AS h_end_kind,
        groupArray(end_code) AS h_end_code,
        groupArray(toInt64(moved_procedures)) AS h_procedures,
        groupArray(toInt64(moved_eligible)) AS h_eligible,
        groupArray(toInt64(moved_level4)) AS h_level4,
        toInt64(any(unit_moved_procedures)) AS total_moved_procedures,
        toInt64(any(unit_moved_eligible)) AS total_moved_eligible,
        toInt64(any(unit_moved_level4)) AS total_moved_level4
    FROM ` + holdings + ` AS held
    GROUP BY unit_kind, unit_code
)`

// CoverageIn is coverage_daily as the view shows it: one row per unit and Vietnamese day that days (a condition on
// day) keeps, the unit being the one that holds the procedures that day (as it was), or today's unit they belong to
// (as it is). view is an SQL string: historyView, or AsWasSQL for figures the same in both views. Its columns, as
// coverage_daily's: unit_kind, unit_code, day, procedures, eligible, level4, version (1: one row per unit and day).
func CoverageIn(view, days string) string {
	return `(
    SELECT
        unit_kind,
        unit_code,
        day,
        toUInt32(sum(share_procedures)) AS procedures,
        toUInt32(sum(share_eligible)) AS eligible,
        toUInt32(sum(share_level4)) AS level4,
        toUInt64(1) AS version
    FROM ` + coverageRows(view, days) + ` AS shares
    GROUP BY unit_kind, unit_code, day
)`
}

// coverageRows is CoverageIn before its rows are added up by unit and day: a unit holding another's procedures has
// a row for its own and one for each it holds. For figures that are sums over units (the national ones, by kind),
// which need not pay for the grouping. Its columns: unit_kind, unit_code, day, share_procedures, share_eligible,
// share_level4 (Int64).
//
// Each row of coverage_daily counts once: for its own unit until that unit is merged away; then, leg by leg, for the
// unit holding the leg that day, until a report supersedes it (the main leg is the unit's procedures not moved; a
// moved leg, the procedures listed). Units never merged away (all of them before 2025) take the first branch, which
// costs what reading coverage_daily costs; only the rows of units merged away take the second, through the legs.
func coverageRows(view, days string) string {
	return strings.NewReplacer("{view}", view).Replace(`(
    SELECT
        unit_kind,
        unit_code,
        day,
        toInt64(argMax(procedures, version)) AS share_procedures,
        toInt64(argMax(eligible, version)) AS share_eligible,
        toInt64(argMax(level4, version)) AS share_level4
    FROM coverage_daily /* no FINAL: argMax by version keeps each row of its latest version */
    WHERE ` + days + ` AND (unit_kind, unit_code) NOT IN (SELECT unit_kind, unit_code FROM ` + holdings + ` AS held)
    GROUP BY unit_kind, unit_code, day
    UNION ALL
    SELECT
        if({view} = '` + HistoryAsIs + `', l_end_kind, l_kind) AS unit_kind,
        if({view} = '` + HistoryAsIs + `', l_end_code, l_code) AS unit_code,
        day,
        multiIf(l_share = 2, own_procedures, l_share = 1, own_procedures - total_moved_procedures, l_procedures) AS share_procedures,
        multiIf(l_share = 2, own_eligible, l_share = 1, own_eligible - total_moved_eligible, l_eligible) AS share_eligible,
        multiIf(l_share = 2, own_level4, l_share = 1, own_level4 - total_moved_level4, l_level4) AS share_level4
    FROM
    (
        SELECT
            day,
            own_procedures,
            own_eligible,
            own_level4,
            total_moved_procedures,
            total_moved_eligible,
            total_moved_level4,
            /* the unit's own days first (share 2: the whole row), then its legs' windows */
            arrayConcat([src_kind], h_kind) AS ls_kind,
            arrayConcat([src_code], h_code) AS ls_code,
            arrayConcat([toDate('1970-01-02')], h_from) AS ls_from,
            arrayConcat([merged_on], h_until) AS ls_until,
            arrayConcat([` + forever + `], h_sup) AS ls_sup,
            arrayConcat([toUInt8(2)], h_main) AS ls_share,
            arrayConcat([h_end_kind[indexOf(h_main, 1)]], h_end_kind) AS ls_end_kind,
            arrayConcat([h_end_code[indexOf(h_main, 1)]], h_end_code) AS ls_end_code,
            arrayConcat([toInt64(0)], h_procedures) AS ls_procedures,
            arrayConcat([toInt64(0)], h_eligible) AS ls_eligible,
            arrayConcat([toInt64(0)], h_level4) AS ls_level4
        FROM
        (
            SELECT
                unit_kind,
                unit_code,
                unit_kind AS src_kind,
                unit_code AS src_code,
                day,
                toInt64(argMax(procedures, version)) AS own_procedures,
                toInt64(argMax(eligible, version)) AS own_eligible,
                toInt64(argMax(level4, version)) AS own_level4
            FROM coverage_daily /* no FINAL: argMax by version keeps each row of its latest version */
            WHERE ` + days + ` AND (unit_kind, unit_code) IN (SELECT unit_kind, unit_code FROM ` + holdings + ` AS held)
            GROUP BY unit_kind, unit_code, day
        ) AS own
        /* LEFT, not INNER: since 20.x an ANY INNER JOIN keeps one row of the left side per key too */
        ANY LEFT JOIN ` + unitLegs + ` AS merged USING (unit_kind, unit_code)
    )
    ARRAY JOIN
        ls_kind AS l_kind,
        ls_code AS l_code,
        ls_from AS l_from,
        ls_until AS l_until,
        ls_sup AS l_sup,
        ls_share AS l_share,
        ls_end_kind AS l_end_kind,
        ls_end_code AS l_end_code,
        ls_procedures AS l_procedures,
        ls_eligible AS l_eligible,
        ls_level4 AS l_level4
    WHERE day >= l_from AND day < l_until AND day < l_sup
)`)
}

// historyVariable chooses the view of history. It opens on today's units.
func historyVariable() *dashboard.CustomVariableBuilder {
	return dashboard.NewCustomVariableBuilder(HistoryVar).
		Label("Lịch sử / History").
		Description("As it is: today's ministries and provinces, each with the units it was formed from counted " +
			"before it existed (a 34-province table with lines back to 2021). As it was: the units that existed on each " +
			"day. The national figures are the same in both.").
		Values(dashboard.StringOrMap{String: cog.ToPtr(historyOptions)}).
		Multi(false).
		IncludeAll(false).
		Current(dashboard.VariableOption{
			Text:  dashboard.StringOrArrayOfString{String: cog.ToPtr(historyAsIsText)},
			Value: dashboard.StringOrArrayOfString{String: cog.ToPtr(HistoryAsIs)},
		}).
		Options([]dashboard.VariableOption{
			{Text: dashboard.StringOrArrayOfString{String: cog.ToPtr(historyAsIsText)}, Value: dashboard.StringOrArrayOfString{String: cog.ToPtr(HistoryAsIs)}, Selected: cog.ToPtr(true)},
			{Text: dashboard.StringOrArrayOfString{String: cog.ToPtr(historyAsWasText)}, Value: dashboard.StringOrArrayOfString{String: cog.ToPtr(HistoryAsWas)}, Selected: cog.ToPtr(false)},
		})
}

const (
	historyAsIsText  = "Như hiện nay / as it is"
	historyAsWasText = "Như đã có / as it was"
	// historyOptions is the custom variable's query: "text : value" pairs.
	historyOptions = historyAsIsText + " : " + HistoryAsIs + ", " + historyAsWasText + " : " + HistoryAsWas
)

// NationalByDaySQL is the national eligible procedures and those at level 4 on every day coverage_daily holds,
// through every merger: day, eligible, level4 (the demo's summary reads it).
var NationalByDaySQL = `SELECT
    day,
    toUInt64(sum(share_eligible)) AS eligible,
    toUInt64(sum(share_level4)) AS level4
FROM ` + coverageRows(AsWasSQL, "1") + ` AS coverage
GROUP BY day
ORDER BY day`

// unitNamesNow is every unit's name today: the latest a merger or a rename gave it, or the reference data's. Its
// columns: unit_kind, unit_code, unit_name.
const unitNamesNow = `(
    SELECT
        unit_kind,
        unit_code,
        argMax(named, named_on) AS unit_name
    FROM ` + namesOverTime + ` AS names
    GROUP BY unit_kind, unit_code
)`

// namesOverTime is every name every unit had, from a day on: the reference data's (from 1970-01-02: always), and
// those mergers and renames gave. Its columns: unit_kind, unit_code, named, named_on.
const namesOverTime = `(
    SELECT kind AS unit_kind, code AS unit_code, name AS named, toDate('1970-01-02') AS named_on
    FROM units FINAL
    UNION ALL
    SELECT kind AS unit_kind, code AS unit_code, name AS named, effective_on AS named_on
    FROM unit_names FINAL
)`

// UnitsOnLastDaySQL is today's units on the last day coverage_daily holds, as it is: kind, code, name, eligible,
// level4, provinces first in code order (the demo's summary prints them).
var UnitsOnLastDaySQL = `SELECT
    unit_kind,
    unit_code,
    unit_name,
    toUInt64(eligible) AS unit_eligible,
    toUInt64(level4) AS unit_level4
FROM ` + CoverageIn(`'`+HistoryAsIs+`'`, "day IN (SELECT max(day) FROM coverage_daily)") + ` AS coverage
ANY LEFT JOIN ` + unitNamesNow + ` AS names USING (unit_kind, unit_code)
ORDER BY unit_kind DESC, unit_code`

// unitSpans is when each unit that a merger touched came to exist and stopped: born_on, the first day of a unit
// with a code of its own that a merger formed (1970-01-01 for the others: the reference data's, or ones that kept
// their code); merged_on, the day it was merged into another, when has_end. Its columns: unit_kind, unit_code,
// born_on, has_end, merged_on. Units no merger touched have no row.
const unitSpans = `(
    SELECT
        unit_kind,
        unit_code,
        min(born) AS born_on,
        max(ended) AS has_end,
        min(ended_on) AS merged_on
    FROM
    (
        SELECT
            successor_kind AS unit_kind,
            successor_code AS unit_code,
            if(countIf(predecessor_kind = successor_kind AND predecessor_code = successor_code) > 0, toDate('1970-01-01'), min(effective_on)) AS born,
            0 AS ended,
            ` + forever + ` AS ended_on
        FROM unit_lineage FINAL
        WHERE main = 1
        GROUP BY successor_kind, successor_code
        UNION ALL
        SELECT
            unit_kind,
            unit_code,
            toDate('1970-01-01') AS born,
            1 AS ended,
            min(from_day) AS ended_on
        FROM ` + holdings + ` AS held
        WHERE leg = 0
        GROUP BY unit_kind, unit_code
    )
    GROUP BY unit_kind, unit_code
)`

// formedFromSQL is the unit dashboard's lineage: the merger that formed the chosen unit (the units it was formed
// from, by their names before it, itself among them when it kept its code) and the one that ended it (the unit it
// was merged into, by its name then), one row each: day, what ('formed' or 'merged'), units (comma-separated).
var formedFromSQL = `SELECT
    toString(effective_on) AS day,
    what,
    arrayStringConcat(groupArray(other_name), ', ') AS units
FROM
(
    SELECT
        effective_on,
        what,
        unit_kind,
        unit_code,
        argMax(named, named_on) AS other_name
    FROM
    (
        SELECT
            effective_on,
            if(successor_kind = ` + chosenKind + ` AND successor_code = ` + chosenCode + `, 'formed', 'merged') AS what,
            if(what = 'formed', predecessor_kind, successor_kind) AS unit_kind,
            if(what = 'formed', predecessor_code, successor_code) AS unit_code
        FROM unit_lineage FINAL
        WHERE main = 1
            AND ((successor_kind = ` + chosenKind + ` AND successor_code = ` + chosenCode + `)
                OR (predecessor_kind = ` + chosenKind + ` AND predecessor_code = ` + chosenCode + `
                    AND NOT (successor_kind = predecessor_kind AND successor_code = predecessor_code)))
    ) AS lineage
    ALL INNER JOIN ` + namesOverTime + ` AS names USING (unit_kind, unit_code)
    WHERE named_on < effective_on + (what = 'merged')
    GROUP BY effective_on, what, unit_kind, unit_code
)
GROUP BY effective_on, what
ORDER BY effective_on, what`

// chosenKind and chosenCode are the unit dashboard's unit, as SQL.
const (
	chosenKind = `splitByChar('/', ` + unitRef + `)[1]`
	chosenCode = `splitByChar('/', ` + unitRef + `)[2]`
)
