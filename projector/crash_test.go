package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/egovtrack/egovtrack/collectors/simulate"
	"github.com/egovtrack/egovtrack/internal/chdb"
	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
	"github.com/egovtrack/egovtrack/internal/chserver"
	"github.com/egovtrack/egovtrack/internal/chsql"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
	"github.com/egovtrack/egovtrack/internal/units"
)

// crashPlan is how hard TestCrashes treats the projector.
type crashPlan struct {
	units  int // simulated units, of the 85
	slices int // the campaign is published in this many slices, one as each of the first projectors starts
	// Projectors are killed until every message of the stream has been delivered, and at least minKills times.
	minKills int
	// A projector is killed either at a random moment of its first earlyKill (startup included), or, most often,
	// a random moment of up to midBatch after it wrote 1 to 3 batches: while it writes the next one.
	earlyKill, midBatch time.Duration
	outage              time.Duration // ClickHouse is stopped once, mid-run, for this long
	// Small batches and a short flush interval, so that most kills land in the middle of a batch.
	batchSize     int
	flushInterval time.Duration
	// ackWait is below outage, so that events delivered to a killed process come back to the running one while
	// ClickHouse is away and it certainly tries, and fails, to write during the outage.
	ackWait time.Duration
}

// EnvCrashSeed replays a run of TestCrashes: the seed picks the simulated events, the kill times and the outage.
const EnvCrashSeed = "EGOV_TEST_CRASH_SEED"

// TestCrashes is issue 4's proof of exactly once. It runs the projector as a separate process and kills it with
// SIGKILL at random moments, most of them in the middle of a batch, while the simulate collector publishes the 2021
// campaign and until the whole stream has been delivered (at least 20 times, about 50 in practice); it stops
// ClickHouse for a few seconds while one projector runs; it lets a last projector catch up, and projects the same
// stream once more, cleanly, into a second database. Then the raw log must hold every published event exactly once,
// counted without FINAL, and every table must hold the same rows in both databases.
//
// On 2 cores it takes one and a half to three minutes, depending on what else runs; -short publishes 20 units
// instead of all 85, in smaller batches, with as many kills.
// A failure names its seed; EGOV_TEST_CRASH_SEED replays the same events, kill points and outage.
func TestCrashes(t *testing.T) {
	plan := crashPlan{
		units:         len(units.All()),
		slices:        24,
		minKills:      20,
		earlyKill:     1500 * time.Millisecond,
		midBatch:      400 * time.Millisecond,
		outage:        5 * time.Second,
		batchSize:     500,
		flushInterval: 50 * time.Millisecond,
		ackWait:       3 * time.Second,
	}
	if testing.Short() {
		plan.units = 20
		plan.batchSize = 100 // a slice of the campaign still makes a few batches
	}
	seed := crashSeed(t)
	t.Logf("seed %d; replay with %s=%d", seed, EnvCrashSeed, seed)
	rng := rand.New(rand.NewPCG(seed, 4))
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	began := time.Now()

	chServer := chdbtest.Server(t) // skips the test when tests use an external ClickHouse: it cannot be stopped
	crashedDB, cleanDB := chdbtest.New(t), chdbtest.New(t)
	dropTablesAtCleanup(t, crashedDB, cleanDB)
	natsCfg := streamtest.Start(t).Config()
	bin := buildProjector(t)
	logs := newProjectorLog(t)
	crashedEnv := projectorEnv(projectorVars(natsCfg, crashedDB, "crashed", map[string]string{
		"EGOV_PROJECTOR_BATCH_SIZE":     strconv.Itoa(plan.batchSize),
		"EGOV_PROJECTOR_FLUSH_INTERVAL": plan.flushInterval.String(),
		"EGOV_PROJECTOR_ACK_WAIT":       plan.ackWait.String(),
	}))

	// One simulate.Run publishes the campaign, in time order as the collector does, a slice at a time: each of the
	// first projectors to start hands it a turn, and the outage one more, so that publishing goes on during the kills.
	sim := simulate.Campaign2021(seed)
	sim.DossiersPerDay = 0.4 // a few thousand dossier events among the catalogues', so that kills land on their counts
	if plan.units < len(units.All()) {
		for _, i := range rng.Perm(len(units.All()))[:plan.units] {
			sim.Units = append(sim.Units, units.All()[i])
		}
	}
	pub := startPublishing(ctx, t, natsCfg, sim, plan.slices+1)

	// Kill, start again, until the whole stream has been delivered: kills land all along it.
	outageLife := 4 + rng.IntN(plan.slices/2)
	crashedConn := chdbtest.Conn(t, crashedDB)
	var (
		kills   []string        // each SIGKILL: the process's uptime, how many batches it wrote, and "cut" when it cut one
		cuts    int             // SIGKILLs that cut a batch between its derived rows and its raw log
		skipped int             // events written again after a kill, and found in the raw log
		cut     map[string]bool // the procedure changes whose events the raw log lacks, after the last SIGKILL
		clean   *projectorProc  // the reference run, started once the whole campaign is published
	)
	// The reference: the same stream, another consumer and database, the projector's default batching, no harm done.
	// It runs beside the last kills, after the outage.
	cleanEnv := projectorEnv(projectorVars(natsCfg, cleanDB, "clean", map[string]string{"EGOV_PROJECTOR_UNTIL_CAUGHT_UP": "true"}))
	for i := 0; ; i++ {
		if i > 10*plan.slices {
			t.Fatalf("%d projectors killed and the stream is not delivered yet: they make no progress", i)
		}
		p := startProjector(t, bin, crashedEnv, logs, fmt.Sprintf("life %d", i))
		pub.turn()
		if i == outageLife {
			p = outage(ctx, t, chServer, plan.outage, p, pub, logs)
		}
		if rng.IntN(4) == 0 {
			pause(ctx, time.Duration(rng.Int64N(int64(plan.earlyKill))), p.done)
		} else {
			// A projector with nothing to write in time is killed all the same.
			k := 1 + rng.IntN(3)
			wctx, cancel := context.WithTimeout(ctx, plan.earlyKill+plan.ackWait)
			_ = p.waitLog(wctx, "batches", func(seen []string) bool { return countOf(seen, logWritten) >= k })
			cancel()
			pause(ctx, time.Duration(rng.Int64N(int64(plan.midBatch))), p.done)
		}
		uptime := time.Since(p.started)
		killed := p.kill()
		skipped += p.log.skippedTotal()
		if !killed {
			t.Errorf("%s exited by itself after %v, with ClickHouse up: %v", p.name, uptime.Round(time.Millisecond), p.waitErr)
			continue
		}
		now, err := cutChanges(ctx, crashedConn)
		if err != nil {
			t.Fatal(err)
		}
		kill := fmt.Sprintf("%v/%d", uptime.Round(10*time.Millisecond), p.log.count(logWritten))
		if newIn(now, cut) {
			kill += "/cut"
			cuts++
		}
		cut = now
		kills = append(kills, kill)
		logs.printf("%s: SIGKILL after %v, %d batches written", p.name, uptime.Round(time.Millisecond), p.log.count(logWritten))
		if clean == nil && pub.finished() {
			clean = startProjector(t, bin, cleanEnv, logs, "clean run")
		}
		if len(kills) >= plan.minKills && pub.finished() {
			pending, err := undelivered(ctx, pub.conn, "crashed")
			if err != nil {
				t.Fatal(err)
			}
			if pending == 0 {
				break // the rest is redelivered to the catch-up run
			}
		}
		pause(ctx, time.Duration(rng.Int64N(int64(200*time.Millisecond))), nil)
	}
	published, err := pub.wait(ctx)
	if err != nil {
		t.Fatalf("publish the simulation: %v", err)
	}
	if clean == nil {
		clean = startProjector(t, bin, cleanEnv, logs, "clean run")
	}
	killPhase := time.Since(began)
	t.Logf("seed %d: %d units, %d events with distinct ids (%d stored, %d duplicates dropped by JetStream), %d invalid messages",
		seed, plan.units, len(published.ids), published.stored, published.duplicates, published.invalid)
	t.Logf("%d SIGKILLs (uptime/batches written[/cut]): %s", len(kills), strings.Join(kills, " "))
	t.Logf("%d of them cut a batch between its derived rows and its raw log; ClickHouse stopped for %v during life %d",
		cuts, plan.outage, outageLife)

	// What the killed projectors left is finished by one more, which stops once the stream is written.
	final := startProjector(t, bin, append(crashedEnv, "EGOV_PROJECTOR_UNTIL_CAUGHT_UP=true"), logs, "catch-up run")
	if err := final.wait(3 * time.Minute); err != nil {
		t.Fatalf("the catch-up run failed: %v", err)
	}
	catchUp := time.Since(began) - killPhase
	skipped += final.log.skippedTotal()
	t.Logf("%d events came again after their batch was written, and the raw log check skipped them", skipped)

	if err := clean.wait(3 * time.Minute); err != nil {
		t.Fatalf("the clean run failed: %v", err)
	}
	t.Logf("kills and publishing took %v, catching up %v; the clean run, beside them, %v",
		killPhase.Round(time.Second), catchUp.Round(time.Second), clean.ran().Round(time.Second))

	crashed, reference := crashedConn, chdbtest.Conn(t, cleanDB)
	for _, db := range []struct {
		name string
		conn driver.Conn
	}{{"after the crashes", crashed}, {"in the clean run", reference}} {
		conn := db.conn
		var rows, ids, quarantined uint64
		if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(id) FROM events").Scan(&rows, &ids); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(ctx, "SELECT count() FROM quarantine FINAL").Scan(&quarantined); err != nil {
			t.Fatal(err)
		}
		if rows != ids || ids != uint64(len(published.ids)) {
			t.Errorf("%s: the raw log holds %d rows of %d distinct ids, want %d of %d: every published event once",
				db.name, rows, ids, len(published.ids), len(published.ids))
		}
		// The lag tables count every insert into the raw log: a repeat would show here, whatever the lag.
		var lagged, laggedHourly uint64
		if err := conn.QueryRow(ctx, "SELECT (SELECT sum(events) FROM ingestion_lag), (SELECT sum(events) FROM ingestion_lag_hourly)").Scan(&lagged, &laggedHourly); err != nil {
			t.Fatal(err)
		}
		if lagged != rows || laggedHourly != rows {
			t.Errorf("%s: the ingestion lag counts %d events per second and %d per hour, want the raw log's %d", db.name, lagged, laggedHourly, rows)
		}
		if quarantined != uint64(published.invalid) {
			t.Errorf("%s: %d messages quarantined, want the %d invalid ones published", db.name, quarantined, published.invalid)
		}
	}

	tables, err := tableNames(ctx, crashed, crashedDB.Database)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		if _, ok := compared[table]; !ok && !slices.Contains(notCompared, table) {
			t.Errorf("table %s is neither compared nor known to differ: add it to compared in compare_test.go", table)
		}
	}
	for _, table := range sortedKeys(compared) {
		q, err := tableQuery(ctx, crashed, crashedDB.Database, table, compared[table])
		if err != nil {
			t.Fatal(err)
		}
		compareQuery(t, ctx, table, q, crashed, reference)
	}
	compareQuery(t, ctx, "national coverage", `SELECT day, sum(eligible), sum(level4) FROM coverage_daily FINAL GROUP BY day ORDER BY day`, crashed, reference)
	t.Logf("TestCrashes took %v", time.Since(began).Round(time.Second))
}

// outage stops ClickHouse for down while p projects, with the publisher publishing meanwhile, and checks that p
// rides it out: it keeps running, its writes fail and are retried, and once ClickHouse is back it writes again. It
// returns the process to go on with: p, or, if p died, a new one.
func outage(ctx context.Context, t *testing.T, srv *chserver.Server, down time.Duration, p *projectorProc, pub *pacedPublisher, logs *projectorLog) *projectorProc {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := p.waitLog(wctx, "start", func(seen []string) bool { return slices.Contains(seen, logProjecting) }); err != nil {
		t.Fatalf("before the outage: %v", err)
	}
	logs.printf("stopping ClickHouse for %v while %s runs", down, p.name)
	began := time.Now()
	done := make(chan error, 1)
	go func() { done <- srv.RestartAfter(ctx, down) }()
	pub.turn() // events arrive while ClickHouse is away

	var err error
	select {
	case err = <-done:
	case <-p.done:
		t.Errorf("%s exited while ClickHouse was away (%v): it should retry until ClickHouse is back", p.name, p.waitErr)
		err = <-done
	}
	if err != nil {
		t.Fatalf("restart ClickHouse after the outage: %v", err)
	}
	logs.printf("ClickHouse answers again after %v", time.Since(began).Round(time.Millisecond))
	if p.exitedByItself() {
		return startProjector(t, p.cmd.Path, p.cmd.Env, logs, p.name+" after the outage")
	}
	if p.log.count(logWriteFailed) == 0 {
		t.Errorf("%s tried no write while ClickHouse was away, so the outage tested nothing", p.name)
	}
	if err := p.waitLog(wctx, "batch written after a failed write", seenAfter(logWriteFailed, logWritten)); err != nil {
		t.Errorf("after the outage: %v", err)
	}
	return p
}

// projectorVars configures a projector for the stream at natsCfg and the database cfg, under the durable consumer
// durable, plus extra.
func projectorVars(natsCfg stream.Config, cfg chdb.Config, durable string, extra map[string]string) map[string]string {
	vars := map[string]string{
		"EGOV_NATS_URL":               natsCfg.URL,
		"EGOV_NATS_STREAM":            natsCfg.Stream,
		"EGOV_CLICKHOUSE_ADDR":        cfg.Addr,
		"EGOV_CLICKHOUSE_DATABASE":    cfg.Database,
		"EGOV_CLICKHOUSE_USER":        cfg.User,
		"EGOV_CLICKHOUSE_PASSWORD":    cfg.Password.Reveal(),
		"EGOV_PROJECTOR_DURABLE":      durable,
		"EGOV_PROJECTOR_METRICS_ADDR": "127.0.0.1:0", // any free port: runs must not collide on the default one
		"EGOV_LOG_LEVEL":              "debug",       // for its "batch written" lines
	}
	for k, v := range extra {
		vars[k] = v
	}
	return vars
}

// crashSeed is EGOV_TEST_CRASH_SEED, or else a new seed; it is logged so that a failing run can be replayed.
func crashSeed(t *testing.T) uint64 {
	t.Helper()
	if s := os.Getenv(EnvCrashSeed); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", EnvCrashSeed, s, err)
		}
		return seed
	}
	return rand.Uint64()
}

// dropTablesAtCleanup drops the databases' tables when the test ends, one by one and for up to three minutes, before
// chdbtest drops the databases within its 30 s. The killed projectors leave thousands of small parts behind, and
// removing their files took ClickHouse 18.16 on a busy 2-core machine from 2 s to 50 s.
func dropTablesAtCleanup(t *testing.T, cfgs ...chdb.Config) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		began := time.Now()
		for _, cfg := range cfgs {
			conn, err := chdb.Open(ctx, cfg)
			if err != nil {
				t.Errorf("drop the tables of %s: %v", cfg.Database, err)
				continue
			}
			tables, err := tableNames(ctx, conn, cfg.Database)
			for _, table := range tables {
				if err == nil {
					err = conn.Exec(ctx, "DROP TABLE IF EXISTS "+chsql.QuoteIdent(table))
				}
			}
			if err != nil {
				t.Errorf("drop the tables of %s: %v", cfg.Database, err)
			}
			_ = conn.Close()
		}
		t.Logf("dropped the tables in %v", time.Since(began).Round(100*time.Millisecond))
	})
}

// pause waits for d, or less when ctx ends or done is closed.
func pause(ctx context.Context, d time.Duration, done <-chan struct{}) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	case <-done:
	}
}

// undelivered returns how many messages of the stream the durable consumer has not delivered yet.
func undelivered(ctx context.Context, conn *stream.Conn, durable string) (uint64, error) {
	s, err := conn.Stream(ctx)
	if err != nil {
		return 0, err
	}
	c, err := s.Consumer(ctx, durable)
	if err != nil {
		return 0, fmt.Errorf("consumer %s: %w", durable, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("consumer %s: %w", durable, err)
	}
	return info.NumPending, nil
}

// cutChanges returns the ids of the procedure changes whose events the raw log lacks: what a projector killed after
// writing a batch's derived rows and before its raw log leaves behind, until the batch comes again.
func cutChanges(ctx context.Context, conn driver.Conn) (map[string]bool, error) {
	_, ids, err := queryRows(ctx, conn, "SELECT event_id FROM procedure_changes WHERE event_id NOT IN (SELECT id FROM events)")
	if ex := (*clickhouse.Exception)(nil); errors.As(err, &ex) && ex.Code == 60 { // UNKNOWN_TABLE
		return map[string]bool{}, nil // killed during its start, before it made the tables: nothing cut
	}
	if err != nil {
		return nil, err
	}
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	return set, nil
}

// newIn reports whether now holds an id that before does not.
func newIn(now, before map[string]bool) bool {
	for id := range now {
		if !before[id] {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
