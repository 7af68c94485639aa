// Package store writes batches of events into the projector's ClickHouse tables (see projector/schema) and keeps the
// derived ones, the current state of every procedure and the daily coverage of every unit, up to date.
//
// Every write is idempotent: rows are keyed by event id, and derived rows are recomputed from the stored changes, not
// adjusted by increments. Writing a batch again after a crash or a redelivery therefore changes nothing.
package store

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/egovtrack/egovtrack/internal/coverage"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
	"github.com/egovtrack/egovtrack/projector/schema"
)

// Record is one message of the stream, decoded.
type Record struct {
	Env        event.Envelope
	Data       event.Data
	Seq        uint64 // stream sequence
	ReceivedAt time.Time
	// SubmittedBy is the credential or collector that submitted the event; empty means its source.
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
type Store struct {
	conn driver.Conn
	log  *slog.Logger
}

// Open applies the schema and writes the units' reference data.
func Open(ctx context.Context, conn driver.Conn, log *slog.Logger) (*Store, error) {
	if _, err := schema.Apply(ctx, conn, log); err != nil {
		return nil, err
	}
	s := &Store{conn: conn, log: log}
	if err := s.writeUnits(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) writeUnits(ctx context.Context) error {
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO units (kind, code, name, lat, lon, cadence_days)")
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

// Write stores a batch. It writes what the events change first (their procedure changes, assistant stages, reports
// and targets, the quarantined messages, the recomputed state of every procedure and unit they touch) and the events
// themselves into the raw log last, skipping events the raw log already holds. A batch cut short by a crash or an
// outage is therefore written again in full when it is redelivered, and the raw log ends up holding each event once.
// It returns only when ClickHouse has accepted all of it.
func (s *Store) Write(ctx context.Context, recs []Record, rejected []Rejected) error {
	_, err := s.WriteCountingSkips(ctx, recs, rejected)
	return err
}

// WriteCountingSkips is Write, also saying how many of the records it skipped because the raw log already held their
// events (redeliveries, repeats within the batch).
func (s *Store) WriteCountingSkips(ctx context.Context, recs []Record, rejected []Rejected) (skipped int, err error) {
	fresh, err := s.unwritten(ctx, recs)
	if err != nil {
		return 0, err
	}
	return len(recs) - len(fresh), s.writeFresh(ctx, fresh, rejected)
}

func (s *Store) writeFresh(ctx context.Context, fresh []Record, rejected []Rejected) error {
	if err := s.insertDerived(ctx, fresh); err != nil {
		return err
	}
	if err := s.insertRejected(ctx, rejected); err != nil {
		return err
	}
	if err := s.refresh(ctx, fresh); err != nil {
		return err
	}
	return s.insertEvents(ctx, fresh)
}

// lookupChunk bounds the ids in one query, well under ClickHouse's 256 KiB query size.
const lookupChunk = 1000

// unwritten returns the records whose events the raw log does not hold yet, each event once (the first delivery of
// one delivered twice in the batch).
func (s *Store) unwritten(ctx context.Context, recs []Record) ([]Record, error) {
	seen := make(map[uuid.UUID]bool, len(recs))
	ids := make([]uuid.UUID, 0, len(recs))
	for _, r := range recs {
		id, err := uuid.Parse(r.Env.ID)
		if err != nil {
			return nil, fmt.Errorf("event at stream sequence %d: id %q is not a UUID: %w", r.Seq, r.Env.ID, err)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	stored := map[uuid.UUID]bool{}
	for start := 0; start < len(ids); start += lookupChunk {
		chunk := ids[start:min(start+lookupChunk, len(ids))]
		var q strings.Builder
		q.WriteString("SELECT id FROM events WHERE id IN (")
		for i, id := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("toUUID('" + id.String() + "')") // a parsed UUID: nothing to escape
		}
		q.WriteString(")")
		rows, err := s.conn.Query(ctx, q.String())
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

// inserter fills one table in one INSERT; it skips the round trip when it gets no rows.
type inserter struct {
	conn  driver.Conn
	query string
	batch driver.Batch
}

func (in *inserter) add(ctx context.Context, vals ...any) error {
	if in.batch == nil {
		b, err := in.conn.PrepareBatch(ctx, in.query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", in.query, err)
		}
		in.batch = b
	}
	if err := in.batch.Append(vals...); err != nil {
		return fmt.Errorf("append to %q: %w", in.query, err)
	}
	return nil
}

func (in *inserter) send() error {
	if in.batch == nil {
		return nil
	}
	if err := in.batch.Send(); err != nil {
		return fmt.Errorf("%s: %w", in.query, err)
	}
	return nil
}

func (s *Store) insertDerived(ctx context.Context, recs []Record) error {
	ins := func(q string) *inserter { return &inserter{conn: s.conn, query: q} }
	changes := ins("INSERT INTO procedure_changes (unit_kind, unit_code, procedure_code, event_id, stream_seq, change, effective_at, day, name, sector, eligible, level)")
	assistant := ins("INSERT INTO assistant_changes (unit_kind, unit_code, event_id, stream_seq, effective_at, day, stage, users)")
	reports := ins("INSERT INTO reports (unit_kind, unit_code, event_id, stream_seq, collector, reported_at, registered, changed, retired, unchanged)")
	targets := ins("INSERT INTO targets (metric, scope, event_id, stream_seq, set_at, baseline, baseline_date, target, deadline)")

	for _, r := range recs {
		id := uuid.MustParse(r.Env.ID) // checked by unwritten
		u, _ := event.UnitOf(r.Data)
		kind, code := string(u.Kind), u.Code
		var err error
		switch d := r.Data.(type) {
		case *event.ProcedureRegisteredData:
			err = changes.add(ctx, kind, code, d.Procedure, id, r.Seq, "registered", d.EffectiveAt, coverage.DayOf(d.EffectiveAt), d.Name, d.Sector, boolU8(d.Eligible), uint8(d.Level))
		case *event.LevelChangedData:
			err = changes.add(ctx, kind, code, d.Procedure, id, r.Seq, "level_changed", d.EffectiveAt, coverage.DayOf(d.EffectiveAt), "", "", uint8(0), uint8(d.To))
		case *event.ProcedureRetiredData:
			err = changes.add(ctx, kind, code, d.Procedure, id, r.Seq, "retired", d.EffectiveAt, coverage.DayOf(d.EffectiveAt), "", "", uint8(0), uint8(0))
		case *event.AssistantStageChangedData:
			err = assistant.add(ctx, kind, code, id, r.Seq, d.EffectiveAt, coverage.DayOf(d.EffectiveAt), string(d.Stage), d.Users)
		case *event.ReportSubmittedData:
			c := d.Counts
			err = reports.add(ctx, kind, code, id, r.Seq, d.Collector, d.ReportedAt, uint32(c.Registered), uint32(c.Changed), uint32(c.Retired), uint32(c.Unchanged))
		case *event.TargetSetData:
			bd, _ := d.BaselineDate.Time() // validated by event.Decode
			dl, _ := d.Deadline.Time()
			err = targets.add(ctx, string(d.Metric), string(d.Scope), id, r.Seq, d.SetAt, d.Baseline, dateOnly(bd), d.Target, dateOnly(dl))
		}
		if err != nil {
			return err
		}
	}
	for _, in := range []*inserter{changes, assistant, reports, targets} {
		if err := in.send(); err != nil {
			return fmt.Errorf("insert batch: %w", err)
		}
	}
	return nil
}

// insertEvents writes the raw log: one INSERT, so that a batch's events are all there or none are.
func (s *Store) insertEvents(ctx context.Context, recs []Record) error {
	in := &inserter{conn: s.conn, query: "INSERT INTO events (id, type, source, submitted_by, subject, unit_kind, unit_code, time, data, stream_seq, received_at)"}
	for _, r := range recs {
		u, _ := event.UnitOf(r.Data)
		by := r.SubmittedBy
		if by == "" {
			by = r.Env.Source
		}
		if err := in.add(ctx, uuid.MustParse(r.Env.ID), string(r.Env.Type), r.Env.Source, by, r.Env.Subject, string(u.Kind), u.Code, r.Env.Time, string(r.Env.Data), r.Seq, r.ReceivedAt); err != nil {
			return err
		}
	}
	if err := in.send(); err != nil {
		return fmt.Errorf("insert raw events: %w", err)
	}
	return nil
}

func (s *Store) insertRejected(ctx context.Context, rejected []Rejected) error {
	q := &inserter{conn: s.conn, query: "INSERT INTO quarantine (stream_seq, subject, payload, reason, received_at)"}
	for _, r := range rejected {
		if err := q.add(ctx, r.Seq, r.Subject, string(r.Payload), r.Reason, r.ReceivedAt); err != nil {
			return err
		}
	}
	if err := q.send(); err != nil {
		return fmt.Errorf("quarantine %d messages: %w", len(rejected), err)
	}
	return nil
}

// refresh recomputes the current state of the procedures the batch touched and the daily coverage of their units,
// and carries every other unit's coverage forward when the batch reaches a later day than any before.
//
// Each unit's series is complete up to its own last stored day, and everything is written from there: a refresh cut
// short by a crash or an outage leaves some units ahead of others, and the redelivered batch completes the rest.
func (s *Store) refresh(ctx context.Context, recs []Record) error {
	dirty := map[units.Ref]time.Time{} // unit → earliest day a change of the batch took effect
	touched := map[procKey]bool{}
	var lastInBatch time.Time
	for _, r := range recs {
		c, ok := coverage.FromEvent(r.Data, r.Seq)
		if !ok {
			continue
		}
		day := coverage.DayOf(c.EffectiveAt)
		if d, ok := dirty[c.Unit]; !ok || day.Before(d) {
			dirty[c.Unit] = day
		}
		touched[procKey{c.Unit, c.Procedure}] = true
		if day.After(lastInBatch) {
			lastInBatch = day
		}
	}
	if len(dirty) == 0 {
		return nil
	}
	stored, err := s.lastCoverageDays(ctx)
	if err != nil {
		return err
	}
	last := lastInBatch
	for _, d := range stored {
		if d.After(last) {
			last = d
		}
	}
	behind := map[units.Ref]time.Time{} // untouched units whose series stops before last
	for u, d := range stored {
		if _, ok := dirty[u]; !ok && d.Before(last) {
			behind[u] = d
		}
	}
	if err := s.extendCoverage(ctx, behind, last); err != nil {
		return err
	}
	if testHookAfterCarry != nil {
		if err := testHookAfterCarry(); err != nil {
			return err
		}
	}
	changes, info, err := s.loadChanges(ctx, dirty)
	if err != nil {
		return err
	}
	if err := s.writeProcedures(ctx, changes, info, touched); err != nil {
		return err
	}
	for u, from := range dirty {
		switch d, ok := stored[u]; {
		case !ok:
			dirty[u] = time.Time{} // no rows yet: the whole series
		case from.After(d):
			dirty[u] = d.AddDate(0, 0, 1) // the days between its last row and the batch's first change too
		}
	}
	return s.writeCoverage(ctx, changes, dirty, last)
}

// testHookAfterCarry, set by tests, runs between carrying untouched units forward and writing the touched ones: a
// crash there once left gaps in the touched units' series.
var testHookAfterCarry func() error

type procKey struct {
	unit units.Ref
	code string
}

// procInfo is what a procedure's latest registration says of it, and how many changes it has.
type procInfo struct {
	name, sector string
	regAt        time.Time
	regSeq       uint64
	lastAt       time.Time
	changes      uint64 // how many changes were folded: the version of the procedure's row
}

// lastCoverageDays returns each unit's last day in coverage_daily.
func (s *Store) lastCoverageDays(ctx context.Context) (map[units.Ref]time.Time, error) {
	rows, err := s.conn.Query(ctx, "SELECT unit_kind, unit_code, max(day) FROM coverage_daily GROUP BY unit_kind, unit_code")
	if err != nil {
		return nil, fmt.Errorf("read last coverage days: %w", err)
	}
	defer rows.Close()
	out := map[units.Ref]time.Time{}
	for rows.Next() {
		var kind, code string
		var d time.Time
		if err := rows.Scan(&kind, &code, &d); err != nil {
			return nil, fmt.Errorf("read last coverage days: %w", err)
		}
		out[units.Ref{Kind: units.Kind(kind), Code: code}] = dayIn(d)
	}
	return out, rows.Err()
}

// extendCoverage copies each given unit's coverage on its last stored day to every day up to last: nothing changed
// for it, and the series stay dense so that any day's national figure is a plain sum.
func (s *Store) extendCoverage(ctx context.Context, from map[units.Ref]time.Time, last time.Time) error {
	if len(from) == 0 {
		return nil
	}
	keys := make([]string, 0, len(from))
	for u, d := range from {
		keys = append(keys, u.String()+"/"+d.Format(event.DateLayout))
	}
	// range(n) shifted by one: 18.16 has no range(start, end).
	q := `INSERT INTO coverage_daily (unit_kind, unit_code, day, procedures, eligible, level4, version)
SELECT unit_kind, unit_code, addDays(day, n), procedures, eligible, level4, version
FROM coverage_daily FINAL
ARRAY JOIN arrayMap(i -> i + 1, range(toUInt64(dateDiff('day', day, toDate(?))))) AS n
WHERE has(?, concat(unit_kind, '/', unit_code, '/', toString(day)))`
	if err := s.conn.Exec(ctx, q, last.Format(event.DateLayout), keys); err != nil {
		return fmt.Errorf("carry coverage of %d units forward to %s: %w", len(from), last.Format(event.DateLayout), err)
	}
	return nil
}

// loadChanges reads every stored change of the dirty units.
func (s *Store) loadChanges(ctx context.Context, dirty map[units.Ref]time.Time) ([]coverage.Change, map[procKey]*procInfo, error) {
	refs := make([]string, 0, len(dirty))
	for u := range dirty {
		refs = append(refs, u.String())
	}
	rows, err := s.conn.Query(ctx, `SELECT unit_kind, unit_code, procedure_code, toString(change), effective_at, stream_seq, name, sector, eligible, level
FROM procedure_changes FINAL WHERE has(?, concat(unit_kind, '/', unit_code))`, refs)
	if err != nil {
		return nil, nil, fmt.Errorf("read changes of %d units: %w", len(refs), err)
	}
	defer rows.Close()
	var cs []coverage.Change
	info := map[procKey]*procInfo{}
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
		c := coverage.Change{Unit: units.Ref{Kind: units.Kind(kind), Code: code}, Procedure: proc, EffectiveAt: at, Seq: seq, Eligible: eligible == 1, Level: event.Level(level)}
		switch change {
		case "registered":
			c.Kind = coverage.Registered
		case "level_changed":
			c.Kind = coverage.LevelChanged
		case "retired":
			c.Kind = coverage.Retired
		}
		cs = append(cs, c)
		k := procKey{c.Unit, proc}
		pi := info[k]
		if pi == nil {
			pi = &procInfo{}
			info[k] = pi
		}
		if c.Kind == coverage.Registered && later(at, seq, pi.regAt, pi.regSeq) {
			pi.name, pi.sector, pi.regAt, pi.regSeq = name, sector, at, seq
		}
		if later(at, seq, pi.lastAt, 0) {
			pi.lastAt = at
		}
		pi.changes++
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("read changes: %w", err)
	}
	return cs, info, nil
}

func later(at time.Time, seq uint64, than time.Time, thanSeq uint64) bool {
	return at.After(than) || at.Equal(than) && seq > thanSeq
}

func (s *Store) writeProcedures(ctx context.Context, cs []coverage.Change, info map[procKey]*procInfo, touched map[procKey]bool) error {
	cur := coverage.Current(cs)
	in := &inserter{conn: s.conn, query: "INSERT INTO procedures (unit_kind, unit_code, procedure_code, name, sector, eligible, level, active, effective_at, version)"}
	for k := range touched {
		st := cur[k.unit][k.code]
		pi := info[k]
		if pi == nil || !st.Registered {
			continue // changes of a procedure whose registration has not arrived yet: nothing to show
		}
		if err := in.add(ctx, string(k.unit.Kind), k.unit.Code, k.code, pi.name, pi.sector, boolU8(st.Eligible), uint8(st.Level), boolU8(st.Active), pi.lastAt, pi.changes); err != nil {
			return err
		}
	}
	if err := in.send(); err != nil {
		return fmt.Errorf("update procedures: %w", err)
	}
	return nil
}

func (s *Store) writeCoverage(ctx context.Context, cs []coverage.Change, dirty map[units.Ref]time.Time, last time.Time) error {
	// A fold of more changes is a later one: the changes stored only ever grow.
	version := map[units.Ref]uint64{}
	for _, c := range cs {
		version[c.Unit]++
	}
	in := &inserter{conn: s.conn, query: "INSERT INTO coverage_daily (unit_kind, unit_code, day, procedures, eligible, level4, version)"}
	daily := coverage.Daily(cs, last)
	refs := make([]units.Ref, 0, len(daily))
	for u := range daily {
		refs = append(refs, u)
	}
	slices.SortFunc(refs, compareRef)
	for _, u := range refs {
		from := dirty[u]
		for _, d := range daily[u] {
			if d.Day.Before(from) {
				continue // unchanged by this batch
			}
			if err := in.add(ctx, string(u.Kind), u.Code, dateOnly(d.Day), uint32(d.Procedures), uint32(d.Eligible), uint32(d.Level4), version[u]); err != nil {
				return err
			}
		}
	}
	if err := in.send(); err != nil {
		return fmt.Errorf("update daily coverage: %w", err)
	}
	return nil
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
