package main

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/egovtrack/egovtrack/internal/coverage"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
	"github.com/egovtrack/egovtrack/projector/store"
)

// loadBatch is how many rows the national loader sends in one INSERT.
const loadBatch = 100_000

// The national-scale database for the panel queries holds the whole dataset (ReplayEvents events: 85 units × 2,000
// procedures, their level changes over 2020–2021) as the projector would have written it, one version of every row.
// The projector cannot write it in a bounded time yet (see the e2e and replay steps), so loadNational does, fast:
//
//   - the schema and the units, the national target, a weekly report of every unit and its virtual assistant's
//     rollout go through store.Open and store.Write, the projector's own code;
//   - every procedure change goes straight into events, procedure_changes, procedures and coverage_daily, with the
//     store's column lists and values, the states folded in Go as internal/coverage folds them (coverage_daily dense
//     from each unit's first day to the last day with a change). The events are received and projected as they
//     happen, a second apart, as if reported live. The ingestion-lag counts (migration 0002) fill themselves from
//     the inserts into events, through their materialized views.
//
// The store writes several versions of procedures and coverage_daily rows that FINAL collapses; this writes one, and
// waits for ClickHouse's background merges to finish before the queries run.
func (b *bench) loadNational(ctx context.Context, conn driver.Conn) (lastReceived time.Time, err error) {
	st, err := store.Open(ctx, conn, b.quiet(), store.Config{})
	if err != nil {
		return lastReceived, err
	}
	extras, err := extraEvents(uint64(b.data.Events))
	if err != nil {
		return lastReceived, err
	}
	if err := st.Write(ctx, extras, nil); err != nil {
		return lastReceived, fmt.Errorf("write the target, reports and assistants: %w", err)
	}

	ins := func(q string) *loader { return &loader{ctx: ctx, conn: conn, query: q} }
	evs := ins(eventsInsert[:len(eventsInsert)-1] + ", projected_at)")
	changes := ins("INSERT INTO procedure_changes (unit_kind, unit_code, procedure_code, event_id, stream_seq, change, effective_at, day, name, sector, eligible, level)")
	cov := ins("INSERT INTO coverage_daily (unit_kind, unit_code, day, procedures, eligible, level4, version)")

	type procKey struct {
		unit units.Ref
		code string
	}
	type procState struct {
		name, sector     string
		eligible, active bool
		level            event.Level
		last             time.Time
		changes          uint64
	}
	type unitState struct {
		procs, eligible, level4 int
		changes                 uint64
	}
	procs := map[procKey]*procState{}
	unitsByRef := map[units.Ref]*unitState{}
	var order []units.Ref // units in the order they started
	var day time.Time
	emitDay := func(d time.Time) error {
		for _, u := range order {
			s := unitsByRef[u]
			if err := cov.add(string(u.Kind), u.Code, dateOnly(d), uint32(s.procs), uint32(s.eligible), uint32(s.level4), s.changes); err != nil {
				return err
			}
		}
		return nil
	}
	contrib := func(p *procState) (procs, eligible, level4 int) {
		if !p.active {
			return 0, 0, 0
		}
		if !p.eligible {
			return 1, 0, 0
		}
		if p.level == event.FullOnline {
			return 1, 1, 1
		}
		return 1, 1, 0
	}
	seq := uint64(0)
	began := time.Now()
	lastLog := began
	for r, err := range b.data.read(0, -1) {
		if err != nil {
			return lastReceived, err
		}
		seq++
		d, err := r.Env.UncheckedData() // validated when the dataset was generated
		if err != nil {
			return lastReceived, err
		}
		c, ok := coverage.FromEvent(d, seq)
		if !ok {
			return lastReceived, fmt.Errorf("event %s is not a procedure change", r.Env.ID)
		}
		today := coverage.DayOf(c.EffectiveAt)
		if day.IsZero() {
			day = today
		}
		for day.Before(today) {
			if err := emitDay(day); err != nil {
				return lastReceived, err
			}
			day = day.AddDate(0, 0, 1)
		}
		u := unitsByRef[c.Unit]
		if u == nil {
			u = &unitState{}
			unitsByRef[c.Unit] = u
			order = append(order, c.Unit)
		}
		k := procKey{c.Unit, c.Procedure}
		p := procs[k]
		if p == nil {
			p = &procState{}
			procs[k] = p
		}
		p0, e0, l0 := contrib(p)
		id := uuid.MustParse(r.Env.ID)
		switch d := d.(type) {
		case *event.ProcedureRegisteredData:
			p.name, p.sector, p.eligible, p.active, p.level = d.Name, d.Sector, d.Eligible, true, d.Level
			err = changes.add(string(c.Unit.Kind), c.Unit.Code, d.Procedure, id, seq, "registered", d.EffectiveAt, coverage.DayOf(d.EffectiveAt),
				d.Name, d.Sector, boolU8(d.Eligible), uint8(d.Level))
		case *event.LevelChangedData:
			p.level = d.To
			err = changes.add(string(c.Unit.Kind), c.Unit.Code, d.Procedure, id, seq, "level_changed", d.EffectiveAt, coverage.DayOf(d.EffectiveAt),
				"", "", uint8(0), uint8(d.To))
		case *event.ProcedureRetiredData:
			p.active = false
			err = changes.add(string(c.Unit.Kind), c.Unit.Code, d.Procedure, id, seq, "retired", d.EffectiveAt, coverage.DayOf(d.EffectiveAt),
				"", "", uint8(0), uint8(0))
		}
		if err != nil {
			return lastReceived, err
		}
		p1, e1, l1 := contrib(p)
		u.procs += p1 - p0
		u.eligible += e1 - e0
		u.level4 += l1 - l0
		u.changes++
		p.changes++
		p.last = c.EffectiveAt
		received := r.Env.Time.Add(2 * time.Second)
		lastReceived = received
		if err := evs.add(id, string(r.Env.Type), r.Env.Source, r.Env.Source, r.Env.Subject, string(c.Unit.Kind), c.Unit.Code, r.Env.Time,
			string(r.Env.Data), seq, received, received.Add(time.Second)); err != nil {
			return lastReceived, err
		}
		if time.Since(lastLog) > 15*time.Second {
			lastLog = time.Now()
			b.log.Info("loading the national-scale database", "done", seq, "of", b.data.Events, "per_second", int(float64(seq)/time.Since(began).Seconds()))
		}
	}
	if err := emitDay(day); err != nil {
		return lastReceived, err
	}
	pr := ins("INSERT INTO procedures (unit_kind, unit_code, procedure_code, name, sector, eligible, level, active, effective_at, version)")
	for k, p := range procs {
		if err := pr.add(string(k.unit.Kind), k.unit.Code, k.code, p.name, p.sector, boolU8(p.eligible), uint8(p.level), boolU8(p.active), p.last, p.changes); err != nil {
			return lastReceived, err
		}
	}
	for _, l := range []*loader{evs, changes, cov, pr} {
		if err := l.send(); err != nil {
			return lastReceived, err
		}
	}
	b.log.Info("national-scale database loaded", "events", seq, "took", time.Since(began).Round(time.Second))
	return lastReceived, nil
}

// loader appends rows to one table, sending every loadBatch rows, or sooner when the batch has been open for
// loadBatchAge.
type loader struct {
	ctx   context.Context
	conn  driver.Conn
	query string
	batch driver.Batch
	n     int
	began time.Time // when the batch in flight was prepared
}

// loadBatchAge is how long a batch may stay open: ClickHouse drops an INSERT whose data it has not received for
// receive_timeout (300 s), which a small table's batch (coverage_daily) reached on a loaded machine.
const loadBatchAge = time.Minute

func (l *loader) add(vals ...any) error {
	if l.batch == nil {
		b, err := l.conn.PrepareBatch(l.ctx, l.query)
		if err != nil {
			return fmt.Errorf("prepare %s: %w", l.query, err)
		}
		l.batch, l.began = b, time.Now()
	}
	if err := l.batch.Append(vals...); err != nil {
		return fmt.Errorf("append to %s: %w", l.query, err)
	}
	l.n++
	if l.n == loadBatch || time.Since(l.began) > loadBatchAge {
		return l.send()
	}
	return nil
}

func (l *loader) send() error {
	if l.batch == nil {
		return nil
	}
	err := l.batch.Send()
	l.batch, l.n = nil, 0
	if err != nil {
		return fmt.Errorf("%s: %w", l.query, err)
	}
	return nil
}

func boolU8(v bool) uint8 {
	if v {
		return 1
	}
	return 0
}

// dateOnly is a Vietnamese day as the store writes a Date: the same calendar date at UTC midnight.
func dateOnly(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// extraEvents are the events of the national-scale database that are not procedure changes, numbered in the stream
// after the dataset's: the national coverage target of the 2021 campaign, a weekly report of every unit over the two
// years, and every unit's virtual assistant going from planned to pilot to live during 2021.
func extraEvents(after uint64) ([]store.Record, error) {
	vn := event.Vietnam
	ds := []event.Data{&event.TargetSetData{Metric: event.MetricLevel4Coverage, Scope: event.National, Baseline: 40,
		BaselineDate: "2021-06-30", Target: 100, Deadline: "2021-12-31", SetAt: time.Date(2021, 7, 16, 9, 0, 0, 0, vn)}}
	for i, u := range units.All() {
		for t := time.Date(2020, 1, 6, 10, 0, 0, 0, vn); t.Before(dataEnd); t = t.AddDate(0, 0, 7) {
			ds = append(ds, &event.ReportSubmittedData{Unit: u.Ref, Collector: "simulate", ReportedAt: t.Add(time.Duration(i) * time.Minute),
				Counts: event.ReportCounts{Changed: 10 + i, Unchanged: 1990 - i}})
		}
		users := uint32(50 + i)
		for k, s := range []event.Stage{event.StagePlanned, event.StagePilot, event.StageLive} {
			at := time.Date(2021, time.Month(3+3*k), 1+i%28, 9, 0, 0, 0, vn)
			var n *uint32
			if s == event.StageLive {
				n = &users
			}
			ds = append(ds, &event.AssistantStageChangedData{Unit: u.Ref, Stage: s, Users: n, EffectiveAt: at})
		}
	}
	out := make([]store.Record, 0, len(ds))
	for i, d := range ds {
		env, err := event.New("/egovtrack/bench", d)
		if err != nil {
			return nil, fmt.Errorf("extra event %d: %w", i, err)
		}
		out = append(out, store.Record{Env: env, Data: d, Seq: after + uint64(i) + 1, ReceivedAt: env.Time.Add(2 * time.Second)})
	}
	return out, nil
}
