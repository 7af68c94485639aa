package rebuild_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/egovtrack/egovtrack/collectors/simulate"
	"github.com/egovtrack/egovtrack/internal/chdb"
	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
	"github.com/egovtrack/egovtrack/internal/chsql"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
	"github.com/egovtrack/egovtrack/internal/units"
	"github.com/egovtrack/egovtrack/projector/consumer"
	"github.com/egovtrack/egovtrack/projector/migrations"
	"github.com/egovtrack/egovtrack/projector/projection"
	"github.com/egovtrack/egovtrack/projector/rebuild"
	"github.com/egovtrack/egovtrack/projector/store"
)

func TestMain(m *testing.M) { chdbtest.Main(m) }

var quiet = slog.New(slog.DiscardHandler)

// The live projector and the rebuild cut the stream into different batches, as they do in production: the live one
// writes events as they trickle in, the rebuild in full batches.
var (
	liveConfig    = consumer.Config{Durable: "projector", BatchSize: 300, FlushInterval: 20 * time.Millisecond, AckWait: time.Minute}
	rebuildConfig = consumer.Config{Durable: "projector", BatchSize: 5000, FlushInterval: 50 * time.Millisecond, AckWait: time.Minute}
)

type rig struct {
	nats stream.Config
	ch   chdb.Config
	conn driver.Conn
	ids  int // distinct event ids published
}

// newRig publishes the simulated campaign of n units, spread over ministries and provinces, to an embedded server,
// and makes a fresh ClickHouse database. Every projector below, live or rebuilding, gets its own connections and
// closes them when done, as a separate process would.
func newRig(t testing.TB, n int) *rig {
	t.Helper()
	ctx := context.Background()
	r := &rig{nats: streamtest.New(t), ch: chdbtest.New(t)}
	r.conn = chdbtest.Conn(t, r.ch)
	o := simulate.Campaign2021(2021)
	if all := units.All(); n < len(all) {
		for i := range n {
			o.Units = append(o.Units, all[i*len(all)/n])
		}
	}
	envs, err := simulate.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, e := range envs {
		ids[e.ID] = true
	}
	r.ids = len(ids)
	nc := r.connect(t)
	defer nc.Close()
	if _, err := simulate.Run(ctx, nc, o, io.Discard, quiet); err != nil {
		t.Fatal(err)
	}
	// A dossier, and a reorganisation after the campaign, so that their tables have rows to rebuild: the first unit
	// merged into the second, which is renamed.
	us := o.Units
	if len(us) < 2 {
		us = units.All()
	}
	decided := time.Date(2021, 12, 20, 2, 0, 0, 0, time.UTC)
	var lineage []event.Envelope
	received := time.Date(2021, 12, 20, 3, 0, 0, 0, time.UTC)
	for _, d := range []event.Data{
		&event.DossierReceivedData{Unit: us[1].Ref, Procedure: "1.000001", Dossier: strings.Repeat("cd", 32), Channel: event.ChannelPost,
			ReceivedAt: received, DueAt: received.AddDate(0, 0, 10)},
		&event.DossierSettledData{Unit: us[1].Ref, Dossier: strings.Repeat("cd", 32), SettledAt: received.AddDate(0, 0, 3)},
		&event.UnitMergedData{Successor: us[1].Ref, Name: "Hợp nhất", Predecessors: []units.Ref{us[0].Ref, us[1].Ref}, EffectiveOn: "2022-01-01", DecidedAt: decided},
		&event.UnitRenamedData{Unit: us[1].Ref, Name: "Đổi tên", EffectiveOn: "2022-02-01", DecidedAt: decided},
	} {
		env, err := event.New("/egovtrack/test/rebuild", d)
		if err != nil {
			t.Fatal(err)
		}
		lineage = append(lineage, env)
	}
	if _, err := nc.Publish(ctx, lineage, nil); err != nil {
		t.Fatal(err)
	}
	r.ids += len(lineage)
	return r
}

func (r *rig) connect(t testing.TB) *stream.Conn {
	t.Helper()
	nc, err := stream.Connect(context.Background(), r.nats, quiet)
	if err != nil {
		t.Fatal(err)
	}
	return nc
}

func streamOf(t testing.TB, nc *stream.Conn) jetstream.Stream {
	t.Helper()
	s, err := nc.Stream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// projectLive runs `projector run` until it has caught up with the stream.
func (r *rig) projectLive(t testing.TB) consumer.Stats {
	t.Helper()
	return r.project(t, liveConfig)
}

func (r *rig) project(t testing.TB, cfg consumer.Config) consumer.Stats {
	t.Helper()
	ctx := context.Background()
	nc := r.connect(t)
	defer nc.Close()
	p := projection.New(chdbtest.Conn(t, r.ch), streamOf(t, nc), projection.Config{Consumer: cfg, UntilCaughtUp: true}, nil, quiet)
	stats, err := p.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return stats
}

// rebuild runs `projector rebuild`.
func (r *rig) rebuild(ctx context.Context, t testing.TB) (rebuild.Result, error) {
	t.Helper()
	nc := r.connect(t)
	defer nc.Close()
	return rebuildWith(ctx, t, r, nc, rebuildConfig)
}

// rebuildWith is `projector rebuild` with the consumer settings cfg, on the rig's database and nc's stream.
func rebuildWith(ctx context.Context, t testing.TB, r *rig, nc *stream.Conn, cfg consumer.Config) (rebuild.Result, error) {
	t.Helper()
	p := projection.New(chdbtest.Conn(t, r.ch), streamOf(t, nc), projection.Config{Consumer: cfg}, nil, quiet)
	return p.Rebuild(ctx, io.Discard)
}

func (r *rig) mustRebuild(t testing.TB) rebuild.Result {
	t.Helper()
	res, err := r.rebuild(context.Background(), t)
	if err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	return res
}

func (r *rig) count(t testing.TB, q string) uint64 {
	t.Helper()
	var n uint64
	if err := r.conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// differs lists the columns whose values legitimately depend on the run rather than on the events.
//
// events.projected_at is when the row reached ClickHouse (for the ingestion lag): a rebuild writes every row again,
// later.
//
// coverage_daily.version counts the changes of the unit stored when the row was written. A day's row that no later
// batch rewrites keeps the count of its batch, so the version depends on where the stream was cut into batches; it
// only orders a row's versions for ReplacingMergeTree. The figures it versions are compared.
//
// unit_holders.version is when the projector computed the holdings: the latest computation's rows win.
//
// Nothing else differs: events.received_at and quarantine.received_at are the stream's own timestamps of the
// messages, the same on every delivery, and procedures.version counts all the changes of a procedure, which are
// all stored when its last change is written.
var differs = map[string][]string{
	"events":         {"projected_at"},
	"coverage_daily": {"version"},
	"unit_holders":   {"version"},
}

// counted are the tables that count events by when they were received (migration 0002), by their time column. Their
// lag comes from events.projected_at, so only how many events each second or hour received is compared.
var counted = map[string]string{
	"ingestion_lag":        "received_at",
	"ingestion_lag_hourly": "hour",
}

// snapshot reads every table with FINAL, all its columns but those in differs, in a total order; a row is its
// columns' text joined by tabs.
func snapshot(t testing.TB, conn driver.Conn) map[string][]string {
	t.Helper()
	ctx := context.Background()
	tables, err := rebuild.Tables()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, table := range tables {
		if isView(t, conn, table) {
			continue // its rows are its target table's
		}
		if at, ok := counted[table]; ok {
			out[table] = rowsOf(t, conn, fmt.Sprintf("SELECT concat(toString(%s), '\t', toString(sum(events))) FROM %s GROUP BY %[1]s ORDER BY %[1]s",
				chsql.QuoteIdent(at), chsql.QuoteIdent(table)))
			continue
		}
		rows, err := conn.Query(ctx, "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = ?", table)
		if err != nil {
			t.Fatal(err)
		}
		var cols, texts []string
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(differs[table], c) {
				cols = append(cols, c)
				texts = append(texts, fmt.Sprintf("ifNull(toString(%s), 'NULL')", chsql.QuoteIdent(c)))
			}
		}
		rows.Close()
		if len(cols) == 0 {
			t.Fatalf("table %s has no columns to compare", table)
		}
		out[table] = rowsOf(t, conn, fmt.Sprintf("SELECT arrayStringConcat([%s], '\t') FROM %s FINAL ORDER BY %s",
			strings.Join(texts, ", "), chsql.QuoteIdent(table), strings.Join(cols, ", ")))
	}
	return out
}

// rowsOf returns the single string column of every row of q.
func rowsOf(t testing.TB, conn driver.Conn, q string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var row string
		if err := rows.Scan(&row); err != nil {
			t.Fatal(err)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// isView reports whether a table of the schema is a view, which holds no rows of its own.
func isView(t testing.TB, conn driver.Conn, table string) bool {
	t.Helper()
	var engine string
	if err := conn.QueryRow(context.Background(), "SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = ?", table).Scan(&engine); err != nil {
		t.Fatalf("engine of %s: %v", table, err)
	}
	return strings.HasSuffix(engine, "View")
}

// sameTables reports, row by row, where two snapshots differ.
func sameTables(t testing.TB, want, got map[string][]string) {
	t.Helper()
	for table, w := range want {
		g := got[table]
		if len(g) != len(w) {
			t.Errorf("%s: %d rows, want %d", table, len(g), len(w))
		}
		shown := 0
		for i := range min(len(w), len(g)) {
			if w[i] != g[i] && shown < 5 {
				shown++
				t.Errorf("%s row %d:\n got  %s\n want %s", table, i, g[i], w[i])
			}
		}
	}
}

func caughtUp(t testing.TB, r *rig) {
	t.Helper()
	nc := r.connect(t)
	defer nc.Close()
	cons, err := streamOf(t, nc).Consumer(context.Background(), rebuildConfig.Durable)
	if err != nil {
		t.Fatalf("durable consumer after the rebuild: %v", err)
	}
	ci, err := cons.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ci.NumPending != 0 || ci.NumAckPending != 0 {
		t.Errorf("consumer has %d pending and %d unacked after the rebuild, want none: `projector run` would project them again", ci.NumPending, ci.NumAckPending)
	}
}

// The Done-when test: a rebuild of the campaign reproduces the live tables row by row.
func TestRebuildReproducesTheLiveTables(t *testing.T) {
	t.Parallel()
	r := newRig(t, 10)
	live := r.projectLive(t)
	if live.Projected != r.ids {
		t.Fatalf("live projector wrote %d events, want %d", live.Projected, r.ids)
	}
	before := snapshot(t, r.conn)
	for table, rows := range before {
		if len(rows) == 0 && table != "quarantine" {
			t.Errorf("live table %s is empty: comparing it proves nothing", table)
		}
	}

	res := r.mustRebuild(t)

	sameTables(t, before, snapshot(t, r.conn))
	if n := r.count(t, "SELECT count() FROM events"); n != uint64(r.ids) {
		t.Errorf("events holds %d rows without FINAL, want one per published id (%d)", n, r.ids)
	}
	if res.Projected != r.ids || res.Rejected != 0 {
		t.Errorf("rebuild projected %d and rejected %d, want %d and 0", res.Projected, res.Rejected, r.ids)
	}
	for _, tr := range res.Rows {
		if _, ok := before[tr.Table]; !ok || counted[tr.Table] != "" {
			continue // a view, or counts whose rows depend on the lag
		}
		if want := uint64(len(before[tr.Table])); tr.Rows != want {
			t.Errorf("rebuild counted %d rows in %s, want %d", tr.Rows, tr.Table, want)
		}
	}
	caughtUp(t, r)
	ms, _ := migrations.All()
	if n := r.count(t, "SELECT uniqExact(version) FROM schema_migrations"); n != uint64(len(ms)) {
		t.Errorf("schema_migrations records %d migrations after the rebuild, want %d", n, len(ms))
	}
}

// Tables names every table the schema creates but those the rebuild keeps: none is left out, none is invented.
func TestTablesAreTheSchemas(t *testing.T) {
	t.Parallel()
	conn := chdbtest.Conn(t, chdbtest.New(t))
	if _, err := store.Open(context.Background(), conn, quiet, store.Config{}); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(context.Background(), "SELECT name FROM system.tables WHERE database = currentDatabase() AND name != ? ORDER BY name", rebuild.MigrationsTable)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var inDB []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		inDB = append(inDB, n)
	}
	tables, err := rebuild.Tables()
	if err != nil {
		t.Fatal(err)
	}
	// Every table is rebuilt or kept, never both.
	tables = append(tables, migrations.Kept...)
	slices.Sort(tables)
	if !slices.Equal(tables, inDB) {
		t.Errorf("Tables() and the kept tables = %q, the schema creates %q", tables, inDB)
	}
}

// A message that is not an event is quarantined once by the rebuild, as it was live.
func TestRebuildQuarantinesOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t, 3)
	streamtest.Dial(t, r.nats).Publish(t, "egov.province.01.proc.1_000001", []byte(`{"id": 7, "garbage`))
	if live := r.projectLive(t); live.Rejected != 1 {
		t.Fatalf("live projector rejected %d messages, want 1", live.Rejected)
	}
	before := snapshot(t, r.conn)

	res := r.mustRebuild(t)

	if res.Rejected != 1 {
		t.Errorf("rebuild rejected %d messages, want 1", res.Rejected)
	}
	if n := r.count(t, "SELECT count() FROM quarantine"); n != 1 {
		t.Errorf("quarantine holds %d rows without FINAL after the rebuild, want 1", n)
	}
	sameTables(t, before, snapshot(t, r.conn))
}

// A second rebuild gives what the first gave.
func TestRebuildTwice(t *testing.T) {
	t.Parallel()
	r := newRig(t, 3)
	first := r.mustRebuild(t) // on an empty database: nothing was projected live
	once := snapshot(t, r.conn)
	second := r.mustRebuild(t)
	sameTables(t, once, snapshot(t, r.conn))
	if first.Projected != r.ids || second.Projected != r.ids {
		t.Errorf("rebuilds projected %d and %d events, want %d each", first.Projected, second.Projected, r.ids)
	}
	// The counted tables' rows are (second of receipt, lag) pairs: how many depends on how fast each rebuild wrote,
	// not on the stream (snapshot compares what they count instead).
	byStream := func(rows []rebuild.TableRows) []rebuild.TableRows {
		return slices.DeleteFunc(slices.Clone(rows), func(r rebuild.TableRows) bool { _, ok := counted[r.Table]; return ok })
	}
	if !slices.Equal(byStream(first.Rows), byStream(second.Rows)) {
		t.Errorf("rows per table: first %v, second %v", first.Rows, second.Rows)
	}
	if n := r.count(t, "SELECT count() FROM events"); n != uint64(r.ids) {
		t.Errorf("events holds %d rows without FINAL, want %d", n, r.ids)
	}
}

// While a projector consumes, rebuild refuses and touches nothing; once it has stopped, rebuild runs.
func TestRebuildRefusesWhileTheProjectorRuns(t *testing.T) {
	t.Parallel()
	r := newRig(t, 3)
	ctx := context.Background()
	nc := r.connect(t)
	st, err := store.Open(ctx, chdbtest.Conn(t, r.ch), quiet, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s := streamOf(t, nc)
	c, err := consumer.New(ctx, s, liveConfig, st, nil, quiet)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(runCtx, false)
		done <- err
	}()
	waitCaughtUp(t, s)

	_, err = r.rebuild(ctx, t)
	if !errors.Is(err, rebuild.ErrProjectorRunning) {
		t.Errorf("rebuild while the projector runs: %v, want ErrProjectorRunning", err)
	}
	if n := r.count(t, "SELECT count() FROM events"); n != uint64(r.ids) {
		t.Errorf("the refused rebuild left %d events, want all %d", n, r.ids)
	}

	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	nc.Close()
	if _, err := r.rebuild(ctx, t); err != nil {
		t.Errorf("rebuild after the projector stopped: %v", err)
	}
}

// A projector that died holding messages it had not acknowledged holds the rebuild off until JetStream would deliver
// them again, no longer.
func TestRebuildWaitsForTheAckWaitOfACrashedProjector(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1)
	ctx := context.Background()
	nc := r.connect(t)
	s := streamOf(t, nc)
	crashed := liveConfig
	crashed.AckWait = time.Second
	if _, err := consumer.New(ctx, s, crashed, nil, nil, quiet); err != nil {
		t.Fatal(err)
	}
	cons, err := s.Consumer(ctx, crashed.Durable)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(10) // and never acked: the projector dies
	if err != nil {
		t.Fatal(err)
	}
	for range batch.Messages() {
	}
	nc.Close()

	began := time.Now()
	if _, err := r.rebuild(ctx, t); !errors.Is(err, rebuild.ErrProjectorRunning) {
		if time.Since(began) < crashed.AckWait {
			t.Errorf("rebuild right after a crash: %v, want ErrProjectorRunning", err)
		}
	}
	time.Sleep(crashed.AckWait) // nothing else to wait for: the crashed projector never comes back
	if _, err := r.rebuild(ctx, t); err != nil {
		t.Errorf("rebuild an AckWait after a crash: %v", err)
	}
}

// waitCaughtUp waits until the projector has acknowledged every message and is waiting for more.
func waitCaughtUp(t testing.TB, s jetstream.Stream) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for {
		if cons, err := s.Consumer(context.Background(), liveConfig.Durable); err == nil {
			ci, err := cons.Info(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if ci.NumPending == 0 && ci.NumAckPending == 0 && ci.NumWaiting > 0 {
				return
			}
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("the projector did not catch up in 30s")
		}
	}
}

// A database migrated by a newer projector is not rebuilt with an older schema.
func TestRebuildRefusesANewerSchema(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1)
	r.projectLive(t)
	if err := r.conn.Exec(context.Background(), "INSERT INTO schema_migrations (version, name, applied_at) SELECT 9999, 'from_the_future', now()"); err != nil {
		t.Fatal(err)
	}
	_, err := r.rebuild(context.Background(), t)
	if !errors.Is(err, rebuild.ErrNewerSchema) {
		t.Errorf("rebuild of a newer schema: %v, want ErrNewerSchema", err)
	}
	if n := r.count(t, "SELECT count() FROM events"); n != uint64(r.ids) {
		t.Errorf("the refused rebuild left %d events, want all %d", n, r.ids)
	}
}

// A rebuild stopped half-way (SIGINT) leaves the durable consumer where it stopped, and `projector run` completes
// the tables to what a whole rebuild gives.
func TestInterruptedRebuildIsCompletedByRun(t *testing.T) {
	t.Parallel()
	r := newRig(t, 3)
	r.projectLive(t)
	want := snapshot(t, r.conn)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	began := time.Now()
	watch := r.connect(t)
	defer watch.Close()
	s := streamOf(t, watch)
	go func() {
		// Stop once the recreated consumer has acknowledged its first batch.
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for ctx.Err() == nil {
			if cons, err := s.Consumer(ctx, rebuildConfig.Durable); err == nil {
				if ci := cons.CachedInfo(); ci.Created.After(began) && ci.AckFloor.Stream > 0 {
					cancel()
					return
				}
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
			}
		}
	}()
	nc := r.connect(t)
	// Small batches, so that it stops half-way; a short AckWait, so that what it left unacknowledged (the batch whose
	// write it cut short, the messages delivered after it) comes back soon.
	small := rebuildConfig
	small.BatchSize, small.AckWait = 100, time.Second
	res, err := rebuildWith(ctx, t, r, nc, small)
	nc.Close()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted rebuild: %v (projected %d), want context.Canceled", err, res.Projected)
	}
	if res.Projected >= r.ids {
		t.Fatalf("the rebuild projected all %d events before it was interrupted: nothing tested", res.Projected)
	}

	r.project(t, small)
	sameTables(t, want, snapshot(t, r.conn))
	if n := r.count(t, "SELECT count() FROM events"); n != uint64(r.ids) {
		t.Errorf("events holds %d rows without FINAL, want %d", n, r.ids)
	}
}

// The demo campaign: every unit, about 27,000 events. Run with
//
//	go test -run '^$' -bench RebuildCampaign -benchtime 1x ./projector/rebuild
func BenchmarkRebuildCampaign(b *testing.B) {
	r := newRig(b, len(units.All()))
	for b.Loop() {
		nc := r.connect(b)
		res, err := rebuildWith(context.Background(), b, r, nc, consumer.Config{
			Durable: "projector", BatchSize: 5000, FlushInterval: 500 * time.Millisecond, AckWait: time.Minute,
		})
		nc.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(res.Projected)/res.Took.Seconds(), "events/s")
	}
}

// An event the stream holds twice (published again after JetStream's duplicate window, under another message id) is
// projected once: the final count says so, the repeat counted apart, and the raw log holds it once.
func TestRebuildCountsARepeatOnce(t *testing.T) {
	r := newRig(t, 2)
	ctx := context.Background()
	nc := r.connect(t)
	first, err := streamOf(t, nc).GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	again := &nats.Msg{Subject: first.Subject, Data: first.Data, Header: first.Header}
	again.Header.Set(jetstream.MsgIDHeader, first.Header.Get(jetstream.MsgIDHeader)+"-after-the-window")
	if ack, err := streamtest.Dial(t, r.nats).JS.PublishMsg(ctx, again); err != nil || ack.Duplicate {
		t.Fatalf("republish: %+v, %v", ack, err)
	}
	nc.Close()

	res := r.mustRebuild(t)
	if res.Projected != r.ids || res.Skipped != 1 || res.Rejected != 0 {
		t.Errorf("rebuild: %d projected, %d skipped, %d rejected; want %d, 1 and 0", res.Projected, res.Skipped, res.Rejected, r.ids)
	}
	if n := r.count(t, "SELECT count() FROM events"); n != uint64(r.ids) {
		t.Errorf("the raw log holds %d rows, want %d", n, r.ids)
	}
	var out strings.Builder
	if err := res.Print(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{fmt.Sprintf("%10d events projected", r.ids), fmt.Sprintf("%10d repeats skipped", 1)} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the count does not say %q:\n%s", want, out.String())
		}
	}
}
