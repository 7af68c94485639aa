// Package dossiers is the `dossiers` collector: a province or ministry imports its one-stop shop's export of dossiers
// (hồ sơ) for a month, CSV or XLSX, and each row's facts are published as dossier events (a receipt, and a payment,
// settlement, result, digitisation or withdrawal for each date filled in).
//
// The file is read twice, as a stream: first to check every row (nothing is published from a file with a bad row),
// then to publish. Memory stays that of a row and 16 bytes per dossier, whatever the file's size. Importing a file
// again is harmless: an event's id is derived from the fact, so JetStream drops it within its duplicate window and the
// projector counts it once after that; next month's export may list a dossier again with more dates filled in.
// See README.md in this folder for the officer's side.
package dossiers

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/egovtrack/egovtrack/collectors/reporting"
	"github.com/egovtrack/egovtrack/collectors/sheet"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/progress"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/units"
)

// Source is the CloudEvents source of the events this collector publishes.
const Source = "/egovtrack/collectors/dossiers"

var (
	// ErrUsage is returned for arguments the command cannot run with; the usage has been printed.
	ErrUsage = errors.New("usage")
	// ErrRejected is returned for a file with bad rows; the row-by-row report has been printed and nothing published.
	ErrRejected = errors.New("file rejected")
	errEmpty    = errors.New("no dossier in the file")
)

// Command is one import.
type Command struct {
	Unit units.Ref
	Path string
}

const usage = `usage: collectors dossiers --unit KIND/CODE FILE

Publishes the dossiers of a one-stop shop's export (CSV or XLSX, one row a dossier) as dossier events: a receipt,
and a payment, settlement, result, digitisation or withdrawal for each of their dates filled in. A file with bad
rows is rejected as a whole, with the list of what is wrong, and nothing is published. Importing a file again,
or next month's export listing a dossier again, stores nothing twice.

The events go to the NATS server of EGOV_NATS_URL, signed with the unit's key (EGOV_NATS_NKEY_SEED_FILE).

  FILE                  the export (see collectors/dossiers/README.md for its columns)
`

// ParseArgs reads the command line of `collectors dossiers`. Errors wrap ErrUsage, or are flag.ErrHelp; either way
// the usage has been written to out.
func ParseArgs(args []string, out io.Writer) (Command, error) {
	fs := flag.NewFlagSet("dossiers", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(out, usage)
		fs.PrintDefaults()
	}
	unit := fs.String("unit", "", "the reporting `unit`: province/<two-digit code> (province/19 is Thái Nguyên) or ministry/<code>")
	files, err := sheet.ParseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return Command{}, err
	} else if err != nil {
		return Command{}, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	bad := func(format string, a ...any) (Command, error) {
		msg := fmt.Sprintf(format, a...)
		fmt.Fprintf(out, "collectors dossiers: %s\n\n", msg)
		fs.Usage()
		return Command{}, fmt.Errorf("%w: %s", ErrUsage, msg)
	}
	if *unit == "" {
		return bad("--unit is required, e.g. --unit province/19")
	}
	ref, err := sheet.ParseUnit(*unit)
	if err != nil {
		return bad("%v", err)
	}
	if len(files) != 1 {
		return bad("give one export file, got %d", len(files))
	}
	return Command{Unit: ref, Path: files[0]}, nil
}

// Options are what an import runs with besides the command line.
type Options struct {
	Publisher stream.Publisher
	Stdout    io.Writer // what the officer reads
	Progress  io.Writer // a bar on a terminal (stderr)
	Log       *slog.Logger
	Now       func() time.Time // the end of the time domain: events after it are refused
}

// batch is how many events are published at once: a retry after a failure resends little, and memory stays flat.
const batch = 5_000

// Run imports the file. Errors: ErrRejected for bad rows, *HeaderError, *sheet.LimitError, errors saying what else
// the file is, and publishing errors, after which the events acknowledged stay in the stream and running the same
// import again completes it without storing any twice.
func (c Command) Run(ctx context.Context, o Options) error {
	u, ok := units.Lookup(c.Unit)
	if !ok {
		return fmt.Errorf("%w: unknown unit %s", ErrUsage, c.Unit)
	}
	refused := func(err error) error {
		fmt.Fprintf(o.Stdout, "REFUSED: %s, nothing was published for %s (%s):\n%v\n", c.Path, u.Name, u.Ref, err)
		return fmt.Errorf("read %s: %w", c.Path, err)
	}
	contract := event.Contract{Now: o.Now}
	// The check reads the whole file before anything is sent (a month of a large province: tens of seconds): say so,
	// and how far it got, as progress.Reporter does for the sending.
	o.Log.Info("checking every row of the export before anything is sent", "file", c.Path)
	last := time.Now()
	chk, err := check(ctx, c.Path, c.Unit, contract, func(rows int) {
		if time.Since(last) >= progress.Every {
			last = time.Now()
			o.Log.Info("checking the export", "rows", rows)
		}
	})
	if err != nil {
		return refused(err)
	}
	o.Log.Info("dossier export read", "file", c.Path, "format", chk.format, "sheet", chk.sheet, "encoding", chk.encoding, "header_row", chk.headerRow, "rows", chk.rows, "events", chk.events, "problems", chk.problems)
	if chk.problems > 0 {
		printRejected(o.Stdout, u, c.Path, chk)
		return fmt.Errorf("%s: %w: %d problems on %d of %d rows", c.Path, ErrRejected, chk.problems, chk.badRows, chk.rows)
	}
	if chk.rows == 0 {
		return refused(fmt.Errorf("no dossier under the header (row %d): %w", chk.headerRow, errEmpty))
	}

	bar := progress.New("publishing", chk.events, o.Progress, o.Log)
	var res stream.Result
	sent := 0
	pending := make([]event.Envelope, 0, batch)
	flush := func() error {
		done := sent
		r, err := o.Publisher.Publish(ctx, pending, func(n int) { bar.Set(done + n) })
		res.Stored += r.Stored
		res.Duplicates += r.Duplicates
		sent += len(pending)
		pending = pending[:0]
		return err
	}
	err = each(ctx, c.Path, c.Unit, contract, func(r row) error {
		if chk.repeats[r.line] {
			return nil
		}
		pending = append(pending, r.facts...)
		if len(pending) >= batch {
			return flush()
		}
		return nil
	})
	if err == nil && len(pending) > 0 {
		err = flush()
	}
	bar.Done()
	if err == nil && res.Stored+res.Duplicates != chk.events {
		err = fmt.Errorf("the file changed while it was imported: it held %d events when checked and %d when published", chk.events, res.Stored+res.Duplicates)
	}
	if err != nil {
		fmt.Fprintf(o.Stdout, "PUBLISHING FAILED: the stream acknowledged %d of the %d events of %s for %s (%s): %v\n"+
			"The import is not complete. Run the same import again once the connection works: nothing is stored twice.\n",
			res.Stored+res.Duplicates, chk.events, c.Path, u.Name, u.Ref, err)
		return fmt.Errorf("publish %s: %w", c.Path, err)
	}
	printSummary(o.Stdout, u, c.Path, chk, res)
	return nil
}

// checked is what the first reading of a file found.
type checked struct {
	format    Format
	sheet     string
	encoding  sheet.Encoding
	headerRow int
	ignored   []string
	rows      int            // rows with a dossier
	events    int            // events they make, rows repeated left out
	byType    map[string]int // events by kind
	repeats   map[int]bool   // rows that repeat an earlier row of the same dossier exactly: not published again
	shown     []reporting.RowError
	problems  int // all problems
	badRows   int
	firstMore int // the row of the first problem not shown
	columns   map[string]string
}

// shownProblems is how many problems a rejection lists: a long list is one mistake repeated down a column.
const shownProblems = 100

// seen is what the check keeps of a dossier: the row it was first on and a hash of that row's facts. 16 bytes a
// dossier (and the map's own), so that a month of the largest province (~400,000 dossiers) takes a few tens of MiB.
type seen struct {
	line  int32
	facts uint64
}

// check reads the whole file once, checking every row, and counts what it would publish.
func check(ctx context.Context, path string, unit units.Ref, contract event.Contract, tick func(rows int)) (*checked, error) {
	chk := &checked{byType: map[string]int{}, repeats: map[int]bool{}, columns: map[string]string{}}
	seed := maphash.MakeSeed()
	dossiers := map[uint64]seen{}
	var lastBad int
	err := read(ctx, path, unit, contract, chk, func(r row, bad []reporting.RowError) error {
		tick(chk.rows)
		if len(bad) == 0 {
			var h maphash.Hash
			h.SetSeed(seed)
			for _, env := range r.facts {
				h.WriteString(env.ID)
			}
			key, facts := maphash.String(seed, r.dossier), h.Sum64()
			if first, ok := dossiers[key]; ok {
				if first.facts == facts {
					chk.repeats[r.line] = true
					chk.rows++
					return nil
				}
				bad = []reporting.RowError{{Line: r.line, Column: colDossier, Value: r.number, Reason: fmt.Sprintf("is already on row %d, with other values: an export lists a dossier once, with its latest dates", first.line)}}
			} else {
				dossiers[key] = seen{int32(r.line), facts}
			}
		}
		chk.rows++
		if len(bad) == 0 {
			chk.events += len(r.facts)
			for _, env := range r.facts {
				chk.byType[string(env.Type)]++
			}
			return nil
		}
		if r.line != lastBad {
			chk.badRows++
			lastBad = r.line
		}
		for _, e := range bad {
			chk.problems++
			if len(chk.shown) < shownProblems {
				chk.shown = append(chk.shown, e)
			} else if chk.firstMore == 0 {
				chk.firstMore = e.Line
			}
		}
		return nil
	})
	return chk, err
}

// each reads the file again and hands over each row's facts; a row that fails now (the file was changed since it
// was checked) stops it.
func each(ctx context.Context, path string, unit units.Ref, contract event.Contract, fn func(row) error) error {
	return read(ctx, path, unit, contract, &checked{columns: map[string]string{}}, func(r row, bad []reporting.RowError) error {
		if len(bad) > 0 {
			return fmt.Errorf("the file changed while it was imported: row %d: %v", bad[0].Line, bad[0])
		}
		return fn(r)
	})
}

// read opens the file, finds its header, and hands over each row under it, read.
func read(ctx context.Context, path string, unit units.Ref, contract event.Contract, chk *checked, fn func(row, []reporting.RowError) error) error {
	src, err := open(ctx, path)
	if err != nil {
		return err
	}
	defer src.close()
	chk.format, chk.sheet, chk.encoding = src.Format, src.Sheet, src.Encoding
	var top []record
	var rd *reader
	n := 0
	for rec, err := range src.rows {
		if err != nil {
			return err
		}
		if n++; n > maxRows {
			return &sheet.LimitError{Where: "the file", Figure: fmt.Sprintf("has more than %s rows", thousands(maxRows)), Fix: "export one month, or half of one, at a time"}
		}
		if rd == nil {
			top = append(top, rec)
			if len(top) < headerSearchRows {
				// Wait for the rows a header may be among, unless one already is.
				if _, known, _ := matchHeader(rec); known < 3 {
					continue
				}
			}
			if err := checkFont(top); err != nil {
				return err
			}
			h, err := findHeader(top)
			if err != nil {
				return err
			}
			rd = &reader{unit: unit, h: h, contract: contract}
			chk.headerRow, chk.ignored = h.row, h.ignored
			for i, c := range columns {
				if h.at[i] >= 0 {
					chk.columns[c.name] = letter(h.at[i]) + " " + h.names[i]
				}
			}
			// The rows read while looking for the header, after it, are rows of dossiers.
			for _, r := range top {
				if r.line > h.row {
					if err := fn(rd.parse(r)); err != nil {
						return err
					}
				}
			}
			top = nil
			continue
		}
		if err := fn(rd.parse(rec)); err != nil {
			return err
		}
	}
	if rd == nil {
		if len(top) == 0 {
			return fmt.Errorf("the file is blank: %w", errEmpty)
		}
		if err := checkFont(top); err != nil {
			return err
		}
		_, err := findHeader(top)
		return err
	}
	return nil
}

// checkFont refuses a file whose first rows are typed in a font encoding (TCVN3, VNI): its headers and values only
// look Vietnamese in those fonts (sheet.CheckFont).
func checkFont(top []record) error {
	texts := make([]string, len(top))
	for i, r := range top {
		texts[i] = strings.Join(r.cells, " ")
	}
	return sheet.CheckFont(texts, func(i int) string { return fmt.Sprintf("row %d", top[i].line) })
}

func printRejected(w io.Writer, u units.Unit, path string, chk *checked) {
	fmt.Fprintf(w, "REJECTED: %s, nothing was published for %s (%s).\n", path, u.Name, u.Ref)
	fmt.Fprintf(w, "%s on %s of the %s rows (header on row %d):\n\n", plural(chk.problems, "problem"), thousands(chk.badRows), thousands(chk.rows), chk.headerRow)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROW\tCOLUMN\tVALUE\tREASON")
	for _, e := range chk.shown {
		col := e.Column
		if c, ok := chk.columns[e.Column]; ok {
			col = c
		}
		val := "(empty)"
		if v := reporting.Clean(e.Value); v != "" {
			val = fmt.Sprintf("%q", v)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", e.Line, col, val, e.Reason)
	}
	if more := chk.problems - len(chk.shown); more > 0 {
		fmt.Fprintf(tw, "…\tand %s from row %d on: correct the rows above first, then import again to see the rest\n", plural(more, "more problem"), chk.firstMore)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nCorrect these rows and import the whole file again.\n")
}

// kinds are the lines of the summary, in the order of a dossier's life.
var kinds = []struct {
	t     event.Type
	label string
}{
	{event.DossierReceived, "received"}, {event.DossierPaid, "paid"}, {event.DossierSettled, "settled"},
	{event.DossierResultIssued, "results issued"}, {event.DossierDigitised, "digitised"}, {event.DossierWithdrawn, "withdrawn"},
}

func printSummary(w io.Writer, u units.Unit, path string, chk *checked, res stream.Result) {
	where := fmt.Sprintf("header on row %d", chk.headerRow)
	if chk.sheet != "" {
		where = fmt.Sprintf("sheet %q, %s", chk.sheet, where)
	}
	fmt.Fprintf(w, "%s (%s): %s in %s (%s)\n", u.Name, u.Ref, plural(chk.rows, "dossier"), path, where)
	if chk.encoding == sheet.Windows1258 {
		fmt.Fprintf(w, "Read as Windows-1258, the Vietnamese code page of Excel's \"CSV (Comma delimited)\": next time save as \"CSV UTF-8 (Comma delimited)\".\n")
	}
	if len(chk.ignored) > 0 {
		fmt.Fprintf(w, "Columns not read: %s\n", strings.Join(chk.ignored, ", "))
	}
	if n := len(chk.repeats); n > 0 {
		fmt.Fprintf(w, "%s repeated an earlier row of the same dossier exactly, and %s not published again.\n", plural(n, "row"), map[bool]string{true: "was", false: "were"}[n == 1])
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, k := range kinds {
		fmt.Fprintf(tw, "  %s\t%s\t\n", k.label, thousands(chk.byType[string(k.t)]))
	}
	tw.Flush()
	fmt.Fprintln(w)
	switch {
	case res.Duplicates == 0:
		fmt.Fprintf(w, "Published %s.\n", plural(res.Stored, "event"))
	case res.Stored == 0:
		fmt.Fprintf(w, "Nothing new: the stream already held all %s of this file (imported before). Nothing was published.\n", plural(res.Duplicates, "event"))
	default:
		fmt.Fprintf(w, "Published %s; the stream already held the other %s, from an earlier import: all %s of the file are in the stream.\n",
			plural(res.Stored, "event"), thousands(res.Duplicates), thousands(chk.events))
	}
}

// plural writes "1 row", "2,000 rows".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return thousands(n) + " " + noun + "s"
}
