// Package streamtest starts a real, embedded NATS JetStream server for a test.
package streamtest

import (
	"testing"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/egovtrack/egovtrack/internal/stream"
)

// New starts an embedded server storing into a temporary directory, stopped when the test ends, and returns the
// configuration that connects to it.
func New(t testing.TB) stream.Config {
	t.Helper()
	cfg, err := env.ParseAs[stream.Config]() // the defaults every command starts from
	if err != nil {
		t.Fatalf("stream defaults: %v", err)
	}
	cfg.URL = ""
	cfg.StoreDir = t.TempDir()
	cfg.ConnectTimeout = 10 * time.Second
	srv, err := stream.StartServer(cfg)
	if err != nil {
		t.Fatalf("start embedded NATS server: %v", err)
	}
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	cfg.URL = srv.ClientURL()
	return cfg
}
