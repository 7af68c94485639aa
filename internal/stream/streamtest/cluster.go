package streamtest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/embedded"
)

// Cluster is a NATS cluster of embedded servers in the test's process: routes between them on free ports, JetStream
// on each with a store directory of its own.
type Cluster struct {
	Nodes []*Server
}

// clusterReady bounds the wait for the nodes to elect a JetStream meta leader.
const clusterReady = 30 * time.Second

// StartCluster starts n clustered servers, stopped when the test ends, and returns once JetStream has a meta leader,
// so that a stream can be created at once.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{}
	routes := make([]int, n)
	for i := range routes {
		routes[i] = freePort(t)
	}
	var urls []string
	for _, p := range routes {
		urls = append(urls, embedded.RouteURL(p))
	}
	for i := range n {
		cfg := defaults(t)
		cfg.Replicas = n
		s := newServer(cfg)
		s.opts.Name = "egovtrack-" + strconv.Itoa(i+1)
		s.opts.Cluster = embedded.Cluster{Name: "egovtrack-test", Port: routes[i], Routes: urls}
		s.start(t)
		t.Cleanup(s.stop)
		c.Nodes = append(c.Nodes, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterReady)
	defer cancel()
	if err := c.awaitMetaLeader(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// awaitMetaLeader waits until one of the running nodes leads JetStream's meta group and the others follow it.
func (c *Cluster) awaitMetaLeader(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		leaders, current := 0, 0
		for _, n := range c.Nodes {
			if n.srv == nil {
				continue
			}
			if n.srv.JetStreamIsLeader() {
				leaders++
			}
			if n.srv.JetStreamIsCurrent() {
				current++
			}
		}
		if leaders == 1 && current == c.running() {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("NATS cluster of %d: no JetStream meta leader after %v", len(c.Nodes), clusterReady)
		}
	}
}

func (c *Cluster) running() int {
	n := 0
	for _, s := range c.Nodes {
		if s.srv != nil {
			n++
		}
	}
	return n
}

// Config connects to the cluster, to any of its nodes, and creates streams with a replica on every node.
func (c *Cluster) Config() stream.Config {
	cfg := c.Nodes[0].Config()
	var urls []string
	for _, n := range c.Nodes {
		urls = append(urls, "nats://"+net.JoinHostPort("127.0.0.1", strconv.Itoa(n.cfg.Port)))
	}
	cfg.URL = strings.Join(urls, ",")
	cfg.Replicas = len(c.Nodes)
	return cfg
}

// Stop stops node i, which stays down until the test ends.
func (c *Cluster) Stop(i int) { c.Nodes[i].stop() }

// Node returns the index of the node named name (a stream's leader, say), or -1.
func (c *Cluster) Node(name string) int {
	for i, n := range c.Nodes {
		if n.opts.Name == name {
			return i
		}
	}
	return -1
}

// AwaitStreamLeader waits until the stream has a leader and a current replica on every other running node, and
// returns the leader's name: after a create, an update or a node's loss, JetStream elects one in a few seconds.
func (c *Cluster) AwaitStreamLeader(ctx context.Context, s jetstream.Stream) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, clusterReady)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		info, err := s.Info(ctx)
		if err == nil && info.Cluster != nil && info.Cluster.Leader != "" {
			current := 0
			for _, p := range info.Cluster.Replicas {
				if p.Current && !p.Offline {
					current++
				}
			}
			if current == c.running()-1 {
				return info.Cluster.Leader, nil
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return "", fmt.Errorf("stream %s: no leader with current replicas after %v (last error: %v)", s.CachedInfo().Config.Name, clusterReady, err)
		}
	}
}

// StreamLeader waits for the stream's leader (AwaitStreamLeader), checks that the stream keeps a replica on every
// node, and returns the leader's node index and the stream's info; it fails the test otherwise.
func (c *Cluster) StreamLeader(ctx context.Context, t testing.TB, s jetstream.Stream) (int, *jetstream.StreamInfo) {
	t.Helper()
	name, err := c.AwaitStreamLeader(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != len(c.Nodes) || len(info.Cluster.Replicas) != len(c.Nodes)-1 {
		t.Fatalf("stream %s: %d replicas configured, %d followers; want %d and %d",
			info.Config.Name, info.Config.Replicas, len(info.Cluster.Replicas), len(c.Nodes), len(c.Nodes)-1)
	}
	leader := c.Node(name)
	if leader < 0 {
		t.Fatalf("stream %s: its leader %q is none of the nodes", info.Config.Name, name)
	}
	return leader, info
}
