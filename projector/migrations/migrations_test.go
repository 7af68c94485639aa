package migrations

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
)

func TestMain(m *testing.M) { chdbtest.Main(m) }

var quiet = slog.New(slog.DiscardHandler)

func recorded(t *testing.T, conn driver.Conn) []uint32 {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT version FROM schema_migrations FINAL ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var vs []uint32
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	return vs
}

func versions(ms []Migration) []uint32 {
	var vs []uint32
	for _, m := range ms {
		vs = append(vs, m.Version)
	}
	return vs
}

// The embedded migrations apply on a fresh database, are recorded, and a second start runs none of them.
func TestApplyTwice(t *testing.T) {
	ctx := context.Background()
	conn := chdbtest.Conn(t, chdbtest.New(t))
	ms, err := All()
	if err != nil {
		t.Fatal(err)
	}
	ran, err := Apply(ctx, conn, quiet)
	if err != nil {
		t.Fatalf("first apply: %v", err)
	}
	if !slices.Equal(ran, versions(ms)) {
		t.Errorf("first apply ran %v, want %v", ran, versions(ms))
	}
	ran, err = Apply(ctx, conn, quiet)
	if err != nil {
		t.Fatalf("second apply: %v", err)
	}
	if len(ran) != 0 {
		t.Errorf("second apply ran %v, want nothing", ran)
	}
	if got := recorded(t, conn); !slices.Equal(got, versions(ms)) {
		t.Errorf("schema_migrations holds %v, want %v", got, versions(ms))
	}
}

// Several projector instances starting at once all succeed and leave one schema.
func TestApplyConcurrently(t *testing.T) {
	cfg := chdbtest.New(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		conn := chdbtest.Conn(t, cfg)
		wg.Go(func() {
			if _, err := Apply(context.Background(), conn, quiet); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent apply: %v", err)
	}
	ms, _ := All()
	if got := recorded(t, chdbtest.Conn(t, cfg)); !slices.Equal(got, versions(ms)) {
		t.Errorf("schema_migrations holds %v, want %v", got, versions(ms))
	}
}

// A migration whose statements ran but which was not recorded (the instance died in between) runs again without
// failing, even when it adds or drops a column.
func TestApplyAfterAHalfDoneMigration(t *testing.T) {
	ctx := context.Background()
	conn := chdbtest.Conn(t, chdbtest.New(t))
	fsys := fstest.MapFS{
		"0001_t.sql":     {Data: []byte("CREATE TABLE IF NOT EXISTS t (a UInt8) ENGINE = MergeTree ORDER BY a;\n")},
		"0002_add_b.sql": {Data: []byte("-- a comment line\nALTER TABLE t ADD COLUMN b UInt8;\nALTER TABLE t DROP COLUMN a2;\n")},
	}
	ms, err := load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(ctx, "CREATE TABLE t (a UInt8, a2 UInt8) ENGINE = MergeTree ORDER BY a"); err != nil {
		t.Fatal(err)
	}
	// As if 0002 had run, but its instance died before recording it.
	for _, stmt := range ms[1].Statements {
		if err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	ran, err := apply(ctx, conn, ms, quiet)
	if err != nil {
		t.Fatalf("apply after a half-done migration: %v", err)
	}
	if !slices.Equal(ran, []uint32{1, 2}) {
		t.Errorf("ran %v, want [1 2]", ran)
	}
}

func TestLoadRefusesBadNames(t *testing.T) {
	for _, name := range []string{"init.sql", "1_init.sql", "0001-init.sql", "0001_Init.sql"} {
		if _, err := load(fstest.MapFS{name: {Data: []byte("SELECT 1;")}}); err == nil {
			t.Errorf("load accepted a migration named %q", name)
		}
	}
	two := fstest.MapFS{"0001_a.sql": {Data: []byte("SELECT 1;")}, "0001_b.sql": {Data: []byte("SELECT 2;")}}
	if _, err := load(two); err == nil {
		t.Error("load accepted two migrations with version 1")
	}
}

func TestStatements(t *testing.T) {
	got := Statements("-- heading\nCREATE TABLE a (\n    x UInt8 -- why\n) ENGINE = Log;\n\nSELECT 1;\n")
	want := []string{"CREATE TABLE a (\n    x UInt8 -- why\n) ENGINE = Log", "SELECT 1"}
	if !slices.Equal(got, want) {
		t.Errorf("Statements = %q, want %q", got, want)
	}
}
