package intake

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Serve stops when its context ends, after letting a request in flight finish.
func TestServeShutsDownGracefully(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "finished")
	})
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- serve(ctx, DefaultConfig(), ln, nil, h, slog.New(slog.DiscardHandler)) }()

	answer := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			answer <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answer <- string(b)
	}()
	<-started
	cancel()
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if got := <-answer; got != "finished" {
		t.Errorf("the request in flight got %q, want it finished", got)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v, want nil after a clean shutdown", err)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("still accepting connections after the shutdown")
	}
}

// Serve refuses to start without what it needs, saying what is missing.
func TestServeRefusesABadConfiguration(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.txt")
	if err := os.WriteFile(empty, []byte("# no tokens yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		set  func(*Config)
		say  string
	}{
		{"no tokens file", func(c *Config) {}, "TOKENS_FILE is empty"},
		{"a tokens file that is not there", func(c *Config) { c.TokensFile = filepath.Join(dir, "missing.txt") }, "no such file"},
		{"a tokens file without tokens", func(c *Config) { c.TokensFile = empty }, "no tokens"},
		{"no body limit", func(c *Config) { c.TokensFile = empty; c.MaxBody = 0 }, "MAX_BODY is 0"},
	}
	for _, c := range cases {
		cfg := DefaultConfig()
		c.set(&cfg)
		err := Serve(t.Context(), cfg, nil, slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), c.say) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.say)
		}
	}
}
