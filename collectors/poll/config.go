package poll

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/egovtrack/egovtrack/internal/secret"
	"github.com/egovtrack/egovtrack/internal/units"
)

// EnvPrefix is the prefix of every environment variable of the poll collector.
const EnvPrefix = "EGOV_POLL_"

// Config is how one poller reaches one unit's portal. The command reads it from EGOV_POLL_* variables (LoadConfig);
// one process polls one unit, so that a unit's credentials and schedule are its own.
type Config struct {
	// URL is the portal's endpoint serving the unit's whole catalogue as JSON (see README.md). No default: there is
	// no portal egovtrack could guess.
	URL string `env:"URL,required,notEmpty"`
	// Unit is the unit the portal reports for, as kind/code ("province/19"). The document's own unit must be this
	// one, else the poll is refused: a portal cannot speak for another unit, and a mix-up in configuration must not
	// retire a unit's catalogue. No default for the same reason.
	Unit UnitRef `env:"UNIT,required,notEmpty"`
	// Interval between polls; 0 polls once and exits (for cron or a manual run). 15m keeps the dashboards within a
	// quarter of an hour of the portal while costing the portal almost nothing: an unchanged catalogue is answered
	// 304 without a body. Catalogues change a few times a day at most.
	Interval time.Duration `env:"INTERVAL" envDefault:"15m"`
	// Timeout bounds one request, from sending it to the last byte of the body. 30s is generous for a document of a
	// few megabytes from a slow provincial server, and still far below Interval.
	Timeout time.Duration `env:"TIMEOUT" envDefault:"30s"`
	// MaxBody is the largest document accepted, in bytes. A province's catalogue of ~2,000 procedures is well under
	// 1 MB; 16 MiB (16777216) leaves ample room for long names while bounding the memory a misbehaving portal can
	// make the poller use.
	MaxBody int64 `env:"MAX_BODY" envDefault:"16777216"`
	// Retries is how many times a request is tried again after a network error, a timeout, 429 or 5xx. 4 retries
	// with the backoff below ride out a portal restart (about 15 s of waiting) without stretching one poll towards
	// the next one.
	Retries int `env:"RETRIES" envDefault:"4"`
	// Backoff is the wait before the first retry; it doubles on each retry, with jitter so that pollers started
	// together do not hit a recovering portal together. 1s is long enough for a restarting web server.
	Backoff time.Duration `env:"BACKOFF" envDefault:"1s"`
	// MaxBackoff caps one wait. A Retry-After longer than this ends the poll instead (the next poll tries again):
	// the portal is honoured, and one poll never sleeps through several intervals.
	MaxBackoff time.Duration `env:"MAX_BACKOFF" envDefault:"1m"`
	// Token, when set, is sent as "Authorization: Bearer <token>" to portals that require it. It is never logged,
	// and refused over plain http (except to a loopback address), where anyone on the path could read it.
	Token secret.String `env:"TOKEN"`
}

// LoadConfig reads the configuration from the EGOV_POLL_* environment variables and validates it. It is separate
// from the command's own configuration because URL and UNIT are required only by `collectors poll`.
func LoadConfig() (Config, error) {
	cfg, err := env.ParseAsWithOptions[Config](env.Options{Prefix: EnvPrefix})
	if err != nil {
		return Config{}, fmt.Errorf("poll configuration: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate checks what the tags cannot: a usable URL, a known unit, sensible durations and sizes.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", EnvPrefix, name, fmt.Sprintf(format, args...)))
	}
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		bad("URL", "is missing")
	case err != nil:
		bad("URL", "%v", err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		bad("URL", "%q is not an http:// or https:// address", u.Redacted())
	case c.Token != "" && u.Scheme == "http" && !loopback(u.Hostname()):
		bad("TOKEN", "would be sent in clear over http to %s; use https", u.Host)
	}
	if _, ok := units.Lookup(c.Unit.Ref); !ok {
		bad("UNIT", "%q is not a known unit (kind/code, e.g. province/19)", c.Unit.String())
	}
	if c.Interval < 0 {
		bad("INTERVAL", "%s is negative (0 polls once)", c.Interval)
	}
	if c.Timeout <= 0 {
		bad("TIMEOUT", "%s must be positive", c.Timeout)
	}
	if c.MaxBody <= 0 {
		bad("MAX_BODY", "%d must be a positive number of bytes", c.MaxBody)
	}
	if c.Retries < 0 {
		bad("RETRIES", "%d is negative", c.Retries)
	}
	if c.Backoff <= 0 {
		bad("BACKOFF", "%s must be positive", c.Backoff)
	}
	if c.MaxBackoff < c.Backoff {
		bad("MAX_BACKOFF", "%s is shorter than %sBACKOFF (%s)", c.MaxBackoff, EnvPrefix, c.Backoff)
	}
	return errors.Join(errs...)
}

// LogValue is what a log line shows of the configuration: the URL without its password, and no token.
func (c Config) LogValue() slog.Value {
	u, err := url.Parse(c.URL)
	shown := "(unparsable)"
	if err == nil {
		shown = u.Redacted()
	}
	return slog.GroupValue(
		slog.String("url", shown),
		slog.String("unit", c.Unit.String()),
		slog.Duration("interval", c.Interval),
		slog.Duration("timeout", c.Timeout),
		slog.Int64("max_body", c.MaxBody),
		slog.Int("retries", c.Retries),
		slog.Bool("token", c.Token != ""),
	)
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// UnitRef is a unit written kind/code ("province/19"), as in EGOV_POLL_UNIT.
type UnitRef struct{ units.Ref }

// UnmarshalText reads kind/code and checks that the unit is in the reference data.
func (u *UnitRef) UnmarshalText(b []byte) error {
	kind, code, ok := strings.Cut(strings.TrimSpace(string(b)), "/")
	r := units.Ref{Kind: units.Kind(kind), Code: code}
	if !ok {
		return fmt.Errorf("%q is not kind/code, e.g. province/19 or ministry/BTTTT", b)
	}
	if _, known := units.Lookup(r); !known {
		return fmt.Errorf("%s is not a known unit", r)
	}
	u.Ref = r
	return nil
}

// String writes kind/code, or nothing for the zero value.
func (u UnitRef) String() string {
	if u.Ref == (units.Ref{}) {
		return ""
	}
	return u.Ref.String()
}
