package dossiers

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/unicode/norm"

	"github.com/egovtrack/egovtrack/collectors/sheet"
)

// The bounds of a dossier export. A month of a large province is a few hundred thousand dossiers, one a row; the
// reader streams the file row by row, so that its memory is one row's (and, for the check of numbers given twice,
// 16 bytes a row: see check), never the file's.
const (
	// maxRows bounds the rows: Excel's sheets end at 1,048,576, and a month of the largest province (Hà Nội) is
	// about 400,000 dossiers.
	maxRows = 1 << 20
	// maxColumns bounds the columns a row may have a value in: exports have about twenty.
	maxColumns = 256
	// maxRecordBytes bounds one CSV row (quoted line breaks included): encoding/csv holds a row whole.
	maxRecordBytes = 1 << 20
	// maxCellChars is the longest cell, Excel's own limit.
	maxCellChars = 32_767

	// A workbook: excelize holds in memory every part of the archive but worksheets and the shared texts larger than
	// xmlInMemory, which it unzips to temporary files and reads as a stream.
	xmlInMemory     = 4 << 20
	maxHeldBytes    = 64 << 20 // the parts excelize holds, together
	maxUnzipped     = 4 << 30  // everything, temporary files included
	maxParts        = 10_000
	maxXMLTokenSize = 1 << 20 // a tag or a text between two tags; XML readers hold each whole
)

// Format is the kind of file.
type Format string

const (
	CSV  Format = "CSV"
	XLSX Format = "XLSX"
)

// source is where the rows come from, as learnt while opening the file.
type source struct {
	Format   Format
	Sheet    string         // the worksheet, for XLSX
	Encoding sheet.Encoding // how a CSV file's text was read
	rows     iter.Seq2[record, error]
	close    func() error
}

// record is one non-blank row and its number as Excel shows it. A workbook's cell holding a number is read as the
// number stored, not as its format shows it: a date is Excel's serial day (45366.5), whatever order of day and
// month the computer that saved it wrote.
type record struct {
	line  int
	cells []string
}

// open opens an export, CSV or XLSX, told apart by content, not by name.
func open(ctx context.Context, path string) (*source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	head := make([]byte, 8)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		f.Close()
		return openXLSX(ctx, path)
	case bytes.HasPrefix(head, []byte{0xD0, 0xCF, 0x11, 0xE0}):
		f.Close()
		return nil, errors.New("the file is an Excel 97–2003 workbook (.xls) or a password-protected one: save it without a password as Excel Workbook (.xlsx) or CSV UTF-8")
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	s, err := openCSV(ctx, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	s.close = f.Close
	return s, nil
}

// sniffBytes is how much of a CSV file tells its encoding: a file that is UTF-8 there and not further on is refused
// at the row where it stops being UTF-8.
const sniffBytes = 64 << 10

func openCSV(ctx context.Context, f io.Reader) (*source, error) {
	br := bufio.NewReaderSize(f, sniffBytes)
	head, err := br.Peek(sniffBytes)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	if bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}) {
		if _, err := br.Discard(3); err != nil {
			return nil, err
		}
		head = head[3:]
	}
	if bytes.HasPrefix(head, []byte{0xFF, 0xFE}) || bytes.HasPrefix(head, []byte{0xFE, 0xFF}) {
		return nil, errors.New("the file is UTF-16 text (Excel's \"Unicode Text\"): save it as CSV UTF-8 or Excel Workbook (.xlsx)")
	}
	if i := bytes.IndexFunc(head, func(r rune) bool { return r < ' ' && r != '\t' && r != '\n' && r != '\r' }); i >= 0 {
		return nil, fmt.Errorf("the file is not text (line %d holds the control character %#02x): save the export as Excel Workbook (.xlsx) or \"CSV UTF-8 (Comma delimited)\"", 1+bytes.Count(head[:i], []byte("\n")), head[i])
	}
	enc := sheet.UTF8
	var text io.Reader = br
	if !utf8.Valid(trimPartialRune(head)) {
		// Excel's plain "CSV (Comma delimited)" on a Vietnamese Windows. A file in a font encoding (TCVN3, VNI)
		// decodes too, to words no Vietnamese has: the font check of the first rows refuses it.
		enc, text = sheet.Windows1258, charmap.Windows1258.NewDecoder().Reader(br)
	}
	sep := separator(head, enc)
	guard := &recordGuard{r: text}
	r := csv.NewReader(guard)
	r.Comma = sep
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.ReuseRecord = true
	rows := func(yield func(record, error) bool) {
		inside := 0 // line breaks inside quoted cells so far: Excel counts such a row once
		for n := 0; ; n++ {
			if n%1000 == 0 && ctx.Err() != nil {
				yield(record{}, ctx.Err())
				return
			}
			cells, err := r.Read()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				if guard.over {
					err = &sheet.LimitError{Where: "the file", Figure: fmt.Sprintf("has a row longer than %d MiB (after line %d)", maxRecordBytes>>20, guard.lines),
						Fix: "not a dossier export: check that it is the right file"}
				}
				yield(record{}, fmt.Errorf("CSV: %w", err))
				return
			}
			line, _ := r.FieldPos(0)
			rec := record{line: line - inside}
			for _, c := range cells {
				inside += strings.Count(c, "\n")
			}
			if blankCells(cells) {
				continue
			}
			if enc == sheet.UTF8 {
				for i, c := range cells {
					if !utf8.ValidString(c) {
						yield(record{}, fmt.Errorf("row %d, column %s: not UTF-8, though the start of the file is: save the whole file again as \"CSV UTF-8 (Comma delimited)\"", rec.line, letter(i)))
						return
					}
				}
			}
			rec.cells = make([]string, len(cells))
			for i, c := range cells {
				if enc == sheet.Windows1258 {
					c = norm.NFC.String(c) // Windows-1258 writes a tone mark apart from its letter
				}
				rec.cells[i] = c
			}
			if !yield(rec, nil) {
				return
			}
		}
	}
	return &source{Format: CSV, Encoding: enc, rows: rows}, nil
}

// trimPartialRune cuts a rune cut short at the end of b, as a peek of a file's start may leave it.
func trimPartialRune(b []byte) []byte {
	for i := 1; i < utf8.UTFMax && i <= len(b); i++ {
		if utf8.RuneStart(b[len(b)-i]) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			break
		}
	}
	return b
}

// separator is the one of comma, semicolon (Excel where the decimal separator is a comma, as in Vietnam) and tab
// whose split of the file's first rows finds the header naming most columns; when none finds one, the one the first
// rows hold most of, so that the error shows the headers as the officer wrote them.
func separator(head []byte, enc sheet.Encoding) rune {
	if enc == sheet.Windows1258 {
		if b, err := charmap.Windows1258.NewDecoder().Bytes(head); err == nil {
			head = b
		}
	}
	best, bestKnown, bestCount := ',', 0, -1
	for _, sep := range []rune{',', ';', '\t'} {
		r := csv.NewReader(bytes.NewReader(head))
		r.Comma, r.FieldsPerRecord, r.LazyQuotes = sep, -1, true
		known := 0
		for range headerSearchRows {
			cells, err := r.Read()
			if err != nil {
				break
			}
			_, k, _ := matchHeader(record{cells: cells})
			known = max(known, k)
		}
		count := bytes.Count(head, []byte(string(sep)))
		if known > bestKnown || known == bestKnown && count > bestCount {
			best, bestKnown, bestCount = sep, known, count
		}
	}
	return best
}

// recordGuard fails a read once a row has passed maxRecordBytes: a line break outside quotes ends a row. It counts
// quotes as CSV does; a stray quote (read as text with LazyQuotes) only makes it count a longer row.
type recordGuard struct {
	r      io.Reader
	since  int
	quoted bool
	lines  int
	over   bool
}

var errRecordTooLong = errors.New("a row is too long")

func (g *recordGuard) Read(p []byte) (int, error) {
	if g.over {
		return 0, errRecordTooLong
	}
	n, err := g.r.Read(p)
	for _, b := range p[:n] {
		switch {
		case b == '"':
			g.quoted = !g.quoted
		case b == '\n' && !g.quoted:
			g.since, g.lines = 0, g.lines+1
			continue
		}
		if g.since++; g.since > maxRecordBytes {
			g.over = true
			return 0, errRecordTooLong
		}
	}
	return n, err
}

func blankCells(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

func letter(i int) string {
	s, err := excelize.ColumnNumberToName(i + 1)
	if err != nil {
		return fmt.Sprint(i + 1)
	}
	return s
}

// openXLSX opens a workbook, after checking its archive against the bounds: what excelize would hold in memory, what
// it would unzip to disk, and every XML part for a tag or a text too long to hold (scanned as a stream).
func openXLSX(ctx context.Context, path string) (*source, error) {
	if err := inspect(path); err != nil {
		return nil, err
	}
	f, err := excelize.OpenFile(path, excelize.Options{RawCellValue: true, UnzipXMLSizeLimit: xmlInMemory, UnzipSizeLimit: maxUnzipped})
	if err != nil {
		return nil, fmt.Errorf("open the workbook: %w", err)
	}
	// The sheet read is the first with a value: exports have one; a second sheet (a summary) is not read.
	for _, name := range f.GetSheetList() {
		rows, err := f.Rows(name)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("sheet %q: %w", name, err)
		}
		if !rows.Next() {
			rows.Close()
			continue
		}
		seq := func(yield func(record, error) bool) {
			defer rows.Close()
			for n := 1; ; n++ {
				if n%1000 == 0 && ctx.Err() != nil {
					yield(record{}, ctx.Err())
					return
				}
				if n > maxRows {
					yield(record{}, &sheet.LimitError{Where: fmt.Sprintf("sheet %q", name), Figure: fmt.Sprintf("has rows beyond row %s", thousands(maxRows)), Fix: "not a dossier export"})
					return
				}
				cols, err := rows.Columns(excelize.Options{RawCellValue: true})
				if err != nil {
					yield(record{}, fmt.Errorf("sheet %q, row %d: %w", name, n, err))
					return
				}
				if len(cols) > maxColumns && !blankCells(cols[maxColumns:]) {
					yield(record{}, &sheet.LimitError{Where: fmt.Sprintf("sheet %q", name), Figure: fmt.Sprintf("has a value beyond column %s (row %d), more than an export uses", letter(maxColumns-1), n),
						Fix: "delete the columns after the last one the export uses, and import the file again"})
					return
				}
				if !blankCells(cols) {
					rec := record{line: n, cells: cols}
					if !yield(rec, nil) {
						return
					}
				}
				if !rows.Next() {
					if err := rows.Error(); err != nil {
						yield(record{}, fmt.Errorf("sheet %q: %w", name, err))
					}
					return
				}
			}
		}
		return &source{Format: XLSX, Sheet: name, rows: seq, close: f.Close}, nil
	}
	f.Close()
	return nil, errors.New("every sheet of the workbook is blank: " + errEmpty.Error())
}

// inspect checks a workbook's archive before excelize opens it.
func inspect(path string) error {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return fmt.Errorf("open the workbook: %w", err)
	}
	defer zr.Close()
	if len(zr.File) > maxParts {
		return &sheet.LimitError{Where: "the workbook", Figure: fmt.Sprintf("is an archive of %s files, more than the %s a workbook holds", thousands(len(zr.File)), thousands(maxParts)), Fix: "not a dossier export"}
	}
	var held, total uint64
	for _, f := range zr.File {
		size := f.UncompressedSize64
		total += size
		name := strings.ToLower(strings.ReplaceAll(f.Name, `\`, "/"))
		streamed := (strings.HasPrefix(name, "xl/worksheets/sheet") || name == "xl/sharedstrings.xml") && size > xmlInMemory
		if !streamed {
			held += size
		}
		switch {
		case total > maxUnzipped:
			return &sheet.LimitError{Where: "the workbook", Figure: fmt.Sprintf("unzips to more than %d GiB", maxUnzipped>>30), Fix: "not a month's dossier export: export one month, or one half of it, at a time"}
		case held > maxHeldBytes:
			return &sheet.LimitError{Where: "the workbook", Figure: fmt.Sprintf("holds more than %d MiB in parts other than its sheets (passed at %s)", maxHeldBytes>>20, f.Name), Fix: "not a dossier export: save it again from Excel with only the export's sheet"}
		}
		if !strings.HasSuffix(name, ".xml") && !strings.HasSuffix(name, ".rels") {
			continue
		}
		if err := scanPart(f); err != nil {
			return err
		}
	}
	return nil
}

// scanPart reads one XML part through sheet.GuardTokens, so that excelize never meets a tag or a text it would
// hold at a size beyond the bound.
func scanPart(f *zip.File) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("open the workbook: %s: %w", f.Name, err)
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, sheet.GuardTokens(rc, maxXMLTokenSize))
	switch {
	case errors.Is(err, sheet.ErrTokenTooLong):
		return &sheet.LimitError{Where: fmt.Sprintf("the workbook's part %s", f.Name), Figure: fmt.Sprintf("holds a tag or a text of more than %d MiB", maxXMLTokenSize>>20), Fix: "not a dossier export"}
	case err != nil:
		return fmt.Errorf("the workbook is damaged (%s: %v): open it in Excel and save it again", f.Name, err)
	}
	return nil
}

// english writes figures as the messages are, in English: 1,048,576.
var english = message.NewPrinter(language.English)

func thousands(n int) string { return english.Sprint(n) }
