package intake

import (
	"errors"
	"fmt"
	"time"

	"github.com/caarlos0/env/v11"
)

// EnvPrefix is the prefix of the intake API's environment variables: EGOV_SERVE_ADDR, ….
const EnvPrefix = "EGOV_SERVE_"

// Config configures the intake API; LoadConfig reads it from EGOV_SERVE_* variables.
type Config struct {
	// Addr is where the API listens. The default is loopback only: without TLSCertFile the API belongs behind a
	// reverse proxy that terminates TLS, since bearer tokens must not cross a network in clear text.
	Addr string `env:"ADDR" envDefault:"127.0.0.1:8080"`
	// TLSCertFile and TLSKeyFile, both set, make the API serve HTTPS itself with this certificate (PEM, the chain
	// after the leaf) and its private key (PEM). They are read once at start.
	TLSCertFile string `env:"TLS_CERT_FILE"`
	TLSKeyFile  string `env:"TLS_KEY_FILE"`
	// Rate and Burst limit each token: Burst requests at once, then Rate a second. A provincial system reports a
	// day's changes in a few requests (a batch of events, or its whole catalogue, is one request), so the limit
	// never slows it down; it stops a leaked token or a runaway client from flooding the stream and the projector.
	// A request over the limit is refused with 429 and Retry-After, before its body is read.
	Rate  float64 `env:"RATE" envDefault:"1"`
	Burst int     `env:"BURST" envDefault:"30"`
	// EventRate and EventBurst limit each token by the events it sends: EventBurst at once, then EventRate a second.
	// The most a unit sends at once is its first whole catalogue, an event a procedure: about 2,000 for the largest
	// province, at most reporting.MaxProcedures (10,000) for any. After that a unit reports tens of changes a day,
	// and one event a second is 86,400 a day. A request of events is counted by the events it holds, a re-sent one
	// too; a catalogue by the changes it publishes, not by its procedures. A request over the limit is refused with
	// 429 and Retry-After; one with more events than EventBurst, which would never be let in, with 413.
	EventRate  float64 `env:"EVENT_RATE" envDefault:"1"`
	EventBurst int     `env:"EVENT_BURST" envDefault:"10000"`
	// DossierRate and DossierBurst limit each token by the dossier events it sends to /dossiers, a bucket apart from
	// EventRate's: a one-stop shop sends every receipt, payment, settlement and result, tens of thousands a day for a
	// large province (Hà Nội receives about 10,000 dossiers on a busy day, four to five events each), in batches as
	// they happen. 100 a second is 8.6 million a day; 5,000 at once is two bodies of MaxBody (an event takes about
	// 400 bytes).
	DossierRate  float64 `env:"DOSSIER_RATE" envDefault:"100"`
	DossierBurst int     `env:"DOSSIER_BURST" envDefault:"5000"`
	// TokensFile lists each unit's token as a SHA-256 hash, one "kind/code hex" line per token (see ParseTokens), so
	// that the server never stores a token that could be used to report. Required by Serve.
	TokensFile string `env:"TOKENS_FILE"`
	// MaxBody bounds a request body, in bytes. A procedure in a snapshot takes about 200 bytes (Vietnamese names are
	// two to three bytes a letter), and the largest provincial catalogues hold about 2,000 procedures: 1 MiB holds
	// them twice over while keeping a flood of large bodies from exhausting memory.
	MaxBody int64 `env:"MAX_BODY" envDefault:"1048576"`
	// ReadHeaderTimeout bounds reading a request's headers, so that clients that open connections and send nothing
	// (slowloris) cannot hold them.
	ReadHeaderTimeout time.Duration `env:"READ_HEADER_TIMEOUT" envDefault:"10s"`
	// ReadTimeout bounds reading a whole request, body included: MaxBody over a slow provincial link (256 kbit/s)
	// takes about 35 s.
	ReadTimeout time.Duration `env:"READ_TIMEOUT" envDefault:"1m"`
	// RequestTimeout bounds the work of one request: reading the unit's catalogue back from the stream and waiting
	// for JetStream's acknowledgements. It is longer than a publish keeps retrying across a NATS restart (about a
	// minute), so that a restart does not fail a request that would have succeeded.
	RequestTimeout time.Duration `env:"REQUEST_TIMEOUT" envDefault:"90s"`
	// IdleTimeout closes keep-alive connections left unused this long.
	IdleTimeout time.Duration `env:"IDLE_TIMEOUT" envDefault:"2m"`
	// ShutdownTimeout is how long Serve lets requests in flight finish once asked to stop; a request cut short
	// may have stored some of its events, which a client's retry then finds (same ids, nothing stored twice).
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"30s"`
}

// LoadConfig reads the configuration from the environment (EGOV_SERVE_*) and validates it. It is read apart from the
// other commands' settings because TOKENS_FILE is required by `collectors serve` alone.
func LoadConfig() (Config, error) {
	cfg, err := env.ParseAsWithOptions[Config](env.Options{Prefix: EnvPrefix})
	if err != nil {
		return Config{}, fmt.Errorf("intake configuration: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// DefaultConfig is the configuration with every default applied, whatever the environment holds.
func DefaultConfig() Config {
	cfg, err := env.ParseAsWithOptions[Config](env.Options{Environment: map[string]string{}})
	if err != nil {
		panic(fmt.Sprintf("intake: defaults of Config: %v", err)) // a malformed envDefault tag: a build defect
	}
	return cfg
}

// Validate reports what makes the configuration unusable for Serve.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s %s", EnvPrefix, name, fmt.Sprintf(format, args...)))
	}
	if c.Addr == "" {
		bad("ADDR", "is empty")
	}
	if c.TokensFile == "" {
		bad("TOKENS_FILE", "is empty: without tokens no unit can report")
	}
	if c.MaxBody <= 0 {
		bad("MAX_BODY", "is %d, want a positive number of bytes", c.MaxBody)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		// Serving plain HTTP when TLS was meant would send tokens in clear text: refuse rather than guess.
		bad("TLS_CERT_FILE", "and %sTLS_KEY_FILE must be set together (the certificate and its key), or neither", EnvPrefix)
	}
	if !(c.Rate > 0) { // also NaN
		bad("RATE", "is %v, want a positive number of requests a second", c.Rate)
	}
	if c.Burst <= 0 {
		bad("BURST", "is %d, want a positive number of requests", c.Burst)
	}
	if !(c.EventRate > 0) {
		bad("EVENT_RATE", "is %v, want a positive number of events a second", c.EventRate)
	}
	if c.EventBurst <= 0 {
		bad("EVENT_BURST", "is %d, want a positive number of events", c.EventBurst)
	}
	if !(c.DossierRate > 0) {
		bad("DOSSIER_RATE", "is %v, want a positive number of events a second", c.DossierRate)
	}
	if c.DossierBurst <= 0 {
		bad("DOSSIER_BURST", "is %d, want a positive number of events", c.DossierBurst)
	}
	for _, t := range []struct {
		name string
		d    time.Duration
	}{
		{"READ_HEADER_TIMEOUT", c.ReadHeaderTimeout}, {"READ_TIMEOUT", c.ReadTimeout},
		{"REQUEST_TIMEOUT", c.RequestTimeout}, {"IDLE_TIMEOUT", c.IdleTimeout}, {"SHUTDOWN_TIMEOUT", c.ShutdownTimeout},
	} {
		if t.d <= 0 {
			bad(t.name, "is %s, want a positive duration", t.d)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("intake configuration: %w", err)
	}
	return nil
}

// withDefaults replaces zero limits by the defaults, so that a handler built from a partial Config (a test's, say)
// neither refuses every body nor waits forever.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxBody <= 0 {
		c.MaxBody = d.MaxBody
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = d.RequestTimeout
	}
	if !(c.Rate > 0) || c.Burst <= 0 {
		c.Rate, c.Burst = d.Rate, d.Burst
	}
	if !(c.EventRate > 0) || c.EventBurst <= 0 {
		c.EventRate, c.EventBurst = d.EventRate, d.EventBurst
	}
	if !(c.DossierRate > 0) || c.DossierBurst <= 0 {
		c.DossierRate, c.DossierBurst = d.DossierRate, d.DossierBurst
	}
	return c
}
