package chdb_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/caarlos0/env/v11"

	"github.com/egovtrack/egovtrack/internal/chdb"
	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
	"github.com/egovtrack/egovtrack/internal/chsql"
)

func TestMain(m *testing.M) { chdbtest.Main(m) }

func TestConfigEnv(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want chdb.Config
	}{
		{
			name: "defaults",
			env:  map[string]string{},
			want: chdb.Config{Addr: "127.0.0.1:9000", Database: "egov", User: "default", DialTimeout: 5 * time.Second},
		},
		{
			name: "all set",
			env: map[string]string{
				"EGOV_CLICKHOUSE_ADDR":         "ch:9440",
				"EGOV_CLICKHOUSE_DATABASE":     "egov_prod",
				"EGOV_CLICKHOUSE_USER":         "egov",
				"EGOV_CLICKHOUSE_PASSWORD":     "pw",
				"EGOV_CLICKHOUSE_DIAL_TIMEOUT": "250ms",
			},
			want: chdb.Config{Addr: "ch:9440", Database: "egov_prod", User: "egov", Password: "pw", DialTimeout: 250 * time.Millisecond},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := env.ParseAsWithOptions[chdb.Config](env.Options{Prefix: "EGOV_CLICKHOUSE_", Environment: tt.env})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestConfigRedactsPassword(t *testing.T) {
	const secret = "hunter2-secret"
	cfg := chdb.Config{Addr: "127.0.0.1:9000", Database: "egov", User: "egov", Password: secret, DialTimeout: time.Second}

	render := map[string]func() string{
		"slog json": func() string {
			var b bytes.Buffer
			slog.New(slog.NewJSONHandler(&b, nil)).Info("connect", "clickhouse", cfg)
			return b.String()
		},
		"slog text": func() string {
			var b bytes.Buffer
			slog.New(slog.NewTextHandler(&b, nil)).Info("connect", "clickhouse", cfg)
			return b.String()
		},
		"%v":  func() string { return fmt.Sprintf("%v", cfg) },
		"%+v": func() string { return fmt.Sprintf("%+v", cfg) },
		"%#v": func() string { return fmt.Sprintf("%#v", cfg) },
		"%s":  func() string { return fmt.Sprintf("%s %s", cfg.Addr, cfg.Password) }, // vet refuses %s of the struct
		"pointer %v": func() string {
			return fmt.Sprintf("%v", &cfg)
		},
	}
	for name, f := range render {
		t.Run(name, func(t *testing.T) {
			out := f()
			if strings.Contains(out, secret) {
				t.Errorf("output contains the password: %s", out)
			}
			if !strings.Contains(out, "127.0.0.1:9000") || !strings.Contains(out, "REDACTED") {
				t.Errorf("output lacks the address or the redaction mark: %s", out)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	good := chdb.Config{Addr: "127.0.0.1:9000", Database: "egov", User: "default", DialTimeout: time.Second}
	tests := []struct {
		name    string
		mutate  func(*chdb.Config)
		wantErr bool
	}{
		{"good", func(*chdb.Config) {}, false},
		{"no addr", func(c *chdb.Config) { c.Addr = "" }, true},
		{"no database", func(c *chdb.Config) { c.Database = "" }, true},
		{"zero dial timeout", func(c *chdb.Config) { c.DialTimeout = 0 }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.mutate(&cfg)
			if err := cfg.Validate(); (err != nil) != tt.wantErr {
				t.Errorf("Validate() = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestKnowsAsyncInsert(t *testing.T) {
	tests := []struct {
		major, minor uint64
		want         bool
	}{
		{18, 16, false},
		{21, 10, false},
		{21, 11, true},
		{22, 1, true},
		{26, 2, true},
	}
	for _, tt := range tests {
		if got := chdb.KnowsAsyncInsert(tt.major, tt.minor); got != tt.want {
			t.Errorf("KnowsAsyncInsert(%d, %d) = %v, want %v", tt.major, tt.minor, got, tt.want)
		}
	}
}

func TestOpen(t *testing.T) {
	tests := []struct {
		name   string
		suffix string // appended to a fresh test database name that Open must create
		rows   int
	}{
		{name: "plain name", suffix: "_new", rows: 3},
		{name: "name needing quotes", suffix: "-new.db", rows: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			base := chdbtest.New(t)
			admin := chdbtest.Conn(t, base)

			cfg := base
			cfg.Database = base.Database + tt.suffix
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+chsql.QuoteIdent(cfg.Database)); err != nil {
					t.Errorf("drop %s: %v", cfg.Database, err)
				}
			})
			if n := countDatabases(t, admin, cfg.Database); n != 0 {
				t.Fatalf("database %s exists before Open", cfg.Database)
			}

			conn, err := chdb.Open(ctx, cfg)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer conn.Close()
			if n := countDatabases(t, admin, cfg.Database); n != 1 {
				t.Fatalf("database %s not created by Open", cfg.Database)
			}

			// Unqualified: the connection's default database must be cfg.Database.
			if err := conn.Exec(ctx, "CREATE TABLE t (a UInt32, b String) ENGINE = MergeTree ORDER BY a"); err != nil {
				t.Fatal(err)
			}
			batch, err := conn.PrepareBatch(ctx, "INSERT INTO t (a, b)")
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.rows {
				if err := batch.Append(uint32(i), fmt.Sprintf("row %d", i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := batch.Send(); err != nil {
				t.Fatal(err)
			}

			var count, sum uint64
			var last string
			if err := conn.QueryRow(ctx, "SELECT count(), sum(a), max(b) FROM "+chsql.QuoteIdent(cfg.Database)+".t").Scan(&count, &sum, &last); err != nil {
				t.Fatal(err)
			}
			wantSum := uint64(tt.rows * (tt.rows - 1) / 2)
			if count != uint64(tt.rows) || sum != wantSum {
				t.Errorf("read back count=%d sum=%d, want %d and %d", count, sum, tt.rows, wantSum)
			}
			if last == "" {
				t.Error("read back an empty b")
			}

			assertAsyncInsertOff(t, conn)
		})
	}
}

func countDatabases(t *testing.T, conn driver.Conn, name string) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(t.Context(), "SELECT count() FROM system.databases WHERE name = ?", name).Scan(&n); err != nil {
		t.Fatalf("count databases: %v", err)
	}
	return n
}

// assertAsyncInsertOff checks the setting where the server knows it, and that an
// 18.16 server (which rejects unknown settings) was not sent it at all.
func assertAsyncInsertOff(t *testing.T, conn driver.Conn) {
	t.Helper()
	v, err := conn.ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	var values []string
	rows, err := conn.Query(t.Context(), "SELECT value FROM system.settings WHERE name = 'async_insert'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var value string
		if err := rows.Scan(&value); err != nil {
			t.Fatal(err)
		}
		values = append(values, value)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if chdb.KnowsAsyncInsert(v.Version.Major, v.Version.Minor) {
		if len(values) != 1 || values[0] != "0" {
			t.Errorf("server %d.%d: async_insert = %v, want [0]", v.Version.Major, v.Version.Minor, values)
		}
	} else if len(values) != 0 {
		t.Errorf("server %d.%d has an async_insert setting %v; KnowsAsyncInsert is wrong", v.Version.Major, v.Version.Minor, values)
	}
}

// TestOpenErrors checks that failures name the address and never the password.
func TestOpenErrors(t *testing.T) {
	const secret = "not-the-password-42"
	base := chdbtest.New(t)
	tests := []struct {
		name          string
		cfg           chdb.Config
		wantException bool // the server answered and refused
	}{
		{
			name: "nothing listening",
			cfg:  chdb.Config{Addr: closedAddr(t), Database: "egov", User: "default", Password: secret, DialTimeout: time.Second},
		},
		{
			name: "wrong password",
			cfg: func() chdb.Config {
				c := base
				c.Password = secret
				return c
			}(),
			wantException: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := chdb.Open(t.Context(), tt.cfg)
			if err == nil {
				conn.Close()
				t.Fatal("Open succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.cfg.Addr) {
				t.Errorf("error does not name the address %s: %v", tt.cfg.Addr, err)
			}
			if strings.Contains(msg, secret) {
				t.Errorf("error contains the password: %v", err)
			}
			var exc *clickhouse.Exception
			if got := errors.As(err, &exc); got != tt.wantException {
				t.Errorf("errors.As(*clickhouse.Exception) = %v, want %v (err: %v)", got, tt.wantException, err)
			}
		})
	}
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
