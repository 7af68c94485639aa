// Package chsql holds every SQL statement egovtrack sends to ClickHouse apart from those that have places of their
// own: the migrations (projector/migrations/*.sql), the dashboards' panels (dashboards/board) and the alert rules
// (dashboards/alert). Keeping them here
// gives one place to read what egovtrack asks of ClickHouse, and one list (All) for the test that runs every statement
// on both engines egovtrack is tested on, ClickHouse 18.16 and 26.7, and requires the same answers.
//
// The SQL must run on 18.16 and on 24.x and newer: no window functions, no toStartOfInterval, no DateTime64, no
// LowCardinality, an alias on every joined subquery. Tables are named without their database: the connection's
// applies. Statements that take values use clickhouse-go's positional ? placeholders, bound on the client.
package chsql

import (
	"strconv"
	"strings"
)

// Statement is one SQL statement, with the name tests and errors call it by.
type Statement struct {
	Name string
	SQL  string
}

// The store (projector/store): the projector's writes and the reads they need.
var (
	// WrittenIDs finds which of a batch's event ids the raw log holds. The ids go as external data, a temporary table
	// BatchIDs with one UUID column id: ClickHouse 18.16 takes seconds to parse thousands of toUUID('…') literals.
	// Its arguments are the earliest and the latest time of the batch's events, in Unix seconds: an event the raw log
	// holds has the same time as the batch's event of the same id (the id is derived from the fact, its time among
	// it), so only the monthly partitions of those times are read, however many years the raw log holds.
	WrittenIDs = Statement{"store: written ids", `SELECT id FROM events WHERE id IN ` + BatchIDs + ` AND time >= toDateTime(?) AND time <= toDateTime(?)`}

	InsertUnits            = insert("store: insert units", "units", "kind, code, name, lat, lon, cadence_days")
	InsertProcedureChanges = insert("store: insert procedure changes", "procedure_changes", "unit_kind, unit_code, procedure_code, event_id, stream_seq, change, effective_at, day, name, sector, eligible, level")
	InsertAssistantChanges = insert("store: insert assistant changes", "assistant_changes", "unit_kind, unit_code, event_id, stream_seq, effective_at, day, stage, users")
	InsertReports          = insert("store: insert reports", "reports", "unit_kind, unit_code, event_id, stream_seq, collector, reported_at, registered, changed, retired, unchanged")
	InsertTargets          = insert("store: insert targets", "targets", "metric, scope, event_id, stream_seq, set_at, baseline, baseline_date, target, deadline")
	InsertEvents           = insert("store: insert events", "events", "id, type, source, submitted_by, subject, unit_kind, unit_code, time, data, stream_seq, received_at")
	InsertQuarantine       = insert("store: insert quarantine", "quarantine", "stream_seq, subject, payload, reason, received_at")
	InsertProcedures       = insert("store: insert procedures", "procedures", "unit_kind, unit_code, procedure_code, name, sector, eligible, level, active, effective_at, version")
	InsertCoverage         = insert("store: insert coverage", "coverage_daily", "unit_kind, unit_code, day, procedures, eligible, level4, version")
	InsertVerdicts         = insert("store: insert signature verdicts", "signature_verdicts", "stream_seq, digest, submitted_by, verified_at")
	InsertLineage          = insert("store: insert unit lineage", "unit_lineage", "predecessor_kind, predecessor_code, successor_kind, successor_code, effective_on, main, procedures, event_id, stream_seq")
	InsertUnitNames        = insert("store: insert unit names", "unit_names", "kind, code, effective_on, name, event_id, stream_seq")
	InsertDossierFacts     = insert("store: insert dossier facts", "dossier_facts", "unit_kind, unit_code, dossier, fact, at, procedure, channel, fee, due_at, flag, on_time, event_id, stream_seq")
	InsertDossierMonths    = insert("store: insert dossier months", "dossier_months", "unit_kind, unit_code, month, dossier")
	InsertDossierCounts    = insert("store: insert dossier counts", "dossier_counts", "grain, unit_kind, unit_code, period, procedure, channel, received, received_online, received_fee, paid, paid_online, settled, settled_on_time, settle_seconds, results, results_electronic, digitised, withdrawn, feedback, satisfied, feedback_on_time, procedures_online, procedures_fee, procedures_paid_online, through_seq")
	InsertHoldings         = insert("store: insert unit holders", "unit_holders", "unit_kind, unit_code, leg, from_day, until_day, holder_kind, holder_code, procedures, superseded_on, end_kind, end_code, moved_procedures, moved_eligible, moved_level4, unit_moved_procedures, unit_moved_eligible, unit_moved_level4, version")

	// LoadLineage reads every merger's rows: a few dozen, read whole whenever the holdings are computed again.
	LoadLineage = Statement{"store: unit lineage", `SELECT predecessor_kind, predecessor_code, successor_kind, successor_code, effective_on, main, procedures, stream_seq FROM unit_lineage FINAL`}
	// HolderReports reads the days on which the units that hold merged units' procedures reported a catalogue; its
	// argument is those units' codes, as an array (never empty). Read by unit, the table's sorting key.
	HolderReports = Statement{"store: holders' reports", `SELECT DISTINCT unit_kind, unit_code, toDate(reported_at, 'Asia/Ho_Chi_Minh') AS day
FROM reports FINAL
WHERE unit_code IN (SELECT arrayJoin(?)) AND registered + changed + retired + unchanged > 0`}
	// MovedProcedures reads the procedures of units merged away with moved lists, as they stand; its argument is
	// those units' codes, as an array (never empty).
	MovedProcedures = Statement{"store: moved procedures", `SELECT unit_kind, unit_code, procedure_code, active, eligible, level
FROM procedures FINAL
WHERE unit_code IN (SELECT arrayJoin(?))`}

	// DossierFacts reads every stored fact of a batch's dossiers, given as external data BatchDossiers. Read by
	// dossier, the table's sorting key: a few granules of 256 rows a dossier, however many the table holds.
	DossierFacts = Statement{"store: facts of dossiers", `SELECT unit_kind, unit_code, dossier, toString(fact), at, procedure, channel, fee, due_at, flag, on_time, stream_seq
FROM dossier_facts /* no FINAL: a fact written twice is one fact to the store, which counts each (dossier, kind) once */
PREWHERE dossier IN (SELECT dossier FROM ` + BatchDossiers + `)`}
	// DossierFactsOfMonth reads every stored fact of the dossiers with a fact in one unit's month, dossier by dossier:
	// its arguments are the unit's kind and code, the first day of the month (YYYY-MM-DD), and the kind and code again.
	DossierFactsOfMonth = Statement{"store: facts of a unit's month", `SELECT unit_kind, unit_code, dossier, toString(fact), at, procedure, channel, fee, due_at, flag, on_time, stream_seq
FROM dossier_facts /* no FINAL: as DossierFacts */
WHERE dossier IN (
    SELECT dossier FROM dossier_months /* no FINAL: a dossier listed twice is one dossier to IN */
    WHERE unit_kind = ? AND unit_code = ? AND month = toDate(?)
) AND unit_kind = ? AND unit_code = ?
ORDER BY dossier /* the store counts one dossier at a time */`}
	// DossierCounts reads the stored counts of a batch's units, grains and periods, given as external data CountKeys:
	// a prefix of the table's key.
	DossierCounts = Statement{"store: dossier counts", `SELECT toString(grain), unit_kind, unit_code, period, procedure, channel, received, received_online, received_fee, paid, paid_online, settled, settled_on_time, settle_seconds, results, results_electronic, digitised, withdrawn, feedback, satisfied, feedback_on_time, procedures_online, procedures_fee, procedures_paid_online, through_seq
FROM dossier_counts FINAL
WHERE (grain, unit_kind, unit_code, period) IN (SELECT grain, unit_kind, unit_code, period FROM ` + CountKeys + `)`}

	// DossierCountsOfMonth reads the keys and sequences of a unit's stored counts in a month: its arguments are the
	// unit's kind and code and the first days of the month and of the next, as YYYY-MM-DD.
	DossierCountsOfMonth = Statement{"store: dossier counts of a unit's month", `SELECT toString(grain), period, procedure, channel, through_seq
FROM dossier_counts FINAL
WHERE unit_kind = ? AND unit_code = ? AND period >= toDate(?) AND period < toDate(?)`}

	// Verdicts reads the signatures' verdicts of the stream sequences from one to another (its two arguments), by the
	// table's key: a batch's range, whatever the table holds. DISTINCT: a verdict written twice (a batch written
	// again) is one, whether or not ClickHouse merged the rows yet.
	Verdicts = Statement{"store: signature verdicts", `SELECT DISTINCT stream_seq, digest, submitted_by FROM signature_verdicts WHERE stream_seq >= ? AND stream_seq <= ?`}

	// LastCoverageDays is each unit's last day in coverage_daily. It reads the whole table's days: the store asks once,
	// after a start or a failed write, and keeps the answer (see LatestCoverageDay).
	LastCoverageDays = Statement{"store: last coverage days", `SELECT unit_kind, unit_code, max(day) FROM coverage_daily GROUP BY unit_kind, unit_code`}
	// LatestCoverageDay is the last day of coverage_daily from a day on ('YYYY-MM-DD', one the table holds), or no row
	// when it holds none (the max of no dates is 0000-00-00 on 18.16, 1970-01-01 on 26.x). It reads only the monthly
	// partitions from that day on, so its cost does not grow with the years the table holds.
	LatestCoverageDay = Statement{"store: latest coverage day", `SELECT max(day) FROM coverage_daily WHERE day >= toDate(?) HAVING count() > 0`}
)

// CarryCoverage copies the coverage of n units on their last stored day to every later day up to a day. Its
// arguments: the day to carry to ('YYYY-MM-DD'), then each unit's kind, code and last day ('YYYY-MM-DD'). It reads
// the n rows by the table's key, before the days are made: its cost is the rows it writes, whatever the table holds
// (reading the whole table, then making every row's days, once made 132 million array elements and failed).
// range(n) is shifted by one: 18.16 has no range(start, end).
func CarryCoverage(n int) Statement {
	q := `INSERT INTO coverage_daily (unit_kind, unit_code, day, procedures, eligible, level4, version)
SELECT unit_kind, unit_code, addDays(day, n), procedures, eligible, level4, version
FROM
(
    SELECT unit_kind, unit_code, day, procedures, eligible, level4, version, toDate(?) AS carry_to
    FROM coverage_daily FINAL
    WHERE `
	for i := range n {
		if i > 0 {
			q += " OR "
		}
		q += "(unit_kind = ? AND unit_code = ? AND day = toDate(?))"
	}
	q += `
) AS last_rows
ARRAY JOIN arrayMap(i -> i + 1, range(toUInt64(dateDiff('day', day, carry_to)))) AS n`
	return Statement{"store: carry coverage of " + strconv.Itoa(n) + " units forward", q}
}

// BatchIDs is the external table WrittenIDs reads: one column, id UUID.
const BatchIDs = "batch_ids"

// BatchDossiers is the external table DossierFacts reads: one column, dossier String.
const BatchDossiers = "batch_dossiers"

// CountKeys is the external table DossierCounts reads: unit_kind String, unit_code String, grain Enum8 (as
// dossier_counts'), period Date.
const CountKeys = "count_keys"

// LoadChanges reads every stored change of n units, each given as two arguments, its kind and its code. The
// conditions are on the table's key prefix, so that ClickHouse reads only these units' parts of it.
func LoadChanges(n int) Statement {
	q := `SELECT unit_kind, unit_code, procedure_code, toString(change), effective_at, stream_seq, name, sector, eligible, level
FROM procedure_changes FINAL WHERE `
	for i := range n {
		if i > 0 {
			q += " OR "
		}
		q += "(unit_kind = ? AND unit_code = ?)"
	}
	return Statement{"store: load changes of " + strconv.Itoa(n) + " units", q}
}

// The migrations' bookkeeping (projector/migrations).
var (
	// MigrationsTable records the migrations applied.
	CreateMigrationsTable = Statement{"schema: create schema_migrations", `CREATE TABLE IF NOT EXISTS ` + MigrationsTable + ` (
    version    UInt32,
    name       String,
    applied_at DateTime
) ENGINE = ReplacingMergeTree
ORDER BY version`}
	// RecordMigration takes the version and the name.
	RecordMigration   = Statement{"schema: record a migration", `INSERT INTO ` + MigrationsTable + ` (version, name, applied_at) SELECT ?, ?, now()`}
	AppliedMigrations = Statement{"schema: applied migrations", `SELECT DISTINCT version FROM ` + MigrationsTable + ` ORDER BY version`}
	// LatestMigration is the highest version applied.
	LatestMigration = Statement{"rebuild: latest migration", `SELECT max(version) FROM ` + MigrationsTable}
	// CurrentDatabase names the connection's database.
	CurrentDatabase = Statement{"schema: current database", `SELECT currentDatabase()`}
)

// MigrationsTable is where projector/migrations records the migrations it applied.
const MigrationsTable = "schema_migrations"

// The rebuild (projector/rebuild) and the connection (internal/chdb).
var (
	// TableExists counts the tables of the connection's database named by its one argument: 0 or 1.
	TableExists = Statement{"rebuild: table exists", `SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = ?`}
	// TableEngine is the engine of the table named by its one argument.
	TableEngine = Statement{"rebuild: table engine", `SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = ?`}
)

// DropTable drops table t when it exists.
func DropTable(t string) Statement {
	return Statement{"rebuild: drop " + t, "DROP TABLE IF EXISTS " + QuoteIdent(t)}
}

// CountRows counts table t's rows, with FINAL when final, as the dashboards read a table whose engine merges rows.
func CountRows(t string, final bool) Statement {
	q := "SELECT count() FROM " + QuoteIdent(t)
	name := "count rows of " + t
	if final {
		q += " FINAL"
		name += " with FINAL"
	}
	return Statement{name, q}
}

// OptimizeFinal merges table t's parts, so that a SummingMergeTree's rows are summed: 18.16's FINAL does not sum.
func OptimizeFinal(t string) Statement {
	return Statement{"rebuild: merge " + t, "OPTIMIZE TABLE " + QuoteIdent(t) + " FINAL"}
}

// CountRowsOf is how `projector rebuild` counts table t, whose engine (system.tables' engine) is given, as the
// dashboards read it: with FINAL where the engine replaces rows on merge (ReplacingMergeTree and its kin, replicated
// or not); by merging first where it sums them (FINAL returns no rows there on 18.16, and sums on 26.7); plainly
// otherwise. A view is not counted: its rows are its target table's. The statements run in order; the last counts.
func CountRowsOf(t, engine string) []Statement {
	e := strings.TrimPrefix(strings.TrimPrefix(engine, "Replicated"), "Shared")
	switch {
	case strings.HasSuffix(engine, "View"):
		return nil
	case strings.Contains(e, "SummingMergeTree"):
		return []Statement{OptimizeFinal(t), CountRows(t, false)}
	case strings.HasSuffix(e, "MergeTree") && e != "MergeTree":
		return []Statement{CountRows(t, true)}
	}
	return []Statement{CountRows(t, false)}
}

// CreateDatabase creates database db when it is missing.
func CreateDatabase(db string) Statement {
	return Statement{"create database", "CREATE DATABASE IF NOT EXISTS " + QuoteIdent(db)}
}

// DropDatabase drops database db when it exists.
func DropDatabase(db string) Statement {
	return Statement{"drop database", "DROP DATABASE IF EXISTS " + QuoteIdent(db)}
}

// The summary `make demo` prints (deploy/demo).
var (
	DemoAssistantLive = Statement{"demo: assistants live", `SELECT countIf(stage = 'live') FROM (
    SELECT argMax(stage, (effective_at, stream_seq)) AS stage FROM assistant_changes FINAL GROUP BY unit_kind, unit_code
)`}
)

// DemoScores reads the Decision 766 ranking `make demo` prints from the dashboard's ranking (its SQL, expanded for a
// month): each unit's ref, name, whether it was scored, its score (0 when not), its dossiers received and settled.
func DemoScores(ranking string) Statement {
	return Statement{"demo: Decision 766 scores", `SELECT ref, name, score IS NOT NULL, toFloat64(ifNull(score, 0)), toUInt64(received), toUInt64(settled)
FROM (` + ranking + `)`}
}

func insert(name, table, columns string) Statement {
	return Statement{name, "INSERT INTO " + table + " (" + columns + ")"}
}

// QuoteIdent quotes a database, table or column name, so that names such as "egov-test" or ones with quotes in them
// stay one identifier.
func QuoteIdent(name string) string {
	return "`" + identEscaper.Replace(name) + "`"
}

var identEscaper = strings.NewReplacer("\\", "\\\\", "`", "\\`")

// DemoTables are the tables whose rows `make demo` counts, with FINAL: those the README names, all of them
// ReplacingMergeTree.
var DemoTables = []string{"events", "procedure_changes", "procedures", "coverage_daily", "assistant_changes", "reports", "targets", "units", "dossier_facts", "dossier_counts", "quarantine"}

// All lists every statement of this package, the parametric ones for the given tables (the projector's, in the
// order the migrations create them) and for one and two units, so that a test can run each one; CountRowsOf's, which
// depend on each table's engine, are not among them.
func All(tables []string) []Statement {
	out := []Statement{
		WrittenIDs, InsertUnits, InsertProcedureChanges, InsertAssistantChanges, InsertReports, InsertTargets,
		InsertEvents, InsertQuarantine, InsertProcedures, InsertCoverage, InsertVerdicts, Verdicts, LastCoverageDays, LatestCoverageDay,
		InsertLineage, InsertUnitNames, InsertHoldings, LoadLineage, HolderReports, MovedProcedures, InsertDossierFacts, InsertDossierMonths, InsertDossierCounts, DossierFacts, DossierFactsOfMonth, DossierCounts, DossierCountsOfMonth,
		CarryCoverage(1), CarryCoverage(2), LoadChanges(1), LoadChanges(2),
		CreateMigrationsTable, RecordMigration, AppliedMigrations, LatestMigration, CurrentDatabase,
		TableExists, TableEngine, CreateDatabase("egov_test"), DropDatabase("egov_test"),
		DemoAssistantLive, DemoScores("" /* the ranking's SQL: the test gives it */),
	}
	for _, t := range DemoTables {
		out = append(out, CountRows(t, true))
	}
	for _, t := range tables {
		out = append(out, DropTable(t))
	}
	return out
}
