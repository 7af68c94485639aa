// Package stream is egovtrack's NATS JetStream: the connection (to an external server, or to a real nats-server
// embedded in the process when none is configured), the stream that holds every event, and publishing with
// deduplication by event id.
package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/egovtrack/egovtrack/internal/event"
)

// Config says where the stream lives. The commands embed it with the prefix EGOV_NATS_.
type Config struct {
	// URL of an external NATS server; empty starts an embedded server storing its data in StoreDir.
	URL string `env:"URL"`
	// StoreDir is the embedded server's JetStream directory. Processes that run one after another on the same
	// directory see the same stream, which is how `make demo` hands events from the collectors to the projector.
	StoreDir string `env:"STORE_DIR" envDefault:".demo/nats"`
	// Port the embedded server listens on at 127.0.0.1; -1 picks a free one.
	Port int `env:"PORT" envDefault:"-1"`
	// Stream is the JetStream stream's name; it binds every subject under egov.>.
	Stream string `env:"STREAM" envDefault:"EGOV"`
	// Replicas of the stream: 1 on a single server, 3 on a cluster.
	Replicas int `env:"REPLICAS" envDefault:"1"`
	// DuplicateWindow is how long JetStream remembers event ids to drop a re-published fact. Beyond it the
	// projector's tables, keyed by event id, still hold each fact once.
	DuplicateWindow time.Duration `env:"DUPLICATE_WINDOW" envDefault:"2m"`
	// SyncAlways makes the embedded server fsync every write. NATS' default syncs every 2 minutes, which can lose
	// acknowledged events on power loss (Jepsen, NATS 2.12.1); production should set it (with 3 replicas).
	SyncAlways bool `env:"SYNC_ALWAYS" envDefault:"false"`
	// ConnectTimeout bounds the wait for a server.
	ConnectTimeout time.Duration `env:"CONNECT_TIMEOUT" envDefault:"10s"`
}

// Conn is a connection to JetStream and, when embedded, the server behind it.
type Conn struct {
	NC  *nats.Conn
	JS  jetstream.JetStream
	cfg Config
	srv *Server
	log *slog.Logger
	// closed is closed by the client when the connection is closed, ending a drain.
	closed chan struct{}
}

// Connect connects to cfg.URL, or starts an embedded server when it is empty, and makes sure the stream exists.
func Connect(ctx context.Context, cfg Config, log *slog.Logger) (*Conn, error) {
	c := &Conn{cfg: cfg, log: log, closed: make(chan struct{})}
	url := cfg.URL
	if url == "" {
		srv, err := StartServer(cfg)
		if err != nil {
			return nil, err
		}
		c.srv = srv
		url = srv.ClientURL()
		log.Info("embedded NATS server started", "url", url, "store_dir", cfg.StoreDir)
	}
	nc, err := nats.Connect(url,
		nats.Name("egovtrack"),
		nats.Timeout(cfg.ConnectTimeout),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("NATS reconnected", "url", nc.ConnectedUrl()) }),
		nats.ClosedHandler(func(*nats.Conn) { close(c.closed) }),
	)
	if err != nil {
		c.shutdown()
		return nil, fmt.Errorf("connect to NATS at %s: %w", url, err)
	}
	c.NC = nc
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(1024))
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("open JetStream: %w", err)
	}
	c.JS = js
	if err := c.ensureStream(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Server is a nats-server embedded in this process, holding its store directory's lock.
type Server struct {
	*server.Server
	lock *os.File
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

// StartServer starts a real nats-server inside this process, with JetStream storing into cfg.StoreDir and clients
// accepted on 127.0.0.1 at cfg.Port. Connect starts one by itself when cfg.URL is empty; start one here to share it
// between several connections of one process (the demo, tests), passing its ClientURL as their URL. Two servers
// writing one store directory would corrupt it, so the directory is locked while the server runs: a second process
// (a rebuild beside a running projector, say) gets a clear error instead.
func StartServer(cfg Config) (*Server, error) {
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
		ServerName: "egovtrack-embedded",
		Host:       "127.0.0.1",
		Port:       cfg.Port,
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true,
		NoLog:      true,
		SyncAlways: cfg.SyncAlways,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("configure embedded NATS server: %w", err)
	}
	srv.Start()
	s := &Server{Server: srv, lock: lock}
	if !srv.ReadyForConnections(cfg.ConnectTimeout) {
		s.Stop()
		return nil, fmt.Errorf("embedded NATS server in %s not ready after %s", dir, cfg.ConnectTimeout)
	}
	return s, nil
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

// StreamConfig is the stream every event is stored in: file storage, every subject under egov.>, deduplicated by
// event id within cfg.DuplicateWindow.
func StreamConfig(cfg Config) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "egovtrack events: online public service levels and virtual assistant rollout",
		Subjects:    []string{event.SubjectRoot + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy, // the stream is the source of truth: nothing expires
		Replicas:    max(cfg.Replicas, 1),
		Duplicates:  cfg.DuplicateWindow,
	}
}

func (c *Conn) ensureStream(ctx context.Context) error {
	if _, err := c.JS.CreateOrUpdateStream(ctx, StreamConfig(c.cfg)); err != nil {
		return fmt.Errorf("create or update stream %s: %w", c.cfg.Stream, err)
	}
	return nil
}

// Stream returns the stream's handle.
func (c *Conn) Stream(ctx context.Context) (jetstream.Stream, error) {
	s, err := c.JS.Stream(ctx, c.cfg.Stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", c.cfg.Stream, err)
	}
	return s, nil
}

// ClientURL is the URL clients reach the server at: the embedded server's, or the configured one.
func (c *Conn) ClientURL() string {
	if c.srv != nil {
		return c.srv.ClientURL()
	}
	return c.cfg.URL
}

// Close drains the connection (waiting for outstanding acks) and stops the embedded server, if any.
func (c *Conn) Close() error {
	var err error
	if c.NC != nil {
		if e := c.NC.Drain(); e != nil && !errors.Is(e, nats.ErrConnectionClosed) {
			err = fmt.Errorf("drain NATS connection: %w", e)
		}
		select {
		case <-c.closed:
		case <-time.After(c.cfg.ConnectTimeout):
			c.NC.Close()
		}
	}
	c.shutdown()
	return err
}

func (c *Conn) shutdown() {
	if c.srv != nil {
		c.srv.Stop()
		c.srv = nil
	}
}
