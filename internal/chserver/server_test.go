package chserver_test

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/egovtrack/egovtrack/internal/chdb"
	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
	"github.com/egovtrack/egovtrack/internal/chserver"
)

func TestFindServerBinary(t *testing.T) {
	// Directories with fake binaries: the search only looks, it runs nothing.
	mk := func(t *testing.T, files map[string]os.FileMode) string {
		dir := t.TempDir()
		for name, mode := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), mode); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	tests := []struct {
		name  string
		files map[string]os.FileMode // in a directory on PATH
		extra map[string]os.FileMode // in a directory searched after PATH
		want  string                 // base name of the result, "" for ErrNoServerBinary
	}{
		{name: "nothing anywhere"},
		{name: "not executable", files: map[string]os.FileMode{"clickhouse-server": 0o644}},
		{name: "on PATH", files: map[string]os.FileMode{"clickhouse-server": 0o755}, want: "clickhouse-server"},
		{name: "in an extra dir", extra: map[string]os.FileMode{"clickhouse-server": 0o755}, want: "clickhouse-server"},
		{name: "multi-binary", files: map[string]os.FileMode{"clickhouse": 0o755}, want: "clickhouse"},
		{
			name:  "server binary preferred over multi-binary",
			files: map[string]os.FileMode{"clickhouse": 0o755},
			extra: map[string]os.FileMode{"clickhouse-server": 0o755},
			want:  "clickhouse-server",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pathDir, extraDir := mk(t, tt.files), mk(t, tt.extra)
			got, err := chserver.FindServerBinaryIn(pathDir, []string{extraDir})
			if tt.want == "" {
				if !errors.Is(err, chserver.ErrNoServerBinary) {
					t.Fatalf("got %q, %v; want ErrNoServerBinary", got, err)
				}
				if !strings.Contains(err.Error(), "apt-get update && apt-get install -y clickhouse-server clickhouse-client") ||
					!strings.Contains(err.Error(), "EGOV_CLICKHOUSE_ADDR") {
					t.Errorf("error lacks the install hint: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Base(got) != tt.want {
				t.Errorf("got %s, want a %s", got, tt.want)
			}
		})
	}

	t.Run("empty PATH and no dirs", func(t *testing.T) {
		_, err := chserver.FindServerBinaryIn("", nil)
		if !errors.Is(err, chserver.ErrNoServerBinary) || !strings.Contains(err.Error(), "apt-get install -y clickhouse-server") {
			t.Errorf("got %v, want ErrNoServerBinary with the install hint", err)
		}
	})
}

// TestServerRestart checks that a restarted server keeps its address and data;
// other packages' tests use Restart to simulate an outage.
func TestServerRestart(t *testing.T) {
	srv := chdbtest.Server(t)
	cfg := chdbtest.New(t)
	ctx := t.Context()

	conn := chdbtest.Conn(t, cfg)
	if err := conn.Exec(ctx, "CREATE TABLE t (a UInt32, b String) ENGINE = MergeTree ORDER BY a"); err != nil {
		t.Fatal(err)
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO t (a, b)")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := batch.Append(uint32(i), "x"); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}

	addr := srv.Addr()
	start := time.Now()
	if err := srv.Restart(ctx); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	t.Logf("restart took %v", time.Since(start).Round(time.Millisecond))
	if srv.Addr() != addr {
		t.Errorf("address changed from %s to %s", addr, srv.Addr())
	}

	// Both a new pool and the one from before the outage, whose connections the
	// restart closed: clickhouse-go notices dead idle connections and redials.
	for name, c := range map[string]driver.Conn{"new pool": chdbtest.Conn(t, cfg), "old pool": conn} {
		var n uint64
		if err := c.QueryRow(ctx, "SELECT count() FROM t").Scan(&n); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n != 10 {
			t.Errorf("%s: after restart count() = %d, want 10", name, n)
		}
	}
	if tail := srv.LogTail(50); !strings.Contains(tail, "egovtrack started") {
		t.Errorf("LogTail lacks the start lines:\n%s", tail)
	}
}

func TestEnsure(t *testing.T) {
	t.Run("uses a server that answers", func(t *testing.T) {
		cfg := chdbtest.New(t)
		dir := t.TempDir()
		got, stop, err := chserver.Ensure(t.Context(), cfg, dir, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if got != cfg {
			t.Errorf("got %v, want the given %v", got, cfg)
		}
		if err := stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
		if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
			t.Errorf("Ensure wrote to %s (%d entries, %v): it should not start a server", dir, len(entries), err)
		}
	})

	t.Run("starts a server when none answers", func(t *testing.T) {
		cfg := chdb.Config{
			Addr:        closedAddr(t),
			Database:    "egov_demo",
			User:        "egov",
			Password:    "demo-secret",
			DialTimeout: 2 * time.Second,
		}
		dir := t.TempDir()
		start := time.Now()
		got, stop, err := chserver.Ensure(t.Context(), cfg, dir, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = stop() }) // before TempDir's removal: cleanups run last-in first-out
		t.Logf("local server started in %v at %s", time.Since(start).Round(time.Millisecond), got.Addr)

		want := cfg
		want.Addr = got.Addr
		if got != want || got.Addr == cfg.Addr {
			t.Errorf("got %v, want %v on a new address", got, want)
		}
		// The started server accepts cfg's user and password, and Open makes the database.
		conn, err := chdb.Open(t.Context(), got)
		if err != nil {
			t.Fatal(err)
		}
		var db string
		if err := conn.QueryRow(t.Context(), "SELECT currentDatabase()").Scan(&db); err != nil {
			t.Fatal(err)
		}
		if db != cfg.Database {
			t.Errorf("currentDatabase() = %q, want %q", db, cfg.Database)
		}
		conn.Close()

		wrong := got
		wrong.Password = "wrong"
		if conn, err := chdb.Open(t.Context(), wrong); err == nil {
			conn.Close()
			t.Error("the started server accepted a wrong password")
		}

		if err := stop(); err != nil {
			t.Fatalf("stop: %v", err)
		}
		if err := stop(); err != nil {
			t.Errorf("second stop: %v", err)
		}
		if conn, err := chdb.Open(t.Context(), got); err == nil {
			conn.Close()
			t.Error("server still answers after stop")
		}
	})
}

func TestStartServerFailure(t *testing.T) {
	t.Run("directory in use", func(t *testing.T) {
		dir := t.TempDir()
		first, err := chserver.StartServer(t.Context(), dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = first.Stop() })
		config, err := os.ReadFile(filepath.Join(dir, "config.xml"))
		if err != nil {
			t.Fatal(err)
		}

		second, err := chserver.StartServer(t.Context(), dir, nil)
		if err == nil {
			_ = second.Stop()
			t.Fatal("a second server started on a directory in use")
		}
		if !strings.Contains(err.Error(), "already running") {
			t.Errorf("error does not say why: %v", err)
		}
		if after, _ := os.ReadFile(filepath.Join(dir, "config.xml")); string(after) != string(config) {
			t.Error("the running server's config.xml was rewritten")
		}
	})

	// A server that exits during start is reported with the tail of its logs.
	t.Run("server dies", func(t *testing.T) {
		dir := t.TempDir()
		// A directory where the server wants its status file: it cannot start.
		if err := os.MkdirAll(filepath.Join(dir, "data", "status"), 0o755); err != nil {
			t.Fatal(err)
		}
		srv, err := chserver.StartServer(t.Context(), dir, nil)
		if err == nil {
			_ = srv.Stop()
			t.Fatal("the server started")
		}
		t.Logf("error: %v", err)
		if !strings.Contains(err.Error(), "exited during start") || !strings.Contains(err.Error(), "--- last") {
			t.Errorf("error lacks the reason or the log tail: %v", err)
		}
	})
}

// closedAddr returns a 127.0.0.1 address that was just free, so nothing answers there.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}
