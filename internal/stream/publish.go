package stream

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/natsauth"
	"github.com/egovtrack/egovtrack/internal/retry"
)

// SubmittedByHeader names the credential that signed an event (natsauth.SubmittedByHeader); the projector records it
// in the raw log's submitted_by once it has verified the signature.
const SubmittedByHeader = natsauth.SubmittedByHeader

// Publisher stores events and returns once JetStream has acknowledged every one; *Conn is one.
type Publisher interface {
	Publish(ctx context.Context, envs []event.Envelope, progress func(done int)) (Result, error)
}

// Result counts what JetStream did with published events.
type Result struct {
	Stored     int // newly stored
	Duplicates int // already in the stream within the duplicate window: dropped by JetStream
}

// errStreamSealed is JetStream's error code for a publish to a sealed stream, which no retry will store.
const errStreamSealed jetstream.ErrorCode = 10109

// window is how many publishes may await their ack at once: enough to keep the server busy, small enough that a
// retry after a failure resends little.
const window = 512

// Publish stores every event in the stream, and returns only when JetStream has acknowledged each of them, retrying
// with backoff (a restarting server, a lost ack) for up to Config.PublishRetryFor an event. Each message's
// Nats-Msg-Id is its signature when it is signed, its event's id otherwise (msgID): a retry of an event that was in
// fact stored is counted as a duplicate, never stored twice, and no other credential can have claimed the id first. Every publish names the configured stream (Nats-Expected-Stream): an ack can only
// come from it, never from another stream that happens to take the subject. progress, when not nil, is called with
// the number of events acknowledged so far.
//
// On error, the Result counts the events acknowledged before it; the others may or may not be stored, and
// publishing them again is safe.
//
// With an nkey credential (Config.NkeySeedFile), each event is signed with it (natsauth.Credential.Sign). An event
// the server refuses to take from this credential (a subject outside its own) fails the call at once, with an error
// matching nats.ErrPermissionViolation; it is not retried. Nor is one a sealed stream refuses: it never stores again.
func (c *Conn) Publish(ctx context.Context, envs []event.Envelope, progress func(done int)) (Result, error) {
	var res Result
	subjects := make(map[string]bool, len(envs))
	for _, env := range envs {
		subjects[env.Subject] = true
	}
	ctx, stop := c.refused.watch(ctx, func(subject string) bool { return subjects[subject] })
	defer stop()
	for start := 0; start < len(envs); start += window {
		chunk := envs[start:min(start+window, len(envs))]
		msgs, err := c.messages(ctx, chunk)
		if err != nil {
			return res, err
		}
		futures := make([]jetstream.PubAckFuture, len(chunk))
		for i, env := range chunk {
			// A failed async publish is retried below, synchronously, so an error here is not final.
			futures[i], _ = c.js.PublishMsgAsync(msgs[i], jetstream.WithMsgID(msgID(msgs[i], env)), jetstream.WithExpectStream(c.cfg.Stream))
		}
		for i, f := range futures {
			ack, err := c.awaitAck(ctx, f)
			if err != nil {
				if ctx.Err() != nil {
					return res, fmt.Errorf("publish event %s on %s: %w", chunk[i].ID, chunk[i].Subject, context.Cause(ctx))
				}
				ack, err = c.publishRetrying(ctx, chunk[i])
				if err != nil {
					return res, err
				}
			}
			if ack.Duplicate {
				res.Duplicates++
			} else {
				res.Stored++
			}
		}
		if progress != nil {
			progress(start + len(chunk))
		}
	}
	return res, nil
}

func (c *Conn) awaitAck(ctx context.Context, f jetstream.PubAckFuture) (*jetstream.PubAck, error) {
	if f == nil {
		return nil, errors.New("not sent")
	}
	select {
	case ack := <-f.Ok():
		return ack, nil
	case err := <-f.Err():
		return nil, err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	case <-time.After(c.cfg.ConnectTimeout):
		return nil, nats.ErrTimeout
	}
}

func (c *Conn) publishRetrying(ctx context.Context, env event.Envelope) (*jetstream.PubAck, error) {
	msg, err := c.message(ctx, env)
	if err != nil {
		return nil, err
	}
	retryFor := cmp.Or(c.cfg.PublishRetryFor, defaultPublishRetryFor)
	giveUp := time.Now().Add(retryFor)
	ack, attempts, err := retry.Do(ctx, retry.Policy{Initial: 100 * time.Millisecond, Max: 5 * time.Second, For: retryFor},
		func(ctx context.Context) (*jetstream.PubAck, error) {
			actx, cancel := context.WithTimeout(ctx, min(c.cfg.ConnectTimeout, max(time.Until(giveUp), time.Millisecond)))
			defer cancel()
			ack, err := c.js.PublishMsg(actx, msg, jetstream.WithMsgID(msgID(msg, env)), jetstream.WithExpectStream(c.cfg.Stream))
			if isSealed(err) {
				return nil, retry.Permanent(fmt.Errorf("%w: stream %s is sealed and stores no event, ever again; "+
					"only an operator can restore it (deploy/nats/README.md, \"Changing the stream\"): tell the digital office",
					err, c.cfg.Stream))
			}
			return ack, err
		}, func(attempt int, err error, _ time.Duration) {
			c.log.Warn("publish not acknowledged, retrying", "event", env.ID, "attempt", attempt, "err", err)
		})
	switch {
	case err == nil:
		return ack, nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("publish event %s on %s: %w", env.ID, env.Subject, context.Cause(ctx))
	case isSealed(err):
		return nil, fmt.Errorf("publish event %s on %s: %w", env.ID, env.Subject, err)
	}
	return nil, fmt.Errorf("publish event %s on %s: not acknowledged by stream %s after %d attempts in %s (EGOV_NATS_PUBLISH_RETRY_FOR): %w",
		env.ID, env.Subject, c.cfg.Stream, attempts, retryFor, err)
}

// isSealed reports whether err is JetStream refusing a publish to a sealed stream.
func isSealed(err error) bool {
	apiErr := (*jetstream.APIError)(nil)
	return errors.As(err, &apiErr) && apiErr.ErrorCode == errStreamSealed
}

// msgID is the Nats-Msg-Id msg, env's message, is published under: its signature (SignatureHeader) when it is
// signed, env's id when it is not (a server without credentials).
//
// JetStream drops a message whose Nats-Msg-Id it has seen within its window, on any subject of the stream. An event's
// id is derived from public content, so with ids any unit could publish first, on its own subjects, under the id of
// another unit's coming event, and that event would be acknowledged as a duplicate and never stored. A signature
// cannot be claimed so: only its key's holder can make it, and it covers the subject and the submitter. ed25519 is
// deterministic, so the same event re-sent by the same credential, a retry, has the same signature, and is dropped
// within the window as before; beyond it, and between credentials, the projector's tables, keyed by the event's id,
// hold each fact once.
func msgID(msg *nats.Msg, env event.Envelope) string {
	if sig := msg.Header.Get(natsauth.SignatureHeader); sig != "" {
		return sig
	}
	return env.ID
}

// messages are envs as they are published, encoded and signed on as many goroutines as there are cores: signing
// is most of the CPU a publish takes.
func (c *Conn) messages(ctx context.Context, envs []event.Envelope) ([]*nats.Msg, error) {
	msgs := make([]*nats.Msg, len(envs))
	errs := make([]error, len(envs))
	workers := max(1, min(runtime.GOMAXPROCS(0), len(envs)/64))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(envs); i += workers {
				msgs[i], errs[i] = c.message(ctx, envs[i])
			}
		})
	}
	wg.Wait()
	return msgs, errors.Join(errs...)
}

// message is env as it is published: its JSON, signed with the connection's credential when it has one, on behalf
// of the token ctx names, if any (natsauth.WithOnBehalf: the intake API's requests).
func (c *Conn) message(ctx context.Context, env event.Envelope) (*nats.Msg, error) {
	b, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", env.ID, err)
	}
	msg := nats.NewMsg(env.Subject)
	msg.Data = b
	msg.Header.Set("Content-Type", "application/cloudevents+json")
	if c.cred != nil {
		if err := c.cred.SignOnBehalf(msg, natsauth.OnBehalf(ctx)); err != nil {
			return nil, err
		}
	}
	return msg, nil
}
