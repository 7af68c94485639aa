package migrations

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
)

// singleServerTables are the tables the single-server form creates, schema_migrations among them.
func singleServerTables(t *testing.T) []string {
	t.Helper()
	ms, err := All()
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"schema_migrations"}
	for _, m := range ms {
		for _, stmt := range m.Statements {
			if sm := createTable.FindStringSubmatch(stmt); sm != nil {
				names = append(names, sm[2])
			}
		}
	}
	return names
}

var (
	onClusterRE   = regexp.MustCompile("ON CLUSTER `([^`]*)`")
	createdRE     = regexp.MustCompile("^CREATE TABLE IF NOT EXISTS `([^`]*)`\\.`([^`]*)`")
	distributedRE = regexp.MustCompile(`ENGINE = Distributed\('([^']*)', '([^']*)', '([^']*)', (.*)\)$`)
	replicatedRE  = regexp.MustCompile(`ENGINE = Replicated[A-Za-z]*MergeTree\('([^']*)', '([^']*)'`)
)

// The cluster form names the configured cluster in every statement and every Distributed table, puts a Distributed
// table with each single-server table's name over a replicated local table of its own, and shards by unit.
func TestClusterStatementsNameTheClusterConsistently(t *testing.T) {
	const cluster, db = "egov_prod", "egov"
	stmts, err := ClusterStatements(Cluster{Name: cluster}, db)
	if err != nil {
		t.Fatal(err)
	}
	local := map[string]bool{}   // local tables created so far
	paths := map[string]string{} // replication path → table
	distributed := map[string]string{}
	for _, s := range stmts {
		ons := onClusterRE.FindAllStringSubmatch(s, -1)
		if len(ons) != 1 || ons[0][1] != cluster {
			t.Errorf("statement names the cluster %v, want ON CLUSTER `%s` once:\n%s", ons, cluster, s)
		}
		c := createdRE.FindStringSubmatch(s)
		if c == nil {
			continue
		}
		if c[1] != db {
			t.Errorf("table %s is created in database %s, want %s", c[2], c[1], db)
		}
		if d := distributedRE.FindStringSubmatch(s); d != nil {
			if d[1] != cluster || d[2] != db || !local[d[3]] {
				t.Errorf("Distributed table %s reads %s.%s on cluster %s: want a local table created before it, on %s.%s", c[2], d[2], d[3], d[1], db, cluster)
			}
			distributed[c[2]] = d[4]
			continue
		}
		r := replicatedRE.FindStringSubmatch(s)
		if r == nil {
			t.Errorf("local table %s is not replicated:\n%s", c[2], s)
			continue
		}
		if want := "/clickhouse/tables/{shard}/" + db + "/" + c[2]; r[1] != want || r[2] != "{replica}" {
			t.Errorf("table %s replicates at %q as %q, want %q as {replica}", c[2], r[1], r[2], want)
		}
		if other, ok := paths[r[1]]; ok {
			t.Errorf("tables %s and %s share the replication path %s", other, c[2], r[1])
		}
		paths[r[1]] = c[2]
		local[c[2]] = true
	}
	for _, name := range singleServerTables(t) {
		key, ok := distributed[name]
		if !ok {
			t.Errorf("no Distributed table %s: the store and the dashboards read that name", name)
			continue
		}
		if !local[name+"_local"] {
			t.Errorf("no local table %s_local", name)
		}
		if name == "procedure_changes" || name == "coverage_daily" || name == "events" {
			if key != "cityHash64(unit_kind, unit_code)" {
				t.Errorf("%s is sharded by %s, want by unit", name, key)
			}
		}
	}
	if len(distributed) != len(singleServerTables(t)) {
		t.Errorf("%d Distributed tables, want one per table: %d", len(distributed), len(singleServerTables(t)))
	}
}

func TestClusterForm(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []string
		want []string // substrings of the output, in order
		err  string
	}{
		{
			name: "table, then a column added",
			in: []string{
				"CREATE TABLE IF NOT EXISTS t (\n    a String, -- why (it is)\n    b UInt8\n) ENGINE = AggregatingMergeTree\nORDER BY (a, b)",
				"ALTER TABLE t ADD COLUMN c UInt8",
			},
			want: []string{
				"CREATE TABLE IF NOT EXISTS `db`.`t_local` ON CLUSTER `c1` (\n    a String, -- why (it is)\n    b UInt8\n) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/db/t_local', '{replica}')\nORDER BY (a, b)",
				"CREATE TABLE IF NOT EXISTS `db`.`t` ON CLUSTER `c1` AS `db`.`t_local` ENGINE = Distributed('c1', 'db', 't_local', cityHash64(a, b))",
				"ALTER TABLE `db`.`t_local` ON CLUSTER `c1` ADD COLUMN c UInt8",
				"ALTER TABLE `db`.`t` ON CLUSTER `c1` ADD COLUMN c UInt8",
			},
		},
		{
			name: "a materialized view feeds on local tables",
			in: []string{
				"CREATE TABLE IF NOT EXISTS src (unit_kind String, unit_code String, n UInt8) ENGINE = MergeTree ORDER BY n",
				"CREATE TABLE IF NOT EXISTS agg (unit_kind String, unit_code String, n UInt64) ENGINE = SummingMergeTree(n) ORDER BY (unit_kind, unit_code)",
				"CREATE MATERIALIZED VIEW IF NOT EXISTS agg_mv TO agg AS SELECT unit_kind, unit_code, count() AS n FROM src GROUP BY unit_kind, unit_code",
			},
			want: []string{
				"ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/db/src_local', '{replica}') ORDER BY n",
				"Distributed('c1', 'db', 'src_local', cityHash64(unit_kind, unit_code))",
				"ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/db/agg_local', '{replica}', n)",
				"CREATE MATERIALIZED VIEW IF NOT EXISTS `db`.`agg_mv` ON CLUSTER `c1` TO `db`.`agg_local` AS SELECT unit_kind, unit_code, count() AS n FROM `db`.`src_local` GROUP BY",
			},
		},
		{
			name: "drop",
			in:   []string{"CREATE TABLE IF NOT EXISTS t (a UInt8) ENGINE = MergeTree ORDER BY a", "DROP TABLE IF EXISTS t"},
			want: []string{"DROP TABLE IF EXISTS `db`.`t` ON CLUSTER `c1`", "DROP TABLE IF EXISTS `db`.`t_local` ON CLUSTER `c1`"},
		},
		{name: "insert", in: []string{"INSERT INTO t SELECT 1"}, err: "no cluster form"},
		{name: "log engine", in: []string{"CREATE TABLE IF NOT EXISTS t (a UInt8) ENGINE = Log"}, err: "MergeTree family"},
		{name: "view with an engine", in: []string{"CREATE MATERIALIZED VIEW v ENGINE = MergeTree ORDER BY a AS SELECT 1 AS a"}, err: "no cluster form"},
		{name: "alter of an unknown table", in: []string{"ALTER TABLE nope ADD COLUMN c UInt8"}, err: "no earlier migration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newClusterForm(Cluster{Name: "c1"}, "db")
			var out []string
			var err error
			for _, s := range tc.in {
				var o []string
				if o, err = f.statements(s); err != nil {
					break
				}
				out = append(out, o...)
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			all := strings.Join(out, "\n;\n")
			at := 0
			for _, w := range tc.want {
				i := strings.Index(all[at:], w)
				if i < 0 {
					t.Fatalf("output lacks, in order:\n%s\n\noutput:\n%s", w, all)
				}
				at += i + len(w)
			}
		})
	}
}

func TestClusterNameIsChecked(t *testing.T) {
	for _, name := range []string{"", "a b", "a`b", "x'y"} {
		if _, err := ClusterStatements(Cluster{Name: name}, "db"); err == nil {
			t.Errorf("cluster name %q accepted", name)
		}
	}
}

// codeSyntaxError is ClickHouse's SYNTAX_ERROR: the parser refused the statement, before anything else.
const codeSyntaxError = 62

// Every statement of the cluster form, Replicated engines and ON CLUSTER included, parses on the real server: this
// one has no Keeper, so each is refused, but for that and not for its syntax, and creates nothing.
func TestClusterStatementsParse(t *testing.T) {
	ctx := context.Background()
	cfg := chdbtest.New(t)
	conn := chdbtest.Conn(t, cfg)
	stmts, err := ClusterStatements(Cluster{Name: "egov_prod"}, cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int{}
	for _, s := range stmts {
		err := conn.Exec(ctx, s)
		var ex *clickhouse.Exception
		switch {
		case err == nil:
			t.Errorf("ran without a Keeper, which it needs:\n%s", s)
		case !errors.As(err, &ex):
			t.Errorf("not a server's refusal: %v", err)
		case ex.Code == codeSyntaxError:
			t.Errorf("syntax error: %s\n%s", ex.Message, s)
		default:
			reasons[fmt.Sprintf("code %d: %s", ex.Code, firstLine(ex.Message))]++
		}
	}
	for r, n := range reasons {
		t.Logf("%d statements refused with %s", n, r)
	}
	var tables uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ?", cfg.Database).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("%d tables created by statements that failed", tables)
	}
	if !slices.ContainsFunc(stmts, func(s string) bool { return strings.Contains(s, "Replicated") }) {
		t.Error("no Replicated table among the statements checked")
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
