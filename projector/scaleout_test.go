package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/caarlos0/env/v11"

	"github.com/egovtrack/egovtrack/collectors/simulate"
	"github.com/egovtrack/egovtrack/internal/chdb"
	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
	"github.com/egovtrack/egovtrack/internal/units"
	"github.com/egovtrack/egovtrack/projector/migrations"
)

// This file runs the projector's scale-out forms in this process, through run as `projector run` does: several
// instances sharing the stream by partition, tables distributed over a ClickHouse cluster, and a NATS cluster that
// loses a node.

var quietLog = slog.New(slog.DiscardHandler)

// scaleCampaign is the 2021 campaign of every sixth unit, provinces and ministries both: enough for every table to
// fill, small enough to project several times over on two cores.
func scaleCampaign() simulate.Options {
	o := simulate.Campaign2021(8)
	for i, u := range units.All() {
		if i%6 == 0 {
			o.Units = append(o.Units, u)
		}
	}
	return o
}

// projectorConfig is the projector's configuration from its defaults, with the stream, the database and vars.
func projectorConfig(t *testing.T, natsCfg stream.Config, ch chdb.Config, vars map[string]string) config {
	t.Helper()
	all := projectorVars(natsCfg, ch, "projector", map[string]string{
		"EGOV_PROJECTOR_METRICS_ADDR":    "off",
		"EGOV_PROJECTOR_UNTIL_CAUGHT_UP": "true",
		"EGOV_LOG_LEVEL":                 "info",
	})
	all["EGOV_NATS_REPLICAS"] = strconv.Itoa(natsCfg.Replicas)
	for k, v := range vars {
		all[k] = v
	}
	var cfg config
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: all}); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// runProjectors runs one projector per configuration at once and waits for all of them.
func runProjectors(ctx context.Context, t *testing.T, cfgs ...config) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(cfgs))
	for i, cfg := range cfgs {
		wg.Go(func() { errs[i] = runProjector(ctx, cfg, io.Discard, io.Discard, quietLog) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("projector %d (partition %q): %v", i+1, cfgs[i].Consumer.Partition, err)
		}
	}
}

// compareDatabases compares every projected table of got with want's but those left out, and the national coverage
// unless coverage_daily is left out.
func compareDatabases(ctx context.Context, t *testing.T, got, want chdb.Config, leftOut ...string) {
	t.Helper()
	gotConn, wantConn := chdbtest.Conn(t, got), chdbtest.Conn(t, want)
	for _, table := range sortedKeys(compared) {
		if slices.Contains(leftOut, table) {
			continue
		}
		q, err := tableQuery(ctx, wantConn, want.Database, table, compared[table])
		if err != nil {
			t.Fatal(err)
		}
		compareQuery(t, ctx, table, q, gotConn, wantConn)
	}
	if !slices.Contains(leftOut, "coverage_daily") {
		compareQuery(t, ctx, "national coverage", `SELECT day, sum(eligible), sum(level4) FROM coverage_daily FINAL GROUP BY day ORDER BY day`, gotConn, wantConn)
	}
}

// TestScaleOut projects one campaign with one projector, the reference, then with two projectors sharing the stream
// by partition (1/2 and 2/2) into one database, and again into the cluster form of the tables on a one-shard
// ClickHouse cluster: every table must hold the reference's rows.
func TestScaleOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	natsCfg := streamtest.New(t)
	nc, err := stream.Connect(ctx, natsCfg, quietLog)
	if err != nil {
		t.Fatal(err)
	}
	sim := scaleCampaign()
	res, err := simulate.Run(ctx, nc, sim, io.Discard, quietLog)
	if err != nil {
		t.Fatal(err)
	}
	// An invalid message on a unit's subject: quarantined by the partition that owns the unit.
	envs, err := simulate.Generate(sim)
	if err != nil {
		t.Fatal(err)
	}
	subject, payload := invalidMessage(2, envs[len(envs)/2])
	streamtest.Dial(t, natsCfg).Publish(t, subject, payload)
	nc.Close()
	t.Logf("published %d events of %d units", res.Stored, len(sim.Units))

	reference := chdbtest.New(t)
	began := time.Now()
	runProjectors(ctx, t, projectorConfig(t, natsCfg, reference, map[string]string{"EGOV_PROJECTOR_DURABLE": "reference"}))
	t.Logf("one projector: %v", time.Since(began).Round(time.Millisecond))

	partitioned := func(t *testing.T, db chdb.Config, durable string) {
		t.Helper()
		began := time.Now()
		// Small batches, so that the two write side by side many times: each carries only its own units forward.
		vars := func(p string) map[string]string {
			return map[string]string{"EGOV_PROJECTOR_DURABLE": durable, "EGOV_PROJECTOR_PARTITION": p,
				"EGOV_PROJECTOR_BATCH_SIZE": "250", "EGOV_PROJECTOR_FLUSH_INTERVAL": "50ms"}
		}
		runProjectors(ctx, t, projectorConfig(t, natsCfg, db, vars("1/2")), projectorConfig(t, natsCfg, db, vars("2/2")))
		t.Logf("two partitions: %v", time.Since(began).Round(time.Millisecond))
		// Both did their share: each partition's consumer was delivered events, and only its own.
		js, err := stream.Connect(ctx, natsCfg, quietLog)
		if err != nil {
			t.Fatal(err)
		}
		defer js.Close()
		s, err := js.Stream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var delivered uint64
		for k := 1; k <= 2; k++ {
			name := fmt.Sprintf("%s-%d-of-2", durable, k)
			c, err := s.Consumer(ctx, name)
			if err != nil {
				t.Fatalf("consumer %s: %v", name, err)
			}
			info := c.CachedInfo()
			if info.Delivered.Stream == 0 || info.NumAckPending != 0 {
				t.Errorf("consumer %s: %d delivered, %d unacked; want some, all acked", name, info.Delivered.Consumer, info.NumAckPending)
			}
			delivered += info.Delivered.Consumer
		}
		if want := uint64(res.Stored + 1); delivered != want {
			t.Errorf("the partitions were delivered %d messages, want the stream's %d, each once", delivered, want)
		}
	}

	t.Run("partitions", func(t *testing.T) {
		db := chdbtest.New(t)
		partitioned(t, db, "parts")
		compareDatabases(ctx, t, db, reference)
	})

	t.Run("distributed tables", func(t *testing.T) {
		const cluster = "egov_one_shard"
		oneShardCluster(ctx, t, cluster)
		db := chdbtest.New(t)
		conn := chdbtest.Conn(t, db)
		// Replicated tables and ON CLUSTER need a Keeper, which this server has not: the local tables keep their
		// engines, and the Distributed tables over them are the real thing.
		if _, err := migrations.ApplyCluster(ctx, conn, migrations.Cluster{Name: cluster, WithoutKeeper: true}, quietLog); err != nil {
			t.Fatal(err)
		}
		var engine string
		if err := conn.QueryRow(ctx, "SELECT engine FROM system.tables WHERE database = ? AND name = 'events'", db.Database).Scan(&engine); err != nil {
			t.Fatal(err)
		}
		if engine != "Distributed" {
			t.Fatalf("events is a %s table, want Distributed", engine)
		}
		// Small batches: many reads of FINAL and INSERT … SELECT through the Distributed tables.
		began := time.Now()
		runProjectors(ctx, t, projectorConfig(t, natsCfg, db, map[string]string{"EGOV_PROJECTOR_DURABLE": "distributed",
			"EGOV_PROJECTOR_BATCH_SIZE": "250", "EGOV_PROJECTOR_FLUSH_INTERVAL": "50ms"}))
		t.Logf("one projector through Distributed tables: %v", time.Since(began).Round(time.Millisecond))
		compareDatabases(ctx, t, db, reference)
		var local uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM events_local").Scan(&local); err != nil {
			t.Fatal(err)
		}
		if local != uint64(res.Stored) {
			t.Errorf("events_local holds %d rows, want the %d events written through the Distributed table", local, res.Stored)
		}
		// Materialized views fed by the local tables, read through Distributed ones, count each event once.
		views, err := tableNames(ctx, conn, db.Database)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(views, "ingestion_lag") {
			var counted uint64
			if err := conn.QueryRow(ctx, "SELECT sum(events) FROM ingestion_lag").Scan(&counted); err != nil {
				t.Fatal(err)
			}
			if counted != uint64(res.Stored) {
				t.Errorf("ingestion_lag counts %d events, want %d", counted, res.Stored)
			}
		}
	})
}

// oneShardCluster adds to the test ClickHouse server a cluster of one shard, the server itself, and restarts it to
// read it.
func oneShardCluster(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	srv := chdbtest.Server(t) // skipped with an external server, whose configuration is not the test's
	cfg := srv.Config("")
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(srv.Dir(), "config.d")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	xml := fmt.Sprintf(`<yandex><remote_servers><%s><shard><replica><host>%s</host><port>%s</port><user>%s</user><password>%s</password></replica></shard></%s></remote_servers></yandex>`,
		name, host, port, cfg.User, cfg.Password.Reveal(), name)
	if err := os.WriteFile(filepath.Join(dir, name+".xml"), []byte(xml), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	conn := chdbtest.Conn(t, chdbtest.New(t))
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.clusters WHERE cluster = ?", name).Scan(&n); err != nil || n != 1 {
		t.Fatalf("cluster %s after the restart: %d replicas, %v; want 1", name, n, err)
	}
}

// TestNATSClusterLosesNothing runs the projector against a three-node NATS cluster whose stream has three replicas,
// stops the node that leads the stream while the campaign is being published and projected, and checks that the raw
// log holds every published event exactly once: as many rows as ids, and the very ids published.
func TestNATSClusterLosesNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cl := streamtest.StartCluster(t, 3)
	natsCfg := cl.Config()
	db := chdbtest.New(t)
	conn := chdbtest.Conn(t, db)

	const turns = 8
	pub := startPublishing(ctx, t, natsCfg, scaleCampaign(), turns)
	pctx, stopProjector := context.WithCancel(ctx)
	defer stopProjector()
	projected := make(chan error, 1)
	cfg := projectorConfig(t, natsCfg, db, map[string]string{
		"EGOV_PROJECTOR_UNTIL_CAUGHT_UP": "false",
		// Small batches, often: the stop lands between and during many of them.
		"EGOV_PROJECTOR_BATCH_SIZE":     "200",
		"EGOV_PROJECTOR_FLUSH_INTERVAL": "50ms",
		"EGOV_PROJECTOR_ACK_WAIT":       "5s",
	})
	var logs syncLog
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the projector's log:\n%s", logs.String())
		}
	})
	go func() {
		projected <- runProjector(pctx, cfg, io.Discard, io.Discard, slog.New(slog.NewTextHandler(&logs, nil)))
	}()

	// Half the campaign goes out and the projector writes some of it; then the rest goes out, and the stream's
	// leader goes as it starts.
	for range turns / 2 {
		pub.turn()
	}
	if err := awaitRows(ctx, conn, 1); err != nil {
		t.Fatal(err)
	}
	nc, err := stream.Connect(ctx, natsCfg, quietLog)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	s, err := nc.Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leader, info := cl.StreamLeader(ctx, t, s)
	name := info.Cluster.Leader
	for range turns - turns/2 {
		pub.turn()
	}
	cl.Stop(leader)
	t.Logf("stopped %s, the stream's leader, as the second half went out (%d messages stored just before), with %d events in the raw log",
		name, info.State.Msgs, countRows(ctx, t, conn))

	published, err := pub.wait(ctx)
	if err != nil {
		t.Fatalf("publishing with a node down: %v", err)
	}
	if err := awaitRows(ctx, conn, uint64(len(published.ids))); err != nil {
		c, cerr := s.Consumer(context.Background(), "projector")
		if cerr != nil {
			t.Fatalf("%v; consumer: %v", err, cerr)
		}
		ci := c.CachedInfo()
		t.Fatalf("%v; consumer: leader %q, replicas %+v, pending %d, ack pending %d, delivered %+v", err, ci.Cluster.Leader,
			ci.Cluster.Replicas, ci.NumPending, ci.NumAckPending, ci.Delivered)
	}
	if name, err = cl.AwaitStreamLeader(ctx, s); err != nil {
		t.Fatal(err)
	}
	if info, err = s.Info(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("new leader %s; %d messages in the stream, %d bytes a message on each replica's disk", name,
		info.State.Msgs, info.State.Bytes/max(info.State.Msgs, 1))
	stopProjector()
	if err := <-projected; err != nil {
		t.Fatalf("projector: %v", err)
	}

	var rows, distinct uint64
	if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(id) FROM events").Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != distinct || distinct != uint64(len(published.ids)) {
		t.Errorf("the raw log holds %d rows of %d ids, want the %d published, once each", rows, distinct, len(published.ids))
	}
	got, err := conn.Query(ctx, "SELECT toString(id) FROM events")
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	missing := maps.Clone(published.ids)
	for got.Next() {
		var id string
		if err := got.Scan(&id); err != nil {
			t.Fatal(err)
		}
		if !missing[id] {
			t.Errorf("event %s in the raw log was not published, or is there twice", id)
		}
		delete(missing, id)
	}
	if len(missing) > 0 {
		t.Errorf("%d published events are not in the raw log", len(missing))
	}
	var quarantined uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM quarantine FINAL").Scan(&quarantined); err != nil {
		t.Fatal(err)
	}
	if quarantined != uint64(published.invalid) {
		t.Errorf("%d messages quarantined, want the %d invalid ones published", quarantined, published.invalid)
	}
}

func countRows(ctx context.Context, t *testing.T, conn driver.Conn) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// awaitRows waits until the raw log holds at least n rows: the projector runs on its own, and says nothing when a
// batch is written but by the table itself.
func awaitRows(ctx context.Context, conn driver.Conn, n uint64) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var got uint64
	for {
		// The table appears once the projector has applied the schema.
		if err := conn.QueryRow(ctx, "SELECT count() FROM events").Scan(&got); err == nil && got >= n {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d events in the raw log, %d there: %w", n, got, ctx.Err())
		}
	}
}

// syncLog is a log the projector's goroutines write while the test reads it.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
