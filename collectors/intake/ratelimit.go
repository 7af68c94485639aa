package intake

import (
	"crypto/sha256"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiters hold one token bucket per token: a flood from one unit's system does not slow down another's.
type limiters struct {
	rate  rate.Limit
	burst int

	mu sync.Mutex
	m  map[[sha256.Size]byte]*rate.Limiter // keyed by the token's hash; tokens come from the file, so it stays small
}

func newLimiters(perSecond float64, burst int) *limiters {
	return &limiters{rate: rate.Limit(perSecond), burst: burst, m: map[[sha256.Size]byte]*rate.Limiter{}}
}

// allow takes one request from c's bucket at now, or says how long until one is free.
func (l *limiters) allow(c credential, now time.Time) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	lim, found := l.m[c.hash]
	if !found {
		lim = rate.NewLimiter(l.rate, l.burst)
		l.m[c.hash] = lim
	}
	l.mu.Unlock()
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // a refused request spends nothing: the client may come back as soon as Retry-After says
		return false, d
	}
	return true, 0
}

// tooMany is the refusal of a request over its token's limit; Retry-After is in whole seconds, rounded up, so that
// a client that waits that long is let in.
func tooMany(retryAfter time.Duration, cfg Config) *apiError {
	secs := max(1, int(math.Ceil(retryAfter.Seconds())))
	e := refuse(http.StatusTooManyRequests, fmt.Sprintf(
		"too many requests with this token: at most %d at once and %g a second (%sBURST, %sRATE); retry after %d s",
		cfg.Burst, cfg.Rate, EnvPrefix, EnvPrefix, secs))
	e.retryAfter = strconv.Itoa(secs)
	return e
}
