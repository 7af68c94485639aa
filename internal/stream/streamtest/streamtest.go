// Package streamtest starts a real, embedded NATS JetStream server for a test: one that lets any client do anything
// (New, Start), one that runs egovtrack's authorisation model with a credential for every unit, the office, the
// intake API and the projector (StartAuth), or a cluster of them (StartCluster). Dial gives a test the plain NATS
// client that egovtrack's connection keeps to itself, for what no egovtrack code does.
package streamtest

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/egovtrack/egovtrack/internal/natsauth"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/embedded"
)

// Server is an embedded server that a test can restart on the same port and data.
type Server struct {
	cfg  stream.Config   // what connects to it
	opts embedded.Config // how it runs
	srv  *embedded.Server
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
	s := newServer(defaults(t))
	s.start(t)
	t.Cleanup(s.stop)
	return s
}

// newServer is a server, not started, that clients reach with cfg.
func newServer(cfg stream.Config) *Server { return &Server{cfg: cfg, opts: cfg.EmbeddedServer()} }

func defaults(t testing.TB) stream.Config {
	t.Helper()
	cfg, err := env.ParseAs[stream.Config]() // the defaults every command starts from
	if err != nil {
		t.Fatalf("stream defaults: %v", err)
	}
	cfg.URL, cfg.Embedded = "", false // Config gives the URL; the server is this package's, not Connect's
	cfg.StoreDir = t.TempDir()
	cfg.ConnectTimeout = 10 * time.Second
	cfg.Port = freePort(t) // fixed, so that a restart comes back where clients reconnect
	return cfg
}

// AuthServer is an embedded server running egovtrack's authorisation model, as deploy/nats/auth.conf configures a
// real one, with a seed file for every credential and the stream created by the office. It has an operator's
// credential too (natsauth.OperatorName), as a real one has while an operator is at work (`generate -operator`), for
// tests that change the stream as only an operator may.
type AuthServer struct {
	*Server
	// Model is the server's authorisation.
	Model *natsauth.Model
	// Keys is the directory of the credentials' seed files, and of the public keys file (SignersFile).
	Keys string
	log  *syncBuffer
}

// StartAuth starts an embedded server with the authorisation model of fresh keys, stopped when the test ends.
// Its log, permission violations included, is kept for Log.
func StartAuth(t testing.TB) *AuthServer {
	t.Helper()
	return StartAuthPartitions(t, 1)
}

// StartAuthPartitions is StartAuth with n projector instances sharing the stream, each allowed its own durable
// consumer (natsauth.PartitionDurable).
func StartAuthPartitions(t testing.TB, n int) *AuthServer {
	t.Helper()
	dir := t.TempDir()
	keys, err := natsauth.EnsureKeys(filepath.Join(dir, "nkeys.txt"), dir, nil, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("keys: %v", err)
	}
	cfg := defaults(t)
	m, err := natsauth.New(keys, cfg.Stream, "projector")
	if err != nil {
		t.Fatal(err)
	}
	m.Partitions = n
	if m.Operator, err = natsauth.EnsureOperatorKey(dir, &bytes.Buffer{}); err != nil {
		t.Fatalf("operator key: %v", err)
	}
	buf := &syncBuffer{}
	srv := newServer(cfg)
	srv.opts.Auth, srv.opts.Log = m, slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s := &AuthServer{Server: srv, Model: m, Keys: dir, log: buf}
	s.start(t)
	t.Cleanup(s.stop)
	c, err := stream.Connect(context.Background(), s.As(natsauth.OfficeName), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("create the stream as the office: %v", err)
	}
	c.Close()
	return s
}

// As is the configuration that connects as the credential name ("province/19", "office", "projector", "operator"):
// the office's manages the stream, as its deployment would.
func (s *AuthServer) As(name string) stream.Config {
	c := s.Config()
	c.NkeySeedFile = natsauth.SeedFile(s.Keys, name)
	c.ManageStream = name == natsauth.OfficeName
	return c
}

// SignersFile is the public keys file of the server's credentials, for the projector (EGOV_PROJECTOR_SIGNERS_FILE).
func (s *AuthServer) SignersFile() string { return filepath.Join(s.Keys, "nkeys.txt") }

// Log is what the server has logged so far at warning level and above: its permission violations among it.
func (s *AuthServer) Log() string { return s.log.String() }

// syncBuffer is a bytes.Buffer that the server's goroutines and the test may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
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
	srv, err := embedded.Start(s.opts)
	if err != nil {
		return err
	}
	s.srv = srv
	return nil
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	srv, err := embedded.Start(s.opts)
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
