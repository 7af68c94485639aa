// Package chdbtest gives tests a real ClickHouse: one throwaway server per test
// binary, started on first use, and a fresh database per test, dropped when the
// test ends. A package using it calls Main from its TestMain so the server stops
// when its tests are done:
//
//	func TestMain(m *testing.M) { chdbtest.Main(m) }
//
// Set EGOV_TEST_CLICKHOUSE_ADDR (and EGOV_TEST_CLICKHOUSE_USER,
// EGOV_TEST_CLICKHOUSE_PASSWORD if needed) to use a running server instead, for
// instance a 24.x one. Without either, tests fail with an install hint: they are
// never skipped for want of ClickHouse.
package chdbtest

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/egovtrack/egovtrack/internal/chdb"
	"github.com/egovtrack/egovtrack/internal/chserver"
	"github.com/egovtrack/egovtrack/internal/chsql"
	"github.com/egovtrack/egovtrack/internal/secret"
)

// Environment variables naming an external server for tests.
const (
	EnvAddr     = "EGOV_TEST_CLICKHOUSE_ADDR"
	EnvHTTPAddr = "EGOV_TEST_CLICKHOUSE_HTTP_ADDR" // its HTTP interface, for tests that compare answers as text
	EnvUser     = "EGOV_TEST_CLICKHOUSE_USER"
	EnvPassword = "EGOV_TEST_CLICKHOUSE_PASSWORD"
)

// logTailLines is how much of the server's logs a failed test prints.
const logTailLines = 40

// cleanupTimeout bounds the DROP DATABASE after a test, whose own context is
// already cancelled by the time cleanups run.
const cleanupTimeout = 30 * time.Second

var shared struct {
	once   sync.Once
	dir    string
	server *chserver.Server
	err    error
}

// Main runs the tests, then stops the shared server if one was started and
// removes its directory, and exits with the tests' code.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main without the exit: it returns the tests' code, for a TestMain that has more to clean up.
func Run(m *testing.M) int {
	code := m.Run()
	if shared.server != nil {
		if err := shared.server.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "chdbtest: %v\n", err)
		}
	}
	if shared.dir != "" {
		if err := os.RemoveAll(shared.dir); err != nil {
			fmt.Fprintf(os.Stderr, "chdbtest: remove %s: %v\n", shared.dir, err)
		}
	}
	return code
}

// startShared starts the test binary's server once; every later call returns the
// same server or the same error.
func startShared() (*chserver.Server, error) {
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "egov-clickhouse-")
		if err != nil {
			shared.err = fmt.Errorf("chdbtest: %w", err)
			return
		}
		shared.dir = dir
		// Only warnings reach the test output; start times etc. stay out of it.
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		// Not the first test's context: the server outlives that test.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		shared.server, shared.err = chserver.StartServer(ctx, dir, log)
	})
	return shared.server, shared.err
}

// Server returns the test binary's shared server, starting it if needed, for
// tests that stop or restart it. Such tests must not call t.Parallel, so no other
// test is using the server meanwhile. With EGOV_TEST_CLICKHOUSE_ADDR set the
// shared server is not the one tests use, so the test is skipped.
func Server(t testing.TB) *chserver.Server {
	t.Helper()
	if os.Getenv(EnvAddr) != "" {
		t.Skipf("%s is set: this test controls the local test server, which the other tests do not use", EnvAddr)
	}
	srv, err := startShared()
	if err != nil {
		t.Fatalf("chdbtest: no ClickHouse for tests: %v", err)
	}
	return srv
}

// HTTPAddr returns the HTTP address of the server New's databases are on: the shared server's, or
// EGOV_TEST_CLICKHOUSE_HTTP_ADDR when EGOV_TEST_CLICKHOUSE_ADDR names an external server.
func HTTPAddr(t testing.TB) string {
	t.Helper()
	if os.Getenv(EnvAddr) != "" {
		addr := os.Getenv(EnvHTTPAddr)
		if addr == "" {
			t.Fatalf("chdbtest: %s is set: set %s to its HTTP interface's address too", EnvAddr, EnvHTTPAddr)
		}
		return addr
	}
	srv, err := startShared()
	if err != nil {
		t.Fatalf("chdbtest: no ClickHouse for tests: %v", err)
	}
	return srv.HTTPAddr()
}

// New returns a Config for a new, empty database named after the test, which is
// dropped when the test ends. When the test has failed, the server's log tail is
// logged too.
func New(t testing.TB) chdb.Config {
	t.Helper()
	var base chdb.Config
	var srv *chserver.Server
	if addr := os.Getenv(EnvAddr); addr != "" {
		base = chdb.Config{
			Addr:        addr,
			User:        cmp.Or(os.Getenv(EnvUser), "default"),
			Password:    secret.String(os.Getenv(EnvPassword)),
			DialTimeout: 5 * time.Second,
		}
	} else {
		var err error
		if srv, err = startShared(); err != nil {
			t.Fatalf("chdbtest: no ClickHouse for tests: %v", err)
		}
		base = srv.Config("")
	}

	cfg := base
	cfg.Database = DatabaseName(t.Name())
	conn, err := chdb.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("chdbtest: create database: %v", err)
	}
	if err := conn.Close(); err != nil {
		t.Fatalf("chdbtest: %v", err)
	}

	t.Cleanup(func() {
		if t.Failed() && srv != nil {
			t.Logf("ClickHouse server logs (%s):\n%s", srv.Dir(), srv.LogTail(logTailLines))
		}
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := dropDatabase(ctx, cfg); err != nil {
			t.Errorf("chdbtest: %v", err)
		}
	})
	return cfg
}

// ProtectedUser and ProtectedDatabase are the account and the one database of the server Protected starts.
const (
	ProtectedUser     = "egov"
	ProtectedDatabase = "egov"
)

// Protected starts a throwaway server of the test's own, in a temporary directory, whose one user, ProtectedUser,
// needs password and may use only ProtectedDatabase (and "default", where connections start): tests of what a
// secret may leak into can then provoke a wrong password and a database the user may not use. It returns the
// Config to reach it with the password, and the server, for its logs; the server stops when the test ends. Unlike
// New, it ignores EGOV_TEST_CLICKHOUSE_ADDR, whose server has no such user.
func Protected(t testing.TB, password string) (chdb.Config, *chserver.Server) {
	t.Helper()
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := chserver.StartServerAs(t.Context(), dir, log, chserver.ServerUser{
		Name: ProtectedUser, Password: password, Databases: []string{ProtectedDatabase, "default"},
	})
	if err != nil {
		t.Fatalf("chdbtest: no ClickHouse for tests: %v", err)
	}
	t.Cleanup(func() { // before TempDir's removal: cleanups run last-in first-out
		if t.Failed() {
			t.Logf("ClickHouse server logs (%s):\n%s", srv.Dir(), srv.LogTail(logTailLines))
		}
		if err := srv.Stop(); err != nil {
			t.Errorf("chdbtest: %v", err)
		}
	})
	return srv.Config(ProtectedDatabase), srv
}

// Conn opens a connection to cfg that is closed when the test ends.
func Conn(t testing.TB, cfg chdb.Config) driver.Conn {
	t.Helper()
	conn, err := chdb.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("chdbtest: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func dropDatabase(ctx context.Context, cfg chdb.Config) error {
	// Through the default database: Open would recreate cfg.Database to connect to it.
	admin := cfg
	admin.Database = "default"
	conn, err := chdb.Open(ctx, admin)
	if err != nil {
		return fmt.Errorf("drop database %s: %w", cfg.Database, err)
	}
	defer conn.Close()
	if err := conn.Exec(ctx, chsql.DropDatabase(cfg.Database).SQL); err != nil {
		return fmt.Errorf("drop database %s: %w", cfg.Database, err)
	}
	return nil
}

// DatabaseName turns a test name such as "TestOpen/dash-name" into a unique
// database name such as "t_testopen_dash_name_3fa9c2d1".
func DatabaseName(testName string) string {
	const maxLen = 40
	var b strings.Builder
	b.WriteString("t_")
	for _, r := range strings.ToLower(testName) {
		if b.Len() >= maxLen {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	// Random, not a counter: several test binaries may share one external server.
	fmt.Fprintf(&b, "_%08x", rand.Uint32())
	return b.String()
}
