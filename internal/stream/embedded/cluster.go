package embedded

import (
	"fmt"
	"net/url"
	"strconv"

	"github.com/nats-io/nats-server/v2/server"
)

// Cluster makes an embedded server one node of a NATS cluster: JetStream then replicates a stream created with
// EGOV_NATS_REPLICAS over the nodes, and keeps it available while a majority of them runs. A deployment runs
// nats-server processes instead (see the README's "Scaling out"); the embedded form is for tests and trials on one
// machine.
type Cluster struct {
	// Name is the cluster's name, the same on every node.
	Name string
	// Port is where the node listens for the other nodes' routes, at 127.0.0.1. 0 means no cluster.
	Port int
	// Routes are the other nodes' route URLs, nats-route://127.0.0.1:<port>. Listing a node's own is harmless.
	Routes []string
}

// RouteURL is the route URL of the node listening at port on 127.0.0.1.
func RouteURL(port int) string { return "nats-route://127.0.0.1:" + strconv.Itoa(port) }

// configure sets the options of a clustered node.
func (c Cluster) configure(opts *server.Options) error {
	if c.Port == 0 {
		return nil
	}
	if c.Name == "" {
		return fmt.Errorf("a clustered NATS server needs a cluster name")
	}
	opts.Cluster = server.ClusterOpts{Name: c.Name, Host: "127.0.0.1", Port: c.Port}
	for _, r := range c.Routes {
		u, err := url.Parse(r)
		if err != nil {
			return fmt.Errorf("route %q: %w", r, err)
		}
		opts.Routes = append(opts.Routes, u)
	}
	return nil
}
