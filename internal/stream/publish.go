package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/egovtrack/egovtrack/internal/event"
)

// SubmittedByHeader names the credential or collector that submitted an event, for the raw log's submitted_by.
const SubmittedByHeader = "Egov-Submitted-By"

// Publisher stores events and returns once JetStream has acknowledged every one; *Conn is one.
type Publisher interface {
	Publish(ctx context.Context, envs []event.Envelope, progress func(done int)) (Result, error)
}

// Result counts what JetStream did with published events.
type Result struct {
	Stored     int // newly stored
	Duplicates int // already in the stream within the duplicate window: dropped by JetStream
}

// window is how many publishes may await their ack at once: enough to keep the server busy, small enough that a
// retry after a failure resends little.
const window = 512

// maxAttempts bounds the retries of one event across a server restart: with the backoff below, about a minute.
const maxAttempts = 12

// Publish stores every event in the stream with its id as Nats-Msg-Id, and returns only when JetStream has
// acknowledged each of them, retrying with backoff (a restarting server, a lost ack). Because the id dedupes, a retry
// of an event that was in fact stored is counted as a duplicate, never stored twice. progress, when not nil, is
// called with the number of events acknowledged so far.
func (c *Conn) Publish(ctx context.Context, envs []event.Envelope, progress func(done int)) (Result, error) {
	var res Result
	for start := 0; start < len(envs); start += window {
		chunk := envs[start:min(start+window, len(envs))]
		futures := make([]jetstream.PubAckFuture, len(chunk))
		for i, env := range chunk {
			msg, err := message(env)
			if err != nil {
				return res, err
			}
			// A failed async publish is retried below, synchronously, so an error here is not final.
			futures[i], _ = c.JS.PublishMsgAsync(msg, jetstream.WithMsgID(env.ID))
		}
		for i, f := range futures {
			ack, err := c.awaitAck(ctx, f)
			if err != nil {
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
		return nil, ctx.Err()
	case <-time.After(c.cfg.ConnectTimeout):
		return nil, nats.ErrTimeout
	}
}

func (c *Conn) publishRetrying(ctx context.Context, env event.Envelope) (*jetstream.PubAck, error) {
	msg, err := message(env)
	if err != nil {
		return nil, err
	}
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
		ack, err := c.JS.PublishMsg(actx, msg, jetstream.WithMsgID(env.ID))
		cancel()
		if err == nil {
			return ack, nil
		}
		if ctx.Err() != nil || attempt == maxAttempts {
			return nil, fmt.Errorf("publish event %s on %s: not acknowledged after %d attempts: %w", env.ID, env.Subject, attempt, err)
		}
		c.log.Warn("publish not acknowledged, retrying", "event", env.ID, "attempt", attempt, "err", err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, fmt.Errorf("publish event %s: %w", env.ID, ctx.Err())
		}
		wait = min(wait*2, 5*time.Second)
	}
}

func message(env event.Envelope) (*nats.Msg, error) {
	b, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", env.ID, err)
	}
	msg := nats.NewMsg(env.Subject)
	msg.Data = b
	msg.Header.Set("Content-Type", "application/cloudevents+json")
	return msg, nil
}
