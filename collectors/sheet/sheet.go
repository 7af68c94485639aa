// Package sheet is the `sheet` collector: a province or ministry officer reports the unit's whole catalogue of
// procedures as a spreadsheet (CSV or XLSX, Vietnamese or English column headers), and the collector publishes what
// changed since the unit's catalogue as the stream knows it.
//
// A file is all or nothing: one bad row rejects it with a row-by-row report and nothing is published, unless the
// officer asks to skip the bad rows. See README.md in this folder for the officer's side.
package sheet

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/egovtrack/egovtrack/collectors/reporting"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/units"
)

const (
	// Source is the CloudEvents source of the events this collector publishes.
	Source = "/egovtrack/collectors/sheet"
	// Collector names this collector in report-submitted events.
	Collector = "sheet"
)

var (
	// ErrUsage is returned for arguments the command cannot run with; the usage has been printed.
	ErrUsage = errors.New("usage")
	// ErrRejected is returned for a file with bad rows imported without --skip-invalid; the row-by-row report has
	// been printed and nothing was published.
	ErrRejected = errors.New("file rejected")
)

// Command is one import, as the officer asked for it.
type Command struct {
	Unit        units.Ref
	Path        string
	SkipInvalid bool
	// AllowRetireMost accepts a file that retires more than half of the unit's procedures (a reorganisation).
	AllowRetireMost bool
}

const usage = `usage: collectors sheet --unit KIND/CODE [--skip-invalid] [--allow-retire-most] FILE

Reports a unit's whole catalogue of procedures from a spreadsheet (CSV or XLSX): procedures that are new, whose
level, name, sector or eligibility changed, or that are no longer in the file are published; the rest is left as it
is. A file with bad rows is rejected as a whole, with the list of what is wrong, and nothing is published.

The events go to the NATS server of EGOV_NATS_URL, signed with the unit's key (EGOV_NATS_NKEY_SEED_FILE), both
given by the digital office; without EGOV_NATS_URL nothing is sent.

  FILE                  the catalogue, filled in from collectors/sheet/templates/danh-muc-thu-tuc.xlsx
`

// ParseArgs reads the command line of `collectors sheet` (flags may come before or after the file). Errors wrap
// ErrUsage, or are flag.ErrHelp when help was asked for; either way the usage has been written to out.
func ParseArgs(args []string, out io.Writer) (Command, error) {
	fs := flag.NewFlagSet("sheet", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(out, usage)
		fs.PrintDefaults()
	}
	unit := fs.String("unit", "", "the reporting `unit`: province/<two-digit code> (province/27 is Bắc Ninh) or ministry/<code> (ministry/BTTTT)")
	skip := fs.Bool("skip-invalid", false, "publish the valid rows and list the invalid ones, instead of rejecting the file")
	retireMost := fs.Bool("allow-retire-most", false, "accept a file that retires more than half of the unit's procedures")
	files, err := ParseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return Command{}, err
	} else if err != nil {
		return Command{}, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	bad := func(format string, a ...any) (Command, error) {
		msg := fmt.Sprintf(format, a...)
		fmt.Fprintf(out, "collectors sheet: %s\n\n", msg)
		fs.Usage()
		return Command{}, fmt.Errorf("%w: %s", ErrUsage, msg)
	}
	if *unit == "" {
		return bad("--unit is required, e.g. --unit province/27")
	}
	ref, err := ParseUnit(*unit)
	if err != nil {
		return bad("%v", err)
	}
	switch len(files) {
	case 0:
		return bad("the catalogue file is missing")
	case 1:
	default:
		return bad("one file at a time, got %d: %s", len(files), strings.Join(files, " "))
	}
	return Command{Unit: ref, Path: files[0], SkipInvalid: *skip, AllowRetireMost: *retireMost}, nil
}

// ParseFlags parses args with fs, flags before or after the files (officers type `--unit` last as often as first),
// "--" ending the flags, and returns the files. Every import command of an officer's file reads its line so.
func ParseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return files, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(files, rest...), nil
		}
		files, args = append(files, rest[0]), rest[1:]
	}
}

// ParseUnit reads a unit as kind/code and checks that it is in the reference list. Kind is matched in any case and
// the code in upper case, as the reference list writes it.
func ParseUnit(s string) (units.Ref, error) {
	kind, code, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok || kind == "" || code == "" {
		return units.Ref{}, fmt.Errorf("unit %q: want kind/code, e.g. province/27 or ministry/BTTTT", s)
	}
	ref := units.Ref{Kind: units.Kind(strings.ToLower(kind)), Code: strings.ToUpper(code)}
	if !ref.Kind.Valid() {
		return units.Ref{}, fmt.Errorf("unit %q: kind %q is neither %s nor %s", s, kind, units.Province, units.Ministry)
	}
	if _, ok := units.Lookup(ref); !ok {
		hint := ""
		if ref.Kind == units.Province && len(ref.Code) == 1 {
			hint = fmt.Sprintf(" (province codes have two digits: %s/0%s?)", units.Province, ref.Code)
		}
		return units.Ref{}, fmt.Errorf("unknown unit %s: not in the reference list of provinces and ministries%s", ref, hint)
	}
	return ref, nil
}

// Run is `collectors sheet ARGS`: ParseArgs, then Command.Run. pub and r are usually the same *stream.Conn.
func Run(ctx context.Context, args []string, pub stream.Publisher, r reporting.Reader, stdout io.Writer, log *slog.Logger, now func() time.Time) error {
	c, err := ParseArgs(args, stdout)
	if err != nil {
		return err
	}
	return c.Run(ctx, pub, r, stdout, log, now)
}

// Run imports the file: it reads and checks every row first, and touches the stream only for a file it accepts. It
// then reads the unit's catalogue back from the stream, publishes the differences and one report-submitted event
// (reporting.Submit, at now()), and writes to stdout what it did. Importing the same file again the same day
// publishes nothing.
//
// Errors: ErrRejected for bad rows without SkipInvalid, ErrEmpty for a file without procedures, *HeaderError for a
// header that lacks a column, *LimitError or reporting.ErrTooLarge for a file larger than a catalogue; publishing errors leave the events already acknowledged in the stream, and running
// the same import again completes it without storing any of them twice.
func (c Command) Run(ctx context.Context, pub stream.Publisher, r reporting.Reader, stdout io.Writer, log *slog.Logger, now func() time.Time) error {
	u, ok := units.Lookup(c.Unit)
	if !ok {
		return fmt.Errorf("%w: unknown unit %s", ErrUsage, c.Unit)
	}
	t, err := ReadFile(ctx, c.Path)
	if err != nil {
		// The officer reads this, not the log line the caller makes of the error.
		if errors.Is(err, ErrEmpty) {
			fmt.Fprintf(stdout, "%s: %s\n", c.Path, emptyMessage(u, "the file is blank"))
		} else {
			fmt.Fprintf(stdout, "REFUSED: %s, nothing was published for %s (%s):\n%v\n", c.Path, u.Name, u.Ref, err)
		}
		return fmt.Errorf("read %s: %w", c.Path, err)
	}
	log.Info("catalogue read", "file", c.Path, "format", t.Format, "encoding", t.Encoding, "sheet", t.Sheet, "header_row", t.HeaderRow, "rows", len(t.Rows))
	if len(t.Rows) == 0 {
		fmt.Fprintf(stdout, "%s: %s\n", c.Path, emptyMessage(u, fmt.Sprintf("no procedure under the header (row %d)", t.HeaderRow)))
		return fmt.Errorf("read %s: no row under the header (row %d): %w", c.Path, t.HeaderRow, ErrEmpty)
	}
	procs, bad := reporting.ParseRows(t.Rows)
	if len(bad) > 0 && !c.SkipInvalid {
		printRejected(stdout, u, c.Path, t, bad)
		return fmt.Errorf("%s: %w: %d problems on %d of %d rows", c.Path, ErrRejected, len(bad), countRows(bad), len(t.Rows))
	}
	if len(procs) == 0 {
		printSkipped(stdout, t, bad)
		fmt.Fprintf(stdout, "\n%s: %s\n", c.Path, emptyMessage(u, "no row is valid"))
		return fmt.Errorf("%s: every row is invalid: %w", c.Path, ErrEmpty)
	}
	cur, err := reporting.Load(ctx, r, c.Unit)
	if err != nil {
		return err
	}
	reported, kept, lost := withSkipped(cur, procs, t, bad)
	res, err := reporting.Submit(ctx, pub, cur, reporting.Report{Source: Source, Collector: Collector, At: now(),
		Procedures: reported, AllowRetireMost: c.AllowRetireMost})
	if errors.Is(err, reporting.ErrClock) {
		fmt.Fprintf(stdout, "REFUSED: %s, nothing was published for %s (%s).\n%v.\nSet this computer's date and time, and import again.\n", c.Path, u.Name, u.Ref, err)
		return fmt.Errorf("%s: %w", c.Path, err)
	}
	if errors.Is(err, reporting.ErrTooLarge) {
		fmt.Fprintf(stdout, "REFUSED: %s, nothing was published for %s.\n%v.\n", c.Path, u.Name, err)
		return fmt.Errorf("%s: %w", c.Path, err)
	}
	if errors.Is(err, reporting.ErrRetiresMost) {
		fmt.Fprintf(stdout, "REFUSED: %s, nothing was published for %s.\n%v.\nIs the file the whole catalogue? If the unit really stopped offering them, import again with --allow-retire-most.\n", c.Path, u.Name, err)
		return fmt.Errorf("%s: %w", c.Path, err)
	}
	if err != nil {
		fmt.Fprintf(stdout, "%s: PUBLISHING FAILED: the stream acknowledged %d of the %d events for %s. The report counts only once all are acknowledged: run the same import again (nothing is stored twice).\n",
			c.Path, res.Published.Stored+res.Published.Duplicates, len(res.Plan.Events)+1, u.Name)
		return err
	}
	printSummary(stdout, u, c.Path, t, cur, reported, res)
	if len(bad) > 0 {
		printSkipped(stdout, t, bad)
		printKept(stdout, cur, kept, lost, len(res.Plan.Retired))
	}
	log.Info("catalogue reported", "unit", c.Unit.String(), "file", c.Path, "procedures", len(reported), "skipped_rows", countRows(bad),
		"added", len(res.Plan.Added), "updated", len(res.Plan.Updated), "changed", len(res.Plan.Changed),
		"retired", len(res.Plan.Retired), "unchanged", len(res.Plan.Unchanged), "repeat", res.Repeat,
		"stored", res.Published.Stored, "duplicates", res.Published.Duplicates)
	return nil
}

func emptyMessage(u units.Unit, why string) string {
	return fmt.Sprintf("%s. The file is the whole catalogue of %s, so an empty one would retire every procedure of the unit: refused, nothing was published.", why, u.Name)
}

// withSkipped adds to the reported catalogue, as the stream knows them, the active procedures whose rows were
// skipped: a skipped row says nothing about its procedure, and leaving it out would retire it. It returns the codes
// so kept, and how many skipped rows have no usable code (the procedures they stood for cannot be kept).
func withSkipped(cur reporting.Catalogue, procs []reporting.Procedure, t Table, bad []reporting.RowError) ([]reporting.Procedure, []string, int) {
	if len(bad) == 0 {
		return procs, nil, 0
	}
	reported := map[string]bool{}
	for _, p := range procs {
		reported[p.Code] = true
	}
	badLines := map[int]bool{}
	for _, e := range bad {
		badLines[e.Line] = true
	}
	var kept []string
	lost := 0
	for _, r := range t.Rows {
		code := reporting.Clean(r.Code)
		switch {
		case !badLines[r.Line] || reported[code]:
		case !event.ValidProcedureCode(code):
			lost++
		default:
			if e, ok := cur.Procedures[code]; ok && e.Active {
				procs = append(procs, e.Procedure)
				reported[code] = true
				kept = append(kept, code)
			}
		}
	}
	return procs, kept, lost
}

func countRows(bad []reporting.RowError) int {
	lines := map[int]bool{}
	for _, e := range bad {
		lines[e.Line] = true
	}
	return len(lines)
}
