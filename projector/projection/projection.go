// Package projection is the projector as one type: it opens ClickHouse and the stream, and wires the store and the
// consumer the one way every caller uses — `projector run`, `projector rebuild`, the demo, the dashboards' campaign
// fixture and the bench.
package projection

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/egovtrack/egovtrack/internal/chdb"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/projector/consumer"
	"github.com/egovtrack/egovtrack/projector/metrics"
	"github.com/egovtrack/egovtrack/projector/migrations"
	"github.com/egovtrack/egovtrack/projector/rebuild"
	"github.com/egovtrack/egovtrack/projector/store"
)

// Config is everything the projector reads, from EGOV_* variables (caarlos0/env).
type Config struct {
	NATS       stream.Config   `envPrefix:"EGOV_NATS_"`
	ClickHouse chdb.Config     `envPrefix:"EGOV_CLICKHOUSE_"`
	Consumer   consumer.Config `envPrefix:"EGOV_PROJECTOR_"`
	// ClickHouseCluster is the ClickHouse cluster (remote_servers) the tables live on, replicated and distributed;
	// empty for one server. See projector/migrations' Cluster.
	ClickHouseCluster string `env:"EGOV_CLICKHOUSE_CLUSTER"`
	// UntilCaughtUp stops the projector once every event in the stream is written, for batch jobs and the demo.
	UntilCaughtUp bool `env:"EGOV_PROJECTOR_UNTIL_CAUGHT_UP" envDefault:"false"`
	// OpenDossiers is how many dossiers the store remembers between batches (store.Config.OpenDossiers).
	OpenDossiers int `env:"EGOV_PROJECTOR_OPEN_DOSSIERS" envDefault:"20000"`
	// Now is the clock the events' time domain ends by (event.Contract); nil is the system clock.
	Now func() time.Time `env:"-"`
	// Started, when set, is called by Run once the tables and the durable consumer exist, before the first batch: the
	// bench times the steady state from there.
	Started func() `env:"-"`
}

// ErrNotOneServer is returned, wrapped, by Rebuild (and CheckRebuild) for a cluster or a partition: a rebuild drops
// and recreates the single-server tables and replays through one consumer, so on a cluster or for one partition it
// would lose the Distributed layout or the other partitions' units.
var ErrNotOneServer = errors.New("rebuild runs on one server with one projector: unset EGOV_CLICKHOUSE_CLUSTER and EGOV_PROJECTOR_PARTITION")

// CheckRebuild returns ErrNotOneServer when cfg names a cluster or a partition: before anything is opened.
func (c Config) CheckRebuild() error {
	if c.ClickHouseCluster != "" || c.Consumer.Partition != "" {
		return ErrNotOneServer
	}
	return nil
}

// Projector projects one stream into one ClickHouse database.
type Projector struct {
	cfg    Config
	conn   driver.Conn
	s      jetstream.Stream
	m      *metrics.Metrics
	log    *slog.Logger
	closed []func() error // what Open opened, closed in reverse
}

// Open connects to ClickHouse and NATS as cfg says. m, when not nil, receives the metrics, and its health follows
// every call to ClickHouse. Close releases both connections.
func Open(ctx context.Context, cfg Config, m *metrics.Metrics, log *slog.Logger) (_ *Projector, err error) {
	if err := cfg.NATS.Validate(); err != nil {
		return nil, err
	}
	p := &Projector{cfg: cfg, m: m, log: log}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	raw, err := chdb.Open(ctx, cfg.ClickHouse)
	if err != nil {
		return nil, err
	}
	p.closed = append(p.closed, raw.Close)
	p.conn = raw
	if m != nil {
		p.conn = metrics.Observe(raw, m.Health) // /healthz follows every call to ClickHouse
	}
	nc, err := stream.Connect(ctx, cfg.NATS, log)
	if err != nil {
		return nil, err
	}
	p.closed = append(p.closed, nc.Close)
	if p.s, err = nc.Stream(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// New is a Projector on connections the caller holds and closes: tests and the bench, which time or share them.
// cfg's NATS and ClickHouse are not read.
func New(conn driver.Conn, s jetstream.Stream, cfg Config, m *metrics.Metrics, log *slog.Logger) *Projector {
	return &Projector{cfg: cfg, conn: conn, s: s, m: m, log: log}
}

// Run projects the stream until ctx ends, or, with UntilCaughtUp, until every event in it is written. On a cluster
// it first applies the cluster's migrations; with a partition, the store carries forward only its own units.
func (p *Projector) Run(ctx context.Context) (consumer.Stats, error) {
	if p.cfg.ClickHouseCluster != "" {
		// Before store.Open, whose single-server migrations then find every version recorded.
		if _, err := migrations.ApplyCluster(ctx, p.conn, migrations.Cluster{Name: p.cfg.ClickHouseCluster}, p.log); err != nil {
			return consumer.Stats{}, err
		}
	}
	part, err := consumer.ParsePartition(p.cfg.Consumer.Partition)
	if err != nil {
		return consumer.Stats{}, err
	}
	// Each unit has one writer: an instance of several carries forward only its own units' coverage.
	return p.consume(ctx, p.cfg.Consumer, p.cfg.UntilCaughtUp, store.Config{Owns: part.OwnsFilter(), OpenDossiers: p.cfg.OpenDossiers}, p.cfg.Started)
}

// consume is the one wiring of store and consumer: open the store (schema and units), make the durable consumer,
// run it. started, when not nil, is called once the consumer exists.
func (p *Projector) consume(ctx context.Context, cfg consumer.Config, untilCaughtUp bool, sc store.Config, started func()) (consumer.Stats, error) {
	st, err := store.Open(ctx, p.conn, p.log, sc)
	if err != nil {
		return consumer.Stats{}, err
	}
	cfg.Now = p.cfg.Now
	c, err := consumer.New(ctx, p.s, cfg, st, p.m, p.log)
	if err != nil {
		return consumer.Stats{}, err
	}
	// Only now: a supervisor reading the log sees "projecting" once the tables and the consumer exist.
	p.log.Info("projecting", "stream", p.s.CachedInfo().Config.Name, "consumer", cfg.Durable, "partition", cfg.Partition,
		"clickhouse", p.cfg.ClickHouse, "cluster", p.cfg.ClickHouseCluster)
	if started != nil {
		started()
	}
	return c.Run(ctx, untilCaughtUp)
}

// Rebuild recreates every projection from the stream (see projector/rebuild), drawing its progress on progress. It
// refuses with ErrNotOneServer on a cluster or a partition.
func (p *Projector) Rebuild(ctx context.Context, progress io.Writer) (rebuild.Result, error) {
	if err := p.cfg.CheckRebuild(); err != nil {
		return rebuild.Result{}, err
	}
	return rebuild.Run(ctx, p.conn, p.s, p.cfg.Consumer, progress, p.log, func(ctx context.Context, started func()) (consumer.Stats, error) {
		return p.consume(ctx, p.cfg.Consumer, true, store.Config{OpenDossiers: p.cfg.OpenDossiers}, started)
	})
}

// Close closes what Open opened; nothing for a Projector made by New.
func (p *Projector) Close() error {
	var errs []error
	for i := len(p.closed) - 1; i >= 0; i-- {
		errs = append(errs, p.closed[i]())
	}
	p.closed = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close projector: %w", err)
	}
	return nil
}
