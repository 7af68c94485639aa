package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/egovtrack/egovtrack/collectors/simulate"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// The dataset is one bulk simulation (collectors/simulate.Bulk) over 2020–2021, large enough for every step: the
// e2e and raw steps take its first events, the freshness step its registrations and the level changes after them,
// the replay and the national-scale queries all of it. Generating takes about 100 µs an event (event.New validates
// every event against its JSON Schema), 15–20 minutes for 10 million on this machine, so it is generated once and
// cached as JSON lines, one event per line exactly as stream.Publish encodes it.

var (
	dataStart = time.Date(2020, 1, 1, 0, 0, 0, 0, event.Vietnam)
	dataEnd   = time.Date(2022, 1, 1, 0, 0, 0, 0, event.Vietnam)
)

// dataset is the cached file of a bulk simulation.
type dataset struct {
	Path       string
	Events     int
	Procedures int // per unit, as Bulk caps them: min(ProceduresPerUnit, Events/2/units)
	Seed       uint64
}

func bulkOptions(seed uint64, events, procedures int) simulate.BulkOptions {
	return simulate.BulkOptions{Seed: seed, Events: events, ProceduresPerUnit: procedures, Start: dataStart, End: dataEnd}
}

// registrations is how many events of the dataset register procedures: Bulk yields them first.
func (d dataset) registrations() int { return d.Procedures * len(units.All()) }

// openDataset returns the cached dataset, generating it first when the cache has none.
func openDataset(ctx context.Context, dir string, seed uint64, events, procedures int, log *slog.Logger) (dataset, time.Duration, error) {
	per := min(max(procedures, 1), max(1, events/2/len(units.All())))
	// "jcs-ids": a dataset cached before ids were derived from the JCS form carries legacy ids, which the projector
	// stores under the current ones, so the freshness step would never see its events arrive: it is not reused.
	d := dataset{Events: events, Procedures: per, Seed: seed,
		Path: filepath.Join(dir, fmt.Sprintf("bulk-jcs-ids-seed%d-events%d-procs%d.jsonl", seed, events, procedures))}
	if fi, err := os.Stat(d.Path); err == nil && fi.Size() > 0 {
		log.Info("dataset cached", "path", d.Path, "events", events)
		return d, 0, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return d, 0, err
	}
	log.Info("generating the dataset (once; it is cached)", "events", events, "procedures_per_unit", per, "path", d.Path)
	began := time.Now()
	tmp := d.Path + ".part"
	f, err := os.Create(tmp)
	if err != nil {
		return d, 0, err
	}
	defer os.Remove(tmp)
	w := bufio.NewWriterSize(f, 1<<20)
	n := 0
	last := time.Now()
	for env, err := range simulate.Bulk(bulkOptions(seed, events, procedures)) {
		if ctx.Err() != nil {
			f.Close()
			return d, 0, ctx.Err()
		}
		if err != nil {
			f.Close()
			return d, 0, err
		}
		b, err := json.Marshal(env)
		if err != nil {
			f.Close()
			return d, 0, err
		}
		w.Write(b)
		w.WriteByte('\n')
		n++
		if time.Since(last) > 15*time.Second {
			last = time.Now()
			log.Info("generating", "done", n, "of", events, "per_second", int(float64(n)/time.Since(began).Seconds()))
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return d, 0, err
	}
	if err := f.Close(); err != nil {
		return d, 0, err
	}
	if n != events {
		return d, 0, fmt.Errorf("bulk simulation yielded %d events, want %d", n, events)
	}
	took := time.Since(began)
	log.Info("dataset generated", "events", n, "took", took.Round(time.Second), "per_second", int(float64(n)/took.Seconds()))
	return d, took, os.Rename(tmp, d.Path)
}

// record is one event of the dataset: its envelope and the bytes stream.Publish sends.
type record struct {
	Env  event.Envelope
	JSON []byte
}

// read yields the events of the dataset from index from (0-based), at most n of them (n < 0: to the end).
func (d dataset) read(from, n int) iter.Seq2[record, error] {
	return func(yield func(record, error) bool) {
		f, err := os.Open(d.Path)
		if err != nil {
			yield(record{}, err)
			return
		}
		defer f.Close()
		r := bufio.NewReaderSize(f, 1<<20)
		for i := 0; n < 0 || i < from+n; i++ {
			line, err := r.ReadBytes('\n')
			if err == io.EOF && len(line) == 0 {
				return
			}
			if err != nil && err != io.EOF {
				yield(record{}, err)
				return
			}
			if i < from {
				continue
			}
			line = line[:len(line)-1]
			var env event.Envelope
			if err := json.Unmarshal(line, &env); err != nil {
				yield(record{}, fmt.Errorf("%s line %d: %w", d.Path, i+1, err))
				return
			}
			if !yield(record{Env: env, JSON: line}, nil) {
				return
			}
		}
	}
}

// load reads n events from index from into memory.
func (d dataset) load(from, n int) ([]record, error) {
	out := make([]record, 0, n)
	for r, err := range d.read(from, n) {
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
