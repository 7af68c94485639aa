package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/egovtrack/egovtrack/collectors/lineage"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
	"github.com/egovtrack/egovtrack/projector/store"
)

// loadBatch is how many events the national loader hands the store in one Write: larger than the projector's 5,000,
// so that the load takes minutes, not the projector's own pace (the e2e and rebuild steps measure that).
const loadBatch = 50_000

// The national-scale database for the panel queries holds the whole dataset (ReplayEvents events: 85 units × 2,000
// procedures, their level changes over 2020–2021), a national target, a weekly report of every unit and its virtual
// assistant's rollout, written as the projector writes them: through store.Open and store.Write, in batches of
// loadBatch, so that every table (and the versions FINAL collapses) is what the projector's own code leaves. The
// events are received as they happen, two seconds after they were reported.
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
	began, lastLog := time.Now(), time.Now()
	batch := make([]store.Record, 0, loadBatch)
	write := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := st.Write(ctx, batch, nil); err != nil {
			return fmt.Errorf("write events %d to %d: %w", batch[0].Seq, batch[len(batch)-1].Seq, err)
		}
		batch = batch[:0]
		return nil
	}
	seq := uint64(0)
	for r, err := range b.data.read(0, -1) {
		if err != nil {
			return lastReceived, err
		}
		seq++
		d, err := r.Env.UncheckedData() // validated when the dataset was generated
		if err != nil {
			return lastReceived, err
		}
		lastReceived = r.Env.Time.Add(2 * time.Second)
		batch = append(batch, store.Record{Env: r.Env, Data: d, Seq: seq, ReceivedAt: lastReceived})
		if len(batch) == loadBatch {
			if err := write(); err != nil {
				return lastReceived, err
			}
		}
		if time.Since(lastLog) > 15*time.Second {
			lastLog = time.Now()
			b.log.Info("loading the national-scale database", "done", seq, "of", b.data.Events, "per_second", int(float64(seq)/time.Since(began).Seconds()))
		}
	}
	if err := write(); err != nil {
		return lastReceived, err
	}
	b.log.Info("national-scale database loaded", "events", seq, "took", time.Since(began).Round(time.Second))
	return lastReceived, nil
}

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
	// The 2025 reorganisation, dated within the data (ministries from March 2021, provinces from July), so that the
	// panels' ranges cross it and the rows of the 52 units merged away take the views' longer path.
	reorganisation, err := lineage.Read(bytes.NewReader(lineage.Reorganisation2025))
	if err != nil {
		return nil, err
	}
	for _, env := range reorganisation {
		d, err := env.UncheckedData()
		if err != nil {
			return nil, err
		}
		switch d := d.(type) {
		case *event.UnitMergedData:
			d.EffectiveOn = event.Date(strings.Replace(string(d.EffectiveOn), "2025", "2021", 1))
			d.DecidedAt = time.Date(2021, 2, 1, 9, 0, 0, 0, vn)
			ds = append(ds, d)
		case *event.UnitRenamedData:
			d.EffectiveOn = event.Date(strings.Replace(string(d.EffectiveOn), "2025", "2021", 1))
			d.DecidedAt = time.Date(2020, 12, 1, 9, 0, 0, 0, vn)
			ds = append(ds, d)
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
