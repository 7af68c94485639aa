package stream_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
	"github.com/egovtrack/egovtrack/internal/units"
)

func envelopes(t *testing.T, n int) []event.Envelope {
	t.Helper()
	at := time.Date(2021, 7, 1, 9, 0, 0, 0, event.Vietnam)
	var out []event.Envelope
	for i := range n {
		env, err := event.New("/test", &event.ProcedureRegisteredData{
			Unit: units.Ref{Kind: units.Province, Code: "19"}, Procedure: fmt.Sprintf("1.%06d", i),
			Name: "Cấp giấy phép xây dựng", Sector: "Xây dựng", Eligible: true, Level: 3, EffectiveAt: at,
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, env)
	}
	return out
}

func connect(t *testing.T, cfg stream.Config) *stream.Conn {
	t.Helper()
	c, err := stream.Connect(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Publishing the same unsigned events twice stores them once: the event id is the Nats-Msg-Id.
func TestPublishDeduplicatesByEventID(t *testing.T) {
	ctx := context.Background()
	c := connect(t, streamtest.New(t))
	envs := envelopes(t, 1200) // more than one publish window
	var seen int
	res, err := c.Publish(ctx, envs, func(done int) { seen = done })
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != len(envs) || res.Duplicates != 0 || seen != len(envs) {
		t.Fatalf("first publish: %+v, progress %d; want %d stored", res, seen, len(envs))
	}
	res, err = c.Publish(ctx, envs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != 0 || res.Duplicates != len(envs) {
		t.Fatalf("second publish: %+v, want all %d duplicates", res, len(envs))
	}
	s, err := c.Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(len(envs)) {
		t.Errorf("stream holds %d messages, want %d", info.State.Msgs, len(envs))
	}
	if info.Config.Storage != jetstream.FileStorage {
		t.Errorf("stream storage is %v, want file", info.Config.Storage)
	}
	// The latest event of a procedure can be read back by its subject.
	m, err := s.GetLastMsgForSubject(ctx, envs[7].Subject)
	if err != nil {
		t.Fatalf("last message on %s: %v", envs[7].Subject, err)
	}
	if got := m.Header.Get(jetstream.MsgIDHeader); got != envs[7].ID {
		t.Errorf("Nats-Msg-Id is %q, want the event id %q", got, envs[7].ID)
	}
}

// Asked for (EGOV_NATS_EMBEDDED), Connect starts an embedded server on the store directory, and a later process sees
// what an earlier one stored there.
func TestEmbeddedServerKeepsTheStream(t *testing.T) {
	ctx := context.Background()
	cfg := streamtest.New(t)
	cfg.URL, cfg.Embedded, cfg.Port = "", true, -1 // a server of its own, not the test server
	cfg.StoreDir = t.TempDir()
	envs := envelopes(t, 10)
	c, err := stream.Connect(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, envs, nil); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c = connect(t, cfg)
	res, err := c.Publish(ctx, envs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Duplicates != len(envs) {
		t.Errorf("after a restart on the same directory: %+v, want %d duplicates", res, len(envs))
	}
}

// A server that restarts in the middle of a publish run loses nothing and stores nothing twice: unacked events are
// sent again, and those that were in fact stored come back as duplicates.
func TestPublishAcrossServerRestart(t *testing.T) {
	ctx := context.Background()
	srv := streamtest.Start(t)
	cfg := srv.Config()
	cfg.ConnectTimeout = 2 * time.Second
	c := connect(t, cfg)
	envs := envelopes(t, 6000)
	restarted := make(chan error, 1)
	once := false
	res, err := c.Publish(ctx, envs, func(done int) {
		if !once && done >= 1500 {
			once = true
			// On its own goroutine, so that the next publishes are in flight when the server goes.
			go func() { restarted <- srv.Restart(500 * time.Millisecond) }()
		}
	})
	if err != nil {
		t.Fatalf("publish across a restart: %v", err)
	}
	if err := <-restarted; err != nil {
		t.Fatalf("restart: %v", err)
	}
	if res.Stored+res.Duplicates != len(envs) {
		t.Errorf("%d stored + %d duplicates, want %d acknowledged", res.Stored, res.Duplicates, len(envs))
	}
	s, err := c.Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(len(envs)) {
		t.Errorf("stream holds %d messages after the restart, want exactly %d", info.State.Msgs, len(envs))
	}
	t.Logf("%d stored, %d acknowledged as duplicates after the restart", res.Stored, res.Duplicates)
}

// A configuration that names no server is refused before anything starts: no embedded server falls back in its
// place, which would take a unit's report and tell no one. The embedded server must be asked for, and not beside a
// URL.
func TestConnectNeedsAServer(t *testing.T) {
	base := streamtest.New(t)
	tests := []struct {
		name     string
		url      string
		embedded bool
		want     []string // in the error
		noServer bool     // the error is ErrNoServer
	}{
		{name: "neither a URL nor embedded", want: []string{"EGOV_NATS_URL is not set", "EGOV_NATS_EMBEDDED=true"}, noServer: true},
		{name: "a URL and embedded", url: base.URL, embedded: true, want: []string{"EGOV_NATS_URL and EGOV_NATS_EMBEDDED=true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			cfg.URL, cfg.Embedded = tt.url, tt.embedded
			cfg.StoreDir = filepath.Join(t.TempDir(), "nats")
			_, err := stream.Connect(context.Background(), cfg, slog.New(slog.DiscardHandler))
			if err == nil {
				t.Fatal("connected")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if errors.Is(err, stream.ErrNoServer) != tt.noServer {
				t.Errorf("errors.Is(%v, ErrNoServer) = %t, want %t", err, !tt.noServer, tt.noServer)
			}
			if _, err := os.Stat(cfg.StoreDir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the store directory %s was made (%v): an embedded server started", cfg.StoreDir, err)
			}
		})
	}
}

// A stream that stores without acknowledging (JetStream's no_ack) is a server that does not ack: Publish fails
// within PublishRetryFor and counts nothing as stored, although the server kept the messages.
func TestPublishFailsWithoutAcks(t *testing.T) {
	ctx := context.Background()
	cfg := streamtest.New(t)
	cfg.ConnectTimeout, cfg.PublishRetryFor = 300*time.Millisecond, time.Second
	c := connect(t, cfg)
	sc := stream.StreamConfig(cfg)
	sc.NoAck = true
	if _, err := streamtest.Dial(t, cfg).JS.UpdateStream(ctx, sc); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	res, err := c.Publish(ctx, envelopes(t, 3), nil)
	took := time.Since(began)
	if err == nil || !strings.Contains(err.Error(), "not acknowledged by stream EGOV") || !strings.Contains(err.Error(), "EGOV_NATS_PUBLISH_RETRY_FOR") {
		t.Fatalf("publish without acks: %v, want not acknowledged", err)
	}
	if res.Stored != 0 || res.Duplicates != 0 {
		t.Errorf("counted %+v, want nothing acknowledged", res)
	}
	if took > 5*time.Second {
		t.Errorf("gave up after %s, want about PublishRetryFor (%s) after the first timeout", took, cfg.PublishRetryFor)
	}
	t.Logf("gave up after %s", took.Round(time.Millisecond))
}

// A stream an operator sealed stores nothing ever again: Publish fails at once, saying so, rather than retrying for
// PublishRetryFor and leaving the officer to try again.
func TestPublishToASealedStreamFailsAtOnce(t *testing.T) {
	ctx := context.Background()
	cfg := streamtest.New(t)
	c := connect(t, cfg)
	sc := stream.StreamConfig(cfg)
	sc.Sealed = true
	if _, err := streamtest.Dial(t, cfg).JS.UpdateStream(ctx, sc); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	res, err := c.Publish(ctx, envelopes(t, 3), nil)
	if err == nil || !strings.Contains(err.Error(), "stream EGOV is sealed and stores no event, ever again") {
		t.Fatalf("publish to a sealed stream: %v, want it to say the stream is sealed", err)
	}
	if took := time.Since(began); took > 5*time.Second || res.Stored != 0 {
		t.Errorf("stored %d, failing after %s: want nothing stored, at once", res.Stored, took)
	}
}
