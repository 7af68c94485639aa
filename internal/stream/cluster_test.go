package stream_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
)

// On a three-node cluster the stream is created with EGOV_NATS_REPLICAS replicas. One created with a single replica
// is not scaled by a process that says three: it fails, saying so, until an operator scales the stream, as
// deploy/nats/README.md has it; then a process that says three, or one (nothing), keeps the three. The stream keeps
// every acknowledged event and takes new ones when the node that leads it stops.
func TestClusterStreamSurvivesItsLeader(t *testing.T) {
	ctx := context.Background()
	cl := streamtest.StartCluster(t, 3)
	// A stream created with one replica, as on a single server.
	single := cl.Config()
	single.Replicas = 1
	connect(t, single)
	if _, err := stream.Connect(ctx, cl.Config(), slog.New(slog.DiscardHandler)); !errors.Is(err, stream.ErrStreamDiffers) ||
		!strings.Contains(err.Error(), "it has 1 replicas, EGOV_NATS_REPLICAS says 3") {
		t.Fatalf("connecting with three replicas to a stream of one: %v, want it to say so", err)
	}
	// The operator's act (no credentials here: the operator is anyone).
	sc := stream.StreamConfig(cl.Config())
	if _, err := streamtest.Dial(t, single).JS.UpdateStream(ctx, sc); err != nil {
		t.Fatal(err)
	}
	c := connect(t, cl.Config())
	// And a process that does not say keeps them: one copy would be lost with its node.
	connect(t, single).Close()
	envs := envelopes(t, 200)
	if _, err := c.Publish(ctx, envs[:100], nil); err != nil {
		t.Fatal(err)
	}
	s, err := c.Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leader, _ := cl.StreamLeader(ctx, t, s)
	cl.Stop(leader)

	// The first half again (deduplicated by id) and the second half, through the nodes left.
	res, err := c.Publish(ctx, envs, nil)
	if err != nil {
		t.Fatalf("publish with the leader down: %v", err)
	}
	if res.Stored != 100 || res.Duplicates != 100 {
		t.Errorf("publish stored %d and found %d duplicates, want 100 and 100", res.Stored, res.Duplicates)
	}
	name, err := cl.AwaitStreamLeader(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 200 || cl.Node(name) == leader {
		t.Errorf("after the stop: %d messages, leader %q; want 200 and another leader", info.State.Msgs, name)
	}
}
