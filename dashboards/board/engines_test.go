package board_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/dashboards/board"
	"github.com/egovtrack/egovtrack/dashboards/chquery"
	"github.com/egovtrack/egovtrack/dashboards/internal/campaigntest"
	"github.com/egovtrack/egovtrack/internal/chsql"
	"github.com/egovtrack/egovtrack/internal/enginetest"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/scorecard"
	"github.com/egovtrack/egovtrack/projector/migrations"
	"github.com/egovtrack/egovtrack/projector/rebuild"
)

// sameOnBothEngines runs sql on the campaign in ClickHouse 18.16 and 26.7 and fails the test when either refuses it
// or their answers differ: other columns, other types, other rows.
func sameOnBothEngines(t *testing.T, e *campaigntest.Engines, sql string) {
	t.Helper()
	ctx := context.Background()
	a, errA := enginetest.Query(ctx, e.Server, sql)
	b, errB := enginetest.Query(ctx, e.Local, sql)
	switch {
	case errA != nil || errB != nil:
		t.Errorf("not run by both engines:\n  18.16: %v\n  26.7: %v\nSQL:\n%s", errA, errB, sql)
	default:
		if d := enginetest.Diff(a, b, enginetest.Ordered(sql)); d != "" {
			t.Errorf("ClickHouse 18.16 and 26.7 answer differently: %s\nSQL:\n%s", d, sql)
		}
	}
}

// everyStatement runs every statement of internal/chsql, the migrations and their cluster form on both engines,
// over the campaign: reads must answer alike, writes must leave the same rows. A statement without a case here fails
// the test, so a statement added to chsql is run on both engines from its first day.
func everyStatement(t *testing.T, c *campaigntest.Campaign, e *campaigntest.Engines) {
	ctx := context.Background()
	tables, err := rebuild.Tables()
	if err != nil {
		t.Fatal(err)
	}
	engines := []enginetest.Engine{e.Server, e.Local}

	// same runs one statement (bound with args) on both engines and compares the answers; compare=false only holds
	// the columns and types to each other (a count without FINAL depends on when each engine merged its parts).
	same := func(t *testing.T, sql string, compare bool, args ...any) {
		t.Helper()
		sql, err := enginetest.Bind(sql, args...)
		if err != nil {
			t.Fatal(err)
		}
		var res [2]enginetest.Result
		for i, eng := range engines {
			if res[i], err = enginetest.Query(ctx, eng, sql); err != nil {
				t.Fatalf("%s refuses it: %v\nSQL:\n%s", eng.Name(), err, sql)
			}
		}
		if !compare {
			res[0].Rows, res[1].Rows = nil, nil
		}
		if d := enginetest.Diff(res[0], res[1], enginetest.Ordered(sql)); d != "" {
			t.Errorf("ClickHouse 18.16 and 26.7 answer differently: %s\nSQL:\n%s", d, sql)
		}
	}
	// exec runs a statement without a result on both engines.
	exec := func(t *testing.T, sql string, args ...any) {
		t.Helper()
		sql, err := enginetest.Bind(sql, args...)
		if err != nil {
			t.Fatal(err)
		}
		for _, eng := range engines {
			if err := enginetest.Exec(ctx, eng, sql); err != nil {
				t.Fatalf("%s refuses it: %v\nSQL:\n%s", eng.Name(), err, sql)
			}
		}
	}
	// tableSame compares what a table holds on both engines after a write, as FINAL reads it, in the given columns
	// (all of them when none: a column the server fills itself, such as events.projected_at, differs by when).
	tableSame := func(t *testing.T, table, cols string) {
		t.Helper()
		if cols == "" {
			cols = strings.Join(e.Copied[table], ", ")
		}
		same(t, "SELECT "+cols+" FROM "+chsql.QuoteIdent(table)+" FINAL ORDER BY "+cols, true)
	}

	// Two units, and the last day of each, for the statements that take units.
	thaiNguyen, ministry := []any{"province", "19"}, []any{"ministry", "BTTTT"}
	lastDay := func(t *testing.T, kind, code string) string {
		t.Helper()
		sql, _ := enginetest.Bind("SELECT toString(max(day)) FROM coverage_daily WHERE unit_kind = ? AND unit_code = ?", kind, code)
		out, err := e.Server.Run(ctx, sql, "TSV")
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}

	// The statements, by name, and how each is run. Statements that write come after those that read, and the
	// drops last of all, as the map is run in the order of chsql.All.
	insertSome := func(st chsql.Statement) func(t *testing.T) {
		return func(t *testing.T) {
			table, cols := insertTarget(t, st.SQL)
			// Rows the table holds already, written again: a redelivered batch, which FINAL must collapse alike.
			rows, err := e.Server.Run(ctx, "SELECT "+cols+" FROM "+chsql.QuoteIdent(table)+" ORDER BY "+cols+" LIMIT 5", "TSV")
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) == 0 {
				t.Fatalf("%s is empty: nothing to write again", table)
			}
			exec(t, st.SQL+" FORMAT TSV\n"+string(rows))
			tableSame(t, table, cols)
		}
	}
	// insertRows writes rows (TSV lines) with st, the first of them twice (a batch written again, which FINAL must
	// collapse alike), and compares the table on both engines.
	insertRows := func(st chsql.Statement, rows ...string) func(t *testing.T) {
		return func(t *testing.T) {
			table, cols := insertTarget(t, st.SQL)
			exec(t, st.SQL+" FORMAT TSV\n"+strings.Join(append(slices.Clone(rows), rows[0]), "\n")+"\n")
			tableSame(t, table, cols)
		}
	}
	cases := map[string]func(t *testing.T){
		chsql.WrittenIDs.Name: func(t *testing.T) {
			// The batch's ids as a table of the database, where production sends them as external data: the
			// statement reads the name either way.
			exec(t, "CREATE TABLE "+chsql.BatchIDs+" (id UUID) ENGINE = Memory")
			exec(t, "INSERT INTO "+chsql.BatchIDs+" SELECT id FROM events ORDER BY id LIMIT 3")
			exec(t, "INSERT INTO "+chsql.BatchIDs+" VALUES ('00000000-0000-4000-8000-000000000001'), ('00000000-0000-4000-8000-000000000002')")
			same(t, chsql.WrittenIDs.SQL, true, 1625097600, 1641056399) // the campaign's months
			same(t, chsql.WrittenIDs.SQL, true, 1640995200, 1641056399) // its last day only: fewer ids
			exec(t, "DROP TABLE "+chsql.BatchIDs)
		},
		chsql.InsertUnits.Name:            insertSome(chsql.InsertUnits),
		chsql.InsertProcedureChanges.Name: insertSome(chsql.InsertProcedureChanges),
		chsql.InsertAssistantChanges.Name: insertSome(chsql.InsertAssistantChanges),
		chsql.InsertReports.Name:          insertSome(chsql.InsertReports),
		chsql.InsertTargets.Name:          insertSome(chsql.InsertTargets),
		chsql.InsertEvents.Name:           insertSome(chsql.InsertEvents),
		chsql.InsertQuarantine.Name:       insertSome(chsql.InsertQuarantine),
		chsql.InsertProcedures.Name:       insertSome(chsql.InsertProcedures),
		chsql.InsertCoverage.Name:         insertSome(chsql.InsertCoverage),
		// Tables the campaign leaves empty (it is unsigned, of 2021: no merger, no dossier): rows of the store's form.
		chsql.InsertVerdicts.Name: insertRows(chsql.InsertVerdicts,
			"1\t"+strings.Repeat("a1", 32)+"\tprovince/19\t2021-07-01 09:00:00",
			"2\t"+strings.Repeat("b2", 32)+"\tintake:province/19:1a2b3c4d\t2021-07-01 09:00:01"),
		chsql.InsertLineage.Name: insertRows(chsql.InsertLineage,
			"province\t27\tprovince\t24\t2025-07-01\t1\t[]\t00000000-0000-5000-8000-000000000001\t7",
			"ministry\tBLDTBXH\tministry\tBYT\t2025-03-01\t0\t['1.000123','2.000456']\t00000000-0000-5000-8000-000000000002\t8"),
		chsql.LoadLineage.Name: func(t *testing.T) {
			same(t, chsql.LoadLineage.SQL+" ORDER BY predecessor_kind, predecessor_code, main", true)
		},
		chsql.InsertUnitNames.Name: insertRows(chsql.InsertUnitNames,
			"province\t24\t2025-07-01\tBắc Ninh\t00000000-0000-5000-8000-000000000001\t7"),
		chsql.InsertHoldings.Name: insertRows(chsql.InsertHoldings,
			"province\t27\t0\t2025-07-01\t2101-01-01\tprovince\t24\t[]\t2025-07-15\tprovince\t24\t0\t0\t0\t0\t0\t0\t8",
			"ministry\tBLDTBXH\t1\t2025-03-01\t2101-01-01\tministry\tBYT\t['1.000123','2.000456']\t2101-01-01\tministry\tBYT\t2\t1\t1\t2\t1\t1\t8"),
		chsql.InsertDossierFacts.Name: insertRows(chsql.InsertDossierFacts,
			"province\t19\t"+strings.Repeat("ab", 32)+"\treceived\t2025-07-15 08:30:00\t1.001234\tonline\t1\t2025-07-22 17:00:00\t0\t0\t00000000-0000-5000-8000-000000000003\t9",
			"province\t19\t"+strings.Repeat("ab", 32)+"\tsettled\t2025-07-21 10:05:00\t\t\t0\t2025-07-21 10:05:00\t0\t0\t00000000-0000-5000-8000-000000000004\t10"),
		chsql.InsertDossierCounts.Name: insertRows(chsql.InsertDossierCounts,
			"day\tprovince\t19\t2025-07-15\t\tonline\t1\t1\t1\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t[]\t[]\t[]\t9",
			"month\tprovince\t19\t2025-07-01\t1.001234\t\t1\t1\t1\t0\t0\t1\t1\t524700\t0\t0\t0\t0\t0\t0\t0\t[]\t[]\t[]\t10",
			"month\tprovince\t19\t2025-07-01\t1.001234\t\t1\t1\t1\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t[]\t[]\t[]\t9",
			"unit\tprovince\t19\t2025-07-01\t\t\t1\t1\t1\t0\t0\t1\t1\t524700\t0\t0\t0\t0\t0\t0\t0\t['1.001234']\t['1.001234']\t[]\t10"),
		chsql.InsertDossierMonths.Name: insertRows(chsql.InsertDossierMonths,
			"province\t19\t2025-07-01\t"+strings.Repeat("ab", 32),
			"province\t19\t2025-07-01\t"+strings.Repeat("ab", 32)),
		// Without FINAL, a fact written twice is two rows until the engine merges them: the store takes it once.
		chsql.DossierFacts.Name: func(t *testing.T) {
			exec(t, "CREATE TABLE "+chsql.BatchDossiers+" (dossier String) ENGINE = Memory")
			exec(t, "INSERT INTO "+chsql.BatchDossiers+" VALUES ('"+strings.Repeat("ab", 32)+"'), ('none')")
			same(t, "SELECT DISTINCT * FROM ("+chsql.DossierFacts.SQL+") ORDER BY stream_seq", true)
			exec(t, "DROP TABLE "+chsql.BatchDossiers)
		},
		chsql.DossierFactsOfMonth.Name: func(t *testing.T) {
			same(t, "SELECT DISTINCT * FROM ("+chsql.DossierFactsOfMonth.SQL+") ORDER BY stream_seq", true, "province", "19", "2025-07-01", "province", "19")
			same(t, "SELECT DISTINCT * FROM ("+chsql.DossierFactsOfMonth.SQL+") ORDER BY stream_seq", true, "province", "19", "2025-08-01", "province", "19")
		},
		chsql.DossierCounts.Name: func(t *testing.T) {
			exec(t, "CREATE TABLE "+chsql.CountKeys+" (unit_kind String, unit_code String, grain Enum8('day' = 1, 'month' = 2, 'unit' = 3), period Date) ENGINE = Memory")
			exec(t, "INSERT INTO "+chsql.CountKeys+" VALUES ('province', '19', 'month', '2025-07-01'), ('province', '19', 'day', '2025-07-15'), ('province', '01', 'day', '2025-07-15'), ('province', '19', 'day', '2025-07-01'), ('province', '19', 'unit', '2025-07-01')")
			same(t, chsql.DossierCounts.SQL+" ORDER BY grain, unit_kind, unit_code, period, procedure, channel", true)
			exec(t, "DROP TABLE "+chsql.CountKeys)
		},
		chsql.DossierCountsOfMonth.Name: func(t *testing.T) {
			same(t, chsql.DossierCountsOfMonth.SQL+" ORDER BY grain, period, procedure, channel", true, "province", "19", "2025-07-01", "2025-08-01")
			same(t, chsql.DossierCountsOfMonth.SQL+" ORDER BY grain, period, procedure, channel", true, "province", "19", "2025-08-01", "2025-09-01")
		},
		chsql.HolderReports.Name: func(t *testing.T) {
			same(t, chsql.HolderReports.SQL+" ORDER BY unit_kind, unit_code, day", true, []string{"19", "BTTTT"})
			same(t, chsql.HolderReports.SQL+" ORDER BY unit_kind, unit_code, day", true, []string{"XX"})
		},
		chsql.MovedProcedures.Name: func(t *testing.T) {
			same(t, chsql.MovedProcedures.SQL+" ORDER BY unit_kind, unit_code, procedure_code", true, []string{"19"})
		},
		chsql.Verdicts.Name: func(t *testing.T) {
			same(t, chsql.Verdicts.SQL+" ORDER BY stream_seq", true, uint64(1), uint64(2))
			same(t, chsql.Verdicts.SQL+" ORDER BY stream_seq", true, uint64(2), uint64(9))
		},
		chsql.LastCoverageDays.Name: func(t *testing.T) { same(t, chsql.LastCoverageDays.SQL, true) },
		chsql.LatestCoverageDay.Name: func(t *testing.T) {
			same(t, chsql.LatestCoverageDay.SQL, true, "2021-12-01")
			same(t, chsql.LatestCoverageDay.SQL, true, "2030-01-01") // no day: no row on either engine
		},
		chsql.CarryCoverage(1).Name: func(t *testing.T) {
			exec(t, chsql.CarryCoverage(1).SQL, "2022-01-10", "province", "19", lastDay(t, "province", "19"))
			tableSame(t, "coverage_daily", "")
		},
		chsql.CarryCoverage(2).Name: func(t *testing.T) {
			exec(t, chsql.CarryCoverage(2).SQL, "2022-01-20", "province", "19", lastDay(t, "province", "19"),
				"ministry", "BTTTT", lastDay(t, "ministry", "BTTTT"))
			tableSame(t, "coverage_daily", "")
		},
		chsql.LoadChanges(1).Name: func(t *testing.T) { same(t, chsql.LoadChanges(1).SQL+" ORDER BY stream_seq", true, thaiNguyen...) },
		chsql.LoadChanges(2).Name: func(t *testing.T) {
			same(t, chsql.LoadChanges(2).SQL+" ORDER BY stream_seq", true, append(slices.Clone(thaiNguyen), ministry...)...)
		},
		chsql.CreateMigrationsTable.Name: func(t *testing.T) { exec(t, chsql.CreateMigrationsTable.SQL) },
		chsql.RecordMigration.Name: func(t *testing.T) {
			exec(t, chsql.RecordMigration.SQL, uint32(9999), "test")
			same(t, "SELECT version, name FROM "+chsql.MigrationsTable+" FINAL ORDER BY version", true)
		},
		chsql.AppliedMigrations.Name: func(t *testing.T) { same(t, chsql.AppliedMigrations.SQL, true) },
		chsql.LatestMigration.Name:   func(t *testing.T) { same(t, chsql.LatestMigration.SQL, true) },
		chsql.CurrentDatabase.Name: func(t *testing.T) {
			same(t, chsql.CurrentDatabase.SQL, false) // each engine's database has its own name
		},
		chsql.TableExists.Name: func(t *testing.T) { same(t, chsql.TableExists.SQL, true, chsql.MigrationsTable) },
		chsql.TableEngine.Name: func(t *testing.T) {
			for _, table := range tables {
				same(t, chsql.TableEngine.SQL, true, table)
			}
		},
		chsql.CreateDatabase("").Name: func(t *testing.T) {
			name := "egov_engines_" + strings.ToLower(strings.ReplaceAll(t.Name()[len(t.Name())-8:], "/", "_"))
			for _, eng := range engines {
				if err := enginetest.Exec(ctx, eng, chsql.CreateDatabase(name).SQL); err != nil {
					t.Fatalf("%s: %v", eng.Name(), err)
				}
				if err := enginetest.Exec(ctx, eng, chsql.DropDatabase(name).SQL); err != nil {
					t.Fatalf("%s: %v", eng.Name(), err)
				}
			}
		},
		chsql.DropDatabase("").Name:  func(t *testing.T) {}, // run by the case above
		chsql.DemoAssistantLive.Name: func(t *testing.T) { same(t, chsql.DemoAssistantLive.SQL, true) },
		chsql.DemoScores("").Name: func(t *testing.T) {
			for _, month := range []time.Time{time.Date(2021, 12, 1, 0, 0, 0, 0, event.Vietnam), time.Date(2025, 7, 1, 0, 0, 0, 0, event.Vietnam)} {
				ranking := expand(t, board.ScorecardSQL(scorecard.Decision766()), chquery.Request{From: month, To: month.AddDate(0, 1, 0).Add(-time.Second),
					Interval: 24 * time.Hour, Vars: map[string]string{board.DatasourceVar: board.DatasourceUID, board.MonthsVar: "1", board.HistoryVar: board.HistoryAsIs}})
				same(t, chsql.DemoScores(ranking).SQL, true)
			}
		},
	}
	for _, table := range chsql.DemoTables {
		st := chsql.CountRows(table, true)
		cases[st.Name] = func(t *testing.T) { same(t, st.SQL, true) }
	}

	// Before any write: the tables the migrations made are the same on both engines.
	t.Run("the migrations make the same tables", func(t *testing.T) {
		for _, table := range append(append([]string{chsql.MigrationsTable}, migrations.Kept...), tables...) {
			same(t, "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = '"+table+"' ORDER BY name", true)
			same(t, "SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = '"+table+"'", true)
		}
	})
	t.Run("the cluster form parses on 26.7", func(t *testing.T) {
		stmts, err := migrations.ClusterStatements(migrations.Cluster{Name: "egov"}, e.Local.Database)
		if err != nil {
			t.Fatal(err)
		}
		for _, stmt := range stmts {
			if err := enginetest.Exec(ctx, e.Local, "EXPLAIN AST "+stmt); err != nil {
				t.Errorf("ClickHouse 26.7 cannot parse it: %v\n%s", err, stmt)
			}
		}
		if len(stmts) < len(tables) {
			t.Fatalf("%d cluster statements for %d tables", len(stmts), len(tables))
		}
	})

	all := chsql.All(tables)
	var drops []chsql.Statement
	for _, st := range all {
		if strings.HasPrefix(st.Name, "rebuild: drop ") {
			drops = append(drops, st) // after everything else, and in the rebuild's order: the last created first
			continue
		}
		run, ok := cases[statementKey(st)]
		if !ok {
			t.Errorf("no case for statement %q: add one, so that it runs on both engines", st.Name)
			continue
		}
		t.Run(st.Name, run)
	}
	// The rebuild's counts, as it makes them for each table's engine (the engines name them alike: see above).
	t.Run("rebuild: count every table", func(t *testing.T) {
		for _, table := range tables {
			stmts := chsql.CountRowsOf(table, engineOf(t, e, table))
			for i, st := range stmts {
				if i < len(stmts)-1 {
					exec(t, st.SQL)
				} else {
					same(t, st.SQL, true)
				}
			}
		}
	})
	t.Run("rebuild: drop every table", func(t *testing.T) {
		slices.Reverse(drops)
		if len(drops) != len(tables) {
			t.Fatalf("%d drop statements for %d tables", len(drops), len(tables))
		}
		for _, st := range drops {
			exec(t, st.SQL)
		}
		// What remains: the record of the migrations, and the tables the rebuild keeps.
		left := "SELECT name FROM system.tables WHERE database = currentDatabase() AND name NOT IN ('" +
			strings.Join(append([]string{chsql.MigrationsTable}, migrations.Kept...), "', '") + "')"
		same(t, left, true)
		for _, eng := range engines {
			res, err := enginetest.Query(ctx, eng, "SELECT count() FROM ("+left+")")
			if err != nil || len(res.Rows) != 1 || res.Rows[0][0] != "0" {
				t.Errorf("%s still holds tables after the drops: %v %v", eng.Name(), res.Rows, err)
			}
		}
	})
}

// statementKey is how cases name a statement: the parametric ones by the name they have for any argument.
func statementKey(st chsql.Statement) string {
	switch {
	case strings.HasPrefix(st.Name, "create database"):
		return chsql.CreateDatabase("").Name
	case strings.HasPrefix(st.Name, "drop database"):
		return chsql.DropDatabase("").Name
	}
	return st.Name
}

// insertTarget reads the table and the column list of an INSERT INTO t (a, b) statement.
func insertTarget(t *testing.T, sql string) (table, cols string) {
	t.Helper()
	var rest string
	if _, err := fmt.Sscanf(sql, "INSERT INTO %s", &table); err != nil {
		t.Fatalf("not an INSERT: %q", sql)
	}
	_, rest, _ = strings.Cut(sql, "(")
	cols, _, _ = strings.Cut(rest, ")")
	return table, cols
}

func engineOf(t *testing.T, e *campaigntest.Engines, table string) string {
	t.Helper()
	sql, _ := enginetest.Bind(chsql.TableEngine.SQL, table)
	out, err := e.Server.Run(context.Background(), sql, "TSV")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
