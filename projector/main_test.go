package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
	"github.com/egovtrack/egovtrack/internal/envdoc"
	"github.com/egovtrack/egovtrack/projector/store"
)

// Every variable the command reads is in the README's configuration table, with its default.
func TestREADMEDocumentsConfiguration(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range envdoc.Missing(string(b), envdoc.Vars(config{})) {
		t.Errorf("README.md lacks the row | `%s` | `%s` | …", v.Name, v.Default)
	}
}

// Without EGOV_NATS_URL the projector neither projects nor rebuilds from a private embedded server: a rebuild would
// drop every table and replay an empty stream into them, and say "rebuilt". Both refuse with exit 2, naming the
// variable, before ClickHouse is touched: the tables keep their rows.
func TestCommandsRefuseWithoutAServer(t *testing.T) {
	ch := chdbtest.New(t)
	conn := chdbtest.Conn(t, ch)
	if _, err := store.Open(t.Context(), conn, slog.New(slog.DiscardHandler), store.Config{}); err != nil {
		t.Fatal(err)
	}
	unitRows := func() uint64 {
		var n uint64
		if err := conn.QueryRow(t.Context(), "SELECT count() FROM units FINAL").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := unitRows()
	t.Chdir(t.TempDir())
	t.Setenv("EGOV_CLICKHOUSE_ADDR", ch.Addr)
	t.Setenv("EGOV_CLICKHOUSE_DATABASE", ch.Database)
	t.Setenv("EGOV_CLICKHOUSE_USER", ch.User)
	t.Setenv("EGOV_CLICKHOUSE_PASSWORD", ch.Password.Reveal())
	t.Setenv("EGOV_PROJECTOR_METRICS_ADDR", "off")
	for _, c := range []struct {
		name, url, embedded, want string
	}{
		{"no URL", "", "", "EGOV_NATS_URL is not set"},
		{"a URL and the embedded server", "nats://127.0.0.1:4222", "true", "EGOV_NATS_URL and EGOV_NATS_EMBEDDED=true"},
	} {
		for _, cmd := range []string{"run", "rebuild"} {
			t.Run(c.name+"/"+cmd, func(t *testing.T) {
				t.Setenv("EGOV_NATS_URL", c.url)
				t.Setenv("EGOV_NATS_EMBEDDED", c.embedded)
				var stdout, stderr bytes.Buffer
				code := run(context.Background(), []string{cmd}, &stdout, &stderr)
				if code != 2 {
					t.Errorf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
				}
				if !strings.Contains(stderr.String(), c.want) {
					t.Errorf("stderr does not say %q:\n%s", c.want, stderr.String())
				}
				if strings.Contains(stdout.String()+stderr.String(), "rebuilt") || strings.Contains(stderr.String(), "projecting") {
					t.Errorf("it says it worked:\n%s%s", stdout.String(), stderr.String())
				}
				if n := unitRows(); n != before {
					t.Errorf("units holds %d rows, had %d: ClickHouse was touched", n, before)
				}
				if _, err := os.Stat(".demo"); err == nil {
					t.Error(".demo exists: an embedded server was started")
				}
			})
		}
	}
}
