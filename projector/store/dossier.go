package store

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/egovtrack/egovtrack/internal/chsql"
	"github.com/egovtrack/egovtrack/internal/coverage"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// addDossier adds a dossier event's rows to dossier_facts (0007_dossier_facts.sql) and dossier_months.
func addDossier(facts, months *inserter, id uuid.UUID, seq uint64, d event.Data) {
	f, ok := factOf(d, seq)
	if !ok {
		return
	}
	facts.add(string(f.unit.Kind), f.unit.Code, f.dossier, f.fact, f.at, f.procedure, f.channel, boolU8(f.fee), f.due,
		boolU8(f.flag), boolU8(f.onTime), id, seq)
	months.add(string(f.unit.Kind), f.unit.Code, monthOf(dateOnly(coverage.DayOf(f.at))), f.dossier)
}

// dossierFact is one row of dossier_facts.
type dossierFact struct {
	unit               units.Ref
	dossier, fact      string
	at                 time.Time
	procedure, channel string    // received only
	fee                bool      // received only
	due                time.Time // received: when due; the others: their own time
	flag, onTime       bool      // paid: online; result_issued: electronic; feedback_given: satisfied, on time
	seq                uint64
}

// factOf is a dossier event's fact.
func factOf(d event.Data, seq uint64) (dossierFact, bool) {
	u, _ := event.UnitOf(d)
	dossier, ok := event.DossierOf(d)
	if !ok {
		return dossierFact{}, false
	}
	f := dossierFact{unit: u, dossier: dossier, seq: seq}
	switch d := d.(type) {
	case *event.DossierReceivedData:
		f.fact, f.at, f.procedure, f.channel, f.fee, f.due = "received", d.ReceivedAt, d.Procedure, string(d.Channel), d.Fee, d.DueAt
	case *event.DossierPaidData:
		f.fact, f.at, f.flag = "paid", d.PaidAt, d.Online
	case *event.DossierSettledData:
		f.fact, f.at = "settled", d.SettledAt
	case *event.DossierResultIssuedData:
		f.fact, f.at, f.flag = "result_issued", d.IssuedAt, d.Electronic
	case *event.DossierDigitisedData:
		f.fact, f.at = "digitised", d.DigitisedAt
	case *event.DossierWithdrawnData:
		f.fact, f.at = "withdrawn", d.WithdrawnAt
	case *event.DossierFeedbackGivenData:
		f.fact, f.at, f.flag, f.onTime = "feedback_given", d.GivenAt, d.Satisfied, d.HandledOnTime
	}
	// Times count to the second, as dossier_facts stores them (DateTime): a fact counted from the batch and the same
	// fact read back must compare alike, or "on time" and "earliest" would depend on the road a fact took.
	f.at, f.due = f.at.Truncate(time.Second), f.due.Truncate(time.Second)
	if f.fact != "received" {
		f.due = f.at
	}
	return f, true
}

// dossierCounts are one row's counts in dossier_counts (0008_dossier_counts.sql).
type dossierCounts struct {
	Received, ReceivedOnline, ReceivedFee, Paid, PaidOnline, Settled, SettledOnTime uint32
	SettleSeconds                                                                   uint64
	Results, ResultsElectronic, Digitised, Withdrawn                                uint32
	Feedback, Satisfied, FeedbackOnTime                                             uint32
}

func (c *dossierCounts) add(o dossierCounts) {
	c.Received += o.Received
	c.ReceivedOnline += o.ReceivedOnline
	c.ReceivedFee += o.ReceivedFee
	c.Paid += o.Paid
	c.PaidOnline += o.PaidOnline
	c.Settled += o.Settled
	c.SettledOnTime += o.SettledOnTime
	c.SettleSeconds += o.SettleSeconds
	c.Results += o.Results
	c.ResultsElectronic += o.ResultsElectronic
	c.Digitised += o.Digitised
	c.Withdrawn += o.Withdrawn
	c.Feedback += o.Feedback
	c.Satisfied += o.Satisfied
	c.FeedbackOnTime += o.FeedbackOnTime
}

// countKey is the key of a row of dossier_counts.
type countKey struct {
	Grain              string // "day" (procedure ""), "month" (channel ""), or "unit" (the month's, both "")
	Unit               units.Ref
	Period             time.Time // the Vietnamese day, or the first day of its month, at midnight UTC
	Procedure, Channel string
}

// tally is what one counted fact adds: to its day's row and its month's row.
type tally struct {
	seqs   [2]uint64 // the stream sequences of the fact and of its receipt (the same for a receipt)
	day    countKey
	month  countKey
	counts dossierCounts
}

// tallyDossier returns what one dossier's facts count: its earliest receipt, and of every other kind its earliest
// fact (by the fact's own time, then stream order: a correction dated earlier replaces what was counted), each on
// its own Vietnamese day with the receipt's procedure and channel. Facts of a dossier not received (yet) count
// nothing: they count when the receipt comes. Repeats of a fact are allowed.
func tallyDossier(facts []dossierFact) []tally {
	first := chosen(facts)
	receipt := first["received"]
	if receipt == nil {
		return nil
	}
	out := make([]tally, 0, len(first))
	for _, f := range first {
		var c dossierCounts
		switch f.fact {
		case "received":
			c.Received, c.ReceivedOnline, c.ReceivedFee = 1, u32(receipt.channel == string(event.ChannelOnline)), u32(f.fee)
		case "paid":
			c.Paid, c.PaidOnline = 1, u32(f.flag)
		case "settled":
			c.Settled, c.SettledOnTime = 1, u32(!f.at.After(receipt.due))
			if d := f.at.Sub(receipt.at); d > 0 {
				c.SettleSeconds = uint64(d / time.Second)
			}
		case "result_issued":
			c.Results, c.ResultsElectronic = 1, u32(f.flag)
		case "digitised":
			c.Digitised = 1
		case "withdrawn":
			c.Withdrawn = 1
		case "feedback_given":
			c.Feedback, c.Satisfied, c.FeedbackOnTime = 1, u32(f.flag), u32(f.onTime)
		}
		day := dateOnly(coverage.DayOf(f.at))
		month := time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, time.UTC)
		out = append(out, tally{
			seqs:   [2]uint64{f.seq, receipt.seq},
			day:    countKey{Grain: "day", Unit: f.unit, Period: day, Channel: receipt.channel},
			month:  countKey{Grain: "month", Unit: f.unit, Period: month, Procedure: receipt.procedure},
			counts: c,
		})
	}
	return out
}

// chosen returns the fact of each kind that counts: the earliest by its time, then by stream order.
func chosen(facts []dossierFact) map[string]*dossierFact {
	first := map[string]*dossierFact{}
	for i := range facts {
		f := &facts[i]
		if g := first[f.fact]; g == nil || f.countsBefore(*g) {
			first[f.fact] = f
		}
	}
	return first
}

// countsBefore says whether f counts rather than g, a fact of the same kind: earlier by its time, then by stream order.
func (f dossierFact) countsBefore(g dossierFact) bool {
	return f.at.Before(g.at) || f.at.Equal(g.at) && f.seq < g.seq
}

// displaces says whether the batch's facts of a dossier change which of its stored facts count (a fact dated earlier
// than the one counted, or the receipt of facts already stored): what was counted before must then be counted again.
func displaces(fs []dossierFact, inBatch map[uint64]bool) bool {
	var stored []dossierFact
	for _, f := range fs {
		if !inBatch[f.seq] {
			stored = append(stored, f)
		}
	}
	was := chosen(stored)
	if was["received"] == nil {
		return false // nothing of it counted before
	}
	now := chosen(fs)
	for kind, f := range was {
		if now[kind].seq != f.seq {
			return true
		}
	}
	return false
}

func u32(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// countRow is a stored row of dossier_counts.
type countRow struct {
	counts  dossierCounts
	sets    procedureSets
	through uint64
}

// unitMonth names a unit's month, counted again whole when a batch cannot simply be added.
type unitMonth struct {
	unit  units.Ref
	month time.Time
}

// countDossiers brings dossier_counts up to the batch: after the batch's facts are in dossier_facts, before the raw
// log. It reads the stored facts of the batch's dossiers and the stored rows of the periods they count in, and adds
// what the batch's events count to each row whose count runs to before them (the usual case: a batch comes after
// the ones before it). A row whose count already runs to one of them (the batch was counted before a crash kept it
// out of the raw log, or the stream came out of order) gets its unit's month counted again from dossier_facts,
// which counts each fact once whatever was written before. The cost follows the batch: the dossiers it names and
// the periods they count in, plus, rarely, whole unit-months.
func (s *Store) countDossiers(ctx context.Context, recs []Record) error {
	inBatch := map[uint64]bool{}
	batch := map[dossierID][]dossierFact{}
	var last uint64
	for _, r := range recs {
		if f, ok := factOf(r.Data, r.Seq); ok {
			inBatch[r.Seq] = true
			id := dossierID{f.unit, f.dossier}
			batch[id] = append(batch[id], f)
			last = max(last, r.Seq)
		}
	}
	if len(batch) == 0 {
		return nil
	}
	// The stored facts of the batch's dossiers, as what counting needs of them (storedFacts): remembered, or read.
	facts := map[dossierID][]dossierFact{}
	storedMax := map[dossierID]uint64{}
	unread := map[string]bool{}
	remembered := 0
	for id, bf := range batch {
		if stored, maxSeq, ok := s.open.get(id); ok {
			facts[id], storedMax[id] = append(stored, bf...), maxSeq
			remembered++
		} else {
			unread[id.dossier] = true
			facts[id] = bf // none stored, unless read below
		}
	}
	if len(unread) > 0 {
		read, err := s.dossierFacts(ctx, unread, inBatch)
		if err != nil {
			return err
		}
		for id, st := range read {
			if _, known := storedMax[id]; known {
				continue // remembered: the same dossier number of another unit was read
			}
			if bf, ok := batch[id]; ok {
				facts[id], storedMax[id] = append(st.chosen, bf...), st.maxSeq
			}
		}
	}
	s.dossiersRead += len(unread)
	s.dossiersRemembered += remembered
	for id, fs := range facts {
		maxSeq := storedMax[id]
		for _, f := range fs {
			maxSeq = max(maxSeq, f.seq)
		}
		s.open.stage(id, fs, maxSeq, s.intern)
	}
	// A fact counts with the batch when it or its receipt is in the batch. That is all there is to add when the
	// dossier's other stored facts all come before the batch in the stream; otherwise (facts written by a write cut
	// short, or a stream out of order) every month the dossier's facts count in is counted again.
	deltas := map[countKey]*dossierCounts{}
	sets := map[countKey]procedureSets{}
	firstSeq := map[countKey]uint64{}
	lastSeq := map[countKey]uint64{}
	again := map[unitMonth]bool{}
	for id, fs := range facts {
		// The batch comes after the dossier's stored facts in the stream when their highest sequence is below its own.
		ordered := storedMax[id] < minSeq(batch[id])
		if !ordered || displaces(fs, inBatch) {
			for _, f := range fs {
				again[unitMonth{f.unit, monthOf(dateOnly(coverage.DayOf(f.at)))}] = true
			}
			continue
		}
		for _, t := range tallyDossier(fs) {
			var lo, hi uint64
			for _, q := range t.seqs {
				if inBatch[q] {
					lo, hi = cmp.Or(min(lo, q), q), max(hi, q)
				}
			}
			if hi == 0 {
				continue
			}
			for _, k := range t.keys() {
				if deltas[k] == nil {
					deltas[k] = &dossierCounts{}
					firstSeq[k] = lo
				}
				deltas[k].add(t.counts)
				if k.Grain == "unit" {
					sets[k] = sets[k].with(t)
				}
				firstSeq[k] = min(firstSeq[k], lo)
				lastSeq[k] = max(lastSeq[k], hi)
			}
		}
	}
	if len(deltas) == 0 && len(again) == 0 {
		return nil
	}
	stored, err := s.storedCounts(ctx, deltas)
	if err != nil {
		return err
	}
	for k := range deltas {
		if stored[k].through >= firstSeq[k] {
			again[unitMonth{k.Unit, monthOf(k.Period)}] = true
		}
	}
	out := &inserter{conn: s.conn, query: chsql.InsertDossierCounts.SQL}
	for k, d := range deltas {
		if again[unitMonth{k.Unit, monthOf(k.Period)}] {
			continue
		}
		have := stored[k]
		have.counts.add(*d)
		addCountRow(out, k, have.counts, have.sets.union(sets[k]), lastSeq[k])
	}
	for um := range again {
		if err := s.countMonthAgain(ctx, out, um, last); err != nil {
			return err
		}
	}
	if err := out.send(ctx); err != nil {
		return fmt.Errorf("insert dossier counts: %w", err)
	}
	return nil
}

// countMonthAgain counts a unit's month from every stored fact of the dossiers with a fact in it. Its rows go at a
// sequence above the rows they replace, the batch's last, and any fact they count: a fact counted here and delivered
// again later has its month counted again, never added to. A stored row that nothing counts in any more
// (its fact no longer the first of its kind) is written as zeros.
func (s *Store) countMonthAgain(ctx context.Context, out *inserter, um unitMonth, batchLast uint64) error {
	month := um.month.Format(time.DateOnly)
	fail := func(err error) error {
		return fmt.Errorf("count the dossiers of %s in %s again: %w", um.unit, month, err)
	}
	rows, err := s.conn.Query(ctx, chsql.DossierFactsOfMonth.SQL, string(um.unit.Kind), um.unit.Code, month, string(um.unit.Kind), um.unit.Code)
	if err != nil {
		return fail(err)
	}
	counts := map[countKey]*dossierCounts{}
	sets := map[countKey]procedureSets{}
	through := batchLast
	// The rows come by dossier: each is counted when the next begins, so that memory holds one dossier's facts and the
	// month's rows, not the month's facts (a province's month is hundreds of thousands of them).
	var dossier storedFacts
	var current string
	count := func() {
		for _, t := range tallyDossier(dossier.chosen) {
			if monthOf(t.day.Period) != um.month {
				continue
			}
			through = max(through, t.seqs[0], t.seqs[1])
			for _, k := range t.keys() {
				if counts[k] == nil {
					counts[k] = &dossierCounts{}
				}
				counts[k].add(t.counts)
				if k.Grain == "unit" {
					sets[k] = sets[k].with(t)
				}
			}
		}
		dossier = storedFacts{chosen: dossier.chosen[:0]}
	}
	err = eachFact(rows, func(f dossierFact) {
		if f.dossier != current {
			count()
			current = f.dossier
		}
		dossier.add(f)
	})
	if err != nil {
		return fail(err)
	}
	count()
	keys, err := s.conn.Query(ctx, chsql.DossierCountsOfMonth.SQL, string(um.unit.Kind), um.unit.Code, um.month.Format(time.DateOnly), um.month.AddDate(0, 1, 0).Format(time.DateOnly))
	if err != nil {
		return fail(err)
	}
	defer keys.Close()
	for keys.Next() {
		k := countKey{Unit: um.unit}
		var seq uint64
		if err := keys.Scan(&k.Grain, &k.Period, &k.Procedure, &k.Channel, &seq); err != nil {
			return fail(err)
		}
		k.Period = time.Date(k.Period.Year(), k.Period.Month(), k.Period.Day(), 0, 0, 0, 0, time.UTC)
		through = max(through, seq)
		if counts[k] == nil {
			counts[k] = &dossierCounts{}
		}
	}
	if err := keys.Err(); err != nil {
		return fail(err)
	}
	// One more than any of them: equal versions leave ReplacingMergeTree free to keep either row. A sequence a little
	// ahead costs nothing but a recount, should a batch bring that sequence.
	for k, c := range counts {
		addCountRow(out, k, *c, sets[k], through+1)
	}
	return nil
}

// minSeq is the lowest stream sequence of facts.
func minSeq(fs []dossierFact) uint64 {
	lo := fs[0].seq
	for _, f := range fs[1:] {
		lo = min(lo, f.seq)
	}
	return lo
}

func addCountRow(out *inserter, k countKey, c dossierCounts, p procedureSets, through uint64) {
	out.add(k.Grain, string(k.Unit.Kind), k.Unit.Code, k.Period, k.Procedure, k.Channel, c.Received, c.ReceivedOnline, c.ReceivedFee,
		c.Paid, c.PaidOnline, c.Settled, c.SettledOnTime, c.SettleSeconds, c.Results, c.ResultsElectronic, c.Digitised,
		c.Withdrawn, c.Feedback, c.Satisfied, c.FeedbackOnTime, sorted(p.online), sorted(p.fee), sorted(p.paidOnline), through)
}

// keys are the rows a tally counts in: its day's, its month's (by procedure), and its unit's month.
func (t tally) keys() []countKey {
	return []countKey{t.day, t.month, {Grain: "unit", Unit: t.month.Unit, Period: t.month.Period}}
}

// procedureSets are a unit row's sets of procedures: with a dossier received online, received for a fee, paid online.
// A batch only adds to them (a fact that would take one away, dated earlier, has the month counted again).
type procedureSets struct {
	online, fee, paidOnline map[string]bool
}

// with adds what a tally puts in the sets, the procedure of its dossier's receipt.
func (p procedureSets) with(t tally) procedureSets {
	add := func(m map[string]bool, yes bool) map[string]bool {
		if !yes {
			return m
		}
		if m == nil {
			m = map[string]bool{}
		}
		m[t.month.Procedure] = true
		return m
	}
	p.online = add(p.online, t.counts.ReceivedOnline > 0)
	p.fee = add(p.fee, t.counts.ReceivedFee > 0)
	p.paidOnline = add(p.paidOnline, t.counts.PaidOnline > 0)
	return p
}

func (p procedureSets) union(o procedureSets) procedureSets {
	join := func(a, b map[string]bool) map[string]bool {
		if len(b) == 0 {
			return a
		}
		out := maps.Clone(a)
		if out == nil {
			out = map[string]bool{}
		}
		maps.Copy(out, b)
		return out
	}
	return procedureSets{join(p.online, o.online), join(p.fee, o.fee), join(p.paidOnline, o.paidOnline)}
}

func sorted(m map[string]bool) []string {
	return slices.Sorted(maps.Keys(m))
}

func setOf(s []string) map[string]bool {
	if len(s) == 0 {
		return nil
	}
	m := make(map[string]bool, len(s))
	for _, v := range s {
		m[v] = true
	}
	return m
}

func monthOf(d time.Time) time.Time { return time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC) }

// storedFacts is what counting a dossier's next facts needs of its stored facts: of each kind the one that counts
// (chosen), and the highest stream sequence of any. Held so, a dossier costs at most seven facts however many times
// a sender repeated one.
type storedFacts struct {
	chosen []dossierFact
	maxSeq uint64
}

// add takes one more stored fact in; a fact read twice (written twice) changes nothing.
func (st *storedFacts) add(f dossierFact) {
	st.maxSeq = max(st.maxSeq, f.seq)
	for i := range st.chosen {
		if g := &st.chosen[i]; g.fact == f.fact {
			if f.countsBefore(*g) {
				*g = f
			}
			return
		}
	}
	st.chosen = append(st.chosen, f)
}

// dossierFacts reads the stored facts of the given dossiers but the batch's own (inBatch: they are counted from the
// batch), by dossier.
func (s *Store) dossierFacts(ctx context.Context, dossiers map[string]bool, inBatch map[uint64]bool) (map[dossierID]*storedFacts, error) {
	tbl, err := ext.NewTable(chsql.BatchDossiers, ext.Column("dossier", "String"))
	if err != nil {
		return nil, fmt.Errorf("read dossier facts: %w", err)
	}
	for d := range dossiers {
		if err := tbl.Append(d); err != nil {
			return nil, fmt.Errorf("read dossier facts: %w", err)
		}
	}
	rows, err := s.conn.Query(clickhouse.Context(ctx, clickhouse.WithExternalTable(tbl)), chsql.DossierFacts.SQL)
	if err != nil {
		return nil, fmt.Errorf("read dossier facts: %w", err)
	}
	out := map[dossierID]*storedFacts{}
	err = eachFact(rows, func(f dossierFact) {
		if inBatch[f.seq] {
			return
		}
		id := dossierID{f.unit, f.dossier}
		if out[id] == nil {
			out[id] = &storedFacts{}
		}
		out[id].add(f)
	})
	if err != nil {
		return nil, fmt.Errorf("read dossier facts: %w", err)
	}
	return out, nil
}

type dossierID struct {
	unit    units.Ref
	dossier string
}

// eachFact hands each row of dossier_facts read to fn, as they come: the caller keeps what it needs, so that memory
// follows what it keeps, not the rows read.
func eachFact(rows driver.Rows, fn func(dossierFact)) error {
	defer rows.Close()
	for rows.Next() {
		var f dossierFact
		var kind string
		var fee, flag, onTime uint8
		if err := rows.Scan(&kind, &f.unit.Code, &f.dossier, &f.fact, &f.at, &f.procedure, &f.channel, &fee, &f.due, &flag, &onTime, &f.seq); err != nil {
			return err
		}
		f.unit.Kind = units.Kind(kind)
		f.fee, f.flag, f.onTime = fee == 1, flag == 1, onTime == 1
		fn(f)
	}
	return rows.Err()
}

// storedCounts reads the stored rows of the units and periods of keys.
func (s *Store) storedCounts(ctx context.Context, keys map[countKey]*dossierCounts) (map[countKey]countRow, error) {
	tbl, err := ext.NewTable(chsql.CountKeys, ext.Column("unit_kind", "String"), ext.Column("unit_code", "String"),
		ext.Column("grain", "Enum8('day' = 1, 'month' = 2, 'unit' = 3)"), ext.Column("period", "Date"))
	if err != nil {
		return nil, fmt.Errorf("read dossier counts: %w", err)
	}
	type up struct {
		unit   units.Ref
		grain  string
		period time.Time
	}
	seen := map[up]bool{}
	for k := range keys {
		if key := (up{k.Unit, k.Grain, k.Period}); !seen[key] {
			seen[key] = true
			if err := tbl.Append(string(k.Unit.Kind), k.Unit.Code, k.Grain, k.Period); err != nil {
				return nil, fmt.Errorf("read dossier counts: %w", err)
			}
		}
	}
	rows, err := s.conn.Query(clickhouse.Context(ctx, clickhouse.WithExternalTable(tbl)), chsql.DossierCounts.SQL)
	if err != nil {
		return nil, fmt.Errorf("read dossier counts: %w", err)
	}
	defer rows.Close()
	out := map[countKey]countRow{}
	for rows.Next() {
		var k countKey
		var kind string
		var r countRow
		c := &r.counts
		var online, fee, paidOnline []string
		if err := rows.Scan(&k.Grain, &kind, &k.Unit.Code, &k.Period, &k.Procedure, &k.Channel, &c.Received, &c.ReceivedOnline, &c.ReceivedFee,
			&c.Paid, &c.PaidOnline, &c.Settled, &c.SettledOnTime, &c.SettleSeconds, &c.Results, &c.ResultsElectronic,
			&c.Digitised, &c.Withdrawn, &c.Feedback, &c.Satisfied, &c.FeedbackOnTime, &online, &fee, &paidOnline, &r.through); err != nil {
			return nil, fmt.Errorf("read dossier counts: %w", err)
		}
		r.sets = procedureSets{setOf(online), setOf(fee), setOf(paidOnline)}
		k.Unit.Kind = units.Kind(kind)
		k.Period = time.Date(k.Period.Year(), k.Period.Month(), k.Period.Day(), 0, 0, 0, 0, time.UTC)
		out[k] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read dossier counts: %w", err)
	}
	return out, nil
}
