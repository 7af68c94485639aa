package main

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/egovtrack/egovtrack/internal/chsql"
)

// This file compares two projector databases table by table, by query.

// compared lists every table of the projector's schema, and the columns that may differ between two databases
// projected from the same stream: events' projected_at is when the row was written, and coverage_daily's version
// counts the changes folded when a row was written, which depends on how the stream was cut into batches. Every
// other column, received_at and stream_seq included, comes from the stream or from the set of events.
var compared = map[string][]string{ // table → columns left out
	"events":             {"projected_at"}, // when the row was written
	"procedure_changes":  nil,
	"procedures":         nil,
	"coverage_daily":     {"version"},
	"assistant_changes":  nil,
	"reports":            nil,
	"targets":            nil,
	"quarantine":         nil,
	"units":              nil,
	"signature_verdicts": {"verified_at"}, // when the signature was verified
	"unit_lineage":       nil,
	"unit_names":         nil,
	"unit_holders":       {"version"}, // when the holdings were computed
	"dossier_facts":      nil,
	"dossier_months":     nil,
	"dossier_counts":     {"through_seq"}, // the sequence counted through: a month counted again is ahead of it
}

// notCompared are the tables that legitimately differ: when each migration was applied, and the ingestion lag,
// which depends on when each event was projected (its event counts are checked against the raw log instead).
var notCompared = []string{"schema_migrations", "ingestion_lag", "ingestion_lag_feed_hours", "ingestion_lag_hourly", "ingestion_lag_hourly_feed_hours"}

// tableNames lists the tables of a database.
func tableNames(ctx context.Context, conn driver.Conn, database string) ([]string, error) {
	rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = ? ORDER BY name", database)
	if err != nil {
		return nil, fmt.Errorf("tables of %s: %w", database, err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, rows.Err()
}

// tableQuery returns the query listing a table's deduplicated rows in a canonical order: every column but the ones
// left out, ordered by all of them. The columns are read from the table, so that a column a later migration
// adds is compared without changing this test.
func tableQuery(ctx context.Context, conn driver.Conn, database, table string, leftOut []string) (string, error) {
	// DESCRIBE lists the columns in order on 18.16 too, whose system.columns has no position.
	_, desc, err := queryRows(ctx, conn, "DESCRIBE TABLE "+chsql.QuoteIdent(database)+"."+chsql.QuoteIdent(table))
	if err != nil {
		return "", fmt.Errorf("columns of %s: %w", table, err)
	}
	var cols []string
	for _, row := range desc {
		name, _, _ := strings.Cut(row, "\t")
		if !slices.Contains(leftOut, name) {
			cols = append(cols, name)
		}
	}
	if len(cols) == 0 {
		return "", fmt.Errorf("table %s.%s has no columns to compare: does it exist?", database, table)
	}
	all := strings.Join(cols, ", ")
	return fmt.Sprintf("SELECT %s FROM %s FINAL ORDER BY %s", all, table, all), nil
}

// queryRows runs q and returns its column names and its rows, each as its values formatted and joined by tabs.
func queryRows(ctx context.Context, conn driver.Conn, q string) (header string, out []string, err error) {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", q, err)
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	vals := make([]any, len(types))
	for i, ct := range types {
		vals[i] = reflect.New(ct.ScanType()).Interface()
	}
	for rows.Next() {
		if err := rows.Scan(vals...); err != nil {
			return "", nil, fmt.Errorf("%s: %w", q, err)
		}
		fields := make([]string, len(vals))
		for i, v := range vals {
			fields[i] = formatValue(reflect.ValueOf(v).Elem())
		}
		out = append(out, strings.Join(fields, "\t"))
	}
	if err := rows.Err(); err != nil {
		return "", nil, fmt.Errorf("%s: %w", q, err)
	}
	return strings.Join(rows.Columns(), "\t"), out, nil
}

func formatValue(v reflect.Value) string {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "NULL"
		}
		v = v.Elem()
	}
	if t, ok := v.Interface().(time.Time); ok {
		return t.UTC().Format(time.RFC3339)
	}
	return fmt.Sprint(v.Interface())
}

// compareQuery runs q on both databases and reports every row that one has and the other has not.
func compareQuery(t *testing.T, ctx context.Context, what, q string, crashed, clean driver.Conn) {
	t.Helper()
	header, got, err := queryRows(ctx, crashed, q)
	if err != nil {
		t.Errorf("%s after the crashes: %v", what, err)
		return
	}
	_, want, err := queryRows(ctx, clean, q)
	if err != nil {
		t.Errorf("%s in the clean run: %v", what, err)
		return
	}
	extra, missing := multisetDiff(got, want)
	if len(extra) == 0 && len(missing) == 0 {
		t.Logf("%-18s %6d rows, the same in both", what, len(got))
		return
	}
	const show = 10
	var b strings.Builder
	fmt.Fprintf(&b, "%s differs: %d rows after the crashes, %d in the clean run; %d only after the crashes (-), %d only in the clean run (+)\n",
		what, len(got), len(want), len(extra), len(missing))
	fmt.Fprintf(&b, "  query: %s\n    %s\n", q, header)
	for _, r := range extra[:min(show, len(extra))] {
		fmt.Fprintf(&b, "  - %s\n", r)
	}
	for _, r := range missing[:min(show, len(missing))] {
		fmt.Fprintf(&b, "  + %s\n", r)
	}
	t.Error(b.String())
}

// multisetDiff returns the rows of a that b lacks and the rows of b that a lacks, counting repeats, each in the
// order of its own slice.
func multisetDiff(a, b []string) (onlyA, onlyB []string) {
	count := make(map[string]int, len(b))
	for _, r := range b {
		count[r]++
	}
	for _, r := range a {
		if count[r] > 0 {
			count[r]--
			continue
		}
		onlyA = append(onlyA, r)
	}
	count = make(map[string]int, len(a))
	for _, r := range a {
		count[r]++
	}
	for _, r := range b {
		if count[r] > 0 {
			count[r]--
			continue
		}
		onlyB = append(onlyB, r)
	}
	return onlyA, onlyB
}
