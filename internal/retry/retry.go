// Package retry is egovtrack's one way of trying an operation again: exponential backoff with jitter
// (github.com/cenkalti/backoff/v5) until the operation succeeds, returns a permanent error, runs out of attempts or
// of time, or its context ends. A server that says when to come back (HTTP's Retry-After) sets the next wait.
//
// Publishing to JetStream, writing a batch to ClickHouse and polling a portal all retry through it; what differs
// between them is their Policy, and which of their errors are permanent.
package retry

import (
	"context"
	"errors"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Policy says how long to wait between attempts and when to give up.
type Policy struct {
	// Initial is the wait before the second attempt; it doubles each time, to at most Max, and each wait is drawn at
	// random up to half either side of it, so that clients that failed together do not retry together.
	Initial, Max time.Duration
	// Attempts bounds the attempts, the first included; 0 sets no bound.
	Attempts uint
	// For bounds the time from the first attempt to the last; 0 sets no bound.
	For time.Duration
}

// Permanent wraps err so that Do returns it at once, without another attempt.
func Permanent(err error) error { return backoff.Permanent(err) }

// After wraps err so that Do waits d before the next attempt (a server's Retry-After), whatever the policy's wait.
func After(d time.Duration, err error) error { return &afterError{err: err, d: d} }

type afterError struct {
	err error
	d   time.Duration
}

func (e *afterError) Error() string { return e.err.Error() }
func (e *afterError) Unwrap() error { return e.err }

// As lets backoff find the wait it asks for.
func (e *afterError) As(target any) bool {
	if t, ok := target.(**backoff.RetryAfterError); ok {
		*t = &backoff.RetryAfterError{Duration: e.d}
		return true
	}
	return false
}

// Do calls op until it succeeds, and returns its result. It stops, returning op's last error, when op returns a
// permanent error (unwrapped), when the policy's attempts or time are spent, or when ctx ends (with ctx's cause). Before
// each wait it calls notify, when not nil, with the attempt that failed (from 1), its error and the wait. attempts is
// how many times op ran.
func Do[T any](ctx context.Context, p Policy, op func(ctx context.Context) (T, error), notify func(attempt int, err error, wait time.Duration)) (res T, attempts int, err error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.Multiplier = p.Initial, p.Max, 2
	opts := []backoff.RetryOption{backoff.WithBackOff(b), backoff.WithMaxElapsedTime(p.For)}
	if p.Attempts > 0 {
		opts = append(opts, backoff.WithMaxTries(p.Attempts))
	}
	opts = append(opts, backoff.WithNotify(func(err error, wait time.Duration) {
		if notify != nil {
			notify(attempts, err, wait)
		}
	}))
	res, err = backoff.Retry(ctx, func() (T, error) {
		attempts++
		return op(ctx)
	}, opts...)
	var after *afterError
	if errors.As(err, &after) {
		err = after.err
	}
	return res, attempts, err
}
