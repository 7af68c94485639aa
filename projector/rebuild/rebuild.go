// Package rebuild recreates the projector's ClickHouse tables from the event stream: it drops them, replays the whole
// stream through the projector's own consumer and store, and reports what it wrote.
//
// Replaying through the same code that maintains the tables live is what makes the rebuilt tables equal the live
// ones. A rebuild is a stop-the-world operation: no `projector run` may consume meanwhile, and dashboards show partial
// figures until it ends. Run refuses to start while the projector's durable consumer is visibly in use, but that
// check is a guard against the common mistake, not a lock, and it sees only projectors on the same NATS server: two
// processes that each embed a server on one store directory (EGOV_NATS_URL empty) do not see each other.
package rebuild

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/egovtrack/egovtrack/internal/chsql"
	"github.com/egovtrack/egovtrack/internal/progress"
	"github.com/egovtrack/egovtrack/projector/consumer"
	"github.com/egovtrack/egovtrack/projector/migrations"
)

// ErrProjectorRunning is returned, wrapped with the evidence, when the durable consumer is in use: a client is
// pulling from it, or it handed out messages within its AckWait that nobody acknowledged yet.
var ErrProjectorRunning = errors.New("the projector is running")

// ErrNewerSchema is returned, wrapped, when the database holds migrations this projector does not know: a newer
// projector owns it, and rebuilding with this one would bring back an older schema.
var ErrNewerSchema = errors.New("the database has a newer schema than this projector")

// Result is what a rebuild did.
type Result struct {
	Projected int // valid events written: the raw log's rows
	// Skipped counts the messages that repeat an event already written: the stream holds an event twice when it was
	// published again after JetStream's duplicate window. They are not projected again, nor counted as projected.
	Skipped  int
	Rejected int // messages quarantined
	// Verified counts the signatures verified; Trusted, those the verdicts recorded when they were first verified
	// vouched for (the table signature_verdicts, which the rebuild keeps).
	Verified, Trusted int
	Batches           int
	Took              time.Duration
	Rows              []TableRows // every table after the rebuild, in schema order
}

// TableRows is how many rows a table holds, read with FINAL where the engine merges rows.
type TableRows struct {
	Table string
	Rows  uint64
}

// Print writes the final count: events projected, repeats skipped, rejections, time and every table's rows.
func (r Result) Print(w io.Writer) error {
	width := len("table")
	for _, t := range r.Rows {
		width = max(width, len(t.Table))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "rebuilt in %s, in %d batches:\n", r.Took.Round(10*time.Millisecond), r.Batches)
	for _, c := range []struct {
		what string
		n    int
	}{{"events projected", r.Projected}, {"repeats skipped (an event the stream holds twice)", r.Skipped}, {"messages rejected", r.Rejected},
		{"signatures verified", r.Verified}, {"signatures vouched for by the verdicts recorded when first verified", r.Trusted}} {
		fmt.Fprintf(&b, "  %10d %s\n", c.n, c.what)
	}
	fmt.Fprintf(&b, "  %-*s %10s\n", width, "table", "rows")
	for _, t := range r.Rows {
		fmt.Fprintf(&b, "  %-*s %10d\n", width, t.Table, t.Rows)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Project writes the whole stream into freshly created tables through the projector's own store and consumer (the
// durable consumer cfg.Durable, until caught up), calling started once that consumer exists: projector/projection's
// wiring, which `projector run` uses too.
type Project func(ctx context.Context, started func()) (consumer.Stats, error)

// Run rebuilds every table of the projector in conn's database from the stream s, with the consumer settings cfg
// (its Durable names the consumer it recreates). It draws a progress bar on out when out is a terminal, and logs
// progress otherwise. In order, it:
//
//  1. refuses with ErrProjectorRunning when the durable consumer is in use, and with ErrNewerSchema when the database
//     was migrated by a newer projector;
//  2. deletes the durable consumer, so that the next consumer reads the stream from its start;
//  3. drops every table the schema creates (see Tables) and schema_migrations;
//  4. calls project, which applies the schema again, writes the units, creates the durable consumer again and runs
//     it until it has written every message of the stream, exactly as `projector run` does;
//  5. counts every table's rows.
//
// Every step leaves a state that `projector run`, or another rebuild, completes: the consumer is deleted before the
// tables are dropped, so a rebuild cut short never leaves empty tables behind a consumer that has moved on. When ctx
// ends during step 4, the consumer stops as `projector run` does on SIGTERM and Run returns ctx's error: the durable
// consumer remembers what was acknowledged, and `projector run` writes the rest (what was delivered but not
// acknowledged comes back after AckWait).
func Run(ctx context.Context, conn driver.Conn, s jetstream.Stream, cfg consumer.Config, out io.Writer, log *slog.Logger, project Project) (Result, error) {
	began := time.Now()
	var res Result
	if err := cfg.Validate(); err != nil {
		return res, err
	}
	tables, err := Tables()
	if err != nil {
		return res, err
	}
	if err := checkIdle(ctx, s, cfg.Durable); err != nil {
		return res, err
	}
	if err := checkSchemaKnown(ctx, conn); err != nil {
		return res, err
	}
	si, err := s.Info(ctx)
	if err != nil {
		return res, fmt.Errorf("stream info: %w", err)
	}
	total := si.State.Msgs
	log.Info("rebuilding every projection from the stream; the projector must stay stopped until the rebuild ends",
		"stream", si.Config.Name, "messages", total, "last_seq", si.State.LastSeq, "consumer", cfg.Durable, "tables", len(tables))

	if err := s.DeleteConsumer(ctx, cfg.Durable); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return res, fmt.Errorf("delete consumer %s: %w", cfg.Durable, err)
	}
	log.Info("consumer deleted", "consumer", cfg.Durable)
	if err := dropTables(ctx, conn, tables); err != nil {
		return res, err
	}
	log.Info("tables dropped", "tables", strings.Join(tables, " "))
	stopProgress := func() {}
	stats, err := project(ctx, func() { stopProgress = showProgress(ctx, s, cfg.Durable, total, out, log) })
	stopProgress()
	// The consumer counts an event the raw log already held as projected too: here it is a repeat, said apart.
	res.Projected, res.Skipped, res.Rejected, res.Batches = stats.Projected-stats.Skipped, stats.Skipped, stats.Rejected, stats.Batches
	res.Verified, res.Trusted = stats.Verified, stats.Trusted
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		res.Took = time.Since(began)
		log.Warn("rebuild stopped before the end of the stream; `projector run` continues from where it stopped",
			"projected", res.Projected, "skipped", res.Skipped, "rejected", res.Rejected)
		return res, fmt.Errorf("rebuild stopped after %d messages: %w", stats.Projected+stats.Rejected, err)
	}

	res.Rows, err = countRows(ctx, conn, tables)
	res.Took = time.Since(began)
	if err != nil {
		return res, err
	}
	log.Info("rebuild done", "projected", res.Projected, "skipped", res.Skipped, "rejected", res.Rejected, "verified", res.Verified,
		"trusted", res.Trusted, "batches", res.Batches, "took", res.Took.Round(time.Millisecond))
	return res, nil
}

// checkIdle returns ErrProjectorRunning when the durable consumer looks in use. The server drops the pull requests of
// clients that went away before it answers, so waiting pull requests mean a live client; and messages delivered
// within AckWait but not acknowledged mean a projector writing a batch (a crashed one holds the rebuild off for at
// most AckWait).
func checkIdle(ctx context.Context, s jetstream.Stream, durable string) error {
	cons, err := s.Consumer(ctx, durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("consumer %s: %w", durable, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("consumer %s: %w", durable, err)
	}
	if info.NumWaiting > 0 {
		return fmt.Errorf("%w: a client is pulling from consumer %s (pull requests waiting: %d); stop every `projector run` first",
			ErrProjectorRunning, durable, info.NumWaiting)
	}
	if info.NumAckPending > 0 && info.Delivered.Last != nil {
		now := info.TimeStamp
		if now.IsZero() {
			now = time.Now()
		}
		if ago := now.Sub(*info.Delivered.Last); ago < info.Config.AckWait {
			return fmt.Errorf("%w: consumer %s handed out %d messages %s ago that are not acknowledged yet; stop every `projector run` first (after a crash, wait %s)",
				ErrProjectorRunning, durable, info.NumAckPending, ago.Round(time.Second), (info.Config.AckWait - ago).Round(time.Second))
		}
	}
	return nil
}

// checkSchemaKnown returns ErrNewerSchema when schema_migrations records a version later than the last embedded one.
func checkSchemaKnown(ctx context.Context, conn driver.Conn) error {
	var n uint64
	if err := conn.QueryRow(ctx, chsql.TableExists.SQL, MigrationsTable).Scan(&n); err != nil {
		return fmt.Errorf("look for %s: %w", MigrationsTable, err)
	}
	if n == 0 {
		return nil
	}
	var recorded uint32
	if err := conn.QueryRow(ctx, chsql.LatestMigration.SQL).Scan(&recorded); err != nil {
		return fmt.Errorf("read %s: %w", MigrationsTable, err)
	}
	ms, err := migrations.All()
	if err != nil {
		return err
	}
	var known uint32
	if len(ms) > 0 {
		known = ms[len(ms)-1].Version
	}
	if recorded > known {
		return fmt.Errorf("%w: migration %04d is applied, this projector knows up to %04d; rebuild with the newer projector",
			ErrNewerSchema, recorded, known)
	}
	return nil
}

// dropTables drops the tables last created first, so that a view goes before the tables it reads, and then the
// record of the migrations, so that store.Open applies them all again.
func dropTables(ctx context.Context, conn driver.Conn, tables []string) error {
	for i := len(tables) - 1; i >= -1; i-- {
		t := MigrationsTable
		if i >= 0 {
			t = tables[i]
		}
		if err := conn.Exec(ctx, chsql.DropTable(t).SQL); err != nil {
			return fmt.Errorf("drop table %s: %w", t, err)
		}
	}
	return nil
}

// countRows counts every table's rows, with FINAL on the engines that merge rows, as the dashboards read them.
func countRows(ctx context.Context, conn driver.Conn, tables []string) ([]TableRows, error) {
	out := make([]TableRows, 0, len(tables))
	for _, t := range tables {
		var engine string
		if err := conn.QueryRow(ctx, chsql.TableEngine.SQL, t).Scan(&engine); err != nil {
			return out, fmt.Errorf("engine of %s: %w", t, err)
		}
		// A rebuild owns the database: merging a SummingMergeTree table first (CountRowsOf) costs nobody anything.
		stmts := chsql.CountRowsOf(t, engine)
		if len(stmts) == 0 {
			continue // a materialized view's rows are its target table's, counted there
		}
		for _, st := range stmts[:len(stmts)-1] {
			if err := conn.Exec(ctx, st.SQL); err != nil {
				return out, fmt.Errorf("%s: %w", st.Name, err)
			}
		}
		var n uint64
		if err := conn.QueryRow(ctx, stmts[len(stmts)-1].SQL).Scan(&n); err != nil {
			return out, fmt.Errorf("count rows of %s: %w", t, err)
		}
		out = append(out, TableRows{Table: t, Rows: n})
	}
	return out, nil
}

// progressEvery is how often the progress bar asks the consumer how far it got: often enough for a smooth bar, one
// small JetStream request each time.
const progressEvery = 250 * time.Millisecond

// showProgress reports, until the returned func is called, how many of the total messages the durable consumer has
// acknowledged: those of the stream minus those not yet delivered or not yet acknowledged. It reads the consumer's
// state from JetStream rather than from the consumer, which has no hook for it.
func showProgress(ctx context.Context, s jetstream.Stream, durable string, total uint64, out io.Writer, log *slog.Logger) (stop func()) {
	bar := progress.New("rebuilding", int(total), out, log)
	ctx, cancel := context.WithCancel(ctx)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(progressEvery)
		defer tick.Stop()
		var done uint64
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			cons, err := s.Consumer(ctx, durable)
			if err != nil {
				continue // the next tick tries again; progress is no reason to fail
			}
			ci := cons.CachedInfo()
			left := ci.NumPending + uint64(ci.NumAckPending)
			// Messages published meanwhile count as left too: the bar then waits rather than going back.
			if left < total && total-left > done {
				done = total - left
				bar.Set(int(done))
			}
		}
	}()
	return func() {
		cancel()
		<-finished
		bar.Done()
	}
}
