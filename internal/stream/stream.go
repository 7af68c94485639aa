// Package stream is egovtrack's NATS JetStream: the connection (to the server of EGOV_NATS_URL, or, when asked for
// with EGOV_NATS_EMBEDDED, to a real nats-server embedded in the process), with its credential and TLS, the stream
// that holds every event, and publishing, each event signed with the connection's credential and deduplicated by
// its signature (by its id when unsigned). The authorisation model that decides what each credential may do is
// internal/natsauth's.
package stream

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/natsauth"
)

// Config says where the stream lives and who to be there. The commands embed it with the prefix EGOV_NATS_.
//
// Its String and LogValue redact the password and the URL's user information, so a Config may be logged or printed
// as is; the seed file's content is never read into it.
type Config struct {
	// URL of the NATS server (several, separated by commas, for a cluster): the digital office's. Required unless
	// Embedded: without it Connect refuses (ErrNoServer) rather than publish where nobody reads.
	URL string `env:"URL"`
	// Embedded runs a private nats-server inside this process, storing into StoreDir, instead of connecting to URL:
	// for the demo and tests. What is published there reaches no one else, so it is never the default, and it
	// cannot be combined with a URL.
	Embedded bool `env:"EMBEDDED" envDefault:"false"`
	// StoreDir is the embedded server's JetStream directory. Processes that run one after another on the same
	// directory see the same stream.
	StoreDir string `env:"STORE_DIR" envDefault:".demo/nats"`
	// Port the embedded server listens on at 127.0.0.1; -1 picks a free one.
	Port int `env:"PORT" envDefault:"-1"`
	// Stream is the JetStream stream's name; it binds every subject under egov.>.
	Stream string `env:"STREAM" envDefault:"EGOV"`
	// Replicas of the stream: 1 on a single server, 3 on a cluster.
	Replicas int `env:"REPLICAS" envDefault:"1"`
	// DuplicateWindow is how long JetStream remembers the Nats-Msg-Id of each message (its signature: see Publish)
	// to drop an event re-sent by the same credential. Beyond it the projector's tables, keyed by event id, still hold
	// each fact once.
	DuplicateWindow time.Duration `env:"DUPLICATE_WINDOW" envDefault:"2m"`
	// SyncAlways makes the embedded server fsync every write. NATS' default syncs every 2 minutes, which can lose
	// acknowledged events on power loss (Jepsen, NATS 2.12.1); production should set it (with 3 replicas). A real
	// server takes it from its configuration: deploy/nats/nats-server.conf sets sync_interval: always.
	SyncAlways bool `env:"SYNC_ALWAYS" envDefault:"false"`
	// ConnectTimeout bounds the wait for a server, and for each acknowledgement of a publish.
	ConnectTimeout time.Duration `env:"CONNECT_TIMEOUT" envDefault:"10s"`
	// PublishRetryFor is how long Publish keeps sending an event again that the server did not acknowledge before
	// it gives up and fails: long enough to ride out a server's restart or a cluster's new leader (seconds), short
	// enough that an officer waiting on an import hears of a server that never acknowledges. 0 means the default.
	PublishRetryFor time.Duration `env:"PUBLISH_RETRY_FOR" envDefault:"1m"`

	// NkeySeedFile is this process's credential: a file holding a NATS user nkey seed, one of those that
	// `go run ./deploy/nats generate` writes (deploy/nats/secrets/province-19.nk). The connection authenticates with
	// it, and every event published on it is signed with it, for the projector to check (internal/natsauth).
	NkeySeedFile string `env:"NKEY_SEED_FILE"`
	// User names this process to a server that authenticates with user names and passwords rather than nkeys. Its
	// events are not signed.
	User string `env:"USER"`
	// PasswordFile holds User's password (its first line); Password gives it directly instead. Neither is logged.
	PasswordFile string `env:"PASSWORD_FILE"`
	Password     string `env:"PASSWORD"`
	// ManageStream creates the stream when connecting, or checks that it is as specified (StreamConfig), never
	// changing it: set it for the office credential, the only one the authorisation model lets create it. A
	// connection without credentials (a development server) and Connect's own embedded server always do.
	ManageStream bool `env:"MANAGE_STREAM" envDefault:"false"`

	// TLSCAFile is the PEM file of the certificate authorities the server's certificate must come from (empty: the
	// system's).
	TLSCAFile string `env:"TLS_CA_FILE"`
	// TLSCertFile and TLSKeyFile are this process's certificate and key, PEM, for a server that verifies clients.
	TLSCertFile string `env:"TLS_CERT_FILE"`
	TLSKeyFile  string `env:"TLS_KEY_FILE"`
	// TLSRequire refuses to talk to the server without TLS. Any TLS file, or a tls:// URL, requires it too.
	TLSRequire bool `env:"TLS_REQUIRE" envDefault:"false"`
}

// defaultPublishRetryFor is PublishRetryFor's default, for a Config built in code without it.
const defaultPublishRetryFor = time.Minute

// ErrNoServer is Validate's error when the configuration says no server: neither EGOV_NATS_URL nor
// EGOV_NATS_EMBEDDED. A collector that fell back to a private server would print that it published and exit 0
// while the ministry saw nothing.
var ErrNoServer = errors.New("EGOV_NATS_URL is not set: set it to the digital office's NATS server (nats://host:4222, " +
	"or tls://host:4222); EGOV_NATS_EMBEDDED=true runs a private server in this process instead, for a demo or a " +
	"test, and nothing published there reaches anyone else")

// Validate reports settings that cannot work together, and ErrNoServer when they name no server.
func (c Config) Validate() error {
	switch {
	case c.URL == "" && !c.Embedded:
		return ErrNoServer
	case c.URL != "" && c.Embedded:
		return errors.New("EGOV_NATS_URL and EGOV_NATS_EMBEDDED=true both say which server to use: set one")
	case c.PublishRetryFor < 0:
		return fmt.Errorf("EGOV_NATS_PUBLISH_RETRY_FOR is %s, want more than 0", c.PublishRetryFor)
	case c.Stream == "":
		return errors.New("EGOV_NATS_STREAM must not be empty")
	case c.NkeySeedFile != "" && c.User != "":
		return errors.New("EGOV_NATS_NKEY_SEED_FILE and EGOV_NATS_USER are two ways to authenticate: set one")
	case c.PasswordFile != "" && c.Password != "":
		return errors.New("EGOV_NATS_PASSWORD_FILE and EGOV_NATS_PASSWORD both give the password: set one")
	case c.User == "" && (c.PasswordFile != "" || c.Password != ""):
		return errors.New("a NATS password needs EGOV_NATS_USER")
	case c.User != "" && c.PasswordFile == "" && c.Password == "":
		return errors.New("EGOV_NATS_USER needs EGOV_NATS_PASSWORD_FILE or EGOV_NATS_PASSWORD")
	case (c.TLSCertFile == "") != (c.TLSKeyFile == ""):
		return errors.New("EGOV_NATS_TLS_CERT_FILE and EGOV_NATS_TLS_KEY_FILE go together")
	}
	return nil
}

// credentials reports whether the configuration authenticates.
func (c Config) credentials() bool { return c.NkeySeedFile != "" || c.User != "" }

// tls reports whether the connection must use TLS.
func (c Config) tls() bool {
	return c.TLSRequire || c.TLSCAFile != "" || c.TLSCertFile != "" || strings.HasPrefix(c.URL, "tls://")
}

const redacted = "REDACTED"

// LogValue lets slog log a Config without its password.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("url", redactURL(c.URL)), slog.String("stream", c.Stream)}
	if c.Embedded {
		attrs = append(attrs, slog.Bool("embedded", true), slog.String("store_dir", c.StoreDir))
	}
	if c.NkeySeedFile != "" {
		attrs = append(attrs, slog.String("nkey_seed_file", c.NkeySeedFile))
	}
	if c.User != "" {
		attrs = append(attrs, slog.String("user", c.User))
	}
	if c.PasswordFile != "" {
		attrs = append(attrs, slog.String("password_file", c.PasswordFile))
	}
	if c.Password != "" {
		attrs = append(attrs, slog.String("password", redacted))
	}
	if c.tls() {
		attrs = append(attrs, slog.Bool("tls", true), slog.String("tls_ca_file", c.TLSCAFile), slog.String("tls_cert_file", c.TLSCertFile))
	}
	return slog.GroupValue(attrs...)
}

// String is for fmt's %v and %+v, which would otherwise print the password.
func (c Config) String() string {
	pw := ""
	if c.Password != "" {
		pw = redacted
	}
	return fmt.Sprintf("{URL:%s Embedded:%t StoreDir:%s Port:%d Stream:%s Replicas:%d DuplicateWindow:%v SyncAlways:%t ConnectTimeout:%v "+
		"PublishRetryFor:%v NkeySeedFile:%s User:%s PasswordFile:%s Password:%s ManageStream:%t TLSCAFile:%s TLSCertFile:%s TLSKeyFile:%s TLSRequire:%t}",
		redactURL(c.URL), c.Embedded, c.StoreDir, c.Port, c.Stream, c.Replicas, c.DuplicateWindow, c.SyncAlways, c.ConnectTimeout,
		c.PublishRetryFor, c.NkeySeedFile, c.User, c.PasswordFile, pw, c.ManageStream, c.TLSCAFile, c.TLSCertFile, c.TLSKeyFile, c.TLSRequire)
}

// GoString keeps %#v from printing the password too.
func (c Config) GoString() string { return "stream.Config" + c.String() }

// RedactedURL is URL with any password in it hidden, for messages.
func (c Config) RedactedURL() string { return redactURL(c.URL) }

// secrets are the configuration's passwords: the one given directly and those of the URLs. (A password file's is
// never in the configuration, and nkey seeds never leave natsauth.)
func (c Config) secrets() []string {
	var out []string
	if c.Password != "" {
		out = append(out, c.Password)
	}
	for _, p := range strings.Split(c.URL, ",") {
		p = strings.TrimSpace(p)
		if u, err := url.Parse(p); err == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok && pw != "" {
				out = append(out, pw, url.PathEscape(pw), url.QueryEscape(pw))
			}
		} else if _, rest, ok := strings.Cut(p, "://"); ok {
			// An unparsable URL: everything between the scheme and the host may be a password.
			if info, _, ok := strings.Cut(rest, "@"); ok {
				if _, pw, ok := strings.Cut(info, ":"); ok && pw != "" {
					out = append(out, pw)
				}
			}
		}
	}
	return out
}

// scrubbed is an error whose text had secrets in it, replaced. It matches what the original matched (errors.Is) but
// does not unwrap to it, which would give the secrets back.
type scrubbed struct {
	msg string
	err error
}

func (e scrubbed) Error() string        { return e.msg }
func (e scrubbed) Is(target error) bool { return errors.Is(e.err, target) }

// scrub returns err with every secret of its text replaced; err itself when it holds none. Libraries quote URLs in
// their errors (net/url does), passwords included.
func scrub(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, redacted)
	}
	if msg == err.Error() {
		return err
	}
	return scrubbed{msg: msg, err: err}
}

// redactURL hides the password of URLs that carry one (nats://user:secret@host, several separated by commas).
func redactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			if _, has := u.User.Password(); has {
				parts[i] = u.Redacted()
			}
		} else if err != nil && strings.Contains(p, "@") {
			parts[i] = redacted
		}
	}
	return strings.Join(parts, ",")
}

// Conn is a connection to JetStream and, when embedded, the server behind it.
type Conn struct {
	NC  *nats.Conn
	JS  jetstream.JetStream
	cfg Config
	srv *Server
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
		srv, err := StartServer(cfg)
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
	c.NC = nc
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
	c.JS = js
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
			b, err := os.ReadFile(cfg.PasswordFile)
			if err != nil {
				return nil, fmt.Errorf("NATS password file: %w", err)
			}
			pw, _, _ = strings.Cut(string(b), "\n")
			pw = strings.TrimSuffix(pw, "\r")
		}
		opts = append(opts, nats.UserInfo(cfg.User, pw))
	}
	if cfg.tls() {
		t, err := tlsConfig(cfg)
		if err != nil {
			c.wipe()
			return nil, err
		}
		opts = append(opts, nats.Secure(t))
	}
	return opts, nil
}

// tlsConfig is the client's TLS: the configured authorities, and its certificate when it has one.
func tlsConfig(cfg Config) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSCAFile != "" {
		pem, err := os.ReadFile(cfg.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("NATS TLS CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("NATS TLS CA file %s: no PEM certificate in it", cfg.TLSCAFile)
		}
		t.RootCAs = pool
	}
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("NATS TLS client certificate %s: %w", cfg.TLSCertFile, err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}

// awaitConnected waits for the first connection: nats.Connect retries in the background (RetryOnFailedConnect), so
// that a server still starting is waited for, but a server that refuses the credentials closes the connection.
func (c *Conn) awaitConnected(ctx context.Context, connected <-chan struct{}) error {
	if c.NC.IsConnected() {
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
	if c.NC.IsConnected() {
		return nil
	}
	if err := c.lastErr.Load(); err != nil {
		return *err
	}
	if err := c.NC.LastError(); err != nil {
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

// ServerOptions are an embedded server's settings beyond Config's.
type ServerOptions struct {
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
	Cluster ClusterOptions
}

// StartServer starts a real nats-server inside this process, with JetStream storing into cfg.StoreDir and clients
// accepted on 127.0.0.1 at cfg.Port, and no authorisation. Connect starts one by itself when cfg.Embedded; start
// one here to share it between several connections of one process (the demo, tests), passing its ClientURL as their
// URL. Two servers writing one store directory would corrupt it, so the directory is locked while the server runs: a
// second process (a rebuild beside a running projector, say) gets a clear error instead.
func StartServer(cfg Config) (*Server, error) { return StartServerWith(cfg, ServerOptions{}) }

// StartServerWith is StartServer with the authorisation model, a log and TLS.
func StartServerWith(cfg Config, o ServerOptions) (*Server, error) {
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
		ServerName: cmp.Or(o.Name, "egovtrack-embedded"),
		Host:       "127.0.0.1",
		Port:       cfg.Port,
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true,
		NoLog:      o.Log == nil,
		SyncAlways: cfg.SyncAlways,
	}
	if err := o.Cluster.configure(opts); err != nil {
		lock.Close()
		return nil, err
	}
	if o.Auth != nil {
		o.Auth.Configure(opts)
	}
	if o.TLS != nil {
		opts.TLSConfig = o.TLS
		opts.TLS = true
		opts.TLSVerify = o.TLS.ClientAuth == tls.RequireAndVerifyClientCert
		opts.TLSTimeout = 2
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("configure embedded NATS server: %w", err)
	}
	if o.Log != nil {
		srv.SetLogger(newServerLog(o.Log, o.Auth), true, false)
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

// StreamConfig is the stream every event is stored in: file storage, every subject under egov.>, no limit (nothing
// expires or is discarded), deduplicated by Nats-Msg-Id within cfg.DuplicateWindow.
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

// ErrStreamDiffers is Connect's error, when it manages the stream, for a stream that exists with another
// configuration than StreamConfig's: sealed, holding fewer messages, other replicas. Connect never changes it.
var ErrStreamDiffers = errors.New("the stream is not as egovtrack specifies it")

// ensureStream creates the stream as StreamConfig specifies it, or finds it so. It never updates it: JetStream
// creates a stream that exists only when asked for exactly the configuration it has, and the office's credential may
// create the stream but not update it, so that no service can shrink, seal or re-configure the history. A stream
// that differs is ErrStreamDiffers, saying how; changing it is an operator's act (deploy/nats/README.md).
func (c *Conn) ensureStream(ctx context.Context) error {
	// A credential that may not manage the stream is refused at once rather than waiting for a timeout.
	prefix := "$JS.API.STREAM."
	rctx, stop := c.refused.watch(ctx, func(subject string) bool {
		return strings.HasPrefix(subject, prefix) && strings.HasSuffix(subject, "."+c.cfg.Stream)
	})
	defer stop()
	refused := func(what string, err error) error {
		if cause := context.Cause(rctx); errors.Is(cause, nats.ErrPermissionViolation) {
			err = fmt.Errorf("%w (only the office credential may create it: unset EGOV_NATS_MANAGE_STREAM for others)", cause)
		}
		return fmt.Errorf("%s stream %s: %w", what, c.cfg.Stream, err)
	}
	// Each request waits as long as a connection may (JetStream's default is 5 s, which a loaded server can miss).
	request := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(rctx, max(c.cfg.ConnectTimeout, 5*time.Second))
	}
	want := StreamConfig(c.cfg)
	qctx, cancel := request()
	defer cancel()
	s, err := c.JS.Stream(qctx, c.cfg.Stream)
	switch {
	case err == nil:
		// A process started on a cluster without EGOV_NATS_REPLICAS would call a stream of three replicas wrong:
		// more copies than asked for are kept, and fewer are an operator's decision.
		if have := s.CachedInfo().Config.Replicas; have > want.Replicas {
			c.log.Warn("the stream has more replicas than EGOV_NATS_REPLICAS says: keeping them", "stream", c.cfg.Stream, "replicas", have, "configured", want.Replicas)
			want.Replicas = have
		}
	case !errors.Is(err, jetstream.ErrStreamNotFound):
		return refused("look at", err)
	}
	cctx, cancel := request()
	defer cancel()
	if _, err := c.JS.CreateStream(cctx, want); err != nil {
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return refused("create", err)
		}
		ictx, cancel := request()
		defer cancel()
		s, err := c.JS.Stream(ictx, c.cfg.Stream)
		if err != nil {
			return refused("look at", err)
		}
		return fmt.Errorf("stream %s: %w: %s. The office's credential creates the stream but may not change it, so that "+
			"no service can shrink, seal or re-configure the history: an operator changes it, with a credential of their own "+
			"(deploy/nats/README.md, \"Changing the stream\"), unless it is these EGOV_NATS_ settings that are wrong",
			c.cfg.Stream, ErrStreamDiffers, strings.Join(streamDiffs(s.CachedInfo().Config, want), "; "))
	}
	return nil
}

// streamDiffs says how the stream's configuration have differs from want, in the settings that matter to egovtrack.
func streamDiffs(have, want jetstream.StreamConfig) []string {
	var d []string
	if have.Sealed {
		d = append(d, "it is sealed: it stores no event, ever again (JetStream cannot unseal a stream: an operator restores a copy)")
	}
	if !slices.Equal(have.Subjects, want.Subjects) {
		d = append(d, fmt.Sprintf("it takes the subjects %v, want %v", have.Subjects, want.Subjects))
	}
	if have.Replicas < want.Replicas {
		d = append(d, fmt.Sprintf("it has %d replicas, EGOV_NATS_REPLICAS says %d", have.Replicas, want.Replicas))
	}
	if have.Duplicates != want.Duplicates {
		d = append(d, fmt.Sprintf("its duplicate window is %s, EGOV_NATS_DUPLICATE_WINDOW says %s", have.Duplicates, want.Duplicates))
	}
	for _, l := range []struct {
		name string
		v    int64
	}{{"max_msgs", have.MaxMsgs}, {"max_bytes", have.MaxBytes}, {"max_msgs_per_subject", have.MaxMsgsPerSubject}, {"max_msg_size", int64(have.MaxMsgSize)}} {
		if l.v > 0 {
			d = append(d, fmt.Sprintf("its %s is %d, want no limit: events beyond it are lost or refused", l.name, l.v))
		}
	}
	if have.MaxAge > 0 {
		d = append(d, fmt.Sprintf("its max_age is %s, want none: older events are deleted", have.MaxAge))
	}
	if have.Retention != want.Retention {
		d = append(d, fmt.Sprintf("its retention is %s, want %s", have.Retention, want.Retention))
	}
	if have.Storage != want.Storage {
		d = append(d, fmt.Sprintf("its storage is %s, want %s", have.Storage, want.Storage))
	}
	if have.NoAck {
		d = append(d, "it acknowledges no publish (no_ack)")
	}
	if len(d) == 0 {
		d = append(d, "a setting egovtrack does not name differs (`nats stream info "+want.Name+" --json` shows them all)")
	}
	return d
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
