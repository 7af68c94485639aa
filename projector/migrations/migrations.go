// Package migrations owns the projector's ClickHouse tables: versioned migrations, the SQL files beside it named
// NNNN_what.sql, applied in order at start and recorded in the table schema_migrations.
//
// ClickHouse has no transactions and no locks, so a migration must be safe to run twice and from several projector
// instances at once: every statement is idempotent (CREATE … IF NOT EXISTS), or its "already done" errors are
// tolerated (a column that already exists, one already dropped). A migration is recorded only after all its
// statements ran; an instance that dies half-way leaves it unrecorded, and the next start runs it again.
package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/egovtrack/egovtrack/internal/chsql"
)

//go:embed *.sql
var files embed.FS

// Kept are the tables `projector rebuild` keeps: they hold what the stream alone cannot give again. The signatures'
// verdicts record what keys valid at the time vouched for (0004_signature_verdicts.sql).
var Kept = []string{"signature_verdicts"}

// Migration is one versioned SQL file.
type Migration struct {
	Version    uint32
	Name       string
	Statements []string
}

var fileName = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)

// All returns the embedded migrations in version order.
func All() ([]Migration, error) { return load(files) }

func load(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var ms []Migration
	for _, name := range names {
		m := fileName.FindStringSubmatch(name)
		if m == nil {
			return nil, fmt.Errorf("migration file %q is not named NNNN_what.sql", name)
		}
		v, _ := strconv.ParseUint(m[1], 10, 32)
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		if len(ms) > 0 && ms[len(ms)-1].Version == uint32(v) {
			return nil, fmt.Errorf("two migrations have version %d: %s and %s", v, ms[len(ms)-1].Name, m[2])
		}
		ms = append(ms, Migration{Version: uint32(v), Name: m[2], Statements: Statements(string(b))})
	}
	return ms, nil
}

// Apply runs every embedded migration not yet recorded, in order, and returns the versions it ran.
func Apply(ctx context.Context, conn driver.Conn, log *slog.Logger) ([]uint32, error) {
	ms, err := All()
	if err != nil {
		return nil, err
	}
	return apply(ctx, conn, ms, log)
}

func apply(ctx context.Context, conn driver.Conn, ms []Migration, log *slog.Logger) ([]uint32, error) {
	if err := conn.Exec(ctx, chsql.CreateMigrationsTable.SQL); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	done, err := applied(ctx, conn)
	if err != nil {
		return nil, err
	}
	var ran []uint32
	for _, m := range ms {
		if slices.Contains(done, m.Version) {
			continue
		}
		for i, stmt := range m.Statements {
			if err := conn.Exec(ctx, stmt); err != nil && !alreadyDone(err) {
				return ran, fmt.Errorf("migration %04d_%s, statement %d: %w", m.Version, m.Name, i+1, err)
			}
		}
		if err := conn.Exec(ctx, chsql.RecordMigration.SQL, m.Version, m.Name); err != nil {
			return ran, fmt.Errorf("record migration %04d_%s: %w", m.Version, m.Name, err)
		}
		log.Info("schema migration applied", "version", m.Version, "name", m.Name)
		ran = append(ran, m.Version)
	}
	return ran, nil
}

// CurrentIDs is the migration that marks a database whose events are keyed by the current rule of ids.
const CurrentIDs = 3

// Applied returns the versions of the migrations the database records, none when it has no schema_migrations.
func Applied(ctx context.Context, conn driver.Conn) ([]uint32, error) {
	var n uint64
	if err := conn.QueryRow(ctx, chsql.TableExists.SQL, chsql.MigrationsTable).Scan(&n); err != nil {
		return nil, fmt.Errorf("look for %s: %w", chsql.MigrationsTable, err)
	}
	if n == 0 {
		return nil, nil
	}
	return applied(ctx, conn)
}

func applied(ctx context.Context, conn driver.Conn) ([]uint32, error) {
	rows, err := conn.Query(ctx, chsql.AppliedMigrations.SQL)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	var vs []uint32
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		vs = append(vs, v)
	}
	return vs, rows.Err()
}

// ClickHouse error codes that can mean another run (or another instance) already did what a statement asks.
const (
	codeDuplicateColumn     = 15 // ADD COLUMN of a column that exists (24.x)
	codeNoSuchColumnInTable = 16 // DROP COLUMN of a column already dropped
	codeIllegalColumn       = 44 // ADD of a column that exists or DROP of one that does not (18.16), among other faults
	codeTableAlreadyExists  = 57 // CREATE TABLE racing another instance's
)

func alreadyDone(err error) bool {
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) {
		return false
	}
	switch ex.Code {
	case codeDuplicateColumn, codeNoSuchColumnInTable, codeTableAlreadyExists:
		return true
	case codeIllegalColumn:
		return strings.Contains(ex.Message, "already exists") || strings.Contains(ex.Message, "Cannot find column")
	}
	return false
}

// Statements splits a SQL file at the semicolons that end a line, dropping comment lines; the files keep to that
// form so that no SQL parser is needed.
func Statements(sql string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
