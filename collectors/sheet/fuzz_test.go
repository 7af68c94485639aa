package sheet_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/collectors/reporting"
	"github.com/egovtrack/egovtrack/collectors/sheet"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// FuzzRead feeds Read any file: CSV in any encoding, XLSX, and whatever else an officer may pick. See checkRead for
// what must hold. The seed corpus (testdata/fuzz/FuzzRead) holds the templates, the test files and the bad files of
// TestBadInput.
func FuzzRead(f *testing.F) {
	f.Fuzz(func(t *testing.T, file []byte) {
		checkRead(t, file)
	})
}

// FuzzReadXLSX fuzzes what a workbook holds rather than its zip archive, whose checksums a mutation breaks: the XML
// of a worksheet's rows and its merged cells, in a workbook of one sheet. The seed corpus
// (testdata/fuzz/FuzzReadXLSX) holds the worksheets of TestBadInput.
func FuzzReadXLSX(f *testing.F) {
	f.Fuzz(func(t *testing.T, rows, merges string) {
		s := xsheet{name: "Danh mục", rows: rows}
		if merges != "" {
			s.merges = strings.Split(merges, " ")
		}
		checkRead(t, xlsx(t, s))
	})
}

// checkRead reads a file and checks that Read does not panic, that what it refuses it refuses with an error of one
// of the kinds it documents and a message, and that what it reads is a table whose rows reporting.ParseRows turns
// into row errors that name a row and a column, or into procedures the event contract accepts.
func checkRead(t *testing.T, file []byte) {
	tab, err := sheet.Read(context.Background(), bytes.NewReader(file))
	if err != nil {
		if err.Error() == "" {
			t.Fatalf("an error without a message: %#v", err)
		}
		if he, ok := errors.AsType[*sheet.HeaderError](err); ok && len(he.Missing)+len(he.Twice) == 0 {
			t.Fatalf("a header error that names no column: %v", err)
		}
		if ce, ok := errors.AsType[*sheet.CellsError](err); ok && (len(ce.Problems) == 0 || ce.Problems[0].Row < 1) {
			t.Fatalf("a cells error that names no row: %v", err)
		}
		if fe, ok := errors.AsType[*sheet.FontEncodingError](err); ok && fe.Where == "" {
			t.Fatalf("a font encoding error that says not where: %v", err)
		}
		return
	}
	if len(tab.Columns) != 5 || tab.HeaderRow < 1 {
		t.Fatalf("a table with %d columns, header on row %d", len(tab.Columns), tab.HeaderRow)
	}
	var cols []int
	for _, c := range tab.Columns {
		if slices.Contains(cols, c.Index) {
			t.Fatalf("two columns read from column %d: %+v", c.Index, tab.Columns)
		}
		cols = append(cols, c.Index)
	}
	lines := map[int]bool{}
	last := tab.HeaderRow
	for _, r := range tab.Rows {
		if r.Line <= last {
			t.Fatalf("row %d after row %d", r.Line, last)
		}
		last = r.Line
		lines[r.Line] = true
		if reporting.Clean(r.Code+r.Name+r.Sector+r.Eligible+r.Level) == "" {
			t.Fatalf("blank row %d read", r.Line)
		}
	}
	procs, bad := reporting.ParseRows(tab.Rows)
	badLines := map[int]bool{}
	for _, e := range bad {
		if !lines[e.Line] || e.Reason == "" || !slices.Contains([]string{reporting.ColCode, reporting.ColName, reporting.ColSector, reporting.ColEligible, reporting.ColLevel}, e.Column) {
			t.Fatalf("row error %+v names no row or column of the table", e)
		}
		badLines[e.Line] = true
	}
	if len(procs)+len(badLines) != len(tab.Rows) {
		t.Fatalf("%d procedures and %d bad rows of %d rows", len(procs), len(badLines), len(tab.Rows))
	}
	for _, p := range procs {
		d := &event.ProcedureRegisteredData{Unit: units.Ref{Kind: units.Province, Code: "19"}, Procedure: p.Code, Name: p.Name,
			Sector: p.Sector, Eligible: p.Eligible, Level: p.Level, EffectiveAt: time.Date(2021, 7, 1, 2, 0, 0, 0, time.UTC)}
		if _, err := event.New(sheet.Source, d); err != nil {
			t.Fatalf("procedure %+v, which reporting.ParseRows accepted, breaks the contract: %v", p, err)
		}
	}
}
