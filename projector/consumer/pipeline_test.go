package consumer_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/projector/consumer"
	"github.com/egovtrack/egovtrack/projector/store"
)

// seen is a log handler that closes a channel when a record with the given message is logged.
type seen struct {
	msg  string
	once sync.Once
	ch   chan struct{}
}

func (h *seen) Enabled(context.Context, slog.Level) bool { return true }
func (h *seen) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() { close(h.ch) })
	}
	return nil
}
func (h *seen) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *seen) WithGroup(string) slog.Handler      { return h }

// blockedWriter holds its first write until release is closed, or until a timeout says it never was.
type blockedWriter struct {
	w        consumer.Writer
	release  <-chan struct{}
	once     sync.Once
	timedOut bool
}

func (b *blockedWriter) Write(ctx context.Context, recs []store.Record, rejected []store.Rejected) error {
	b.once.Do(func() {
		select {
		case <-b.release:
		case <-time.After(30 * time.Second):
			b.timedOut = true
		}
	})
	return b.w.Write(ctx, recs, rejected)
}

// The consumer decodes the next batch while the store writes the one before: the first write waits until the
// second batch, a malformed message alone, has been decoded and found bad, which a consumer that decodes only after
// each write would never do.
func TestDecodesTheNextBatchDuringAWrite(t *testing.T) {
	r := newRig(t)
	r.raw.Publish(t, "egov.province.01.proc.1_000001", []byte(`{"id": 7, "garbage`))
	h := &seen{msg: "quarantining message", ch: make(chan struct{})}
	w := &blockedWriter{w: r.store, release: h.ch}
	// One batch of every event, then the malformed message in a batch of its own: the flush interval is long
	// enough for the first batch to fill before a tick cuts it.
	c, err := consumer.New(context.Background(), r.s, config(r.sent, time.Second), w, r.m, slog.New(h))
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Run(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if w.timedOut {
		t.Error("the next batch was not decoded while the first was being written")
	}
	if st.Projected != r.sent || st.Rejected != 1 || st.Batches != 2 {
		t.Errorf("projected %d, rejected %d in %d batches, want %d, 1 in 2", st.Projected, st.Rejected, st.Batches, r.sent)
	}
}
