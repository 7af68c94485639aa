// Package embedded runs a real nats-server, with JetStream, inside this process: the private server of the demo, of
// tests and of EGOV_NATS_EMBEDDED (which internal/stream's Connect starts through it), optionally with egovtrack's
// authorisation model, TLS, or as one node of a cluster. Connecting to it, the stream and publishing are
// internal/stream's.
package embedded

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/egovtrack/egovtrack/internal/natsauth"
)

// Config is an embedded server's settings. internal/stream's Config gives the first four from EGOV_NATS_*
// (stream.Config.EmbeddedServer); the others are for the demo and tests.
type Config struct {
	// StoreDir is the JetStream directory. Processes that run one after another on the same directory see the same
	// stream.
	StoreDir string
	// Port the server listens on at 127.0.0.1; -1 picks a free one.
	Port int
	// SyncAlways makes the server fsync every write. NATS' default syncs every 2 minutes, which can lose
	// acknowledged events on power loss.
	SyncAlways bool
	// ReadyTimeout bounds Start's wait for the server to accept clients.
	ReadyTimeout time.Duration

	// Auth, when not nil, is the authorisation every client connects under: the model's users, each with its
	// permissions, as deploy/nats/auth.conf gives a real server. Nil lets any client do anything.
	Auth *natsauth.Model
	// Log receives the server's warnings and errors (the permission violations of clients among them, naming the
	// credential) and, at debug level, its notices; nil discards them.
	Log *slog.Logger
	// TLS, when not nil, makes the server accept TLS connections only; with ClientAuth set, it verifies clients'
	// certificates.
	TLS *tls.Config
	// Name is the server's name, which JetStream needs unique within a cluster; empty: "egovtrack-embedded".
	Name string
	// Cluster, with a port, makes the server one node of a cluster.
	Cluster Cluster
}

// Server is a nats-server running in this process, holding its store directory's lock.
type Server struct {
	*server.Server
	lock *os.File
}

// Start starts a nats-server inside this process, with JetStream storing into cfg.StoreDir and clients accepted on
// 127.0.0.1 at cfg.Port, and returns once it accepts clients (at ClientURL). stream.Connect starts one by itself for
// EGOV_NATS_EMBEDDED; start one here to share it between several connections of one process (the demo, tests),
// giving its ClientURL as their URL. Two servers writing one store directory would corrupt it, so the directory is
// locked while the server runs: a second one, in this process or another (a rebuild beside a running projector,
// say), gets a clear error instead.
func Start(cfg Config) (*Server, error) {
	dir, err := filepath.Abs(cfg.StoreDir)
	if err != nil {
		return nil, fmt.Errorf("NATS store dir %q: %w", cfg.StoreDir, err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create NATS store dir: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	opts := &server.Options{
		ServerName: cmp.Or(cfg.Name, "egovtrack-embedded"),
		Host:       "127.0.0.1",
		Port:       cfg.Port,
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true,
		NoLog:      cfg.Log == nil,
		SyncAlways: cfg.SyncAlways,
	}
	if err := cfg.Cluster.configure(opts); err != nil {
		lock.Close()
		return nil, err
	}
	if cfg.Auth != nil {
		cfg.Auth.Configure(opts)
	}
	if cfg.TLS != nil {
		opts.TLSConfig = cfg.TLS
		opts.TLS = true
		opts.TLSVerify = cfg.TLS.ClientAuth == tls.RequireAndVerifyClientCert
		opts.TLSTimeout = 2
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("configure embedded NATS server: %w", err)
	}
	if cfg.Log != nil {
		srv.SetLogger(newServerLog(cfg.Log, cfg.Auth), true, false)
	}
	srv.Start()
	s := &Server{Server: srv, lock: lock}
	if !srv.ReadyForConnections(cfg.ReadyTimeout) {
		s.Stop()
		return nil, fmt.Errorf("embedded NATS server in %s not ready after %s", dir, cfg.ReadyTimeout)
	}
	return s, nil
}

// Stop shuts the server down, waits for it, and releases the store directory.
func (s *Server) Stop() {
	s.Shutdown()
	s.WaitForShutdown()
	if s.lock != nil {
		s.lock.Close() // closing releases the flock
		s.lock = nil
	}
}

// lockDir takes an exclusive lock on dir's lock file, without waiting.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "egovtrack.lock"), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("lock NATS store dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("the NATS store dir %s is in use by another embedded server (is a projector or collector running on it?); stop it, or point both at one server with EGOV_NATS_URL", dir)
		}
		return nil, fmt.Errorf("lock NATS store dir %s: %w", dir, err)
	}
	return f, nil
}
