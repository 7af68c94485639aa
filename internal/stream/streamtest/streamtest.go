// Package streamtest starts a real, embedded NATS JetStream server for a test.
package streamtest

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/egovtrack/egovtrack/internal/stream"
)

// Server is an embedded server that a test can restart on the same port and data.
type Server struct {
	cfg stream.Config
	srv *stream.Server
}

// New starts an embedded server storing into a temporary directory, stopped when the test ends, and returns the
// configuration that connects to it.
func New(t testing.TB) stream.Config {
	t.Helper()
	return Start(t).Config()
}

// Start starts an embedded server on a free port, stopped when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	cfg, err := env.ParseAs[stream.Config]() // the defaults every command starts from
	if err != nil {
		t.Fatalf("stream defaults: %v", err)
	}
	cfg.URL = ""
	cfg.StoreDir = t.TempDir()
	cfg.ConnectTimeout = 10 * time.Second
	cfg.Port = freePort(t) // fixed, so that a restart comes back where clients reconnect
	s := &Server{cfg: cfg}
	s.start(t)
	t.Cleanup(s.stop)
	return s
}

// Config connects to the server.
func (s *Server) Config() stream.Config {
	c := s.cfg
	c.URL = "nats://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port))
	return c
}

// Restart stops the server and starts it again on the same port and data after down. It may run on a goroutine of
// its own, to restart the server while a test's clients are busy.
func (s *Server) Restart(down time.Duration) error {
	s.stop()
	time.Sleep(down) // the outage itself
	srv, err := stream.StartServer(s.cfg)
	if err != nil {
		return err
	}
	s.srv = srv
	return nil
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	srv, err := stream.StartServer(s.cfg)
	if err != nil {
		t.Fatalf("start embedded NATS server: %v", err)
	}
	s.srv = srv
}

func (s *Server) stop() {
	if s.srv != nil {
		s.srv.Stop()
		s.srv = nil
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
