package embedded_test

import (
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/stream/embedded"
)

// config is a server on a free port, storing into a fresh directory.
func config(t *testing.T) embedded.Config {
	return embedded.Config{StoreDir: t.TempDir(), Port: -1, ReadyTimeout: 10 * time.Second}
}

// A second embedded server on a store directory in use is refused: two servers writing one directory corrupt it.
func TestStoreDirIsLocked(t *testing.T) {
	cfg := config(t)
	first, err := embedded.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := embedded.Start(cfg); err == nil || !strings.Contains(err.Error(), "in use by another embedded server") {
		t.Fatalf("second server on %s: %v, want a refusal", cfg.StoreDir, err)
	}
	first.Stop()
	again, err := embedded.Start(cfg)
	if err != nil {
		t.Fatalf("after the first stopped: %v", err)
	}
	again.Stop()
}

// A clustered server needs a cluster name.
func TestClusterOptionsNeedAName(t *testing.T) {
	cfg := config(t)
	cfg.Cluster = embedded.Cluster{Port: 1}
	if _, err := embedded.Start(cfg); err == nil {
		t.Error("a clustered server without a cluster name started")
	}
}
