// Package stream is egovtrack's NATS JetStream, a file a concern: config.go the configuration (EGOV_NATS_*), which
// prints and logs without its passwords; conn.go the connection, to the server of EGOV_NATS_URL or, with
// EGOV_NATS_EMBEDDED, to a private one it starts, with its credential and TLS; stream.go the stream that holds every
// event, created or found as specified, never changed; publish.go publishing, each event signed with the
// connection's credential and deduplicated by its signature (by its id when unsigned); read.go reading a unit's
// events back.
//
// The embedded nats-server is internal/stream/embedded's, real servers and plain clients for tests are
// internal/stream/streamtest's, and what each credential may do is internal/natsauth's.
package stream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/egovtrack/egovtrack/internal/event"
)

// StreamConfig is the stream every event is stored in: file storage, every subject under egov.>, no limit (nothing
// expires or is discarded), deduplicated by Nats-Msg-Id within cfg.DuplicateWindow.
func StreamConfig(cfg Config) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "egovtrack events: online public service levels and virtual assistant rollout",
		Subjects:    []string{event.SubjectRoot + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy, // the stream is the source of truth: nothing expires
		Replicas:    max(cfg.Replicas, 1),
		Duplicates:  cfg.DuplicateWindow,
	}
}

// ErrStreamDiffers is Connect's error, when it manages the stream, for a stream that exists with another
// configuration than StreamConfig's: sealed, holding fewer messages, other replicas. Connect never changes it.
var ErrStreamDiffers = errors.New("the stream is not as egovtrack specifies it")

// ensureStream creates the stream as StreamConfig specifies it, or finds it so. It never updates it: JetStream
// creates a stream that exists only when asked for exactly the configuration it has, and the office's credential may
// create the stream but not update it, so that no service can shrink, seal or re-configure the history. A stream
// that differs is ErrStreamDiffers, saying how; changing it is an operator's act (deploy/nats/README.md).
func (c *Conn) ensureStream(ctx context.Context) error {
	// A credential that may not manage the stream is refused at once rather than waiting for a timeout.
	prefix := "$JS.API.STREAM."
	rctx, stop := c.refused.watch(ctx, func(subject string) bool {
		return strings.HasPrefix(subject, prefix) && strings.HasSuffix(subject, "."+c.cfg.Stream)
	})
	defer stop()
	refused := func(what string, err error) error {
		if cause := context.Cause(rctx); errors.Is(cause, nats.ErrPermissionViolation) {
			err = fmt.Errorf("%w (only the office credential may create it: unset EGOV_NATS_MANAGE_STREAM for others)", cause)
		}
		return fmt.Errorf("%s stream %s: %w", what, c.cfg.Stream, err)
	}
	// Each request waits as long as a connection may (JetStream's default is 5 s, which a loaded server can miss).
	request := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(rctx, max(c.cfg.ConnectTimeout, 5*time.Second))
	}
	want := StreamConfig(c.cfg)
	qctx, cancel := request()
	defer cancel()
	s, err := c.js.Stream(qctx, c.cfg.Stream)
	switch {
	case err == nil:
		// A process started on a cluster without EGOV_NATS_REPLICAS would call a stream of three replicas wrong:
		// more copies than asked for are kept, and fewer are an operator's decision.
		if have := s.CachedInfo().Config.Replicas; have > want.Replicas {
			c.log.Warn("the stream has more replicas than EGOV_NATS_REPLICAS says: keeping them", "stream", c.cfg.Stream, "replicas", have, "configured", want.Replicas)
			want.Replicas = have
		}
	case !errors.Is(err, jetstream.ErrStreamNotFound):
		return refused("look at", err)
	}
	cctx, cancel := request()
	defer cancel()
	if _, err := c.js.CreateStream(cctx, want); err != nil {
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return refused("create", err)
		}
		ictx, cancel := request()
		defer cancel()
		s, err := c.js.Stream(ictx, c.cfg.Stream)
		if err != nil {
			return refused("look at", err)
		}
		return fmt.Errorf("stream %s: %w: %s. The office's credential creates the stream but may not change it, so that "+
			"no service can shrink, seal or re-configure the history: an operator changes it, with a credential of their own "+
			"(deploy/nats/README.md, \"Changing the stream\"), unless it is these EGOV_NATS_ settings that are wrong",
			c.cfg.Stream, ErrStreamDiffers, strings.Join(streamDiffs(s.CachedInfo().Config, want), "; "))
	}
	return nil
}

// streamDiffs says how the stream's configuration have differs from want, in the settings that matter to egovtrack.
func streamDiffs(have, want jetstream.StreamConfig) []string {
	var d []string
	if have.Sealed {
		d = append(d, "it is sealed: it stores no event, ever again (JetStream cannot unseal a stream: an operator restores a copy)")
	}
	if !slices.Equal(have.Subjects, want.Subjects) {
		d = append(d, fmt.Sprintf("it takes the subjects %v, want %v", have.Subjects, want.Subjects))
	}
	if have.Replicas < want.Replicas {
		d = append(d, fmt.Sprintf("it has %d replicas, EGOV_NATS_REPLICAS says %d", have.Replicas, want.Replicas))
	}
	if have.Duplicates != want.Duplicates {
		d = append(d, fmt.Sprintf("its duplicate window is %s, EGOV_NATS_DUPLICATE_WINDOW says %s", have.Duplicates, want.Duplicates))
	}
	for _, l := range []struct {
		name string
		v    int64
	}{{"max_msgs", have.MaxMsgs}, {"max_bytes", have.MaxBytes}, {"max_msgs_per_subject", have.MaxMsgsPerSubject}, {"max_msg_size", int64(have.MaxMsgSize)}} {
		if l.v > 0 {
			d = append(d, fmt.Sprintf("its %s is %d, want no limit: events beyond it are lost or refused", l.name, l.v))
		}
	}
	if have.MaxAge > 0 {
		d = append(d, fmt.Sprintf("its max_age is %s, want none: older events are deleted", have.MaxAge))
	}
	if have.Retention != want.Retention {
		d = append(d, fmt.Sprintf("its retention is %s, want %s", have.Retention, want.Retention))
	}
	if have.Storage != want.Storage {
		d = append(d, fmt.Sprintf("its storage is %s, want %s", have.Storage, want.Storage))
	}
	if have.NoAck {
		d = append(d, "it acknowledges no publish (no_ack)")
	}
	if len(d) == 0 {
		d = append(d, "a setting egovtrack does not name differs (`nats stream info "+want.Name+" --json` shows them all)")
	}
	return d
}

// Stream returns the handle of the configured stream (EGOV_NATS_STREAM), as the server has it now: what the
// projector makes its consumer on, and what tests look into, without naming the stream themselves.
func (c *Conn) Stream(ctx context.Context) (jetstream.Stream, error) {
	s, err := c.js.Stream(ctx, c.cfg.Stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", c.cfg.Stream, err)
	}
	return s, nil
}
