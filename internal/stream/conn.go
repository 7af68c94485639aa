package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/egovtrack/egovtrack/internal/natsauth"
	"github.com/egovtrack/egovtrack/internal/secret"
	"github.com/egovtrack/egovtrack/internal/stream/embedded"
	"github.com/egovtrack/egovtrack/internal/tlsfiles"
)

// Conn is a connection to JetStream and, when embedded, the server behind it. What it offers is what egovtrack does
// with the stream: Publish, Read, and the Stream's handle for the projector's consumer; the client underneath is its
// own.
type Conn struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	cfg Config
	srv *embedded.Server
	log *slog.Logger
	// cred is the connection's nkey credential, which signs what Publish publishes; nil without one.
	cred *natsauth.Credential
	// refused relays the server's permission violations to the calls they concern.
	refused refusals
	// closed is closed by the client when the connection is closed, ending a drain.
	closed chan struct{}
	// lastErr is the latest asynchronous error that was not a permission violation (an authorization violation,
	// say), for the error of a Connect that could not connect.
	lastErr atomic.Pointer[error]
}

// Connect connects to cfg.URL, or starts an embedded server when cfg.Embedded, and waits up to cfg.ConnectTimeout
// for the connection. It refuses a configuration that names no server with ErrNoServer. It creates the stream, or
// finds it as specified, when cfg.ManageStream is set, when cfg has no credentials, or when it started the server
// itself: a stream that exists with another configuration is ErrStreamDiffers, and is left as it is.
//
// With cfg.NkeySeedFile it authenticates with that nkey, takes replies on the credential's own inboxes
// (natsauth.InboxPrefix), and signs every event it publishes. When the server refuses a publish or a request for lack
// of permission, the refusal is logged at error level, and the publish or stream.Read concerned fails at once with an
// error matching nats.ErrPermissionViolation.
func Connect(ctx context.Context, cfg Config, log *slog.Logger) (*Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Conn{cfg: cfg, log: log, closed: make(chan struct{}), refused: refusals{watchers: map[int]refusalWatch{}}}
	auth, err := c.authOptions()
	if err != nil {
		return nil, err
	}
	url := cfg.URL
	manage := cfg.ManageStream || !cfg.credentials()
	if cfg.Embedded {
		srv, err := embedded.Start(cfg.EmbeddedServer())
		if err != nil {
			c.shutdown()
			return nil, err
		}
		c.srv = srv
		url = srv.ClientURL()
		manage = true
		log.Warn("EGOV_NATS_EMBEDDED: a private NATS server runs in this process; what is published here reaches no one else",
			"url", url, "store_dir", cfg.StoreDir)
	}
	name := "egovtrack"
	if c.cred != nil && c.cred.Name != "" {
		name += " " + c.cred.Name // servers log it with every error of the connection
	}
	connected := make(chan struct{})
	var once sync.Once
	opts := append(auth,
		nats.Name(name),
		nats.Timeout(cfg.ConnectTimeout),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.ConnectHandler(func(*nats.Conn) { once.Do(func() { close(connected) }) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("NATS reconnected", "url", redactURL(nc.ConnectedUrl())) }),
		nats.ClosedHandler(func(*nats.Conn) { close(c.closed) }),
		nats.ErrorHandler(c.asyncError),
	)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		c.shutdown()
		return nil, scrub(fmt.Errorf("connect to NATS at %s: %w", redactURL(url), err), cfg.secrets())
	}
	c.nc = nc
	if err := c.awaitConnected(ctx, connected); err != nil {
		c.Close()
		return nil, scrub(fmt.Errorf("connect to NATS at %s: %w", redactURL(url), err), cfg.secrets())
	}
	// Every async publish times out on its own clock: those in flight to a node that stops get no ack, and waiting
	// for them one after another would cost a timeout each.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(1024), jetstream.WithPublishAsyncTimeout(cfg.ConnectTimeout))
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("open JetStream: %w", err)
	}
	c.js = js
	if manage {
		if err := c.ensureStream(ctx); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// authOptions reads the credential, the password and the TLS files of the configuration into connection options.
func (c *Conn) authOptions() ([]nats.Option, error) {
	cfg := c.cfg
	var opts []nats.Option
	switch {
	case cfg.NkeySeedFile != "":
		cred, err := natsauth.LoadCredential(cfg.NkeySeedFile)
		if err != nil {
			return nil, err
		}
		if fi, err := os.Stat(cfg.NkeySeedFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
			c.log.Warn("the nkey seed file can be read by other users: chmod 600 it", "file", cfg.NkeySeedFile, "mode", fi.Mode().Perm().String())
		}
		c.cred = cred
		opts = append(opts, nats.Nkey(cred.PublicKey(), cred.SignNonce), nats.CustomInboxPrefix(natsauth.InboxPrefix(cred.PublicKey())))
	case cfg.User != "":
		pw := cfg.Password
		if cfg.PasswordFile != "" {
			var err error
			if pw, err = secret.FromFile(cfg.PasswordFile); err != nil {
				return nil, fmt.Errorf("NATS password file: %w", err)
			}
		}
		opts = append(opts, nats.UserInfo(cfg.User, pw.Reveal()))
	}
	if cfg.tls() {
		t, err := tlsfiles.Config("NATS", tlsfiles.Files{CA: cfg.TLSCAFile, Cert: cfg.TLSCertFile, Key: cfg.TLSKeyFile})
		if err != nil {
			c.wipe()
			return nil, err
		}
		opts = append(opts, nats.Secure(t))
	}
	return opts, nil
}

// awaitConnected waits for the first connection: nats.Connect retries in the background (RetryOnFailedConnect), so
// that a server still starting is waited for, but a server that refuses the credentials closes the connection.
func (c *Conn) awaitConnected(ctx context.Context, connected <-chan struct{}) error {
	if c.nc.IsConnected() {
		return nil
	}
	select {
	case <-connected:
		return nil
	case <-c.closed:
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(c.cfg.ConnectTimeout):
	}
	if c.nc.IsConnected() {
		return nil
	}
	if err := c.lastErr.Load(); err != nil {
		return *err
	}
	if err := c.nc.LastError(); err != nil {
		return err
	}
	return fmt.Errorf("no connection after %s", c.cfg.ConnectTimeout)
}

// credential names the connection's credential in logs.
func (c *Conn) credential() string {
	if c.cred == nil {
		return ""
	}
	return c.cred.String()
}

// asyncError is the connection's error handler: permission violations are logged and relayed to the calls waiting
// on them; other errors (an authorization violation) are kept for Connect's error.
func (c *Conn) asyncError(_ *nats.Conn, _ *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrPermissionViolation) {
		c.log.Error("NATS refused an operation of this credential", "err", err, "credential", c.credential())
		c.refused.relay(err)
		return
	}
	c.lastErr.Store(&err)
	c.log.Warn("NATS error", "err", err)
}

// ClientURL is the URL clients reach the server at: the embedded server's, or the configured one.
func (c *Conn) ClientURL() string {
	if c.srv != nil {
		return c.srv.ClientURL()
	}
	return c.cfg.URL
}

// Close drains the connection and stops the embedded server, if any. The drain ends with a round trip to the
// server, which Close waits for (up to ConnectTimeout): when it returns, the server has handled everything sent on
// the connection, a publish it refused included, and logged what it logs of it. Closing a closed Conn does nothing.
func (c *Conn) Close() error {
	var err error
	if c.nc != nil {
		if e := c.nc.Drain(); e != nil && !errors.Is(e, nats.ErrConnectionClosed) {
			err = fmt.Errorf("drain NATS connection: %w", e)
		}
		select {
		case <-c.closed:
		case <-time.After(c.cfg.ConnectTimeout):
			c.nc.Close()
		}
	}
	c.shutdown()
	return err
}

func (c *Conn) shutdown() {
	c.wipe()
	if c.srv != nil {
		c.srv.Stop()
		c.srv = nil
	}
}

// wipe erases the credential's seed from memory.
func (c *Conn) wipe() {
	if c.cred != nil {
		c.cred.Wipe()
	}
}
