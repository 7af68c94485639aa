package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/egovtrack/egovtrack/internal/chdb"
	"github.com/egovtrack/egovtrack/projector/consumer"
	"github.com/egovtrack/egovtrack/projector/projection"
)

// profileProjector runs the projector's own code (consumer.Run with store.Store, the projector's default settings)
// in this process for ProfileFor on the durable consumer durable (the one the process left, or a new one), under the CPU profiler, with every
// ClickHouse statement timed (timedConn) and ClickHouse's own CPU time read from /proc. It writes
// projector-<name>-cpu.pprof, -heap.pprof (at the peak of the heap in use) and the `go tool pprof -top` of both, and
// reports under step.
// The CPU profile also holds the embedded NATS server's work, which runs in this process: its top is shown without
// it too.
func (b *bench) profileProjector(ctx context.Context, p *natsPhase, ch chdb.Config, step, name, durable string) error {
	conn, err := chdb.Open(ctx, ch)
	if err != nil {
		return err
	}
	defer conn.Close()
	tc := &timedConn{Conn: conn, stats: map[string]*sqlStat{}}
	log := b.quiet()
	s, err := p.stream(ctx)
	if err != nil {
		return err
	}
	cfg := consumer.Config{Durable: durable, BatchSize: projectorBatch, FlushInterval: 500 * time.Millisecond, AckWait: time.Minute}
	// The schema and the units written at open are not part of the steady state: the timings start after them.
	proj := projection.New(tc, s, projection.Config{Consumer: cfg, UntilCaughtUp: true, Started: tc.reset}, nil, log)

	cpuPath := filepath.Join(b.cfg.Out, "projector-"+name+"-cpu.pprof")
	heapPath := filepath.Join(b.cfg.Out, "projector-"+name+"-heap.pprof")
	f, err := os.Create(cpuPath)
	if err != nil {
		return err
	}
	defer f.Close()
	rctx, cancel := context.WithTimeout(ctx, b.cfg.ProfileFor)
	defer cancel()
	stopHeap := watchHeap(heapPath)
	chPid := b.clickhousePid()
	chBefore := cpuSeconds(chPid)
	var selfBefore syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &selfBefore)
	b.log.Info("profiling the projector in this process", "for", b.cfg.ProfileFor, "durable", durable, "database", ch.Database)
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	var memBefore, memAfter runtime.MemStats
	runtime.ReadMemStats(&memBefore)
	began := time.Now()
	stats, runErr := proj.Run(rctx)
	wall := time.Since(began)
	runtime.ReadMemStats(&memAfter)
	pprof.StopCPUProfile()
	peakHeap := stopHeap()
	var selfAfter syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &selfAfter)
	chCPU := cpuSeconds(chPid) - chBefore
	if runErr != nil && ctx.Err() == nil {
		return fmt.Errorf("in-process projector: %w", runErr)
	}

	rate := float64(stats.Projected) / wall.Seconds()
	b.add(result{Step: step, Name: "projector in-process under the profiler", Value: rate, Unit: "events/s", Status: info,
		Note: fmt.Sprintf("%s events in %d batches in %s; durable %q into %s", thousands(int64(stats.Projected)), stats.Batches,
			wall.Round(time.Second), durable, ch.Database)})
	selfCPU := tv(selfAfter.Utime) + tv(selfAfter.Stime) - tv(selfBefore.Utime) - tv(selfBefore.Stime)
	b.add(result{Step: step, Name: "CPU during the profile: this process (projector code + NATS server)", Value: selfCPU / wall.Seconds(), Unit: "cores", Status: info})
	if chPid > 0 {
		b.add(result{Step: step, Name: "CPU during the profile: clickhouse-server", Value: chCPU / wall.Seconds(), Unit: "cores", Status: info})
	}
	if stats.Projected > 0 {
		// What the whole pipeline costs the machine an event, and the rate its cores could give at that cost were
		// they all busy: the floor of any target above it, whatever the code waits on.
		perEvent := (selfCPU + chCPU) / float64(stats.Projected)
		b.add(result{Step: step, Name: "CPU an event, whole pipeline (projector, NATS server, clickhouse-server)", Value: perEvent * 1e6,
			Unit: "µs", Status: info, Note: fmt.Sprintf("of which clickhouse-server %.1f µs", chCPU/float64(stats.Projected)*1e6)})
		b.add(result{Step: step, Name: "events/s the machine's cores allow at that CPU an event", Value: float64(runtime.NumCPU()) / perEvent,
			Unit: "events/s", Status: info, Note: fmt.Sprintf("%d cores, all busy", runtime.NumCPU())})
		if b.rawDecodeCPU > 0 {
			b.add(result{Step: step, Name: "that ceiling ÷ raw consume + decode", Value: float64(runtime.NumCPU()) / perEvent / b.rawDecode,
				Unit: "×", Status: info, Note: "above the e2e ratio's target only if the CPU an event falls"})
		}
	}
	b.add(result{Step: step, Name: "peak Go heap in use during the profile", Value: float64(peakHeap) / (1 << 20), Unit: "MB", Status: info})
	if stats.Projected > 0 {
		b.add(result{Step: step, Name: "allocations an event, in-process (projector and NATS server)", Unit: "allocations", Status: info,
			Value: float64(memAfter.Mallocs-memBefore.Mallocs) / float64(stats.Projected),
			Note:  fmt.Sprintf("%.1f KB allocated an event", float64(memAfter.TotalAlloc-memBefore.TotalAlloc)/float64(stats.Projected)/1024)})
	}
	b.rep.SQL = tc.timings(wall)
	var sqlSecs float64
	for _, t := range b.rep.SQL {
		sqlSecs += t.Seconds
	}
	b.add(result{Step: step, Name: "share of the profile's wall time spent waiting on ClickHouse", Value: sqlSecs / wall.Seconds(), Unit: "×", Status: info,
		Note: "the rest: Go work (decode, fold, append) and waiting for JetStream; statements in the table below"})
	b.add(result{Step: step, Name: "longest gap between two ClickHouse statements", Value: tc.maxGap.Seconds(), Unit: "s", Status: info,
		Note: "the store idle: decoding a batch, or waiting for JetStream to deliver"})
	b.rep.Profiles = append(b.rep.Profiles, cpuPath, heapPath)
	for _, t := range []struct {
		path, file string
		args       []string
	}{
		{cpuPath, "projector-" + name + "-cpu-top.txt", []string{"-top", "-nodecount=35"}},
		{cpuPath, "projector-" + name + "-cpu-top-cum.txt", []string{"-top", "-cum", "-nodecount=45", "-ignore=nats-server"}},
		{cpuPath, "projector-" + name + "-cpu-top-no-nats-server.txt", []string{"-top", "-nodecount=35", "-ignore=nats-server"}},
		{heapPath, "projector-" + name + "-heap-top.txt", []string{"-top", "-nodecount=25", "-sample_index=inuse_space"}},
	} {
		out, err := exec.CommandContext(ctx, "go", append(append([]string{"tool", "pprof"}, t.args...), t.path)...).CombinedOutput()
		if err != nil {
			b.note("go tool pprof %s: %v", t.path, err)
			continue
		}
		path := filepath.Join(b.cfg.Out, t.file)
		if err := os.WriteFile(path, out, 0o644); err == nil {
			b.rep.Profiles = append(b.rep.Profiles, path)
		}
	}
	return nil
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// watchHeap writes a heap profile whenever the heap in use reaches a new peak (by a tenth at least), until the
// returned func is called, which returns the peak in bytes.
func watchHeap(path string) func() uint64 {
	done := make(chan struct{})
	var peak uint64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak+peak/10 {
				peak = ms.HeapInuse
				if f, err := os.Create(path); err == nil {
					pprof.Lookup("heap").WriteTo(f, 0)
					f.Close()
				}
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// clickhousePid finds the benchmark's clickhouse-server by its config file; 0 when not found.
func (b *bench) clickhousePid() int {
	want := "--config-file=" + filepath.Join(b.ch.Dir(), "config.xml")
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(cmd), want) {
			return pid
		}
	}
	return 0
}

// cpuSeconds is a process's user and system CPU time so far.
func cpuSeconds(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// timedConn is a ClickHouse connection that times every statement the store sends, by statement: a query from its
// start to its rows' Close (the store's scanning included), a batch from PrepareBatch to Send (appending excluded:
// that is Go work, in the CPU profile). For queries (and INSERT … SELECT) it also counts the rows and bytes
// ClickHouse reports reading.
type timedConn struct {
	driver.Conn
	mu    sync.Mutex
	stats map[string]*sqlStat
	// lastEnd is when the latest statement ended, maxGap the longest time between the end of one and the start of the
	// next: the store idle, waiting for the consumer (decoding, or JetStream delivering).
	lastEnd time.Time
	maxGap  time.Duration
}

type sqlStat struct {
	calls int
	took  time.Duration
	rows  uint64
	// read and readBytes are what ClickHouse reported reading for the statement (its progress packets): how much of
	// the tables it touched.
	read, readBytes uint64
	// each is every call's time, in order.
	each []time.Duration
}

func (c *timedConn) record(q string, took time.Duration, rows uint64) {
	k := statement(q)
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if !c.lastEnd.IsZero() {
		c.maxGap = max(c.maxGap, now.Add(-took).Sub(c.lastEnd))
	}
	c.lastEnd = now
	s := c.stat(k)
	s.calls++
	s.took += took
	s.rows += rows
	s.each = append(s.each, took)
}

// stat is statement k's figures; c.mu must be held.
func (c *timedConn) stat(k string) *sqlStat {
	s := c.stats[k]
	if s == nil {
		s = &sqlStat{}
		c.stats[k] = s
	}
	return s
}

// reading makes ClickHouse's progress packets for query q count, as what the statement read.
func (c *timedConn) reading(ctx context.Context, q string) context.Context {
	k := statement(q)
	return clickhouse.Context(ctx, clickhouse.WithProgress(func(p *clickhouse.Progress) {
		c.mu.Lock()
		defer c.mu.Unlock()
		s := c.stat(k)
		s.read += p.Rows
		s.readBytes += p.Bytes
	}))
}

// snapshot copies the figures of every statement so far.
func (c *timedConn) snapshot() map[string]sqlStat {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]sqlStat, len(c.stats))
	for k, s := range c.stats {
		cp := *s
		cp.each = slices.Clone(s.each)
		out[k] = cp
	}
	return out
}

func (c *timedConn) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats = map[string]*sqlStat{}
	c.lastEnd, c.maxGap = time.Time{}, 0
}

func (c *timedConn) timings(wall time.Duration) []sqlTiming {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []sqlTiming
	for k, s := range c.stats {
		out = append(out, sqlTiming{Statement: k, Calls: s.calls, Seconds: s.took.Seconds(), Share: s.took.Seconds() / wall.Seconds(), Rows: s.rows})
	}
	slices.SortFunc(out, func(a, b sqlTiming) int { return int(b.Seconds*1e6 - a.Seconds*1e6) })
	return out
}

var (
	spaces   = regexp.MustCompile(`\s+`)
	fromWord = regexp.MustCompile(`(?i)\bFROM ([\w.]+)( FINAL)?`)
	intoWord = regexp.MustCompile(`(?i)^INSERT INTO ([\w.]+)`)
	literal  = regexp.MustCompile(`'[^']*'`)
	repeats  = regexp.MustCompile(`(\w+\(\?\)),(\w+\(\?\),?)+`)
	// orRepeats are the conditions of a statement made for n units, one per unit: one statement whatever n.
	orRepeats = regexp.MustCompile(`(\([^()]*\))( OR \([^()]*\))+`)
)

// statement names a statement by what it does: the table it inserts into or reads, and its filter's start.
func statement(q string) string {
	q = strings.TrimSpace(spaces.ReplaceAllString(q, " "))
	q = repeats.ReplaceAllString(literal.ReplaceAllString(q, "?"), "$1, …") // the ids of a lookup: one statement
	q = orRepeats.ReplaceAllString(q, "$1")
	if m := intoWord.FindStringSubmatch(q); m != nil {
		if f := fromWord.FindStringSubmatch(q); f != nil {
			return "INSERT INTO " + m[1] + " SELECT … FROM " + f[1] + f[2]
		}
		return "INSERT INTO " + m[1] + " (batch)"
	}
	head := q
	if i := strings.Index(strings.ToUpper(q), " FROM "); i > 0 {
		head = q[:i]
	}
	if len(head) > 40 {
		head = head[:40] + "…"
	}
	where := ""
	if i := strings.Index(strings.ToUpper(q), " WHERE "); i > 0 {
		where = q[i+1:]
		if len(where) > 40 {
			where = where[:40] + "…"
		}
		where = " " + where
	}
	if f := fromWord.FindStringSubmatch(q); f != nil {
		return head + " FROM " + f[1] + f[2] + where
	}
	return head
}

func (c *timedConn) Query(ctx context.Context, q string, args ...any) (driver.Rows, error) {
	ctx = c.reading(ctx, q)
	began := time.Now()
	rows, err := c.Conn.Query(ctx, q, args...)
	if err != nil {
		c.record(q, time.Since(began), 0)
		return nil, err
	}
	return &timedRows{Rows: rows, c: c, q: q, began: began}, nil
}

func (c *timedConn) QueryRow(ctx context.Context, q string, args ...any) driver.Row {
	ctx = c.reading(ctx, q)
	began := time.Now()
	r := c.Conn.QueryRow(ctx, q, args...)
	c.record(q, time.Since(began), 1)
	return r
}

func (c *timedConn) Exec(ctx context.Context, q string, args ...any) error {
	ctx = c.reading(ctx, q)
	began := time.Now()
	err := c.Conn.Exec(ctx, q, args...)
	c.record(q, time.Since(began), 0)
	return err
}

func (c *timedConn) PrepareBatch(ctx context.Context, q string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	began := time.Now()
	batch, err := c.Conn.PrepareBatch(ctx, q, opts...)
	if err != nil {
		c.record(q, time.Since(began), 0)
		return nil, err
	}
	return &timedBatch{Batch: batch, c: c, q: q, prepare: time.Since(began)}, nil
}

type timedRows struct {
	driver.Rows
	c      *timedConn
	q      string
	began  time.Time
	n      uint64
	closed bool
}

func (r *timedRows) Next() bool {
	ok := r.Rows.Next()
	if ok {
		r.n++
	}
	return ok
}

func (r *timedRows) Close() error {
	err := r.Rows.Close()
	if !r.closed {
		r.closed = true
		r.c.record(r.q, time.Since(r.began), r.n)
	}
	return err
}

type timedBatch struct {
	driver.Batch
	c       *timedConn
	q       string
	prepare time.Duration
	n       uint64
}

func (b *timedBatch) Append(v ...any) error {
	b.n++
	return b.Batch.Append(v...)
}

func (b *timedBatch) Send() error {
	began := time.Now()
	err := b.Batch.Send()
	b.c.record(b.q, b.prepare+time.Since(began), b.n)
	return err
}
