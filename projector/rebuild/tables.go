package rebuild

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/egovtrack/egovtrack/internal/chsql"
	"github.com/egovtrack/egovtrack/projector/migrations"
)

// MigrationsTable is where projector/migrations records the migrations it applied; dropping it makes the next start
// apply them all again.
const MigrationsTable = chsql.MigrationsTable

var (
	createStmt = regexp.MustCompile("(?is)^CREATE\\s+(?:TABLE|VIEW|MATERIALIZED\\s+VIEW)\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?([`\\w.]+)")
	dropStmt   = regexp.MustCompile("(?is)^DROP\\s+(?:TABLE|VIEW)\\s+(?:IF\\s+EXISTS\\s+)?([`\\w.]+)")
	renameStmt = regexp.MustCompile(`(?is)^(?:RENAME|EXCHANGE)\s+TABLES?\b`)
)

// Tables returns the tables (and views) the schema's migrations leave behind, in the order they are created, but those
// the rebuild keeps (migrations.Kept): every projection, the raw log, the reference data and the quarantine. It reads them from the migrations' SQL, so that a
// table a new migration adds is rebuilt without anyone listing it here. It fails on SQL it cannot follow (a table
// renamed, or named with its database), rather than leave a table out.
func Tables() ([]string, error) {
	ms, err := migrations.All()
	if err != nil {
		return nil, err
	}
	var stmts []string
	for _, m := range ms {
		stmts = append(stmts, m.Statements...)
	}
	tables, err := tablesOf(stmts)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(tables, func(t string) bool { return slices.Contains(migrations.Kept, t) }), nil
}

func tablesOf(stmts []string) ([]string, error) {
	var tables []string
	for _, s := range stmts {
		if renameStmt.MatchString(s) {
			return nil, fmt.Errorf("rebuild cannot follow a renamed table yet: %q", firstLine(s))
		}
		m := createStmt.FindStringSubmatch(s)
		drop := m == nil
		if drop {
			if m = dropStmt.FindStringSubmatch(s); m == nil {
				continue
			}
		}
		name := strings.Trim(m[1], "`")
		if strings.ContainsAny(name, ".`") {
			return nil, fmt.Errorf("rebuild expects the schema's tables in the connection's database, not %q", m[1])
		}
		tables = slices.DeleteFunc(tables, func(t string) bool { return t == name })
		if !drop {
			tables = append(tables, name)
		}
	}
	return tables, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
