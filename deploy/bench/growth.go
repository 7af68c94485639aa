package main

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
	"github.com/egovtrack/egovtrack/projector/store"
)

// growthTarget bounds how much a statement's time per batch may grow from the small table to the large one: a
// statement whose cost follows the batch stays within it, one that follows the table's history does not.
const growthTarget = 2.0

const (
	// growthCatalogue is how many procedures of each unit the live events register again and then change: 17,000
	// registrations, four batches, so that the fresh database stays small next to the national-scale one, and a
	// unit's report of growthReportSize changes touches most of them.
	growthCatalogue = 200
	// growthReportSize is how many level changes a unit reports at once. About 12 of the 85 units report a day (most
	// weekly), so that is about 12,000 events a day: the rate of the national-scale dataset, 10 million events
	// over two years.
	growthReportSize = 1000
)

// stepGrowth times every ClickHouse statement the store sends per batch while it writes the same live events, in
// batches of projectorBatch, into a fresh database and into the national-scale one (nationalDB: the queries step's,
// or loaded here the same way), and compares each statement's time per batch between the two. The live events
// (liveEvents) start with a catalogue that touches every unit: its batches are not timed, except that the
// statements sent only in the first one (each unit's history read once after a start) are reported apart, as
// one-off. Then GrowthBatches batches of reports are timed, the steady state of live operation, each written into
// both databases, one after the other, in turn first, so that both see the same load of a shared machine. After
// each write the step waits until ClickHouse merges nothing, so that a batch's background merges slow neither the
// next batch's statements nor the other database's: how long it waited is reported apart. With GrowthStopMerges,
// ClickHouse merges nothing of either database while the batches are timed: the statements' own cost, without
// the background work they cause.
func (b *bench) stepGrowth(ctx context.Context) error {
	// Numbered after the national-scale database's stream: the dataset's events, then its extras (fewer than 10,000).
	live, warm, err := b.liveEvents(b.cfg.GrowthBatches, uint64(b.data.Events)+1_000_000)
	if err != nil {
		return fmt.Errorf("live events: %w", err)
	}
	batches := slices.Collect(slices.Chunk(live, projectorBatch))
	nconn, err := b.nationalDB(ctx, "g growth")
	if err != nil {
		return err
	}
	defer nconn.Close()
	conn, _, err := b.database(ctx, "bench_growth")
	if err != nil {
		return err
	}
	defer conn.Close()
	defer b.dropDatabase(context.WithoutCancel(ctx), "bench_growth")
	small := &growthSide{name: "fresh database", conn: conn}
	large := &growthSide{name: "national-scale database", conn: nconn}
	for _, g := range []*growthSide{small, large} {
		if err := b.growthWarm(ctx, g, batches[:warm]); err != nil {
			return fmt.Errorf("%s: %w", g.name, err)
		}
	}
	if b.cfg.GrowthStopMerges {
		for _, g := range []*growthSide{small, large} {
			if err := g.setMerges(ctx, "STOP"); err != nil {
				return err
			}
			defer g.setMerges(context.WithoutCancel(ctx), "START")
		}
	}
	b.log.Info("growth: timing the store's batches", "batches", len(batches)-warm, "merges_stopped", b.cfg.GrowthStopMerges)
	for i, batch := range batches[warm:] {
		order := []*growthSide{small, large}
		if i%2 == 1 {
			order = []*growthSide{large, small} // neither always writes right after the other's batch
		}
		for _, g := range order {
			g.tc.reset()
			began := time.Now()
			if err := g.store.Write(ctx, batch, nil); err != nil {
				return fmt.Errorf("%s: %w", g.name, err)
			}
			g.write = append(g.write, time.Since(began))
			g.steady = append(g.steady, g.tc.snapshot())
			waited, err := g.awaitMerges(ctx)
			if err != nil {
				return fmt.Errorf("%s: %w", g.name, err)
			}
			g.merging = append(g.merging, waited)
		}
	}
	b.compareGrowth(small, large)
	return nil
}

// growthSide is one database of the growth step: the store writing into it and what it measured.
type growthSide struct {
	name  string
	conn  driver.Conn
	tc    *timedConn
	store *store.Store

	tables map[string]uint64 // rows of the tables the store reads, when the timed batches began
	first  map[string]sqlStat
	// steady holds the statements of each timed batch, write each one's store.Write (Go work included).
	steady []map[string]sqlStat
	write  []time.Duration
	// merging is how long ClickHouse went on merging after each timed batch; merged what it merged, by table.
	merging []time.Duration
	merged  map[string]*mergesSeen
}

// mergesSeen is what awaitMerges saw of one table's merges: how many (by the part each makes), and the largest,
// in rows (its marks × 8,192) and in seconds.
type mergesSeen struct {
	parts   map[string]bool
	rows    uint64
	seconds float64
}

// mergingTables are the tables of the schema whose parts ClickHouse merges in the background.
var mergingTables = []string{"events", "procedure_changes", "procedures", "coverage_daily", "assistant_changes", "reports", "targets",
	"units", "quarantine", "ingestion_lag", "ingestion_lag_hourly"}

// setMerges stops or starts (verb) ClickHouse's background merges of g's tables.
func (g *growthSide) setMerges(ctx context.Context, verb string) error {
	for _, t := range mergingTables {
		if err := g.conn.Exec(ctx, "SYSTEM "+verb+" MERGES "+t); err != nil {
			return fmt.Errorf("%s merges of %s: %w", strings.ToLower(verb), t, err)
		}
	}
	return nil
}

// mergePoll is how often awaitMerges looks at system.merges.
const mergePoll = 10 * time.Millisecond

// awaitMerges waits until ClickHouse runs no merge, in any database, at two looks mergePoll apart (a merge an
// insert asks for starts a moment after it), and returns how long that took.
func (g *growthSide) awaitMerges(ctx context.Context) (time.Duration, error) {
	began := time.Now()
	quiet := 0
	for quiet < 2 {
		if time.Since(began) > 5*time.Minute {
			return time.Since(began), fmt.Errorf("ClickHouse still merging after %s", time.Since(began).Round(time.Second))
		}
		time.Sleep(mergePoll)
		rows, err := g.conn.Query(ctx, "SELECT table, result_part_name, total_size_marks, elapsed FROM system.merges")
		if err != nil {
			return 0, err
		}
		n := 0
		for rows.Next() {
			var table, part string
			var marks uint64
			var elapsed float64
			if err := rows.Scan(&table, &part, &marks, &elapsed); err != nil {
				rows.Close()
				return 0, err
			}
			if g.merged == nil {
				g.merged = map[string]*mergesSeen{}
			}
			m := g.merged[table]
			if m == nil {
				m = &mergesSeen{parts: map[string]bool{}}
				g.merged[table] = m
			}
			m.parts[part] = true
			m.rows = max(m.rows, marks*8192)
			m.seconds = max(m.seconds, elapsed)
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, err
		}
		if n == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
	return time.Since(began), nil
}

// growthTables are the tables the store reads while it writes: the raw log (the written-id check), the changes (a
// unit's history, read once after a start) and the daily coverage (its days, and the rows carried forward).
var growthTables = []string{"events", "procedure_changes", "coverage_daily"}

// growthWarm opens the store on g's database through a timedConn and writes the catalogue's batches, keeping the
// statements of the first one; then it waits for ClickHouse's merges, counts the tables' rows and resets the
// timings for the timed batches.
func (b *bench) growthWarm(ctx context.Context, g *growthSide, catalogue [][]store.Record) error {
	g.tc = &timedConn{Conn: g.conn, stats: map[string]*sqlStat{}}
	var err error
	if g.store, err = store.Open(ctx, g.tc, b.quiet(), store.Config{}); err != nil {
		return err
	}
	g.tc.reset() // the schema and the units written at open are not per batch
	b.log.Info("growth: writing the catalogue (untimed)", "database", g.name, "batches", len(catalogue))
	for i, batch := range catalogue {
		if err := g.store.Write(ctx, batch, nil); err != nil {
			return err
		}
		if i == 0 {
			g.first = g.tc.snapshot()
		}
		g.tc.reset()
	}
	b.waitMerges(ctx, g.conn, 5*time.Minute) // as the queries step does: the timed batches do not compete with them
	g.tables = map[string]uint64{}
	for _, t := range growthTables {
		var n uint64
		if err := g.conn.QueryRow(ctx, "SELECT count() FROM "+t).Scan(&n); err != nil {
			return err
		}
		g.tables[t] = n
	}
	g.tc.reset()
	return nil
}

// growthStat is one statement's figures in one database, per batch. Ms is the median time the statement took in
// the batches that sent it, times the share of batches that did: the spikes of a shared machine (another process's
// burst, a background merge) move it far less than the mean, MeanMs.
type growthStat struct {
	Calls     float64 `json:"calls_per_batch"`
	Ms        float64 `json:"ms_per_batch"`
	MeanMs    float64 `json:"mean_ms_per_batch"`
	RowsRead  float64 `json:"rows_read_per_batch"`
	BytesRead float64 `json:"bytes_read_per_batch"`
}

// perBatch sums statement k over batches.
func perBatch(batches []map[string]sqlStat, k string) (growthStat, []float64) {
	var g growthStat
	ms := make([]float64, len(batches))
	var sent []float64
	for i, b := range batches {
		s := b[k]
		g.Calls += float64(s.calls)
		g.RowsRead += float64(s.read)
		g.BytesRead += float64(s.readBytes)
		ms[i] = s.took.Seconds() * 1000
		g.MeanMs += ms[i]
		if s.calls > 0 {
			sent = append(sent, ms[i])
		}
	}
	n := float64(len(batches))
	g.Calls, g.RowsRead, g.BytesRead, g.MeanMs = g.Calls/n, g.RowsRead/n, g.BytesRead/n, g.MeanMs/n
	if len(sent) > 0 {
		slices.Sort(sent)
		g.Ms = percentile(sent, 0.5) * float64(len(sent)) / n
	}
	return g, ms
}

// growthTiming compares one statement between the small table and the large one.
type growthTiming struct {
	Statement string     `json:"statement"`
	OneOff    bool       `json:"one_off"` // sent in the first batch only, not in the steady state
	Small     growthStat `json:"small"`
	Large     growthStat `json:"large"`
	// Ratio is the median, over the batches that sent the statement into both databases, of its time in the large
	// one over its time in the small one: each batch's pair was written moments apart, under the same load.
	Ratio     float64 `json:"ratio"`
	MeanRatio float64 `json:"mean_ratio"` // large MeanMs / small MeanMs
	Status    string  `json:"status"`
}

// growthReport is the growth step's comparison, in the results' JSON.
type growthReport struct {
	Batches    int                          `json:"batches"`
	BatchSize  int                          `json:"batch_size"`
	Tables     map[string]map[string]uint64 `json:"tables"` // database → table → rows when the timed batches began
	Statements []growthTiming               `json:"statements"`
}

// pairedRatio is the median of large[i] / small[i] over the batches where both are above zero; the ratio of the
// sums when there are none.
func pairedRatio(small, large []float64) float64 {
	var rs []float64
	var ss, ls float64
	for i := range small {
		ss += small[i]
		ls += large[i]
		if small[i] > 0 && large[i] > 0 {
			rs = append(rs, large[i]/small[i])
		}
	}
	if len(rs) == 0 {
		return ratio(ss, ls)
	}
	slices.Sort(rs)
	return percentile(rs, 0.5)
}

func ratio(small, large float64) float64 {
	if small <= 0 {
		return math.Inf(1)
	}
	return large / small
}

// compareGrowth reports, for every statement of the steady state, its time per batch on both tables and the ratio,
// against growthTarget; and, as information, the statements only the first batch sent.
func (b *bench) compareGrowth(small, large *growthSide) {
	n := len(large.steady)
	g := &growthReport{Batches: n, BatchSize: projectorBatch,
		Tables: map[string]map[string]uint64{small.name: small.tables, large.name: large.tables}}
	for _, run := range []*growthSide{small, large} {
		b.add(result{Step: "g growth", Name: "tables when the timed batches began: " + run.name, Value: float64(run.tables["events"]), Unit: "events",
			Status: info, Note: fmt.Sprintf("procedure_changes %s, coverage_daily %s rows", thousands(int64(run.tables["procedure_changes"])),
				thousands(int64(run.tables["coverage_daily"])))})
	}
	seen := map[string]bool{}
	for _, steady := range []bool{true, false} {
		var ts []growthTiming
		for _, k := range keysOf(small, large, steady) {
			if seen[k] {
				continue
			}
			seen[k] = true
			t := growthTiming{Statement: k, OneOff: !steady, Status: info}
			if steady {
				var sms, lms []float64
				t.Small, sms = perBatch(small.steady, k)
				t.Large, lms = perBatch(large.steady, k)
				t.Ratio = pairedRatio(sms, lms)
				t.Status = status(t.Ratio, growthTarget, true)
			} else {
				t.Small, _ = perBatch([]map[string]sqlStat{small.first}, k)
				t.Large, _ = perBatch([]map[string]sqlStat{large.first}, k)
				t.Ratio = ratio(t.Small.Ms, t.Large.Ms)
			}
			t.MeanRatio = ratio(t.Small.MeanMs, t.Large.MeanMs)
			ts = append(ts, t)
		}
		slices.SortFunc(ts, func(a, b growthTiming) int { return cmp.Compare(b.Large.Ms, a.Large.Ms) })
		for _, t := range ts {
			name, target := "per batch: "+t.Statement, fmt.Sprintf("≤ %.0f ×", growthTarget)
			if t.OneOff {
				name, target = "first batch only: "+t.Statement, ""
			}
			b.add(result{Step: "g growth", Name: name, Value: t.Ratio, Unit: "×", Target: target, Status: t.Status,
				Note: fmt.Sprintf("%.1f → %.1f ms a batch (mean %.1f → %.1f), %.2f → %.2f calls; rows read %s → %s", t.Small.Ms, t.Large.Ms,
					t.Small.MeanMs, t.Large.MeanMs, t.Small.Calls, t.Large.Calls, thousands(int64(t.Small.RowsRead)), thousands(int64(t.Large.RowsRead)))})
		}
		g.Statements = append(g.Statements, ts...)
	}
	ms := func(ds []time.Duration) []float64 {
		out := make([]float64, len(ds))
		for i, d := range ds {
			out[i] = d.Seconds() * 1000
		}
		return out
	}
	sw, lw := ms(small.write), ms(large.write)
	b.add(result{Step: "g growth", Name: "store.Write, whole batch (statements and Go work)", Value: pairedRatio(sw, lw), Unit: "×", Status: info,
		Note: fmt.Sprintf("median %.0f → %.0f ms a batch of %s, over %d batches", median(sw), median(lw), thousands(projectorBatch), n)})
	sm, lm := ms(small.merging), ms(large.merging)
	b.add(result{Step: "g growth", Name: "ClickHouse merging after a batch (awaited, not timed in the batch)", Value: ratio(mean(sm), mean(lm)), Unit: "×",
		Status: info, Note: fmt.Sprintf("mean %.0f → %.0f ms, median %.0f → %.0f ms (polled every %s)", mean(sm), mean(lm), median(sm), median(lm), mergePoll)})
	for _, run := range []*growthSide{small, large} {
		var seen []string
		for _, t := range slices.Sorted(maps.Keys(run.merged)) {
			m := run.merged[t]
			seen = append(seen, fmt.Sprintf("%s %d (largest ≈ %s rows, %.1f s)", t, len(m.parts), thousands(int64(m.rows)), m.seconds))
		}
		b.note("growth: merges seen after the timed batches, %s: %s", run.name, strings.Join(seen, "; "))
	}
	b.rep.Growth = g
}

func mean(v []float64) float64 {
	var sum float64
	for _, x := range v {
		sum += x
	}
	return sum / float64(len(v))
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return percentile(s, 0.5)
}

// keysOf lists the statements of the steady state of either run, or (steady false) of the first batch of either.
func keysOf(small, large *growthSide, steady bool) []string {
	var out []string
	for _, r := range []*growthSide{small, large} {
		ms := []map[string]sqlStat{r.first}
		if steady {
			ms = r.steady
		}
		for _, m := range ms {
			for k := range m {
				if !slices.Contains(out, k) {
					out = append(out, k)
				}
			}
		}
	}
	return out
}

// liveStart is when the live events begin: after everything the national-scale database holds.
var liveStart = dataEnd

// liveEvents are the growth step's events, the same for every database: live operation after the two years the
// national-scale database holds, numbered in the stream after seq. First every unit sends its catalogue again, the
// dataset's registrations of its first growthCatalogue procedures dated anew a second apart, procedure after
// procedure, so that the first batch touches every unit; the national-scale database holds these procedures
// already, the fresh one learns them. Then the units report on their cadence (internal/units), day after day, from
// 08:00, ten minutes apart: growthReportSize level changes of random procedures of the catalogue, each from the level it
// is at, half a second apart, then the report itself. A batch holds a few units' reports, so that whenever one
// reaches a new day the other units' coverage is carried forward, as in live operation. It returns the events and
// how many batches the catalogue takes; the rest make batches batches of projectorBatch.
func (b *bench) liveEvents(batches int, seq uint64) ([]store.Record, int, error) {
	us := units.All()
	per := min(growthCatalogue, b.data.Procedures)
	regs, err := b.data.load(0, per*len(us))
	if err != nil {
		return nil, 0, err
	}
	var out []store.Record
	add := func(d event.Data) error {
		env, err := event.New("/egovtrack/bench", d)
		if err != nil {
			return err
		}
		seq++
		out = append(out, store.Record{Env: env, Data: d, Seq: seq, ReceivedAt: env.Time.Add(2 * time.Second)})
		return nil
	}
	type proc struct {
		code  string
		level event.Level
	}
	catalogue := map[units.Ref][]proc{}
	for i, r := range regs {
		d, err := r.Env.UncheckedData() // validated when the dataset was generated
		if err != nil {
			return nil, 0, err
		}
		reg, ok := d.(*event.ProcedureRegisteredData)
		if !ok {
			return nil, 0, fmt.Errorf("the dataset's event %d is %s, not a registration", i, r.Env.Type)
		}
		again := *reg
		again.EffectiveAt = liveStart.Add(time.Duration(i) * time.Second)
		if err := add(&again); err != nil {
			return nil, 0, err
		}
		catalogue[reg.Unit] = append(catalogue[reg.Unit], proc{reg.Procedure, reg.Level})
	}
	warm := (len(out) + projectorBatch - 1) / projectorBatch
	total := (warm + batches) * projectorBatch
	rng := rand.New(rand.NewPCG(b.cfg.Seed, 0x6047))
	for day := 0; len(out) < total; day++ {
		for i, u := range us {
			cadence := max(1, int(u.Cadence.Hours()/24))
			procs := catalogue[u.Ref]
			if (day+i)%cadence != 0 || len(procs) == 0 || len(out) >= total {
				continue
			}
			at := liveStart.AddDate(0, 0, day).Add(8*time.Hour + time.Duration(i)*10*time.Minute)
			for k := range growthReportSize {
				p := &procs[rng.IntN(len(procs))]
				from := p.level
				p.level = 7 - from // 3 ↔ 4, as the dataset's changes
				if err := add(&event.LevelChangedData{Unit: u.Ref, Procedure: p.code, From: from, To: p.level,
					EffectiveAt: at.Add(time.Duration(k) * 500 * time.Millisecond)}); err != nil {
					return nil, 0, err
				}
			}
			if err := add(&event.ReportSubmittedData{Unit: u.Ref, Collector: "simulate", ReportedAt: at.Add(growthReportSize * 500 * time.Millisecond),
				Counts: event.ReportCounts{Changed: growthReportSize, Unchanged: len(procs)}}); err != nil {
				return nil, 0, err
			}
		}
	}
	return out[:total], warm, nil
}
