package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/egovtrack/egovtrack/collectors/simulate"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
)

// This file publishes the simulated campaign while a test does something else: one simulate.Run, as
// `collectors simulate` does it, whose events go out a slice at a time, each slice once the test hands out a turn.

// published is what a publisher published.
type published struct {
	ids                map[string]bool // the simulated events' ids
	stored, duplicates int             // as JetStream acknowledged them
	invalid            int             // messages that are not valid events, for the quarantine
}

// pacedPublisher is the stream.Publisher that simulate.Run publishes through. It passes the events on to the
// stream in as many slices as it has turns, waiting for a turn before each, and publishes an invalid message after
// every invalidEvery slices.
type pacedPublisher struct {
	conn  *stream.Conn
	raw   *streamtest.Client // for the invalid messages, which stream.Conn does not publish
	turns chan struct{}
	done  chan struct{} // closed when the run has ended; res and err are set then
	res   published
	err   error
}

// invalidEvery is how many slices go between two invalid messages.
const invalidEvery = 3

// startPublishing connects to the stream at cfg and starts publishing the simulation o in turns slices.
func startPublishing(ctx context.Context, t *testing.T, cfg stream.Config, o simulate.Options, turns int) *pacedPublisher {
	t.Helper()
	// The same events simulate.Run will publish: the same options give the same events.
	envs, err := simulate.Generate(o)
	if err != nil {
		t.Fatalf("simulate: %v", err)
	}
	log := slog.New(slog.DiscardHandler)
	conn, err := stream.Connect(ctx, cfg, log)
	if err != nil {
		t.Fatalf("connect the publisher: %v", err)
	}
	p := &pacedPublisher{conn: conn, raw: streamtest.Dial(t, cfg), turns: make(chan struct{}, turns), done: make(chan struct{}), res: published{ids: map[string]bool{}}}
	for _, env := range envs {
		p.res.ids[env.ID] = true
	}
	t.Cleanup(func() {
		<-p.done
		_ = conn.Close()
	})
	go func() {
		defer close(p.done)
		res, err := simulate.Run(ctx, p, o, io.Discard, log)
		p.res.stored, p.res.duplicates, p.err = res.Stored, res.Duplicates, err
	}()
	return p
}

// Publish publishes envs a slice at a time, each once a turn has come.
func (p *pacedPublisher) Publish(ctx context.Context, envs []event.Envelope, progress func(done int)) (stream.Result, error) {
	var total stream.Result
	n := cap(p.turns)
	for i := range n {
		select {
		case <-p.turns:
		case <-ctx.Done():
			return total, ctx.Err()
		}
		slice := envs[i*len(envs)/n : (i+1)*len(envs)/n]
		res, err := p.conn.Publish(ctx, slice, nil)
		total.Stored += res.Stored
		total.Duplicates += res.Duplicates
		if err != nil {
			return total, err
		}
		if progress != nil {
			progress((i + 1) * len(envs) / n)
		}
		if i%invalidEvery == invalidEvery-1 && len(slice) > 0 {
			subject, payload := invalidMessage(p.res.invalid, slice[0])
			if _, err := p.raw.JS.Publish(ctx, subject, payload); err != nil {
				return total, fmt.Errorf("publish an invalid message: %w", err)
			}
			p.res.invalid++
		}
	}
	return total, nil
}

// turn lets the next slice go.
func (p *pacedPublisher) turn() {
	select {
	case p.turns <- struct{}{}:
	default: // every turn is handed out already
	}
}

// finished reports whether the last slice has been published, or publishing failed.
func (p *pacedPublisher) finished() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait hands out the turns left, if any, and waits for the last slice to be published.
func (p *pacedPublisher) wait(ctx context.Context) (published, error) {
	for range cap(p.turns) {
		p.turn()
	}
	select {
	case <-p.done:
		return p.res, p.err
	case <-ctx.Done():
		return published{}, ctx.Err()
	}
}

// invalidMessage returns the n-th invalid message: cut-off JSON, JSON that is no event, and an event whose id is not
// the one its data derives, in turn.
func invalidMessage(n int, valid event.Envelope) (subject string, payload []byte) {
	switch n % 3 {
	case 0:
		return event.SubjectRoot + ".test.garbage", []byte(`{"specversion": "1.0", "id": `)
	case 1:
		return event.SubjectRoot + ".test.garbage", []byte(fmt.Sprintf(`{"hello": "world", "n": %d}`, n))
	default:
		valid.ID = fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
		b, _ := json.Marshal(valid) // an Envelope always marshals
		return valid.Subject, b
	}
}
