package intake

import (
	"sync"
	"time"
)

// Refused requests are logged by sample: the first sampleFirst of a kind in each sampleInterval in full, and the
// rest counted into the next line logged, as not_logged. A flood of refused requests (a scanner, a system looping on
// a wrong token) costs a few lines a minute instead of one a request, and no refusal goes uncounted.
const (
	sampleFirst    = 10
	sampleInterval = time.Minute
)

// sampled is one kind of refusal's sampling.
type sampled struct {
	mu        sync.Mutex
	start     time.Time // of the current interval
	logged    int       // lines logged in it
	notLogged int       // refusals not logged since the last line
}

// log calls fn, with the number of refusals left out since the last line, when this one is to be logged.
func (s *sampled) log(now time.Time, fn func(notLogged int)) {
	s.mu.Lock()
	if now.Sub(s.start) >= sampleInterval || now.Before(s.start) {
		s.start, s.logged = now, 0
	}
	if s.logged >= sampleFirst {
		s.notLogged++
		s.mu.Unlock()
		return
	}
	s.logged++
	n := s.notLogged
	s.notLogged = 0
	s.mu.Unlock()
	fn(n)
}

// refusals are the kinds of refused requests, each sampled on its own so that a flood of one kind does not hide
// another.
type refusals struct {
	noToken, invalidToken, overAddress, overRequests, overEvents, otherUnit sampled
}
