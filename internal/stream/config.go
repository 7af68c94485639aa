package stream

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/egovtrack/egovtrack/internal/secret"
	"github.com/egovtrack/egovtrack/internal/stream/embedded"
)

// Config says where the stream lives and who to be there. The commands embed it with the prefix EGOV_NATS_.
//
// A Config may be logged or printed as it is: the password is a secret.String, String and LogValue hide the
// passwords of the URL, and the seed file's content is never read into it.
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
	PasswordFile string        `env:"PASSWORD_FILE"`
	Password     secret.String `env:"PASSWORD"`
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

// EmbeddedServer is the embedded server's settings that c gives: its store directory, port and fsync, and
// ConnectTimeout for its start. The demo and tests add an authorisation model, a log, TLS or a cluster to them.
func (c Config) EmbeddedServer() embedded.Config {
	return embedded.Config{StoreDir: c.StoreDir, Port: c.Port, SyncAlways: c.SyncAlways, ReadyTimeout: c.ConnectTimeout}
}

// String is for fmt's %v and %+v: every setting, the URL's passwords hidden (Password hides itself).
func (c Config) String() string { return fmt.Sprintf("%+v", c.shown()) }

// GoString keeps %#v from printing the URL's passwords.
func (c Config) GoString() string { return "stream.Config" + c.String() }

// LogValue lets slog log every setting, the URL's passwords hidden.
func (c Config) LogValue() slog.Value { return slog.AnyValue(c.shown()) }

// shownConfig is a Config without its methods, for fmt and slog to print field by field.
type shownConfig Config

// shown is c as it may be shown: the passwords of its URL hidden.
func (c Config) shown() shownConfig {
	c.URL = redactURL(c.URL)
	return shownConfig(c)
}

// RedactedURL is URL with any password in it hidden, for messages.
func (c Config) RedactedURL() string { return redactURL(c.URL) }

// secrets are the configuration's passwords: the one given directly and those of the URLs. (A password file's is
// never in the configuration, and nkey seeds never leave natsauth.)
func (c Config) secrets() []string {
	var out []string
	if c.Password != "" {
		out = append(out, c.Password.Reveal())
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
		msg = strings.ReplaceAll(msg, s, secret.Redacted)
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
			parts[i] = secret.Redacted
		}
	}
	return strings.Join(parts, ",")
}
