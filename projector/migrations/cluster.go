package migrations

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/egovtrack/egovtrack/internal/chsql"
)

// Cluster is the cluster form of the schema: the same migrations, transformed statement by statement, so that the
// SQL files stay the one source of truth. Every table t of a migration becomes
//
//   - t_local on every server: the migration's engine made Replicated (ReplacingMergeTree → ReplicatedReplacingMergeTree)
//     with the replication path /clickhouse/tables/{shard}/<database>/t_local and the replica name {replica}, both
//     macros of each server's configuration, and
//   - t itself: a Distributed table over t_local, so that the store, the rebuild and the dashboards read and write
//     the names they always have.
//
// Every statement runs ON CLUSTER, which needs ClickHouse Keeper (or ZooKeeper), as Replicated tables do.
//
// Rows are sharded by unit, cityHash64(unit_kind, unit_code), when a table has those columns (the units table by
// kind and code), and otherwise by its sorting key: either way the rows that ReplacingMergeTree must collapse into one
// land on one shard, where FINAL sees them together, and every unit's changes and coverage live on one shard.
type Cluster struct {
	// Name is the cluster's name in the servers' remote_servers configuration (EGOV_CLICKHOUSE_CLUSTER).
	Name string
	// WithoutKeeper keeps the migrations' engines and runs each statement on the connected server only: the
	// Distributed layer without replication, for tests against a one-shard cluster of a single server that has no
	// Keeper. Deployments leave it false.
	WithoutKeeper bool
}

// localSuffix names the per-server table under a Distributed one.
const localSuffix = "_local"

var (
	clusterName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
	ident       = `([A-Za-z_][A-Za-z0-9_]*)`
	createTable = regexp.MustCompile(`(?is)^CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?` + ident + `\s*\(`)
	engine      = regexp.MustCompile(`(?is)^\s*ENGINE\s*=\s*([A-Za-z]+)(?:\s*\(([^()]*)\))?(.*)$`)
	orderBy     = regexp.MustCompile(`(?is)\bORDER\s+BY\s+(\([^()]*\)|[A-Za-z_][A-Za-z0-9_]*)`)
	createMV    = regexp.MustCompile(`(?is)^CREATE\s+MATERIALIZED\s+VIEW\s+(IF\s+NOT\s+EXISTS\s+)?` + ident + `\s+TO\s+` + ident + `\s+(.*)$`)
	createView  = regexp.MustCompile(`(?is)^CREATE\s+VIEW\s+(IF\s+NOT\s+EXISTS\s+)?` + ident + `\s+(AS\s.*)$`)
	alterTable  = regexp.MustCompile(`(?is)^ALTER\s+TABLE\s+` + ident + `\s+(.*)$`)
	columnAlter = regexp.MustCompile(`(?is)^(ADD|DROP|MODIFY|RENAME|COMMENT|CLEAR)\s+COLUMN\b`)
	dropTable   = regexp.MustCompile(`(?is)^DROP\s+(TABLE|VIEW)\s+(IF\s+EXISTS\s+)?` + ident + `\s*$`)
	fromTable   = regexp.MustCompile(`(?i)\b(FROM|JOIN)\s+` + ident + `\b`)
)

// Validate reports a name that cannot be a cluster's.
func (c Cluster) Validate() error {
	if !clusterName.MatchString(c.Name) {
		return fmt.Errorf("EGOV_CLICKHOUSE_CLUSTER %q is not a cluster name (letters, digits, _ . -)", c.Name)
	}
	return nil
}

// ApplyCluster is Apply for a cluster: it runs every migration not yet recorded in the cluster form, in the
// connection's database on every server of the cluster, and returns the versions it ran. A projector on a cluster
// calls it before store.Open, whose Apply then finds every migration recorded.
func ApplyCluster(ctx context.Context, conn driver.Conn, c Cluster, log *slog.Logger) ([]uint32, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	ms, err := All()
	if err != nil {
		return nil, err
	}
	var db string
	if err := conn.QueryRow(ctx, chsql.CurrentDatabase.SQL).Scan(&db); err != nil {
		return nil, fmt.Errorf("read the current database: %w", err)
	}
	// ON CLUSTER statements are run by each server in the database they name, not in the connection's: every name
	// is qualified with it.
	f := newClusterForm(c, db)
	table, err := f.statements(chsql.CreateMigrationsTable.SQL)
	if err != nil {
		return nil, err
	}
	for i := range ms {
		var out []string
		for _, stmt := range ms[i].Statements {
			s, err := f.statements(stmt)
			if err != nil {
				return nil, fmt.Errorf("migration %04d_%s: %w", ms[i].Version, ms[i].Name, err)
			}
			out = append(out, s...)
		}
		ms[i].Statements = out
	}
	for _, stmt := range table {
		if err := conn.Exec(ctx, stmt); err != nil && !alreadyDone(err) {
			return nil, fmt.Errorf("create schema_migrations on cluster %s: %w", c.Name, err)
		}
	}
	return apply(ctx, conn, ms, log)
}

// ClusterStatements returns the cluster form of every embedded migration's statements, in order, for the database
// db, with the table of migrations first: what ApplyCluster would run on a fresh cluster.
func ClusterStatements(c Cluster, db string) ([]string, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	ms, err := All()
	if err != nil {
		return nil, err
	}
	f := newClusterForm(c, db)
	out, err := f.statements(chsql.CreateMigrationsTable.SQL)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		for _, stmt := range m.Statements {
			s, err := f.statements(stmt)
			if err != nil {
				return nil, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
			}
			out = append(out, s...)
		}
	}
	return out, nil
}

// clusterForm transforms one migration's statements after another: it remembers the tables created so far, whose
// names a materialized view's query must read through their local tables.
type clusterForm struct {
	c      Cluster
	db     string
	tables map[string]bool // Distributed tables, each over name+localSuffix
}

func newClusterForm(c Cluster, db string) *clusterForm {
	return &clusterForm{c: c, db: db, tables: map[string]bool{}}
}

// name is a table's qualified name.
func (f *clusterForm) name(table string) string {
	return chsql.QuoteIdent(f.db) + "." + chsql.QuoteIdent(table)
}

// on is the ON CLUSTER clause, with a space before it.
func (f *clusterForm) on() string {
	if f.c.WithoutKeeper {
		return ""
	}
	return " ON CLUSTER " + chsql.QuoteIdent(f.c.Name)
}

// literal quotes s as a ClickHouse string.
func literal(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// statements returns the cluster form of one statement. Forms it does not know are refused rather than run on one
// server only: a migration that needs one extends this function.
func (f *clusterForm) statements(stmt string) ([]string, error) {
	stmt = strings.TrimSpace(stmt)
	switch {
	case createTable.MatchString(stmt):
		return f.createTable(stmt)
	case createMV.MatchString(stmt):
		m := createMV.FindStringSubmatch(stmt)
		if !f.tables[m[3]] {
			return nil, fmt.Errorf("materialized view %s writes to %s, which no earlier migration created", m[2], m[3])
		}
		// Each server's view feeds on the inserts into its own local tables and writes to its own local target.
		query := fromTable.ReplaceAllStringFunc(m[4], func(s string) string {
			sm := fromTable.FindStringSubmatch(s)
			if !f.tables[sm[2]] {
				return s
			}
			return sm[1] + " " + f.name(sm[2]+localSuffix)
		})
		return []string{fmt.Sprintf("CREATE MATERIALIZED VIEW %s%s%s TO %s %s",
			m[1], f.name(m[2]), f.on(), f.name(m[3]+localSuffix), query)}, nil
	case createView.MatchString(stmt):
		m := createView.FindStringSubmatch(stmt)
		// A plain view reads the Distributed tables, which its query names already.
		return []string{fmt.Sprintf("CREATE VIEW %s%s%s %s", m[1], f.name(m[2]), f.on(), m[3])}, nil
	case alterTable.MatchString(stmt):
		m := alterTable.FindStringSubmatch(stmt)
		if !f.tables[m[1]] {
			return nil, fmt.Errorf("ALTER of %s, which no earlier migration created as a table", m[1])
		}
		out := []string{fmt.Sprintf("ALTER TABLE %s%s %s", f.name(m[1]+localSuffix), f.on(), m[2])}
		if columnAlter.MatchString(m[2]) { // a Distributed table has the columns but none of the storage
			out = append(out, fmt.Sprintf("ALTER TABLE %s%s %s", f.name(m[1]), f.on(), m[2]))
		}
		return out, nil
	case dropTable.MatchString(stmt):
		m := dropTable.FindStringSubmatch(stmt)
		out := []string{fmt.Sprintf("DROP %s %s%s%s", strings.ToUpper(m[1]), m[2], f.name(m[3]), f.on())}
		if f.tables[m[3]] { // and its local table
			out = append(out, fmt.Sprintf("DROP %s %s%s%s", strings.ToUpper(m[1]), m[2], f.name(m[3]+localSuffix), f.on()))
		}
		delete(f.tables, m[3])
		return out, nil
	}
	first, _, _ := strings.Cut(stmt, "\n")
	return nil, fmt.Errorf("no cluster form for the statement %q: extend projector/migrations' clusterForm", first)
}

// createTable turns CREATE TABLE t (…) ENGINE = X(args) … into the local table and the Distributed table over it.
func (f *clusterForm) createTable(stmt string) ([]string, error) {
	head := createTable.FindStringSubmatchIndex(stmt)
	ifNotExists, table := stmt[head[2]:max(head[3], head[2])], stmt[head[4]:head[5]]
	open := head[1] - 1
	end, err := closingParen(stmt, open)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", table, err)
	}
	columns, rest := stmt[open+1:end], stmt[end+1:]
	e := engine.FindStringSubmatch(rest)
	if e == nil {
		return nil, fmt.Errorf("table %s: no ENGINE = Name(args) after its columns", table)
	}
	engineName, args, tail := e[1], strings.TrimSpace(e[2]), e[3]
	if !strings.HasSuffix(engineName, "MergeTree") || strings.HasPrefix(engineName, "Replicated") {
		return nil, fmt.Errorf("table %s: engine %s has no Replicated form here: use the MergeTree family", table, engineName)
	}
	local := table + localSuffix
	if !f.c.WithoutKeeper {
		// The path names the database and table literally: 18.16 expands no {database} or {table} macros.
		path := literal("/clickhouse/tables/{shard}/" + f.db + "/" + local)
		replicated := path + ", " + literal("{replica}")
		if args != "" {
			replicated += ", " + args
		}
		engineName, args = "Replicated"+engineName, replicated
	}
	key, err := shardingKey(columns, tail)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", table, err)
	}
	f.tables[table] = true
	return []string{
		fmt.Sprintf("CREATE TABLE %s%s%s (%s) ENGINE = %s(%s)%s", ifNotExists, f.name(local), f.on(), columns, engineName, args, tail),
		fmt.Sprintf("CREATE TABLE %s%s%s AS %s ENGINE = Distributed(%s, %s, %s, %s)", ifNotExists, f.name(table), f.on(),
			f.name(local), literal(f.c.Name), literal(f.db), literal(local), key),
	}, nil
}

// shardingKey puts a unit's rows on one shard, and otherwise the rows of one sorting key.
func shardingKey(columns, tail string) (string, error) {
	names := columnNames(columns)
	switch {
	case names["unit_kind"] && names["unit_code"]:
		return "cityHash64(unit_kind, unit_code)", nil
	case names["kind"] && names["code"]: // the units themselves
		return "cityHash64(kind, code)", nil
	}
	m := orderBy.FindStringSubmatch(tail)
	if m == nil {
		return "", fmt.Errorf("no ORDER BY to shard by")
	}
	return "cityHash64(" + strings.TrimSuffix(strings.TrimPrefix(m[1], "("), ")") + ")", nil
}

var comment = regexp.MustCompile(`--[^\n]*`)

// columnNames returns the names of a CREATE TABLE's columns: the first word of each top-level, comma-separated
// definition.
func columnNames(columns string) map[string]bool {
	columns = comment.ReplaceAllString(columns, "")
	names := map[string]bool{}
	depth, start := 0, 0
	for i := 0; i <= len(columns); i++ {
		if i < len(columns) {
			switch columns[i] {
			case '(':
				depth++
				continue
			case ')':
				depth--
				continue
			case ',':
				if depth > 0 {
					continue
				}
			default:
				continue
			}
		}
		if f := strings.Fields(columns[start:i]); len(f) > 0 {
			names[strings.Trim(f[0], "`")] = true
		}
		start = i + 1
	}
	return names
}

// closingParen returns the index of the parenthesis that closes the one at open, skipping strings, quoted names and
// comments (whose parentheses need not match).
func closingParen(s string, open int) (int, error) {
	depth := 0
	for i := open; i < len(s); i++ {
		switch c := s[i]; {
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return i, nil
			}
		case c == '\'' || c == '`' || c == '"':
			for i++; i < len(s) && s[i] != c; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		case c == '-' && strings.HasPrefix(s[i:], "--"):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		}
	}
	return 0, fmt.Errorf("unbalanced parentheses")
}
