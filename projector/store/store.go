// Package store writes batches of events into the projector's ClickHouse tables (see projector/migrations) and keeps
// the derived ones, the current state of every procedure and the daily coverage of every unit, up to date.
//
// Every write is idempotent: rows are keyed by event id, and derived rows hold whole values, versioned by how many
// changes they fold, never increments. Writing a batch again after a crash or a redelivery therefore changes nothing.
package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/egovtrack/egovtrack/internal/chsql"
	"github.com/egovtrack/egovtrack/internal/coverage"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
	"github.com/egovtrack/egovtrack/projector/migrations"
)

// Record is one message of the stream, decoded.
type Record struct {
	Env        event.Envelope
	Data       event.Data
	Seq        uint64 // stream sequence
	ReceivedAt time.Time
	// SubmittedBy is the credential or collector that submitted the event; empty means its source.
	SubmittedBy string
	// Verdict, when set, is the verdict on the message's signature, verified for this batch: the store records it
	// (table signature_verdicts) with the batch, before its events, so that replays rely on it (see Verdicts).
	Verdict *Verdict
}

// Verdict is what the consumer found when it verified a signed message: the digest of what it verified
// (natsauth.Digest) and who signed it.
type Verdict struct {
	Digest      string
	SubmittedBy string
}

// Rejected is a message that could not be decoded or did not pass the contract.
type Rejected struct {
	Seq        uint64
	Subject    string
	Payload    []byte
	Reason     string
	ReceivedAt time.Time
}

// Store writes to one ClickHouse database.
//
// It keeps each unit's coverage fold in memory, so that a batch of changes that follow those stored need not read
// them back; see unitFold for what that assumes.
type Store struct {
	conn driver.Conn
	log  *slog.Logger
	cfg  Config

	mu    sync.Mutex // one write at a time: the folds follow the tables
	folds map[units.Ref]*unitFold
	// lineage are the units unit_holders names, nil until the store computed it (on its first batch).
	lineage *lineageUnits
	// edges are unit_lineage's rows with their stream sequences, nil until read (afterMergers, refreshHoldings).
	edges []Edge
	// names holds one copy of each procedure name and sector the folds keep: the national catalogue gives most
	// procedures the same name in every unit.
	names map[string]string
	// How many times a unit's batch was added to its fold, and how many times a unit was folded from the table.
	extended, reloaded int
	// lastDays is each unit's last day in coverage_daily, as the store wrote it; nil until it is read (after a start
	// or a failed write). Only this store writes its units, so between reads it follows them; the latest day of all,
	// which other projector instances move too, is read every batch when there are several (Config.Owns set), from
	// the recent partitions only, and followed like the rest by a single projector (latestDay).
	lastDays  map[units.Ref]time.Time
	latestDay time.Time
	// open remembers recent dossiers' stored facts (nil when Config.OpenDossiers < 0); dossiersRead and
	// dossiersRemembered count the batches' dossiers read back from dossier_facts and found remembered.
	open                             *openDossiers
	dossiersRead, dossiersRemembered int
}

// Config is what a Store is opened with besides its connection. The zero Config writes every unit.
type Config struct {
	// Owns limits the units whose coverage the store carries forward to those it reports; nil: all. With several
	// projector instances, each writing the units of its partition, an instance that carried another's unit forward
	// would copy that unit's last row with its version while the owner rewrites it, and the stale copy could win the
	// tie.
	Owns func(units.Ref) bool

	// AfterCarry and BeforeRows, when set, are called by every Write: AfterCarry between carrying untouched units
	// forward and writing the touched ones, BeforeRows after the folds took the batch and before their rows are
	// written. An error they return fails the Write there, as a projector killed at that point: tests use them to
	// show that the redelivery repairs what such a crash leaves (a crash after carrying forward once left gaps in the
	// touched units' series). BeforeRawLog is called after everything else, just before the raw log is written: a
	// crash there leaves every derived row of the batch written, and the batch to be delivered again. Nil outside
	// tests. BeforeCounts is called after the batch's dossier facts are written, before their counts.
	AfterCarry, BeforeRows, BeforeCounts, BeforeRawLog func() error

	// OpenDossiers is how many dossiers the store remembers between batches (see OpenDossiers, the default when
	// 0); below 0, none: every batch reads its dossiers' facts back.
	OpenDossiers int
}

// ErrOldIDs is returned by Open for a database projected before events were keyed by the current rule of ids.
var ErrOldIDs = errors.New("this database was projected before December 2026, when event ids changed rule: " +
	"events written again would be stored twice; run `projector rebuild` once, which projects it again")

// Open applies the schema and writes the units' reference data. It refuses, with ErrOldIDs, a database whose events
// are keyed by the old rule of ids (see migrations.CurrentIDs).
func Open(ctx context.Context, conn driver.Conn, log *slog.Logger, cfg Config) (*Store, error) {
	if err := checkIDRule(ctx, conn); err != nil {
		return nil, err
	}
	if _, err := migrations.Apply(ctx, conn, log); err != nil {
		return nil, err
	}
	s := &Store{conn: conn, log: log, cfg: cfg, folds: map[units.Ref]*unitFold{}, names: map[string]string{},
		open: newOpenDossiers(cmp.Or(cfg.OpenDossiers, OpenDossiers))}
	if err := s.writeUnits(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// checkIDRule returns ErrOldIDs when the database holds events and its migrations stop before migrations.CurrentIDs.
func checkIDRule(ctx context.Context, conn driver.Conn) error {
	versions, err := migrations.Applied(ctx, conn)
	if err != nil || len(versions) == 0 || slices.Contains(versions, migrations.CurrentIDs) {
		return err // a new database, or one keyed by the current rule
	}
	var n uint64
	if err := conn.QueryRow(ctx, chsql.CountRows("events", false).SQL).Scan(&n); err != nil {
		return fmt.Errorf("count events: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("%w (%d events)", ErrOldIDs, n)
	}
	return nil
}

func (s *Store) writeUnits(ctx context.Context) error {
	b, err := s.conn.PrepareBatch(ctx, chsql.InsertUnits.SQL)
	if err != nil {
		return fmt.Errorf("prepare units insert: %w", err)
	}
	for _, u := range units.All() {
		var lat, lon *float64
		if u.Location != nil {
			lat, lon = &u.Location.Lat, &u.Location.Lon
		}
		if err := b.Append(string(u.Kind), u.Code, u.Name, lat, lon, uint16(u.Cadence.Hours()/24)); err != nil {
			return fmt.Errorf("append unit %s: %w", u.Ref, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert units: %w", err)
	}
	return nil
}

// Ping reports whether ClickHouse answers, writing nothing.
func (s *Store) Ping(ctx context.Context) error { return s.conn.Ping(ctx) }

// Write stores a batch. It writes what the events change first (their procedure changes, assistant stages, reports
// and targets, the quarantined messages, the recomputed state of every procedure and unit they touch) and the events
// themselves into the raw log last, skipping events the raw log already holds. A batch cut short by a crash or an
// outage is therefore written again in full when it is redelivered, and the raw log ends up holding each event once.
// It returns only when ClickHouse has accepted all of it, but for the events that can never be written, which it
// quarantines (see WriteBatch).
func (s *Store) Write(ctx context.Context, recs []Record, rejected []Rejected) error {
	_, err := s.WriteBatch(ctx, recs, rejected)
	return err
}

// WriteBatch is Write, also saying what it skipped and what it refused. An event that can never be written (a time
// the tables cannot hold, a value ClickHouse refuses: see Refusing) does not stop the others: the store finds it by
// writing parts of the batch (isolate), quarantines it with the reason, and writes the rest. Any other error is
// returned, nothing of the batch being known written: write it again later.
func (s *Store) WriteBatch(ctx context.Context, recs []Record, rejected []Rejected) (Written, error) {
	var w Written
	storableRecs := recs[:0:0]
	for _, r := range recs {
		if err := storable(r); err != nil {
			w.Refused = append(w.Refused, refused(r, err))
			continue
		}
		storableRecs = append(storableRecs, r)
	}
	fresh, err := s.unwritten(ctx, storableRecs)
	if err != nil {
		return Written{}, err
	}
	w.Skipped = len(storableRecs) - len(fresh)
	s.mu.Lock()
	fresh, gone, err := s.afterMergers(ctx, fresh)
	s.mu.Unlock()
	if err != nil {
		return Written{}, err
	}
	w.Refused = append(w.Refused, gone...)
	rejected = append(slices.Clip(rejected), w.Refused...)
	err = s.writeFresh(ctx, fresh, rejected)
	if err != nil && Refusing(err) {
		var more []Rejected
		if more, err = s.isolate(ctx, fresh, rejected, err); err == nil {
			if err = s.writeFresh(ctx, nil, more); err == nil {
				w.Refused = append(w.Refused, more...)
			}
		}
	}
	if err != nil {
		return Written{}, err
	}
	return w, nil
}

func (s *Store) writeFresh(ctx context.Context, fresh []Record, rejected []Rejected) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writeAll(ctx, fresh, rejected); err != nil {
		// The folds and the last days may be ahead of what the tables hold now: read them again next time.
		s.forget(fresh)
		s.open.forget(fresh)
		s.lastDays = nil
		s.lineage, s.edges = nil, nil
		return err
	}
	s.open.commit()
	return nil
}

func (s *Store) writeAll(ctx context.Context, fresh []Record, rejected []Rejected) error {
	if err := s.insertDerived(ctx, fresh); err != nil {
		return err
	}
	if err := s.insertRejected(ctx, rejected); err != nil {
		return err
	}
	if err := s.refresh(ctx, fresh); err != nil {
		return err
	}
	if s.cfg.BeforeCounts != nil {
		if err := s.cfg.BeforeCounts(); err != nil {
			return err
		}
	}
	// After the facts it reads, before the raw log.
	if err := s.countDossiers(ctx, fresh); err != nil {
		return err
	}
	// After the procedures and reports it reads, before the raw log: a crash in between computes it again.
	if s.holdingsTouched(fresh) {
		if err := s.refreshHoldings(ctx); err != nil {
			return err
		}
	}
	if s.cfg.BeforeRawLog != nil {
		if err := s.cfg.BeforeRawLog(); err != nil {
			return err
		}
	}
	return s.insertEvents(ctx, fresh)
}

// unwritten returns the records whose events the raw log does not hold yet, each event once (the first delivery of
// one delivered twice in the batch).
func (s *Store) unwritten(ctx context.Context, recs []Record) ([]Record, error) {
	// The batch's ids go as external data, a temporary table of the query: ClickHouse 18.16 takes seconds to parse
	// and analyse thousands of toUUID('…') literals, and milliseconds to read the same ids this way.
	ids, err := ext.NewTable(chsql.BatchIDs, ext.Column("id", "UUID"))
	if err != nil {
		return nil, fmt.Errorf("look up written events: %w", err)
	}
	seen := make(map[uuid.UUID]bool, len(recs))
	var first, last time.Time
	for _, r := range recs {
		if first.IsZero() || r.Env.Time.Before(first) {
			first = r.Env.Time
		}
		if r.Env.Time.After(last) {
			last = r.Env.Time
		}
		id, err := uuid.Parse(r.Env.ID)
		if err != nil {
			return nil, fmt.Errorf("event at stream sequence %d: id %q is not a UUID: %w", r.Seq, r.Env.ID, err)
		}
		if !seen[id] {
			seen[id] = true
			if err := ids.Append(id); err != nil {
				return nil, fmt.Errorf("look up written events: %w", err)
			}
		}
	}
	stored := map[uuid.UUID]bool{}
	if len(seen) > 0 {
		rows, err := s.conn.Query(clickhouse.Context(ctx, clickhouse.WithExternalTable(ids)), chsql.WrittenIDs.SQL, first.Unix(), last.Unix())
		if err != nil {
			return nil, fmt.Errorf("look up written events: %w", err)
		}
		for rows.Next() {
			var id uuid.UUID
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("look up written events: %w", err)
			}
			stored[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("look up written events: %w", err)
		}
	}
	out := make([]Record, 0, len(recs))
	for _, r := range recs {
		id := uuid.MustParse(r.Env.ID)
		if stored[id] {
			continue
		}
		stored[id] = true // the next delivery of it in this batch is a repeat
		out = append(out, r)
	}
	return out, nil
}

// inserter fills one table in one INSERT; it skips the round trip when it gets no rows. It holds the rows until
// send, so that no INSERT stays open while the store reads, or after an error.
type inserter struct {
	conn  driver.Conn
	query string
	rows  [][]any
}

func (in *inserter) add(vals ...any) { in.rows = append(in.rows, vals) }

func (in *inserter) send(ctx context.Context) error {
	if len(in.rows) == 0 {
		return nil
	}
	b, err := in.conn.PrepareBatch(ctx, in.query)
	if err != nil {
		return fmt.Errorf("prepare %q: %w", in.query, err)
	}
	for _, vals := range in.rows {
		if err := b.Append(vals...); err != nil {
			_ = b.Abort() // the connection goes back to the pool
			return fmt.Errorf("append to %q: %w: %w", in.query, errAppend, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("%s: %w", in.query, err)
	}
	in.rows = nil
	return nil
}

func (s *Store) insertDerived(ctx context.Context, recs []Record) error {
	ins := func(st chsql.Statement) *inserter { return &inserter{conn: s.conn, query: st.SQL} }
	changes := ins(chsql.InsertProcedureChanges)
	assistant := ins(chsql.InsertAssistantChanges)
	reports := ins(chsql.InsertReports)
	targets := ins(chsql.InsertTargets)
	verdicts := ins(chsql.InsertVerdicts)
	lineage := ins(chsql.InsertLineage)
	names := ins(chsql.InsertUnitNames)
	dossiers := ins(chsql.InsertDossierFacts)
	months := ins(chsql.InsertDossierMonths)
	now := time.Now()

	for _, r := range recs {
		if v := r.Verdict; v != nil {
			verdicts.add(r.Seq, v.Digest, v.SubmittedBy, now)
		}
		id := uuid.MustParse(r.Env.ID) // checked by unwritten
		u, _ := event.UnitOf(r.Data)
		kind, code := string(u.Kind), u.Code
		switch d := r.Data.(type) {
		case *event.ProcedureRegisteredData:
			changes.add(kind, code, d.Procedure, id, r.Seq, "registered", d.EffectiveAt, coverage.DayOf(d.EffectiveAt), d.Name, d.Sector, boolU8(d.Eligible), uint8(d.Level))
		case *event.LevelChangedData:
			changes.add(kind, code, d.Procedure, id, r.Seq, "level_changed", d.EffectiveAt, coverage.DayOf(d.EffectiveAt), "", "", uint8(0), uint8(d.To))
		case *event.ProcedureRetiredData:
			changes.add(kind, code, d.Procedure, id, r.Seq, "retired", d.EffectiveAt, coverage.DayOf(d.EffectiveAt), "", "", uint8(0), uint8(0))
		case *event.AssistantStageChangedData:
			assistant.add(kind, code, id, r.Seq, d.EffectiveAt, coverage.DayOf(d.EffectiveAt), string(d.Stage), d.Users)
		case *event.ReportSubmittedData:
			c := d.Counts
			reports.add(kind, code, id, r.Seq, d.Collector, d.ReportedAt, uint32(c.Registered), uint32(c.Changed), uint32(c.Retired), uint32(c.Unchanged))
		case *event.TargetSetData:
			bd, _ := d.BaselineDate.Time() // validated by event.Decode
			dl, _ := d.Deadline.Time()
			targets.add(string(d.Metric), string(d.Scope), id, r.Seq, d.SetAt, d.Baseline, dateOnly(bd), d.Target, dateOnly(dl))
		case *event.UnitMergedData, *event.UnitRenamedData:
			addLineage(lineage, names, id, r.Seq, d)
		default:
			if _, ok := event.DossierOf(d); ok {
				addDossier(dossiers, months, id, r.Seq, d)
			}
		}
	}
	if err := sendAll(ctx, changes, assistant, reports, targets, verdicts, lineage, names, dossiers, months); err != nil {
		return fmt.Errorf("insert batch: %w", err)
	}
	return nil
}

// sendAll sends the inserters at once, each on a connection of the pool: their tables are independent, and each
// INSERT waits mostly on its round trips, so together they take about the time of the longest. Every one is sent
// whatever the others do; the error joins theirs.
func sendAll(ctx context.Context, ins ...*inserter) error {
	errs := make([]error, len(ins))
	var wg sync.WaitGroup
	for i, in := range ins {
		if len(in.rows) == 0 {
			continue
		}
		wg.Go(func() { errs[i] = in.send(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// insertEvents writes the raw log: one INSERT, so that a batch's events are all there or none are.
func (s *Store) insertEvents(ctx context.Context, recs []Record) error {
	in := &inserter{conn: s.conn, query: chsql.InsertEvents.SQL}
	for _, r := range recs {
		u, _ := event.UnitOf(r.Data)
		by := r.SubmittedBy
		if by == "" {
			by = r.Env.Source
		}
		in.add(uuid.MustParse(r.Env.ID), string(r.Env.Type), r.Env.Source, by, r.Env.Subject, string(u.Kind), u.Code, r.Env.Time, string(r.Env.Data), r.Seq, r.ReceivedAt)
	}
	if err := in.send(ctx); err != nil {
		return fmt.Errorf("insert raw events: %w", err)
	}
	return nil
}

func (s *Store) insertRejected(ctx context.Context, rejected []Rejected) error {
	q := &inserter{conn: s.conn, query: chsql.InsertQuarantine.SQL}
	for _, r := range rejected {
		q.add(r.Seq, r.Subject, string(r.Payload), r.Reason, r.ReceivedAt)
	}
	if err := q.send(ctx); err != nil {
		return fmt.Errorf("quarantine %d messages: %w", len(rejected), err)
	}
	return nil
}

// refresh recomputes the current state of the procedures the batch touched and the daily coverage of their units,
// and carries every other unit's coverage forward when the batch reaches a later day than any before.
//
// Each unit's series is complete up to its own last stored day, and everything is written from there: a refresh cut
// short by a crash or an outage leaves some units ahead of others, and the redelivered batch completes the rest.
//
// A unit whose fold the store holds, and whose changes in the batch all take effect after those folded (the usual
// case: collectors report in time order), is extended from the fold without reading anything. Any other unit (the
// first batch after a start, a late or repeated change) is folded again from all its stored changes, which also
// gives the store its fold.
func (s *Store) refresh(ctx context.Context, recs []Record) error {
	batch := map[units.Ref][]coverage.Change{}
	names := map[uint64]naming{} // registrations' names, by stream sequence
	var lastInBatch time.Time
	for _, r := range recs {
		c, ok := coverage.FromEvent(r.Data, r.Seq)
		if !ok {
			continue
		}
		batch[c.Unit] = append(batch[c.Unit], c)
		if d, ok := r.Data.(*event.ProcedureRegisteredData); ok {
			names[r.Seq] = naming{s.intern(d.Name), s.intern(d.Sector)}
		}
		if day := coverage.DayOf(c.EffectiveAt); day.After(lastInBatch) {
			lastInBatch = day
		}
	}
	if len(batch) == 0 {
		return nil
	}
	stored, latest, err := s.lastCoverageDays(ctx)
	if err != nil {
		return err
	}
	last := lastInBatch
	if latest.After(last) {
		last = latest
	}
	behind := map[units.Ref]time.Time{} // untouched units whose series stops before last
	for u, d := range stored {
		if _, ok := batch[u]; !ok && d.Before(last) && (s.cfg.Owns == nil || s.cfg.Owns(u)) {
			behind[u] = d
		}
	}
	if err := s.extendCoverage(ctx, behind, last); err != nil {
		return err
	}
	if s.cfg.AfterCarry != nil {
		if err := s.cfg.AfterCarry(); err != nil {
			return err
		}
	}
	w := rowWriter{
		procs:    &inserter{conn: s.conn, query: chsql.InsertProcedures.SQL},
		coverage: &inserter{conn: s.conn, query: chsql.InsertCoverage.SQL},
		lastDay:  map[units.Ref]time.Time{},
	}
	refs := slices.SortedFunc(maps.Keys(batch), compareRef)
	reload := map[units.Ref]time.Time{} // unit → the first day to write
	for _, u := range refs {
		cs := batch[u]
		from := coverage.DayOf(slices.MinFunc(cs, func(a, b coverage.Change) int { return a.EffectiveAt.Compare(b.EffectiveAt) }).EffectiveAt)
		d, ok := stored[u]
		switch {
		case !ok:
			from = time.Time{} // no rows yet: the whole series
		case from.After(d):
			from = d.AddDate(0, 0, 1) // the days between its last row and the batch's first change too
		}
		if ok && s.extend(&w, u, cs, names, from, last) {
			continue
		}
		reload[u] = from
	}
	if err := s.reload(ctx, &w, reload, batch, last); err != nil {
		return err
	}
	if s.cfg.BeforeRows != nil {
		if err := s.cfg.BeforeRows(); err != nil {
			return err
		}
	}
	if err := sendAll(ctx, w.procs, w.coverage); err != nil {
		return fmt.Errorf("update procedures and daily coverage: %w", err)
	}
	for u := range behind {
		stored[u] = last
	}
	for u, d := range w.lastDay {
		if d.After(stored[u]) {
			stored[u] = d
		}
	}
	s.latestDay = last
	return nil
}

// unitFold is what the store knows of a unit from the changes it stored: its coverage fold and its procedures'
// latest registrations. It reflects what the tables hold only while this store is the only one writing the unit:
// the projector runs one instance per unit (several instances each take their own units), and a fresh store, after
// a start, folds each unit once from the table.
type unitFold struct {
	cov     *coverage.Fold
	procs   map[string]*procInfo
	changes uint64 // how many changes were folded: the version of the unit's coverage rows
}

// procInfo is what a procedure's latest registration says of it, and how many changes it has.
type procInfo struct {
	name, sector string
	regAt        time.Time
	regSeq       uint64
	lastAt       time.Time
	changes      uint64 // how many changes were folded: the version of the procedure's row
}

// add counts change c, and takes the name and sector of a registration later than those before.
func (pi *procInfo) add(c coverage.Change, n naming) {
	if c.Kind == coverage.Registered && later(c.EffectiveAt, c.Seq, pi.regAt, pi.regSeq) {
		pi.name, pi.sector, pi.regAt, pi.regSeq = n.name, n.sector, c.EffectiveAt, c.Seq
	}
	if c.EffectiveAt.After(pi.lastAt) {
		pi.lastAt = c.EffectiveAt
	}
	pi.changes++
}

type naming struct{ name, sector string }

// rowWriter collects a batch's rows of the derived tables, one INSERT per table.
type rowWriter struct {
	procs, coverage *inserter
	lastDay         map[units.Ref]time.Time // each unit's last day among the coverage rows
}

func (w *rowWriter) procedure(u units.Ref, code string, st coverage.State, pi *procInfo) {
	if pi == nil || !st.Registered {
		return // changes of a procedure whose registration has not arrived yet: nothing to show
	}
	w.procs.add(string(u.Kind), u.Code, code, pi.name, pi.sector, boolU8(st.Eligible), uint8(st.Level), boolU8(st.Active), pi.lastAt, pi.changes)
}

func (w *rowWriter) days(u units.Ref, days []coverage.Day, from time.Time, version uint64) {
	for _, d := range days {
		if d.Day.Before(from) {
			continue // unchanged by this batch
		}
		w.coverage.add(string(u.Kind), u.Code, dateOnly(d.Day), uint32(d.Procedures), uint32(d.Eligible), uint32(d.Level4), version)
		if d.Day.After(w.lastDay[u]) {
			w.lastDay[u] = d.Day
		}
	}
}

// extend adds the batch's changes cs of unit u to the unit's fold and writes the rows they change, from day from on.
// It returns false, having changed nothing, when it holds no fold of u or cs do not all follow it.
func (s *Store) extend(w *rowWriter, u units.Ref, cs []coverage.Change, names map[uint64]naming, from, last time.Time) bool {
	f := s.folds[u]
	if f == nil {
		return false
	}
	days, ok := f.cov.Extend(cs, from, last)
	if !ok {
		return false
	}
	f.changes += uint64(len(cs))
	s.extended++
	touched := map[string]bool{}
	for _, c := range cs {
		pi := f.procs[c.Procedure]
		if pi == nil {
			pi = &procInfo{}
			f.procs[c.Procedure] = pi
		}
		pi.add(c, names[c.Seq])
		touched[c.Procedure] = true
	}
	for code := range touched {
		w.procedure(u, code, f.cov.State(code), f.procs[code])
	}
	w.days(u, days, from, f.changes)
	return true
}

// reloadChunk is how many units reload reads in one query: what it holds at once is their whole histories.
const reloadChunk = 4

// reload folds the given units from all their stored changes, keeps the folds, and writes the rows of the
// procedures the batch touched and each unit's days from the day given. It reads a few units at a time, so that
// the first batch after a start, which reloads every unit it touches, holds a few units' histories at once, not all.
func (s *Store) reload(ctx context.Context, w *rowWriter, from map[units.Ref]time.Time, batch map[units.Ref][]coverage.Change, last time.Time) error {
	for chunk := range slices.Chunk(slices.SortedFunc(maps.Keys(from), compareRef), reloadChunk) {
		changes, info, err := s.loadChanges(ctx, chunk)
		if err != nil {
			return err
		}
		byUnit := map[units.Ref][]coverage.Change{}
		for _, c := range changes {
			byUnit[c.Unit] = append(byUnit[c.Unit], c)
		}
		daily := coverage.Daily(changes, last)
		for _, u := range chunk {
			cs := byUnit[u]
			f := &unitFold{cov: coverage.NewFold(u, cs), procs: info[u], changes: uint64(len(cs))}
			if f.cov == nil {
				// None of its changes is stored (the table was emptied under the store): nothing to show, as before.
				delete(s.folds, u)
				continue
			}
			s.folds[u] = f
			s.reloaded++
			touched := map[string]bool{}
			for _, c := range batch[u] {
				touched[c.Procedure] = true
			}
			for code := range touched {
				w.procedure(u, code, f.cov.State(code), f.procs[code])
			}
			w.days(u, daily[u], from[u], f.changes)
		}
	}
	return nil
}

// forget drops the folds of the units of recs: a write of them failed part way, and the next batch of each reads
// the unit's changes again.
func (s *Store) forget(recs []Record) {
	for _, r := range recs {
		if c, ok := coverage.FromEvent(r.Data, r.Seq); ok {
			delete(s.folds, c.Unit)
		}
	}
}

// lastCoverageDays returns each unit's last day in coverage_daily, which the store keeps and refresh updates, and the
// latest day of all. It reads every unit's last day only when it holds none; with several projector instances
// (Config.Owns set), the latest day it reads every time, from the partitions from the one it knew on, since another
// instance may have moved it.
func (s *Store) lastCoverageDays(ctx context.Context) (map[units.Ref]time.Time, time.Time, error) {
	if s.lastDays == nil {
		rows, err := s.conn.Query(ctx, chsql.LastCoverageDays.SQL)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("read last coverage days: %w", err)
		}
		defer rows.Close()
		days := map[units.Ref]time.Time{}
		var latest time.Time
		for rows.Next() {
			var kind, code string
			var d time.Time
			if err := rows.Scan(&kind, &code, &d); err != nil {
				return nil, time.Time{}, fmt.Errorf("read last coverage days: %w", err)
			}
			d = dayIn(d)
			days[units.Ref{Kind: units.Kind(s.intern(kind)), Code: s.intern(code)}] = d
			if d.After(latest) {
				latest = d
			}
		}
		if err := rows.Err(); err != nil {
			return nil, time.Time{}, fmt.Errorf("read last coverage days: %w", err)
		}
		s.lastDays, s.latestDay = days, latest
		return days, latest, nil
	}
	if s.cfg.Owns == nil {
		// One projector writes every unit: no one else moves the latest day, and the store knows where it is.
		return s.lastDays, s.latestDay, nil
	}
	from := "1970-01-01" // the table was empty when read: until this store writes, another may have
	if !s.latestDay.IsZero() {
		from = s.latestDay.Format(event.DateLayout)
	}
	rows, err := s.conn.Query(ctx, chsql.LatestCoverageDay.SQL, from)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read the latest coverage day: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d time.Time
		if err := rows.Scan(&d); err != nil {
			return nil, time.Time{}, fmt.Errorf("read the latest coverage day: %w", err)
		}
		if d = dayIn(d); d.After(s.latestDay) {
			s.latestDay = d
		}
	}
	if err := rows.Err(); err != nil {
		return nil, time.Time{}, fmt.Errorf("read the latest coverage day: %w", err)
	}
	return s.lastDays, s.latestDay, nil
}

// extendCoverage copies each given unit's coverage on its last stored day to every day up to last: nothing changed
// for it, and the series stay dense so that any day's national figure is a plain sum.
func (s *Store) extendCoverage(ctx context.Context, from map[units.Ref]time.Time, last time.Time) error {
	if len(from) == 0 {
		return nil
	}
	args := make([]any, 0, 1+3*len(from))
	args = append(args, last.Format(event.DateLayout))
	for _, u := range slices.SortedFunc(maps.Keys(from), compareRef) {
		args = append(args, string(u.Kind), u.Code, from[u].Format(event.DateLayout))
	}
	if err := s.conn.Exec(ctx, chsql.CarryCoverage(len(from)).SQL, args...); err != nil {
		return fmt.Errorf("carry coverage of %d units forward to %s: %w", len(from), last.Format(event.DateLayout), err)
	}
	return nil
}

// Verdicts returns the signatures' verdicts recorded for the stream sequences from one to another, by sequence: a
// stream recreated may hold another message at a sequence, so there may be several, told apart by their digests.
func (s *Store) Verdicts(ctx context.Context, from, to uint64) (map[uint64][]Verdict, error) {
	rows, err := s.conn.Query(ctx, chsql.Verdicts.SQL, from, to)
	if err != nil {
		return nil, fmt.Errorf("read signature verdicts: %w", err)
	}
	defer rows.Close()
	out := map[uint64][]Verdict{}
	for rows.Next() {
		var seq uint64
		var v Verdict
		if err := rows.Scan(&seq, &v.Digest, &v.SubmittedBy); err != nil {
			return nil, fmt.Errorf("read signature verdicts: %w", err)
		}
		out[seq] = append(out[seq], v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read signature verdicts: %w", err)
	}
	return out, nil
}

// loadChanges reads every stored change of the given units, and the procedures' latest registrations.
func (s *Store) loadChanges(ctx context.Context, of []units.Ref) ([]coverage.Change, map[units.Ref]map[string]*procInfo, error) {
	args := make([]any, 0, 2*len(of))
	for _, u := range of {
		args = append(args, string(u.Kind), u.Code)
	}
	rows, err := s.conn.Query(ctx, chsql.LoadChanges(len(of)).SQL, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("read changes of %d units: %w", len(of), err)
	}
	defer rows.Close()
	var cs []coverage.Change
	info := map[units.Ref]map[string]*procInfo{}
	for rows.Next() {
		var (
			kind, code, proc, change, name, sector string
			at                                     time.Time
			seq                                    uint64
			eligible, level                        uint8
		)
		if err := rows.Scan(&kind, &code, &proc, &change, &at, &seq, &name, &sector, &eligible, &level); err != nil {
			return nil, nil, fmt.Errorf("scan change: %w", err)
		}
		c := coverage.Change{Unit: units.Ref{Kind: units.Kind(s.intern(kind)), Code: s.intern(code)}, Procedure: proc, EffectiveAt: at, Seq: seq, Eligible: eligible == 1, Level: event.Level(level)}
		switch change {
		case "registered":
			c.Kind = coverage.Registered
		case "level_changed":
			c.Kind = coverage.LevelChanged
		case "retired":
			c.Kind = coverage.Retired
		}
		cs = append(cs, c)
		procs := info[c.Unit]
		if procs == nil {
			procs = map[string]*procInfo{}
			info[c.Unit] = procs
		}
		pi := procs[proc]
		if pi == nil {
			pi = &procInfo{}
			procs[proc] = pi
		}
		pi.add(c, naming{s.intern(name), s.intern(sector)})
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("read changes: %w", err)
	}
	return cs, info, nil
}

// DossierLookups says how many of the batches' dossiers the store read back from dossier_facts, and how many it
// remembered (Config.OpenDossiers), since it opened.
func (s *Store) DossierLookups() (read, remembered int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dossiersRead, s.dossiersRemembered
}

// intern returns the copy of v the store keeps.
func (s *Store) intern(v string) string {
	if w, ok := s.names[v]; ok {
		return w
	}
	s.names[v] = v
	return v
}

func later(at time.Time, seq uint64, than time.Time, thanSeq uint64) bool {
	return at.After(than) || at.Equal(than) && seq > thanSeq
}

func compareRef(a, b units.Ref) int {
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Code, b.Code))
}

func boolU8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// dateOnly turns a Vietnamese midnight into the same calendar date at UTC midnight, which is how clickhouse-go
// writes a Date without shifting it a day.
func dateOnly(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// dayIn turns a Date read from ClickHouse into the start of that Vietnamese day.
func dayIn(d time.Time) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, event.Vietnam)
}
