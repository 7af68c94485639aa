package enginetest_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
	"github.com/egovtrack/egovtrack/internal/enginetest"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

// TestBothEnginesAnswer runs statements on the 18.16 server and on chDB, and holds each engine to what it is: the
// versions, the session's zone, and the known differences between them that egovtrack's SQL must avoid. If an
// engine changed under the tests (another server on PATH, another libchdb.so), this says so first.
func TestBothEnginesAnswer(t *testing.T) {
	ctx := context.Background()
	server := enginetest.ServerOf(t, chdbtest.New(t))
	local := enginetest.NewLocal(t)
	if server.Name() != "ClickHouse 18.16" || local.Name() != "ClickHouse 26.7" {
		t.Fatalf("engines %q and %q, want ClickHouse 18.16 and 26.7", server.Name(), local.Name())
	}
	versions := map[enginetest.Engine]string{server: "18.16.", local: "26.7."}
	for e, prefix := range versions {
		got, err := enginetest.Query(ctx, e, "SELECT version() AS v, timezone() AS tz")
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Rows) != 1 || !strings.HasPrefix(got.Rows[0][0], prefix) || !strings.HasSuffix(got.Rows[0][1], "UTC") {
			t.Errorf("%s: %q, want version %s… in UTC", e.Name(), got.Rows, prefix)
		}
	}

	tests := []struct {
		name, sql string
		same      bool // whether the engines agree
	}{
		{"plain values", "SELECT 1 AS n, 'a\\tb' AS s, toDate('2021-07-01') AS d, toDateTime(1625101200, 'Asia/Ho_Chi_Minh') AS t, 1/3 AS f, CAST(NULL, 'Nullable(UInt8)') AS null", true},
		{"round half to even on 26.x", "SELECT round(2.5) AS r", false},
		{"an unaliased joined subquery", "SELECT * FROM (SELECT 1 AS a) ANY LEFT JOIN (SELECT 1 AS a, 2 AS b) USING a", false},
		{"the same join with aliases", "SELECT a, b FROM (SELECT 1 AS a) AS l ANY LEFT JOIN (SELECT 1 AS a, 2 AS b) AS r USING a", true},
		{"* over an aliased join (18.16 adds r.a)", "SELECT * FROM (SELECT 1 AS a) AS l ANY LEFT JOIN (SELECT 1 AS a, 2 AS b) AS r USING a", false},
		{"the zero time (18.16 writes 0000-00-00)", "SELECT toDateTime(0, 'Asia/Ho_Chi_Minh') AS t", false},
		{"the max of no dates (18.16 writes 0000-00-00)", "SELECT max(d) AS m FROM (SELECT toDate('2021-01-01') AS d WHERE 0)", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, errA := enginetest.Query(ctx, server, tt.sql)
			b, errB := enginetest.Query(ctx, local, tt.sql)
			diff := enginetest.Diff(a, b, true)
			switch {
			case tt.same && (errA != nil || errB != nil):
				t.Fatalf("18.16: %v; 26.7: %v", errA, errB)
			case tt.same && diff != "":
				t.Fatalf("the engines differ: %s", diff)
			case !tt.same && errA == nil && errB == nil && diff == "":
				t.Fatalf("the engines agree on %q (%q): the test expects a known difference", tt.sql, a.Rows)
			}
		})
	}
}

// TestDiff holds the comparison to what it must see: another type, another row, a float beyond rounding, rows in
// another order when order matters.
func TestDiff(t *testing.T) {
	base := enginetest.Result{Names: []string{"a", "f"}, Types: []string{"UInt8", "Float64"}, Rows: [][]string{{"1", "0.1"}, {"2", "0.3"}}}
	with := func(f func(r *enginetest.Result)) enginetest.Result {
		r := enginetest.Result{Names: append([]string(nil), base.Names...), Types: append([]string(nil), base.Types...)}
		for _, row := range base.Rows {
			r.Rows = append(r.Rows, append([]string(nil), row...))
		}
		f(&r)
		return r
	}
	tests := []struct {
		name    string
		other   enginetest.Result
		ordered bool
		same    bool
	}{
		{"itself", base, true, true},
		{"a float's last bits", with(func(r *enginetest.Result) { r.Rows[1][1] = "0.30000000000000004" }), true, true},
		{"a float beyond rounding", with(func(r *enginetest.Result) { r.Rows[1][1] = "0.3001" }), true, false},
		{"another type", with(func(r *enginetest.Result) { r.Types[1] = "Nullable(Float64)" }), true, false},
		{"another name", with(func(r *enginetest.Result) { r.Names[0] = "b" }), true, false},
		{"a row missing", with(func(r *enginetest.Result) { r.Rows = r.Rows[:1] }), true, false},
		{"NULL for a value", with(func(r *enginetest.Result) { r.Rows[0][0] = `\N` }), true, false},
		{"another order, unordered", with(func(r *enginetest.Result) { r.Rows[0], r.Rows[1] = r.Rows[1], r.Rows[0] }), false, true},
		{"another order, ordered", with(func(r *enginetest.Result) { r.Rows[0], r.Rows[1] = r.Rows[1], r.Rows[0] }), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := enginetest.Diff(base, tt.other, tt.ordered); (d == "") != tt.same {
				t.Errorf("Diff = %q, want same=%v", d, tt.same)
			}
		})
	}
}

// TestProductionBinariesHoldNoChDB: chDB is a test engine. The commands egovtrack ships must not link it (566 MB
// loaded at start, and a panic without it).
func TestProductionBinariesHoldNoChDB(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/egovtrack/egovtrack/collectors", "github.com/egovtrack/egovtrack/projector",
		"github.com/egovtrack/egovtrack/dashboards", "github.com/egovtrack/egovtrack/deploy/nats").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "chdb-io") || strings.HasSuffix(dep, "/enginetest") || strings.Contains(dep, "purego") {
			t.Errorf("a production command depends on %s", dep)
		}
	}
	if !strings.Contains(string(out), "github.com/egovtrack/egovtrack/projector/store") {
		t.Fatalf("go list printed no projector dependency: %.200s", out)
	}
}
