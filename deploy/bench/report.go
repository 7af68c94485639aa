package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Statuses of a figure.
const (
	met    = "met"
	missed = "missed"
	info   = "info" // no target: a limit, or a figure that explains another
)

// result is one figure, next to its target.
type result struct {
	Step   string  `json:"step"`
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Target string  `json:"target,omitempty"`
	Status string  `json:"status"`
	Note   string  `json:"note,omitempty"`
	// Load is the machine's load average when the figure was taken: other work on a shared machine shows there.
	Load string `json:"load"`
}

// MarshalJSON writes a value that is not a number as null (not measured) or "Infinity" (never seen), which JSON
// numbers cannot be.
func (r result) MarshalJSON() ([]byte, error) {
	type plain result
	var v any = r.Value
	switch {
	case math.IsNaN(r.Value):
		v = nil
	case math.IsInf(r.Value, 1):
		v = "Infinity"
	}
	return json.Marshal(struct {
		plain
		Value any `json:"value"`
	}{plain(r), v})
}

// machine says where the figures were measured; the load averages show other work on a shared machine.
type machine struct {
	CPUs              int    `json:"cpus"`
	Memory            string `json:"memory"`
	GoVersion         string `json:"go_version"`
	ClickHouseVersion string `json:"clickhouse_version"`
	LoadStart         string `json:"load_start"`
	LoadEnd           string `json:"load_end"`
}

// progressPoint is how far a projector run had got at a moment.
type progressPoint struct {
	Seconds float64 `json:"s"`
	Done    uint64  `json:"done"`
	RSSKB   uint64  `json:"rss_kb"`
}

// panelTiming is one panel query's timings over one time range.
type panelTiming struct {
	Dashboard string    `json:"dashboard"`
	Panel     string    `json:"panel"`
	Range     string    `json:"range"`
	Runs      int       `json:"runs"`
	P50       float64   `json:"p50_ms"`
	P95       float64   `json:"p95_ms"`
	Max       float64   `json:"max_ms"`
	Rows      int       `json:"rows_returned"`
	RowsRead  uint64    `json:"rows_read"`
	BytesRead uint64    `json:"bytes_read"`
	Timings   []float64 `json:"timings_ms"`
	Err       string    `json:"error,omitempty"`
}

// sqlTiming is where the in-process projector spent its wall time in ClickHouse, by statement.
type sqlTiming struct {
	Statement string  `json:"statement"`
	Calls     int     `json:"calls"`
	Seconds   float64 `json:"seconds"`
	Share     float64 `json:"share_of_wall"`
	Rows      uint64  `json:"rows"` // rows scanned by Query, or appended to a batch
}

type report struct {
	Started  time.Time                  `json:"started"`
	Finished time.Time                  `json:"finished"`
	Quick    bool                       `json:"quick"`
	Config   config                     `json:"config"`
	Machine  machine                    `json:"machine"`
	Results  []result                   `json:"results"`
	Panels   []panelTiming              `json:"panels,omitempty"`
	Progress map[string][]progressPoint `json:"progress,omitempty"`
	SQL      []sqlTiming                `json:"projector_sql,omitempty"`
	Growth   *growthReport              `json:"growth,omitempty"`
	Profiles []string                   `json:"profiles,omitempty"`
	Notes    []string                   `json:"notes,omitempty"`
}

func (b *bench) add(r result) {
	r.Load = loadAvg()
	b.rep.Results = append(b.rep.Results, r)
	b.log.Info("measured", "step", r.Step, "name", r.Name, "value", format(r.Value, r.Unit), "target", r.Target, "status", r.Status)
}

func (b *bench) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	b.rep.Notes = append(b.rep.Notes, s)
	b.log.Info("note", "text", s)
}

func (b *bench) progress(name string, pts []progressPoint) {
	if b.rep.Progress == nil {
		b.rep.Progress = map[string][]progressPoint{}
	}
	b.rep.Progress[name] = pts
}

func (r report) write(path string) error {
	out, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(out, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// status compares a value with a bound: at most (≤) or at least (≥).
func status(v, bound float64, atMost bool) string {
	if math.IsNaN(v) {
		return missed
	}
	if atMost && v <= bound || !atMost && v >= bound {
		return met
	}
	return missed
}

func format(v float64, unit string) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case math.IsInf(v, 1):
		return "∞ " + unit
	case unit == "events/s" || unit == "rows/s" || unit == "events":
		return fmt.Sprintf("%s %s", thousands(int64(math.Round(v))), unit)
	case unit == "×":
		return fmt.Sprintf("%.3f ×", v)
	case unit == "MB":
		return fmt.Sprintf("%.1f MB", v)
	case unit == "ms":
		return fmt.Sprintf("%.1f ms", v)
	case unit == "s":
		if v >= 100 {
			return fmt.Sprintf("%.0f s", v)
		}
		return fmt.Sprintf("%.3f s", v)
	}
	return fmt.Sprintf("%.4g %s", v, unit)
}

// english writes figures in English: 1,000,000.
var english = message.NewPrinter(language.English)

func thousands(n int64) string { return english.Sprint(n) }

// printTable writes the results and the panel timings as aligned tables.
func (b *bench) printTable(w io.Writer) {
	r := b.rep
	fmt.Fprintf(w, "\negovtrack bench — %s, %d CPUs, %s; load %s → %s; quick=%t; took %s\n", r.Started.Format(time.RFC3339),
		r.Machine.CPUs, r.Machine.ClickHouseVersion, r.Machine.LoadStart, r.Machine.LoadEnd, r.Quick,
		r.Finished.Sub(r.Started).Round(time.Second))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tMEASURE\tVALUE\tTARGET\tSTATUS\tNOTE")
	for _, x := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", x.Step, x.Name, format(x.Value, x.Unit), x.Target, strings.ToUpper(x.Status), x.Note)
	}
	tw.Flush()
	if len(r.Panels) > 0 {
		fmt.Fprintln(w, "\npanel queries at national scale (p95 target ≤ 150 ms):")
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "DASHBOARD/PANEL\tRANGE\tRUNS\tP50\tP95\tROWS READ\tSTATUS")
		ps := slices.Clone(r.Panels)
		for _, p := range ps {
			st := status(p.P95, panelTarget, true)
			if p.Err != "" {
				st = "error: " + p.Err
			}
			fmt.Fprintf(tw, "%s/%s\t%s\t%d\t%.1f ms\t%.1f ms\t%s\t%s\n", p.Dashboard, p.Panel, p.Range, p.Runs, p.P50, p.P95,
				thousands(int64(p.RowsRead)), strings.ToUpper(st))
		}
		tw.Flush()
	}
	if len(r.SQL) > 0 {
		fmt.Fprintln(w, "\nin-process projector: wall time by ClickHouse statement (the rest is Go: decode, fold, JetStream):")
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "STATEMENT\tCALLS\tSECONDS\tSHARE OF WALL\tROWS")
		for _, s := range r.SQL {
			fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.0f%%\t%s\n", s.Statement, s.Calls, s.Seconds, 100*s.Share, thousands(int64(s.Rows)))
		}
		tw.Flush()
	}
	if g := r.Growth; g != nil {
		fmt.Fprintf(w, "\nthe store's ClickHouse statements per batch of %s live events, fresh database → national scale (%d batches; target ≤ %.0f ×):\n",
			thousands(int64(g.BatchSize)), g.Batches, growthTarget)
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "STATEMENT\tCALLS/BATCH\tMS/BATCH SMALL\tMS/BATCH LARGE\tRATIO\tMEAN RATIO\tROWS READ/BATCH\tSTATUS")
		for _, s := range g.Statements {
			name := s.Statement
			if s.OneOff {
				name = "(first batch only) " + name
			}
			fmt.Fprintf(tw, "%s\t%.2f → %.2f\t%.1f\t%.1f\t%s\t%s\t%s → %s\t%s\n", name, s.Small.Calls, s.Large.Calls, s.Small.Ms, s.Large.Ms,
				format(s.Ratio, "×"), format(s.MeanRatio, "×"), thousands(int64(s.Small.RowsRead)), thousands(int64(s.Large.RowsRead)), strings.ToUpper(s.Status))
		}
		tw.Flush()
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	if len(r.Profiles) > 0 {
		fmt.Fprintln(w, "profiles:", strings.Join(r.Profiles, " "))
	}
	fmt.Fprintln(w, "results:", b.cfg.Out+"/bench-results.json")
}
