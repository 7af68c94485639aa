package chserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/egovtrack/egovtrack/internal/chdb"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// probeTimeout bounds the check for a server already running at cfg.Addr: a local
// server answers in milliseconds, and `make demo` should not hang on a dead address.
const probeTimeout = 3 * time.Second

// Ensure returns a Config for a ClickHouse that answers, for `make demo`.
//
// When a server answers at cfg.Addr it returns cfg unchanged and a stop func that
// does nothing. Otherwise it starts a local server in dir (see StartServer) that
// accepts cfg.User with cfg.Password, and returns cfg pointed at it with a stop
// func that stops it; that server dies with this process in any case, and its
// data stays in dir for the next run. When no server binary is installed it
// installs Debian's clickhouse-server with apt-get if running as root, and
// otherwise returns an error wrapping ErrNoServerBinary with the install hint.
//
// A server that answers at cfg.Addr but refuses cfg (wrong password, say) is an
// error, not a reason to start another.
func Ensure(ctx context.Context, cfg chdb.Config, dir string, log *slog.Logger) (chdb.Config, func() error, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return chdb.Config{}, nil, err
	}
	noop := func() error { return nil }

	err := probe(ctx, cfg)
	var exc *clickhouse.Exception
	switch {
	case err == nil:
		log.Info("using the running clickhouse", "clickhouse", cfg)
		return cfg, noop, nil
	case errors.As(err, &exc):
		return chdb.Config{}, nil, fmt.Errorf("a clickhouse answers at %s but refuses the connection: %w", cfg.Addr, err)
	case ctx.Err() != nil:
		return chdb.Config{}, nil, ctx.Err()
	}
	log.Info("no clickhouse answers; starting a local one", "addr", cfg.Addr, "dir", dir, "reason", err)

	if _, err := FindServerBinary(); errors.Is(err, ErrNoServerBinary) {
		if os.Geteuid() != 0 {
			return chdb.Config{}, nil, err
		}
		if err := aptInstall(ctx, log); err != nil {
			return chdb.Config{}, nil, err
		}
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return chdb.Config{}, nil, fmt.Errorf("local clickhouse: %w", err)
	}
	password, err := cfg.ResolvedPassword()
	if err != nil {
		return chdb.Config{}, nil, err
	}
	srv, err := StartServerAs(ctx, dir, log, ServerUser{Name: cfg.User, Password: password.Reveal()})
	if err != nil {
		return chdb.Config{}, nil, err
	}
	out := srv.Config(cfg.Database)
	out.DialTimeout = cfg.DialTimeout
	return out, srv.Stop, nil
}

// probe pings cfg.Addr without touching cfg.Database, which may not exist yet.
func probe(ctx context.Context, cfg chdb.Config) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	cfg.DialTimeout = min(cfg.DialTimeout, probeTimeout)
	conn, err := chdb.Dial(ctx, cfg, "", nil)
	if err != nil {
		return err
	}
	return conn.Close()
}

// aptInstall installs Debian's ClickHouse packages. It needs root and the network
// to Debian's mirrors; its output is logged only when it fails, as it is long.
func aptInstall(ctx context.Context, log *slog.Logger) error {
	for _, args := range [][]string{
		{"apt-get", "update"},
		{"apt-get", "install", "-y", "clickhouse-server", "clickhouse-client"},
	} {
		log.Info("clickhouse-server is not installed; installing it", "command", strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w\n%s", strings.Join(args, " "), err, lastLines(string(out), 20))
		}
	}
	if _, err := FindServerBinary(); err != nil {
		return fmt.Errorf("after apt-get install: %w", err)
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
