package sheet

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/egovtrack/egovtrack/collectors/reporting"
)

// Format is the kind of spreadsheet file.
type Format string

const (
	CSV  Format = "CSV"
	XLSX Format = "XLSX"
)

// headerSearchRows is how many non-blank rows may stand above the header: official spreadsheets usually open with a
// title ("DANH MỤC THỦ TỤC HÀNH CHÍNH …"), a unit name and a date before the column headers.
const headerSearchRows = 10

// Column is where one of the catalogue's columns stands in the file.
type Column struct {
	Index  int    // 0-based: 0 is column A
	Header string // the header as written in the file (cleaned)
}

// Letter is the column's spreadsheet name: A, B, … AA.
func (c Column) Letter() string {
	s, err := excelize.ColumnNumberToName(c.Index + 1)
	if err != nil {
		return fmt.Sprint(c.Index + 1)
	}
	return s
}

// Table is a catalogue spreadsheet as read: where its header stood and the rows beneath it, numbered as the officer
// sees them in Excel. Values are as written; reporting.ParseRows interprets them.
type Table struct {
	Format    Format
	Sheet     string            // the worksheet read, for XLSX
	HeaderRow int               // row number of the header
	Columns   map[string]Column // by catalogue column name (reporting.ColCode, …)
	Ignored   []string          // headers of the columns that are not read, such as "STT" or "Ghi chú"
	Rows      []reporting.Row   // non-blank rows under the header
	// Encoding is how a CSV file's text was read: UTF8, or Windows1258 for the plain "CSV (Comma delimited)" of a
	// Vietnamese Windows. Empty for a workbook, whose text is Unicode.
	Encoding Encoding
}

// HeaderError says why no usable header row was found. Every one of the five columns is required, so a misspelt
// header shows up as missing, next to the header actually found.
type HeaderError struct {
	Sheet   string   // the worksheet, for XLSX
	Row     int      // the row taken for the header; 0 when the file has no non-blank row
	Missing []string // catalogue columns not found
	Twice   []string // catalogue columns given by more than one header
	Found   []string // the headers of that row, as written
}

func (e *HeaderError) Error() string {
	var b strings.Builder
	where := fmt.Sprintf("row %d", e.Row)
	if e.Sheet != "" {
		where = fmt.Sprintf("sheet %q, %s", e.Sheet, where)
	}
	if len(e.Missing) == len(columns) {
		fmt.Fprintf(&b, "no header row found: %s is the first non-blank row and names none of the columns", where)
	} else {
		fmt.Fprintf(&b, "the header (%s)", where)
		if len(e.Missing) > 0 {
			fmt.Fprintf(&b, " lacks %s", describe(e.Missing))
		}
		if len(e.Twice) > 0 {
			if len(e.Missing) > 0 {
				b.WriteString(" and")
			}
			fmt.Fprintf(&b, " gives %s more than once", describe(e.Twice))
		}
	}
	quoted := make([]string, len(e.Found))
	for i, f := range e.Found {
		quoted[i] = fmt.Sprintf("%q", f)
	}
	fmt.Fprintf(&b, "; found %s; expected the template's headers %s (or in English %s)",
		strings.Join(quoted, ", "), templateHeaders(func(c column) string { return c.vi }), templateHeaders(func(c column) string { return c.en }))
	return b.String()
}

func describe(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		c := columnNamed(n)
		out[i] = fmt.Sprintf("%q (%s)", c.vi, c.en)
	}
	return strings.Join(out, ", ")
}

func templateHeaders(f func(column) string) string {
	out := make([]string, len(columns))
	for i, c := range columns {
		out[i] = f(c)
	}
	return strings.Join(out, ", ")
}

// column is one of the catalogue's columns and the headers that name it. Headers are compared folded (see
// reporting.Fold), so each spelling below also stands for its forms in upper case, without diacritics and in NFD.
type column struct {
	name    string // reporting.ColCode, …
	vi, en  string // the templates' headers
	aliases []string
}

var columns = []column{
	{reporting.ColCode, "Mã thủ tục", "code", []string{"Mã thủ tục hành chính", "Mã TTHC", "Mã số thủ tục", "Mã số TTHC", "Mã số", "Mã", "procedure code"}},
	{reporting.ColName, "Tên thủ tục", "name", []string{"Tên thủ tục hành chính", "Tên TTHC", "Tên", "procedure name", "procedure"}},
	{reporting.ColSector, "Lĩnh vực", "sector", []string{"Lĩnh vực thủ tục", "sector name"}},
	{reporting.ColEligible, "Đủ điều kiện mức 4", "eligible", []string{"Đủ điều kiện mức độ 4", "Đủ điều kiện toàn trình", "Đủ điều kiện", "Toàn trình", "Đủ điều kiện cung cấp toàn trình", "eligible for level 4", "eligible for full online", "full online eligible"}},
	{reporting.ColLevel, "Mức độ", "level", []string{"Mức độ DVC", "Mức độ DVCTT", "Mức độ dịch vụ công", "Mức độ dịch vụ công trực tuyến", "Mức", "online level", "service level"}},
}

// headerIndex maps every folded header to its column.
var headerIndex = func() map[string]int {
	m := map[string]int{}
	for i, c := range columns {
		for _, h := range append([]string{c.vi, c.en}, c.aliases...) {
			k := HeaderKey(h)
			if _, dup := m[k]; dup {
				panic("sheet: header " + h + " names two columns")
			}
			m[k] = i
		}
	}
	return m
}()

func columnNamed(name string) column {
	for _, c := range columns {
		if c.name == name {
			return c
		}
	}
	return column{name: name, vi: name, en: name}
}

// HeaderKey folds a header (reporting.Fold), dropping remarks in parentheses: "Mã thủ tục (*)" or "Mức độ (1-4)" are
// common. Every reader of officers' spreadsheets (collectors/dossiers too) matches headers by it.
func HeaderKey(s string) string {
	var b strings.Builder
	depth := 0
	for _, r := range s {
		switch {
		case r == '(':
			depth++
		case r == ')' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return reporting.Fold(b.String())
}

// record is one non-blank row of a sheet with its row number.
type record struct {
	line  int
	cells []string
}

func blank(cells []string) bool {
	for _, c := range cells {
		if reporting.Clean(c) != "" {
			return false
		}
	}
	return true
}

// header is a row recognised as the header.
type header struct {
	at      int // index in the records
	cols    []int
	names   []string
	ignored []string
	twice   []string
}

// matchHeader reads a row as a header, returning how many of the columns it names.
func matchHeader(rec record) (header, int) {
	h := header{cols: make([]int, len(columns)), names: make([]string, len(columns))}
	for i := range h.cols {
		h.cols[i] = -1
	}
	known := 0
	for i, cell := range rec.cells {
		text := reporting.Clean(cell)
		if text == "" {
			continue
		}
		c, ok := headerIndex[HeaderKey(text)]
		switch {
		case !ok:
			h.ignored = append(h.ignored, text)
		case h.cols[c] >= 0:
			if !slices.Contains(h.twice, columns[c].name) {
				h.twice = append(h.twice, columns[c].name)
			}
		default:
			h.cols[c], h.names[c] = i, text
			known++
		}
	}
	return h, known
}

// findHeader takes for the header the first of the top rows that names at least two columns: one alone could be a
// title or a remark. It returns the number of columns named, -1 when no row qualifies.
func findHeader(recs []record) (header, int) {
	for i, rec := range recs[:min(len(recs), headerSearchRows)] {
		if h, known := matchHeader(rec); known >= 2 {
			h.at = i
			return h, known
		}
	}
	return header{}, -1
}

func headerError(sheet string, recs []record, h header, found bool) *HeaderError {
	e := &HeaderError{Sheet: sheet}
	rec := record{}
	if found {
		rec = recs[h.at]
		for i, c := range h.cols {
			if c < 0 {
				e.Missing = append(e.Missing, columns[i].name)
			}
		}
		e.Twice = h.twice
	} else {
		if len(recs) > 0 {
			rec = recs[0]
		}
		for _, c := range columns {
			e.Missing = append(e.Missing, c.name)
		}
	}
	e.Row = rec.line
	for _, c := range rec.cells {
		if t := reporting.Clean(c); t != "" {
			e.Found = append(e.Found, t)
		}
	}
	return e
}

// table builds the Table of a sheet whose header was found and complete.
func table(format Format, sheet string, recs []record, h header) Table {
	t := Table{Format: format, Sheet: sheet, HeaderRow: recs[h.at].line, Columns: map[string]Column{}, Ignored: h.ignored}
	for i, c := range columns {
		t.Columns[c.name] = Column{Index: h.cols[i], Header: h.names[i]}
	}
	for _, rec := range recs[h.at+1:] {
		v := make([]string, len(columns))
		for i, idx := range h.cols {
			if idx < len(rec.cells) {
				v[i] = rec.cells[idx]
			}
		}
		// Only the five columns decide whether a row is blank: templates often come with the STT column numbered
		// far below the last procedure.
		if blank(v) {
			continue
		}
		t.Rows = append(t.Rows, reporting.Row{Line: rec.line, Code: v[0], Name: v[1], Sector: v[2], Eligible: v[3], Level: v[4]})
	}
	return t
}

// ErrEmpty is returned for a file without a single procedure.
var ErrEmpty = errors.New("no procedures")

// ReadFile reads a catalogue spreadsheet, CSV or XLSX (told apart by content, not by name).
func ReadFile(ctx context.Context, path string) (Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return Table{}, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > maxFileBytes {
		return Table{}, tooLargeFile() // refused before a byte of it is read
	}
	return Read(ctx, f)
}

func tooLargeFile() error {
	return &LimitError{"the file", fmt.Sprintf("is larger than %d MiB", maxFileBytes>>20),
		"not a catalogue of procedures (2,000 procedures take a few hundred kilobytes): check that it is the right file"}
}

// Read reads a catalogue spreadsheet from r: an XLSX workbook, or CSV separated by commas, semicolons (Excel's choice
// where the decimal separator is a comma, as in Vietnam) or tabs, in UTF-8 (with or without a byte order mark) or in
// Windows-1258, the Vietnamese code page of Excel's plain "CSV (Comma delimited)" (Table.Encoding says which).
//
// The header is the first row naming at least two of the catalogue's columns among the first rows; rows above it
// are ignored as titles, columns it does not name are ignored, and so are rows blank in every catalogue column. In a
// workbook, the one worksheet with such a header is read, each cell as Excel last computed and saved it.
//
// A file is read within the bounds of limits.go, checked as it is read, before its rows are held: its size, its rows
// and columns with values, its cells, and for a workbook what its archive unzips to and holds.
//
// Errors: *HeaderError when the header lacks a column or gives one twice; ErrEmpty when the file holds no row at
// all; *FontEncodingError for text typed in a TCVN3 (ABC) or VNI font rather than Unicode; *CellsError for a
// workbook whose catalogue has merged cells or formulas without a value; *LimitError for a file beyond the bounds
// of a catalogue (more than reporting.MaxProcedures procedures among them); and errors that say what else the file
// is (an .xls, UTF-16, not text, a damaged workbook).
func Read(ctx context.Context, r io.Reader) (Table, error) {
	var buf bytes.Buffer
	if f, ok := r.(interface{ Stat() (os.FileInfo, error) }); ok {
		// Read a file into a buffer of its size, not one doubled as it fills.
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			buf.Grow(int(min(fi.Size(), maxFileBytes+1)) + bytes.MinRead)
		}
	}
	if _, err := buf.ReadFrom(io.LimitReader(r, maxFileBytes+1)); err != nil {
		return Table{}, err
	}
	data := buf.Bytes()
	if len(data) > maxFileBytes {
		return Table{}, tooLargeFile()
	}
	switch {
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		return readXLSX(ctx, data)
	case bytes.HasPrefix(data, []byte{0xD0, 0xCF, 0x11, 0xE0}):
		// The compound-file format of Excel 97–2003 .xls, and of password-protected .xlsx.
		return Table{}, errors.New("the file is an Excel 97–2003 workbook (.xls) or a password-protected one: save it without a password as Excel Workbook (.xlsx) or CSV UTF-8")
	}
	return readCSV(ctx, data)
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func readCSV(ctx context.Context, data []byte) (Table, error) {
	data = bytes.TrimPrefix(data, utf8BOM)
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		return Table{}, errors.New("the file is UTF-16 text (Excel's \"Unicode Text\"): save it as CSV UTF-8 or Excel Workbook (.xlsx)")
	}
	if i := bytes.IndexFunc(data, func(r rune) bool { return r < ' ' && r != '\t' && r != '\n' && r != '\r' }); i >= 0 {
		line := 1 + bytes.Count(data[:i], []byte("\n"))
		return Table{}, fmt.Errorf("the file is not text (line %d holds the control character %#02x at byte offset %d): save the catalogue as Excel Workbook (.xlsx) or \"CSV UTF-8 (Comma delimited)\"", line, data[i], i+1)
	}
	// What splitting the file takes grows with its lines and with the fields of its longest record, which a CSV
	// reader holds whole: bound both before splitting. Every separator may end a field, so the separators bound the
	// fields.
	lines := bytes.Count(data, []byte("\n")) + 1
	if lines > maxLines {
		return Table{}, &LimitError{"the file", fmt.Sprintf("has %s lines, more than the %s rows a spreadsheet has", thousands(lines), thousands(maxLines)), notACatalogue}
	}
	for _, sep := range []struct {
		b    byte
		name string
	}{{',', "commas"}, {';', "semicolons"}, {'\t', "tabs"}} {
		if seps := bytes.Count(data, []byte{sep.b}); seps+lines > maxCells {
			return Table{}, &LimitError{"the file", fmt.Sprintf("has %s lines and %s %s: up to %s cells, more than the %s a catalogue may take (%s rows of %d columns)",
				thousands(lines), thousands(seps), sep.name, thousands(seps+lines), thousands(maxCells), thousands(maxRows), maxCells/maxRows), notACatalogue}
		}
	}
	enc := UTF8
	if !utf8.Valid(data) {
		text, err := decodeLegacy(data)
		if err != nil {
			return Table{}, err
		}
		data, enc = text, Windows1258
	}
	// The separator is the one whose split of the first rows finds the header naming most columns; when none finds
	// one, the one that splits the first row widest, so that the error shows the headers as the officer wrote them.
	// Only the chosen one splits the whole file.
	best, bestKnown := rune(0), -2
	var bestWidth int
	for _, sep := range []rune{',', ';', '\t'} {
		recs, err := splitCSV(ctx, data, sep, headerSearchRows)
		if err != nil {
			return Table{}, err
		}
		_, known := findHeader(recs)
		if known > bestKnown || known == -1 && bestKnown == -1 && width(recs) > bestWidth {
			best, bestKnown, bestWidth = sep, known, width(recs)
		}
	}
	recs, err := splitCSV(ctx, data, best, maxRows)
	if err != nil {
		return Table{}, err
	}
	h, known := findHeader(recs)
	if enc == UTF8 {
		// A file typed in a .Vn or VNI- font and saved as CSV UTF-8 keeps the font's letters. (Windows-1258 was
		// only taken for text that reads as Vietnamese.)
		if err := CheckFont(recordTexts(recs), func(i int) string { return fmt.Sprintf("row %d", recs[i].line) }); err != nil {
			return Table{}, err
		}
	}
	t, err := finish(CSV, "", recs, h, known)
	if err != nil {
		return Table{}, err
	}
	t.Encoding = enc
	return t, nil
}

func width(recs []record) int {
	if len(recs) == 0 {
		return 0
	}
	return len(recs[0].cells)
}

func finish(format Format, sheet string, recs []record, h header, known int) (Table, error) {
	if len(recs) == 0 {
		return Table{}, fmt.Errorf("the file is blank: %w", ErrEmpty)
	}
	if known < len(columns) || len(h.twice) > 0 {
		return Table{}, headerError(sheet, recs, h, known >= 0)
	}
	t := table(format, sheet, recs, h)
	if n := len(t.Rows); n > reporting.MaxProcedures {
		where := "the file"
		if sheet != "" {
			where = fmt.Sprintf("sheet %q", sheet)
		}
		return Table{}, &LimitError{where, fmt.Sprintf("has %s rows of procedures under the header (row %d), more than the %s a catalogue may hold (the largest province has about 2,000, the national database about 6,000 for all units)",
			thousands(n), t.HeaderRow, thousands(reporting.MaxProcedures)), "check that the file is one unit's catalogue, and that no rows were pasted twice"}
	}
	return t, nil
}

// splitCSV splits data into records numbered as Excel numbers the rows: a line break inside a quoted cell (Alt+Enter)
// does not start a new row, a blank line does. It stops after limit non-blank records: when that is maxRows, a file
// with more is refused with a *LimitError, as is a record with a value beyond maxColumns.
func splitCSV(ctx context.Context, data []byte, sep rune, limit int) ([]record, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = sep
	r.FieldsPerRecord = -1
	r.LazyQuotes = true // a stray quote inside a name is text, not a reason to refuse the file
	var (
		recs    []record
		prevOff int64
		lines   int // line breaks read so far
		inside  int // line breaks inside the quoted cells of the records read so far
	)
	for n := 0; ; n++ {
		if n%1000 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		cells, err := r.Read()
		if errors.Is(err, io.EOF) {
			return recs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("CSV: %w", err)
		}
		start, _ := r.FieldPos(0)
		off := r.InputOffset()
		lines += bytes.Count(data[prevOff:off], []byte("\n"))
		prevOff = off
		end := lines // the record's last line ends with the line break just read…
		if int(off) == len(data) && !bytes.HasSuffix(data, []byte("\n")) {
			end++ // …unless it is the file's last line, without one
		}
		if !blank(cells) {
			if len(recs) == limit {
				if limit < maxRows {
					return recs, nil
				}
				return nil, &LimitError{"the file", fmt.Sprintf("has more than %s rows with values (row %s is one more), the most a catalogue may take (%s procedures, and as many rows again for titles and notes)", thousands(maxRows), thousands(start-inside), thousands(reporting.MaxProcedures)),
					"check that the file is one unit's catalogue, and delete the rows below it"}
			}
			if len(cells) > maxColumns && !blank(cells[maxColumns:]) {
				return nil, &LimitError{"the file", fmt.Sprintf("has a value beyond column %d (row %d), the most a catalogue may use", maxColumns, start-inside),
					"delete the columns after the last one the catalogue uses, and import the file again"}
			}
			recs = append(recs, record{line: start - inside, cells: cells})
		}
		inside += end - start
	}
}

func readXLSX(ctx context.Context, data []byte) (Table, error) {
	scans, err := inspectWorkbook(data)
	if err != nil {
		return Table{}, err
	}
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{UnzipSizeLimit: maxUnzippedBytes})
	if err != nil {
		return Table{}, fmt.Errorf("open the workbook: %w", err)
	}
	defer f.Close()
	type candidate struct {
		sheet string
		recs  []record
		h     header
		known int
	}
	var found, first []candidate
	for _, name := range f.GetSheetList() {
		if _, ok := scans[name]; !ok {
			// Never read a sheet the inspection did not: its size would be unchecked. (excelize finds the sheets as
			// inspectWorkbook does; this one has no part in the archive, or an unusual one.)
			return Table{}, fmt.Errorf("sheet %q is missing from the workbook's archive or cannot be found in it: open the file in Excel and save it again", name)
		}
		recs, err := sheetRecords(ctx, f, name)
		if err != nil {
			return Table{}, err
		}
		h, known := findHeader(recs)
		c := candidate{name, recs, h, known}
		if known >= 0 {
			found = append(found, c)
		} else if len(recs) > 0 && len(first) == 0 {
			first = append(first, c)
		}
	}
	var c candidate
	switch {
	case len(found) > 1:
		// Reading one and ignoring the other would retire every procedure of the other.
		names := make([]string, len(found))
		for i, c := range found {
			names[i] = fmt.Sprintf("%q", c.sheet)
		}
		return Table{}, fmt.Errorf("the sheets %s all have a catalogue header: put the whole catalogue on one sheet, or delete the others", strings.Join(names, ", "))
	case len(found) == 1:
		c = found[0]
	case len(first) == 1:
		c = first[0]
	default:
		return Table{}, fmt.Errorf("every sheet of the workbook is blank: %w", ErrEmpty)
	}
	// A workbook typed in a .Vn or VNI- font stores the font's letters in Unicode.
	if err := CheckFont(recordTexts(c.recs), func(i int) string { return fmt.Sprintf("sheet %q, row %d", c.sheet, c.recs[i].line) }); err != nil {
		return Table{}, err
	}
	t, err := finish(XLSX, c.sheet, c.recs, c.h, c.known)
	if err != nil {
		return t, err
	}
	if err := checkCells(t, scans[c.sheet]); err != nil {
		return Table{}, err
	}
	return t, nil
}

// sheetRecords reads a worksheet's non-blank rows, numbered as Excel shows them, as a stream: inspectWorkbook has
// bounded what they hold.
func sheetRecords(ctx context.Context, f *excelize.File, sheet string) ([]record, error) {
	rows, err := f.Rows(sheet)
	if err != nil {
		return nil, fmt.Errorf("sheet %q: %w", sheet, err)
	}
	defer rows.Close()
	var recs []record
	// The iterator steps through every row number, yielding nothing for rows the file leaves out, so the count is
	// the row number.
	for n := 1; rows.Next(); n++ {
		if n%1000 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		cells, err := rows.Columns()
		if err != nil {
			return nil, fmt.Errorf("sheet %q, row %d: %w", sheet, n, err)
		}
		if !blank(cells) {
			recs = append(recs, record{line: n, cells: cells})
		}
	}
	if err := rows.Error(); err != nil {
		return nil, fmt.Errorf("sheet %q: %w", sheet, err)
	}
	return recs, nil
}
