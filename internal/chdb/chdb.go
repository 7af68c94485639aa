// Package chdb owns egovtrack's ClickHouse connection: the shared Config, Open (which
// creates the database and fixes per-connection settings), and a throwaway local
// clickhouse-server for tests and `make demo` (StartServer, Ensure).
//
// Everything here must work both with the ClickHouse 18.16 that Debian ships and with
// the 24.x+ servers users deploy, over the native protocol only.
package chdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Config says where ClickHouse is and who to be there. Commands fill it with
// caarlos0/env, embedding it with envPrefix:"EGOV_CLICKHOUSE_".
//
// Its String and LogValue redact Password, so a Config may be logged or printed as is.
type Config struct {
	// Addr is host:port of the native protocol (9000 by default, not HTTP's 8123).
	Addr     string `env:"ADDR" envDefault:"127.0.0.1:9000"`
	Database string `env:"DATABASE" envDefault:"egov"`
	User     string `env:"USER" envDefault:"default"`
	Password string `env:"PASSWORD"`
	// DialTimeout bounds each TCP connect; queries are bounded by their context.
	DialTimeout time.Duration `env:"DIAL_TIMEOUT" envDefault:"5s"`
}

const redacted = "REDACTED"

// Validate reports the first field that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Addr == "":
		return errors.New("clickhouse config: address is empty")
	case c.Database == "":
		return errors.New("clickhouse config: database is empty")
	case c.DialTimeout <= 0:
		return fmt.Errorf("clickhouse config: dial timeout %v is not positive", c.DialTimeout)
	}
	return nil
}

// LogValue lets slog log a Config without its password.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("addr", c.Addr),
		slog.String("database", c.Database),
		slog.String("user", c.User),
		slog.Duration("dial_timeout", c.DialTimeout),
	}
	if c.Password != "" {
		attrs = append(attrs, slog.String("password", redacted))
	}
	return slog.GroupValue(attrs...)
}

// String is for fmt's %v and %+v, which would otherwise print the password.
func (c Config) String() string {
	pw := ""
	if c.Password != "" {
		pw = redacted
	}
	return fmt.Sprintf("{Addr:%s Database:%s User:%s Password:%s DialTimeout:%v}",
		c.Addr, c.Database, c.User, pw, c.DialTimeout)
}

// GoString keeps %#v from printing the password too.
func (c Config) GoString() string { return "chdb.Config" + c.String() }

// Open connects to cfg.Addr over the native protocol, creates cfg.Database if it
// does not exist, and returns a pinged connection pool whose default database is
// cfg.Database. The caller closes it.
//
// On servers that know async_insert (21.11+) every query of the connection runs
// with async_insert=0: from ClickHouse 26.2 it defaults to on, and then an INSERT
// could return before its rows are stored, while the projector acks events right
// after its insert returns. Older servers reject unknown settings, hence the
// version check.
//
// Errors name the address, never the password; a *clickhouse.Exception from the
// server (bad credentials, missing rights) stays reachable with errors.As.
func Open(ctx context.Context, cfg Config) (driver.Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}

	// The database may not exist yet, so the first connection uses the user's default one.
	admin, err := dial(ctx, cfg, "", nil)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	version, err := admin.ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("clickhouse at %s: read server version: %w", cfg.Addr, err)
	}
	if err := admin.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+QuoteIdent(cfg.Database)); err != nil {
		return nil, fmt.Errorf("clickhouse at %s: create database %s: %w", cfg.Addr, cfg.Database, err)
	}

	settings := clickhouse.Settings{}
	if knowsAsyncInsert(version.Version.Major, version.Version.Minor) {
		settings["async_insert"] = 0
	}
	return dial(ctx, cfg, cfg.Database, settings)
}

// knowsAsyncInsert reports whether a server of this version accepts the
// async_insert setting (added in 21.11).
func knowsAsyncInsert(major, minor uint64) bool {
	return major > 21 || major == 21 && minor >= 11
}

// dial opens a pool to cfg.Addr with the given default database and settings and
// pings it, since clickhouse.Open itself does not touch the network.
func dial(ctx context.Context, cfg Config, database string, settings clickhouse.Settings) (driver.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol: clickhouse.Native,
		Addr:     []string{cfg.Addr},
		Auth: clickhouse.Auth{
			Database: database,
			Username: cfg.User,
			Password: cfg.Password,
		},
		DialTimeout: cfg.DialTimeout,
		Settings:    settings,
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse at %s: open: %w", cfg.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("clickhouse at %s: ping: %w", cfg.Addr, err)
	}
	return conn, nil
}

// QuoteIdent quotes a database, table or column name for ClickHouse SQL, so
// names such as "egov-test" or ones with quotes in them stay one identifier.
func QuoteIdent(name string) string {
	r := strings.NewReplacer("\\", "\\\\", "`", "\\`")
	return "`" + r.Replace(name) + "`"
}
