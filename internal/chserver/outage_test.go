package chserver_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/chdb"
	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
)

// TestServerRestartAfter checks that an outage lasts at least as long as asked, that a new server process comes
// back on the same address with the data, and that a cancelled outage leaves the server stopped.
func TestServerRestartAfter(t *testing.T) {
	srv := chdbtest.Server(t)
	cfg := chdbtest.New(t)
	ctx := t.Context()

	conn := chdbtest.Conn(t, cfg)
	if err := conn.Exec(ctx, "CREATE TABLE t (a UInt32) ENGINE = MergeTree ORDER BY a"); err != nil {
		t.Fatal(err)
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO t (a)")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []uint32{1, 2, 3} {
		if err := batch.Append(a); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}

	addr, pid := srv.Addr(), lastPid(t, srv.Dir())
	const down = 1500 * time.Millisecond
	start := time.Now()
	if err := srv.RestartAfter(ctx, down); err != nil {
		t.Fatalf("RestartAfter: %v", err)
	}
	took := time.Since(start)
	t.Logf("an outage of %v took %v in all", down, took.Round(time.Millisecond))
	if took < down {
		t.Errorf("RestartAfter returned after %v, before the outage of %v was over", took, down)
	}
	if srv.Addr() != addr {
		t.Errorf("address changed from %s to %s", addr, srv.Addr())
	}
	if now := lastPid(t, srv.Dir()); now == pid {
		t.Errorf("the server still runs as pid %s: it was not stopped", pid)
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM t").Scan(&n); err != nil {
		t.Fatalf("after the outage: %v", err)
	}
	if n != 3 {
		t.Errorf("after the outage count() = %d, want 3", n)
	}

	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		err := srv.RestartAfter(cctx, time.Minute)
		if err == nil {
			t.Fatal("RestartAfter with a context ending during the outage returned no error")
		}
		t.Logf("error: %v", err)
		if c, err := chdb.Open(context.Background(), cfg); err == nil {
			c.Close()
			t.Error("the server answers after a cancelled outage; it should stay stopped")
		}
		// Back up for the tests after this one.
		if err := srv.Restart(ctx); err != nil {
			t.Fatalf("Restart after a cancelled outage: %v", err)
		}
	})
}

var startLine = regexp.MustCompile(`--- egovtrack started \S+ pid (\d+)`)

// lastPid returns the pid of the server's latest start, from its console log.
func lastPid(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "console.log"))
	if err != nil {
		t.Fatal(err)
	}
	m := startLine.FindAllSubmatch(b, -1)
	if len(m) == 0 {
		t.Fatalf("no start line in %s/console.log", dir)
	}
	return string(m[len(m)-1][1])
}
