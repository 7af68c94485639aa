// Package chdb is egovtrack's ClickHouse connection: the shared Config (from EGOV_CLICKHOUSE_*), and Open, which
// creates the database and fixes per-connection settings. A throwaway local server for tests, the demo and the
// bench is internal/chserver's.
//
// Everything here must work both with the ClickHouse 18.16 that Debian ships and with
// the 24.x+ servers users deploy, over the native protocol only.
package chdb

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/egovtrack/egovtrack/internal/chsql"
	"github.com/egovtrack/egovtrack/internal/secret"
	"github.com/egovtrack/egovtrack/internal/tlsfiles"
)

// Config says where ClickHouse is and who to be there. Commands fill it with
// caarlos0/env, embedding it with envPrefix:"EGOV_CLICKHOUSE_".
//
// Password is a secret.String, so a Config may be logged or printed as is.
type Config struct {
	// Addr is host:port of the native protocol (9000 by default, not HTTP's 8123; 9440 with TLS).
	Addr     string `env:"ADDR" envDefault:"127.0.0.1:9000"`
	Database string `env:"DATABASE" envDefault:"egov"`
	User     string `env:"USER" envDefault:"default"`
	// PasswordFile holds User's password, its first line (a Docker or Kubernetes secret); Password gives it
	// directly instead. The file is read on every Open, so a rotated secret is picked up on reconnecting.
	PasswordFile string        `env:"PASSWORD_FILE"`
	Password     secret.String `env:"PASSWORD"`
	// DialTimeout bounds each TCP connect; queries are bounded by their context.
	DialTimeout time.Duration `env:"DIAL_TIMEOUT" envDefault:"5s"`

	// TLS connects with TLS (ClickHouse's tcp_port_secure, 9440 by default). The server's certificate is verified
	// against TLSCAFile (empty: the system's authorities) for TLSServerName (empty: Addr's host). Setting TLSCAFile or
	// TLSServerName turns TLS on too.
	TLS           bool   `env:"TLS" envDefault:"false"`
	TLSCAFile     string `env:"TLS_CA_FILE"`
	TLSServerName string `env:"TLS_SERVER_NAME"`
	// TLSInsecureSkipVerify accepts any certificate: encryption without knowing who answers, for a test server
	// with a self-signed certificate only; a CA file is the way to trust such a certificate in production.
	TLSInsecureSkipVerify bool `env:"TLS_INSECURE_SKIP_VERIFY" envDefault:"false"`
}

// Validate reports the first field that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Addr == "":
		return errors.New("clickhouse config: address is empty")
	case c.Database == "":
		return errors.New("clickhouse config: database is empty")
	case c.DialTimeout <= 0:
		return fmt.Errorf("clickhouse config: dial timeout %v is not positive", c.DialTimeout)
	case c.PasswordFile != "" && c.Password != "":
		return errors.New("clickhouse config: EGOV_CLICKHOUSE_PASSWORD_FILE and EGOV_CLICKHOUSE_PASSWORD both give the password: set one")
	case c.TLSInsecureSkipVerify && !c.useTLS():
		return errors.New("clickhouse config: EGOV_CLICKHOUSE_TLS_INSECURE_SKIP_VERIFY without EGOV_CLICKHOUSE_TLS: there is no certificate to skip")
	}
	return nil
}

// useTLS reports whether connections use TLS.
func (c Config) useTLS() bool { return c.TLS || c.TLSCAFile != "" || c.TLSServerName != "" }

// ResolvedPassword is the password to send: Password, or the first line of PasswordFile. Errors name the file, never its
// content.
func (c Config) ResolvedPassword() (secret.String, error) {
	if c.PasswordFile == "" {
		return c.Password, nil
	}
	pw, err := secret.FromFile(c.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("clickhouse password file: %w", err)
	}
	return pw, nil
}

// tlsConfig is the TLS of the connection, nil without TLS.
func (c Config) tlsConfig() (*tls.Config, error) {
	if !c.useTLS() {
		return nil, nil
	}
	t, err := tlsfiles.Config("clickhouse", tlsfiles.Files{CA: c.TLSCAFile})
	if err != nil {
		return nil, err
	}
	t.ServerName = c.TLSServerName
	t.InsecureSkipVerify = c.TLSInsecureSkipVerify // off by default: the operator's explicit choice
	return t, nil
}

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
	admin, err := Dial(ctx, cfg, "", nil)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	version, err := admin.ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("clickhouse at %s: read server version: %w", cfg.Addr, err)
	}
	if err := admin.Exec(ctx, chsql.CreateDatabase(cfg.Database).SQL); err != nil {
		return nil, fmt.Errorf("clickhouse at %s: create database %s: %w", cfg.Addr, cfg.Database, err)
	}

	settings := clickhouse.Settings{}
	if knowsAsyncInsert(version.Version.Major, version.Version.Minor) {
		settings["async_insert"] = 0
	}
	return Dial(ctx, cfg, cfg.Database, settings)
}

// knowsAsyncInsert reports whether a server of this version accepts the
// async_insert setting (added in 21.11).
func knowsAsyncInsert(major, minor uint64) bool {
	return major > 21 || major == 21 && minor >= 11
}

// Dial opens a pool to cfg.Addr with the given default database ("" for the server's own) and settings, without
// creating the database as Open does (for a user who may not), and
// pings it, since clickhouse.Open itself does not touch the network.
func Dial(ctx context.Context, cfg Config, database string, settings clickhouse.Settings) (driver.Conn, error) {
	password, err := cfg.ResolvedPassword()
	if err != nil {
		return nil, err
	}
	tlsCfg, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol: clickhouse.Native,
		Addr:     []string{cfg.Addr},
		Auth: clickhouse.Auth{
			Database: database,
			Username: cfg.User,
			Password: password.Reveal(),
		},
		TLS:         tlsCfg,
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
