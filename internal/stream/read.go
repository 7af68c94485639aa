package stream

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Read calls fn with every message stored under subject (wildcards allowed), in stream order, and returns when it has
// read every message that was stored when it started. It uses an ordered, ephemeral consumer: nothing of it is left
// on the server.
//
// The consumer is filtered on subject alone, so JetStream's create request names the filter in its own subject
// ($JS.API.CONSUMER.CREATE.<stream>.<consumer>.<subject>): that is what lets the authorisation model confine a
// unit's credential to its own subjects. A read the server refuses fails at once, with an error matching
// nats.ErrPermissionViolation.
func (c *Conn) Read(ctx context.Context, subject string, fn func(seq uint64, data []byte) error) error {
	create := "$JS.API.CONSUMER.CREATE." + c.cfg.Stream + "."
	ctx, stop := c.refused.watch(ctx, func(s string) bool {
		return strings.HasPrefix(s, create) && strings.HasSuffix(s, "."+subject)
	})
	defer stop()
	cons, err := c.js.OrderedConsumer(ctx, c.cfg.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject}, // one: the new-style create subject, which carries it
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
			err = cause
		}
		return fmt.Errorf("read %s: %w", subject, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("read %s: %w", subject, err)
	}
	if info.NumPending == 0 {
		return nil
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("read %s: %w", subject, err)
	}
	defer it.Stop()
	stopOnCancel := context.AfterFunc(ctx, it.Stop)
	defer stopOnCancel()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("read %s: %w", subject, context.Cause(ctx))
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return fmt.Errorf("read %s: stopped before the end", subject)
			}
			return fmt.Errorf("read %s: %w", subject, err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("read %s: %w", subject, err)
		}
		if err := fn(meta.Sequence.Stream, m.Data()); err != nil {
			return err
		}
		if meta.NumPending == 0 {
			return nil
		}
	}
}
