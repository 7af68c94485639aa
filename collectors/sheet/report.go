package sheet

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/egovtrack/egovtrack/collectors/reporting"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// listMax is how many codes of one kind of change are listed; the rest are counted. An officer checks the first
// ones against what they meant to report; the full list is in the stream and on the dashboards.
const listMax = 20

// What the officer reads is written with tabwriter, which counts runes: every text shown is reporting.Clean'ed (NFC),
// so that a decomposed "ộ" does not count as three.

func printRejected(w io.Writer, u units.Unit, path string, t Table, bad []reporting.RowError) {
	fmt.Fprintf(w, "REJECTED: %s, nothing was published for %s (%s).\n", path, u.Name, u.Ref)
	readAs(w, t)
	fmt.Fprintf(w, "%s on %d of the %d rows %s:\n\n", plural(len(bad), "problem"), countRows(bad), len(t.Rows), where(t))
	writeProblems(w, t, bad)
	fmt.Fprintf(w, "\nCorrect these rows and import the whole file again. To publish the valid rows now and list the others, add --skip-invalid.\n")
}

func printSkipped(w io.Writer, t Table, bad []reporting.RowError) {
	fmt.Fprintf(w, "\nSKIPPED, not published: %s with %s:\n\n", plural(countRows(bad), "row"), plural(len(bad), "problem"))
	writeProblems(w, t, bad)
}

func printKept(w io.Writer, cur reporting.Catalogue, kept []string, lost, retired int) {
	if len(kept) > 0 {
		fmt.Fprintf(w, "\nKept as the stream knows them, because their rows were skipped (%d):\n", len(kept))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for i, code := range kept {
			if i == listMax {
				fmt.Fprintf(tw, "    …\tand %d more\n", len(kept)-listMax)
				break
			}
			fmt.Fprintf(tw, "    %s\t%s\n", code, reporting.Short(cur.Procedures[code].Name))
		}
		tw.Flush()
	}
	if lost > 0 && retired > 0 {
		fmt.Fprintf(w, "\nWARNING: %s without a valid procedure code. If such a row stood for a procedure of the catalogue, that procedure is retired above: correct the row and import the file again to register it back.\n", plural(lost, "skipped row"))
	}
	fmt.Fprintf(w, "\nCorrect the skipped rows and import the whole file again.\n")
}

// readAs says that a CSV file was not UTF-8 and how its text was read, so that the officer checks the names.
func readAs(w io.Writer, t Table) {
	if t.Encoding == Windows1258 {
		fmt.Fprintf(w, "Read as Windows-1258, the Vietnamese code page of Excel's \"CSV (Comma delimited)\": check the names, and next time save as \"CSV UTF-8 (Comma delimited)\".\n")
	}
}

func where(t Table) string {
	if t.Sheet != "" {
		return fmt.Sprintf("(sheet %q, header on row %d)", t.Sheet, t.HeaderRow)
	}
	return fmt.Sprintf("(header on row %d)", t.HeaderRow)
}

// shownProblems is how many row errors a report lists: an officer corrects them from the top, and a long list is
// one mistake repeated down a column (a file of the wrong unit, a column shifted); the rest are counted.
const shownProblems = 100

// writeProblems writes the first shownProblems row errors as a table: row, column (its letter and its header in the
// file), value, reason; then how many more there are.
func writeProblems(w io.Writer, t Table, bad []reporting.RowError) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROW\tCOLUMN\tVALUE\tREASON")
	for i, e := range bad {
		if i == shownProblems {
			rest := bad[i:]
			fmt.Fprintf(tw, "…\tand %s, on %s from row %d on: correct the rows above first, then import again to see the rest\n",
				plural(len(rest), "more problem"), plural(countRows(rest), "row"), rest[0].Line)
			break
		}
		col := e.Column
		if c, ok := t.Columns[e.Column]; ok {
			col = c.Letter() + " " + c.Header
		}
		val := "(empty)"
		if v := reporting.Clean(e.Value); v != "" {
			val = fmt.Sprintf("%q", reporting.Short(v))
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", e.Line, col, val, e.Reason)
	}
	tw.Flush()
}

// plural writes "1 row", "2 rows".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func printSummary(w io.Writer, u units.Unit, path string, t Table, cur reporting.Catalogue, reported []reporting.Procedure, res reporting.Result) {
	fmt.Fprintf(w, "%s (%s): %d procedures in %s %s\n", u.Name, u.Ref, len(reported), path, where(t))
	readAs(w, t)
	if len(t.Ignored) > 0 {
		fmt.Fprintf(w, "Columns not read: %s\n", strings.Join(t.Ignored, ", "))
	}
	if res.Repeat {
		fmt.Fprintf(w, "\nNothing new: the same catalogue was already reported today (at %s). Nothing was published.\n",
			cur.LastReport.ReportedAt.In(event.Vietnam).Format("15:04"))
		return
	}
	byCode := map[string]reporting.Procedure{}
	for _, p := range reported {
		byCode[p.Code] = p
	}
	levels := map[string]*event.LevelChangedData{}
	for _, d := range res.Plan.Events {
		if lc, ok := d.(*event.LevelChangedData); ok {
			levels[lc.Procedure] = lc
		}
	}
	p := res.Plan
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	section := func(label, meaning string, codes []string, line func(code string) (detail, name string)) {
		fmt.Fprintf(tw, "  %s\t%d\t%s\n", label, len(codes), meaning)
		for i, code := range codes {
			if i == listMax {
				fmt.Fprintf(tw, "    …\tand %d more\n", len(codes)-listMax)
				break
			}
			detail, name := line(code)
			fmt.Fprintf(tw, "    %s\t%s\t%s\n", code, detail, reporting.Short(name))
		}
	}
	section("added", "new, or back after a retirement", p.Added, func(code string) (string, string) {
		return fmt.Sprintf("level %d", byCode[code].Level), byCode[code].Name
	})
	section("updated", "name, sector or eligibility changed", p.Updated, func(code string) (string, string) {
		return attributes(cur.Procedures[code].Procedure, byCode[code]), byCode[code].Name
	})
	section("changed", "level changed", p.Changed, func(code string) (string, string) {
		if lc := levels[code]; lc != nil {
			return fmt.Sprintf("level %d → %d", lc.From, lc.To), byCode[code].Name
		}
		return "", byCode[code].Name
	})
	section("retired", "no longer in the file", p.Retired, func(code string) (string, string) {
		return "", cur.Procedures[code].Name
	})
	fmt.Fprintf(tw, "  unchanged\t%d\n", len(p.Unchanged))
	tw.Flush()
	fmt.Fprintln(w)
	// "Published" counts what the stream acknowledged storing now; events it already held (sent by an earlier run of
	// an import that failed part way) are said apart, never counted as published by this run.
	pub := res.Published
	switch {
	case p.Empty() && pub.Duplicates == 0:
		fmt.Fprintf(w, "No procedure changed since the last report. The report of this import was published, so that the unit is seen to be reporting.\n")
	case p.Empty():
		fmt.Fprintf(w, "No procedure changed since the last report. The report of this import was already in the stream: the unit is seen to be reporting.\n")
	case pub.Duplicates == 0:
		fmt.Fprintf(w, "Published %d events: %d changes and the report of this import.\n", pub.Stored, len(p.Events))
	default:
		fmt.Fprintf(w, "Published %d events; the stream already held the other %d, from an earlier run of this import: all %d changes and the report of this import are in the stream.\n",
			pub.Stored, pub.Duplicates, len(p.Events))
	}
}

// attributes says what made a procedure be registered again.
func attributes(was, now reporting.Procedure) string {
	var out []string
	if was.Name != now.Name {
		out = append(out, "name")
	}
	if was.Sector != now.Sector {
		out = append(out, fmt.Sprintf("sector %s → %s", was.Sector, now.Sector))
	}
	if was.Eligible != now.Eligible {
		out = append(out, fmt.Sprintf("eligible %s → %s", yesNo(was.Eligible), yesNo(now.Eligible)))
	}
	if was.Level != now.Level {
		out = append(out, fmt.Sprintf("level %d → %d", was.Level, now.Level))
	}
	return strings.Join(out, ", ")
}

func yesNo(b bool) string {
	if b {
		return "có"
	}
	return "không"
}
