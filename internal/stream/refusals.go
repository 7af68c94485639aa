package stream

import (
	"context"
	"regexp"
	"sync"
)

// refusals relays the server's permission violations to the calls they concern. NATS answers a publish or a request
// it refuses with an asynchronous -ERR and nothing else: without this, a refused publish would wait for an ack that
// never comes, and be retried for a minute.
type refusals struct {
	mu       sync.Mutex
	watchers map[int]refusalWatch
	next     int
}

type refusalWatch struct {
	match  func(subject string) bool
	cancel context.CancelCauseFunc
}

// refusedSubject finds the subject in the server's "Permissions Violation for Publish to \"subject\"".
var refusedSubject = regexp.MustCompile(`Publish to "([^"]+)"`)

// watch returns a context that ends, with the server's refusal as its cause, when the server refuses a publish on a
// subject that match accepts. stop releases it; match is called on another goroutine and must not block.
func (r *refusals) watch(ctx context.Context, match func(subject string) bool) (_ context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	r.mu.Lock()
	id := r.next
	r.next++
	r.watchers[id] = refusalWatch{match: match, cancel: cancel}
	r.mu.Unlock()
	return ctx, func() {
		r.mu.Lock()
		delete(r.watchers, id)
		r.mu.Unlock()
		cancel(nil)
	}
}

// relay ends the contexts of the watchers that the refusal err concerns.
func (r *refusals) relay(err error) {
	m := refusedSubject.FindStringSubmatch(err.Error())
	if m == nil {
		return // a subscription refused: no call waits on it
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.watchers {
		if w.match(m[1]) {
			w.cancel(err)
		}
	}
}
