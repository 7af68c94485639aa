package consumer_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
	"github.com/egovtrack/egovtrack/projector/consumer"
)

// A fact published before ids were derived from the JCS form carries the legacy rule's id; published again now, it
// carries the current one. JetStream stores both (their Nats-Msg-Id differ), and the projector keys both by the
// current id: the fact is one row in events and in procedure_changes, whether the two arrive in one batch or the
// second long after the first (a replay, a publisher sending the fact again). testdata/legacy-ids.jsonl holds a
// registration (its name with "&" and "<", at .12 seconds) and a level change as the code before the change made them.
func TestAFactUnderItsLegacyAndCurrentIDsIsOneRow(t *testing.T) {
	legacy := legacyEvents(t)
	current := make([]event.Envelope, len(legacy))
	for i, b := range legacy {
		env, d, err := event.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if current[i], err = event.New("/test", d); err != nil {
			t.Fatal(err)
		}
		if current[i].ID != env.ID {
			t.Fatalf("Decode answered with %s, New makes %s", env.ID, current[i].ID)
		}
	}
	for _, tt := range []struct {
		name     string
		batches  int // 1: both in one batch; 2: the current ones projected after the legacy ones
		skipped  int
		projects []int // events projected by each run
	}{
		{"in one batch", 1, len(legacy), []int{2 * len(legacy)}},
		{"in two batches", 2, len(legacy), []int{len(legacy), len(legacy)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			ns := streamtest.New(t)
			nc, err := stream.Connect(ctx, ns, quiet) // which creates the stream
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			r := openRig(t, nc)
			publishLegacy(t, streamtest.Dial(t, ns), legacy)
			var stats []consumer.Stats
			if tt.batches == 2 {
				stats = append(stats, runOnce(t, r))
			}
			if _, err := nc.Publish(ctx, current, nil); err != nil {
				t.Fatal(err)
			}
			stats = append(stats, runOnce(t, r))
			skipped := 0
			for i, st := range stats {
				skipped += st.Skipped
				if st.Projected != tt.projects[i] || st.Rejected != 0 {
					t.Errorf("run %d projected %d and rejected %d, want %d and 0", i+1, st.Projected, st.Rejected, tt.projects[i])
				}
			}
			if skipped != tt.skipped {
				t.Errorf("skipped %d events as already written, want %d", skipped, tt.skipped)
			}
			if n := r.count(t, "SELECT count() FROM events FINAL"); n != uint64(len(legacy)) {
				t.Errorf("events holds %d rows, want %d", n, len(legacy))
			}
			if n := r.count(t, "SELECT count() FROM procedure_changes FINAL"); n != uint64(len(legacy)) {
				t.Errorf("procedure_changes holds %d rows, want %d", n, len(legacy))
			}
			for _, env := range current {
				if n := r.count(t, "SELECT count() FROM events FINAL WHERE id = toUUID('"+env.ID+"')"); n != 1 {
					t.Errorf("events holds %d rows of the current id %s, want 1", n, env.ID)
				}
			}
		})
	}
}

// legacyEvents reads testdata/legacy-ids.jsonl, one event a line.
func legacyEvents(t *testing.T) [][]byte {
	t.Helper()
	f, err := os.Open("testdata/legacy-ids.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// publishLegacy publishes events as they were published then: their own id as Nats-Msg-Id.
func publishLegacy(t *testing.T, c *streamtest.Client, events [][]byte) {
	t.Helper()
	for _, b := range events {
		var head struct{ ID, Subject string }
		if err := json.Unmarshal(b, &head); err != nil {
			t.Fatal(err)
		}
		m := nats.NewMsg(head.Subject)
		m.Data = b
		if _, err := c.JS.PublishMsg(context.Background(), m, jetstream.WithMsgID(head.ID)); err != nil {
			t.Fatal(err)
		}
	}
}

func runOnce(t *testing.T, r *rig) consumer.Stats {
	t.Helper()
	stats, err := r.consumer(t, config(500, 50*time.Millisecond)).Run(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	return stats
}
