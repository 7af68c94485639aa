package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/retry"
)

var errFlaky = errors.New("not now")

// failing returns an operation that fails n times with errs (the last one repeated), then succeeds.
func failing(n int, errs ...error) (func(context.Context) (string, error), *int) {
	calls := 0
	return func(context.Context) (string, error) {
		calls++
		if calls <= n {
			return "", errs[min(calls, len(errs))-1]
		}
		return "done", nil
	}, &calls
}

func TestDo(t *testing.T) {
	quick := retry.Policy{Initial: time.Millisecond, Max: 4 * time.Millisecond}
	tests := []struct {
		name         string
		policy       retry.Policy
		fails        int
		errs         []error
		want         string
		wantErr      error
		wantAttempts int
	}{
		{"succeeds at once", quick, 0, []error{errFlaky}, "done", nil, 1},
		{"succeeds after failures", quick, 3, []error{errFlaky}, "done", nil, 4},
		{"a permanent error stops it", quick, 3, []error{errFlaky, retry.Permanent(errFlaky)}, "", errFlaky, 2},
		{"out of attempts", retry.Policy{Initial: time.Millisecond, Max: time.Millisecond, Attempts: 3}, 10, []error{errFlaky}, "", errFlaky, 3},
		{"out of time", retry.Policy{Initial: 20 * time.Millisecond, Max: 20 * time.Millisecond, For: 50 * time.Millisecond}, 100, []error{errFlaky}, "", errFlaky, 0},
		{"Retry-After's error comes back bare", retry.Policy{Initial: time.Millisecond, Max: time.Millisecond, Attempts: 2}, 5, []error{retry.After(time.Millisecond, errFlaky)}, "", errFlaky, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, _ := failing(tt.fails, tt.errs...)
			var notified []int
			got, attempts, err := retry.Do(context.Background(), tt.policy, op, func(attempt int, err error, wait time.Duration) {
				notified = append(notified, attempt)
			})
			if got != tt.want || !errors.Is(err, tt.wantErr) || err != nil && tt.wantErr == nil {
				t.Fatalf("Do = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
			if _, isAfter := err.(interface{ As(any) bool }); isAfter {
				t.Errorf("the error %v still wraps the wait", err)
			}
			if tt.wantAttempts > 0 && attempts != tt.wantAttempts {
				t.Errorf("%d attempts, want %d", attempts, tt.wantAttempts)
			}
			// 20 ms apart with the backoff's ±50% jitter: waits of 10 to 30 ms, so 2 to 6 attempts fit in 50 ms (a
			// bound of 4 failed on a run whose waits all came out short).
			if tt.name == "out of time" && (attempts < 2 || attempts > 6) {
				t.Errorf("%d attempts in 50 ms at 10–30 ms apart", attempts)
			}
			if len(notified) > 0 && (notified[0] != 1 || notified[len(notified)-1] != attempts-1 && err == nil) {
				t.Errorf("notified of attempts %v, %d in all", notified, attempts)
			}
		})
	}
}

// A server's Retry-After sets the wait, whatever the policy says.
func TestAfterSetsTheWait(t *testing.T) {
	op, _ := failing(1, retry.After(30*time.Millisecond, errFlaky))
	var wait time.Duration
	began := time.Now()
	_, _, err := retry.Do(context.Background(), retry.Policy{Initial: time.Hour, Max: time.Hour}, op, func(_ int, _ error, w time.Duration) { wait = w })
	if err != nil || wait != 30*time.Millisecond || time.Since(began) > 10*time.Second {
		t.Fatalf("err %v, waited %s (asked 30ms) in %s", err, wait, time.Since(began))
	}
}

// An ended context ends the retries, with its cause.
func TestContextEndsIt(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("stopped by the test")
	op := func(context.Context) (string, error) { cancel(stop); return "", errFlaky }
	_, attempts, err := retry.Do(ctx, retry.Policy{Initial: time.Hour, Max: time.Hour}, op, nil)
	if !errors.Is(err, stop) || attempts != 1 {
		t.Fatalf("Do = %v after %d attempts, want the context's cause after 1", err, attempts)
	}
}
