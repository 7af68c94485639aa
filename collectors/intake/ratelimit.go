package intake

import (
	"crypto/sha256"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Requests without a valid token are limited by the client's address (an IPv6 client by its /64, which one machine
// holds whole), before their body is read. A system whose token is wrong retries a few times before someone looks; a
// scanner or a token guesser tries thousands a second, and each refusal was a log line. Tokens are 256 bits: the
// limit is against that load, not against guessing. Behind a reverse proxy every client has the proxy's address, so
// they share one bucket; a valid token is never held back by it.
const (
	unknownBurst = 10  // requests at once
	unknownRate  = 0.1 // requests a second after that: one every 10 s
	// maxAddresses bounds the addresses remembered. An address whose bucket is full again is forgotten (a new one
	// would be the same); past the bound, new addresses share one bucket until some are.
	maxAddresses = 10_000
)

// limiters hold the API's token buckets: per token one of requests and one of events, so that a flood from one unit's
// system does not slow down another's, and per client address one of requests without a valid token.
type limiters struct {
	requests, events, dossiers bucket

	mu     sync.Mutex
	tokens map[[sha256.Size]byte]*tokenLimits // keyed by the token's hash; tokens come from the file, so it stays small
	addrs  map[netip.Prefix]*rate.Limiter
	// shared takes the requests of new addresses when maxAddresses are remembered.
	shared    *rate.Limiter
	lastSweep time.Time
}

// bucket is the size of one kind of bucket: burst at once, then rate a second.
type bucket struct {
	rate  rate.Limit
	burst int
}

type tokenLimits struct{ requests, events, dossiers *rate.Limiter }

func newLimiters(cfg Config) *limiters {
	return &limiters{
		requests: bucket{rate.Limit(cfg.Rate), cfg.Burst},
		events:   bucket{rate.Limit(cfg.EventRate), cfg.EventBurst},
		dossiers: bucket{rate.Limit(cfg.DossierRate), cfg.DossierBurst},
		tokens:   map[[sha256.Size]byte]*tokenLimits{},
		addrs:    map[netip.Prefix]*rate.Limiter{},
		shared:   rate.NewLimiter(unknownRate, unknownBurst),
	}
}

func (l *limiters) token(c credential) *tokenLimits {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.tokens[c.hash]
	if !ok {
		t = &tokenLimits{rate.NewLimiter(l.requests.rate, l.requests.burst), rate.NewLimiter(l.events.rate, l.events.burst),
			rate.NewLimiter(l.dossiers.rate, l.dossiers.burst)}
		l.tokens[c.hash] = t
	}
	return t
}

// allow takes one request from c's bucket at now, or says how long until one is free.
func (l *limiters) allow(c credential, now time.Time) (ok bool, retryAfter time.Duration) {
	return take(l.token(c).requests, 1, now)
}

// allowEvents takes n events from c's bucket at now, or says how long until they are free. never is set when n is
// more than the bucket holds: such a request is never let in.
func (l *limiters) allowEvents(c credential, n int, now time.Time) (ok bool, retryAfter time.Duration, never bool) {
	if n > l.events.burst {
		return false, 0, true
	}
	ok, retryAfter = take(l.token(c).events, n, now)
	return ok, retryAfter, false
}

// allowDossiers is allowEvents for the bucket of dossier events.
func (l *limiters) allowDossiers(c credential, n int, now time.Time) (ok bool, retryAfter time.Duration, never bool) {
	if n > l.dossiers.burst {
		return false, 0, true
	}
	ok, retryAfter = take(l.token(c).dossiers, n, now)
	return ok, retryAfter, false
}

// allowUnknown takes one request without a valid token from the bucket of the client at remote (http.Request's
// RemoteAddr), or says how long until one is free.
func (l *limiters) allowUnknown(remote string, now time.Time) (ok bool, retryAfter time.Duration) {
	key := clientPrefix(remote)
	l.mu.Lock()
	lim, found := l.addrs[key]
	if !found {
		if len(l.addrs) >= maxAddresses && now.Sub(l.lastSweep) >= time.Second {
			l.lastSweep = now
			for k, v := range l.addrs {
				if v.TokensAt(now) >= unknownBurst {
					delete(l.addrs, k)
				}
			}
		}
		if len(l.addrs) < maxAddresses {
			lim = rate.NewLimiter(unknownRate, unknownBurst)
			l.addrs[key] = lim
		} else {
			lim = l.shared
		}
	}
	l.mu.Unlock()
	return take(lim, 1, now)
}

// take takes n from lim at now, or says how long until they are free; a refusal spends nothing, so that the client
// may come back as soon as Retry-After says.
func take(lim *rate.Limiter, n int, now time.Time) (bool, time.Duration) {
	r := lim.ReserveN(now, n)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// clientPrefix is the client of a remote address as a bucket knows it: an IPv4 address, or the /64 of an IPv6 one.
// An address that cannot be read is the zero prefix, one bucket for all such.
func clientPrefix(remote string) netip.Prefix {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Prefix{}
	}
	a := ap.Addr().Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// tooMany is the refusal of a request over its token's limit of requests; Retry-After is in whole seconds, rounded
// up, so that a client that waits that long is let in.
func tooMany(retryAfter time.Duration, cfg Config) *apiError {
	return retry(retryAfter, fmt.Sprintf("too many requests with this token: at most %d at once and %g a second (%sBURST, %sRATE)",
		cfg.Burst, cfg.Rate, EnvPrefix, EnvPrefix))
}

// tooManyEvents is the refusal of a request whose n events are more than its token may send now; what says what
// they are ("this request has").
func tooManyEvents(n int, what string, retryAfter time.Duration, l eventLimit) *apiError {
	return retry(retryAfter, fmt.Sprintf("too many %s with this token: %s %d, and a token may send at most %d at once and %g a second (%s%s_BURST, %s%s_RATE)",
		l.what, what, n, l.burst, l.rate, EnvPrefix, l.env, EnvPrefix, l.env))
}

// eventLimit is one bucket of events as its refusals name it.
type eventLimit struct {
	what  string // "events", "dossier events"
	env   string // the settings' names without _BURST and _RATE
	burst int
	rate  float64
}

// tooManyUnknown is the refusal of a request without a valid token from a client that sent too many.
func tooManyUnknown(retryAfter time.Duration) *apiError {
	return retry(retryAfter, fmt.Sprintf("too many requests without a valid token from this address: at most %d at once and one every %g s; send your unit's token",
		unknownBurst, 1/unknownRate))
}

func retry(after time.Duration, msg string) *apiError {
	secs := max(1, int(math.Ceil(after.Seconds())))
	e := refuse(eTooMany, fmt.Sprintf("%s; retry after %d s", msg, secs))
	e.retryAfter = strconv.Itoa(secs)
	return e
}

// eventsTooLarge is the refusal of a request with more events than its token's bucket holds: it would never be let
// in.
func eventsTooLarge(n int, what string, l eventLimit) *apiError {
	return refuse(eTooLarge, fmt.Sprintf("%s %d %s, more than the %d a token may send at once (%s%s_BURST): send fewer events a request",
		what, n, l.what, l.burst, EnvPrefix, l.env))
}
