// Package schema owns the projector's ClickHouse tables: the SQL files beside it, applied in name order at start.
package schema

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

//go:embed *.sql
var files embed.FS

// Apply creates every table that does not exist yet. Each statement is idempotent (CREATE … IF NOT EXISTS), so it
// is safe to run at every start.
func Apply(ctx context.Context, conn driver.Conn) error {
	names, err := fs.Glob(files, "*.sql")
	if err != nil {
		return fmt.Errorf("list schema files: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		b, err := files.ReadFile(name)
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		for i, stmt := range Statements(string(b)) {
			if err := conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("apply %s statement %d: %w", name, i+1, err)
			}
		}
	}
	return nil
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
