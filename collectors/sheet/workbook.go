package sheet

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/net/html/charset"

	"github.com/egovtrack/egovtrack/collectors/reporting"
)

// sheetScan is what inspectWorkbook learnt of one worksheet that excelize would know only by decoding it whole: its
// merged cells and its formulas saved without a value, for checkCells.
type sheetScan struct {
	merges []string     // references of merged ranges, "C5:C7"
	hollow []hollowCell // in the order of the file
}

// hollowCell is a cell holding a formula but no value.
type hollowCell struct {
	row, col int    // col counts from 1, as excelize does
	formula  string // the formula's text, "" for a cell that shares the formula of another
}

// shownFormula is as much of a formula as an error shows.
const shownFormula = 200

// inspectWorkbook reads a workbook's archive as a stream, part by part, without holding any part whole, and refuses
// it with a *LimitError as soon as it passes one of the bounds of limits.go: excelize holds the archive's parts in
// memory, decodes some of them whole, and pads each row it reads to its last cell, so that a workbook of a few
// kilobytes could otherwise take gigabytes. It returns, by sheet name, what checkCells needs of each worksheet.
//
// It finds the worksheets as excelize does (the workbook named by the package's relationships, its sheets, their
// targets in the workbook's relationships), and reads with the same XML decoder and character sets. A worksheet or the
// shared texts that are not well-formed XML are refused: excelize would stop reading them there, and a catalogue
// read in part would retire the rest.
func inspectWorkbook(data []byte) (map[string]*sheetScan, error) {
	// Opening the archive takes memory for every file it lists: count them first, by the signature that starts each
	// entry of the archive's directory (the same bytes inside compressed data only count more).
	if n := bytes.Count(data, []byte("PK\x01\x02")); n > maxParts {
		return nil, &LimitError{"the workbook", fmt.Sprintf("is an archive of %s files or more, more than the %s a workbook holds", thousands(n), thousands(maxParts)), notACatalogue}
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("open the workbook: %w", err)
	}
	in := &inspector{parts: map[string]*zip.File{}}
	var total uint64
	for _, f := range zr.File {
		total += f.UncompressedSize64
		// archive/zip refuses to inflate an entry beyond the size it declares, so the sum bounds what is read.
		if total > maxUnzippedBytes {
			return nil, &LimitError{"the workbook", fmt.Sprintf("unzips to more than %d MiB, the most a catalogue's workbook may take (a catalogue unzips to a few megabytes)", maxUnzippedBytes>>20), notACatalogue}
		}
		in.parts[strings.ReplaceAll(f.Name, `\`, "/")] = f // as excelize names them; the last of two alike wins there too
	}
	sheets, err := in.sheetParts()
	if err != nil {
		return nil, err
	}
	for _, name := range in.named("xl/sharedStrings.xml") { // excelize finds this part whatever its case
		if err := in.scan(name, "the workbook's table of shared texts", true, true, in.sharedText()); err != nil {
			return nil, err
		}
	}
	scans := map[string]*sheetScan{}
	byPart := map[string]*sheetScan{}
	for _, s := range sheets {
		if sc, ok := byPart[s.part]; ok {
			scans[s.name] = sc
			continue
		}
		ws := &worksheet{in: in, sheet: s.name, scan: &sheetScan{}}
		if err := in.scan(s.part, fmt.Sprintf("sheet %q", s.name), false, true, ws.token); err != nil {
			return nil, err
		}
		scans[s.name], byPart[s.part] = ws.scan, ws.scan
	}
	// The other parts excelize decodes whole when it opens a workbook and reads its cells. excelize parses a cell's
	// number format each time it shows the cell's value: a format of megabytes would take hours.
	if err := in.scan("xl/styles.xml", "", true, false, func(tok xml.Token) error {
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "numFmt" {
			if n := utf8.RuneCountInString(attr(se, "formatCode")); n > maxFormatCode {
				return &LimitError{"the workbook's styles", fmt.Sprintf("hold a number format of %s characters, more than the %d Excel allows", thousands(n), maxFormatCode), notACatalogue}
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	for _, name := range append(in.named("[Content_Types].xml"), "xl/theme/theme1.xml", "xl/calcChain.xml") {
		if err := in.scan(name, "", true, false, nil); err != nil {
			return nil, err
		}
	}
	return scans, nil
}

// inspector holds the figures of one workbook that are bounded across its parts.
type inspector struct {
	parts    map[string]*zip.File
	scanned  map[string]bool
	elements int     // of the parts excelize decodes whole
	cells    int     // held by the reader: in each row with a value, from column A to the last value
	text     int     // bytes of the values' text
	merges   int     // merged ranges
	shared   []int32 // the length in bytes of each shared text
}

// named returns the names of the parts that are name in any case.
func (in *inspector) named(name string) []string {
	var out []string
	for n := range in.parts {
		if strings.EqualFold(n, name) {
			out = append(out, n)
		}
	}
	return out
}

// scan reads the part name, when the archive has it and it was not read yet, token by token, handing each to visit.
// It refuses a part that nests elements deeper than maxDepth or holds a tag or a text longer than maxTokenBytes and,
// when whole is set (a part excelize decodes whole), counts its elements against maxElements. A part that is not
// well-formed XML is refused when strict is set, and otherwise read as far as it goes (excelize says what it makes of
// it). what names the part for the officer; empty, its name in the archive does.
func (in *inspector) scan(name, what string, whole, strict bool, visit func(xml.Token) error) error {
	f, ok := in.parts[name]
	if !ok || in.scanned[name] {
		return nil
	}
	if in.scanned == nil {
		in.scanned = map[string]bool{}
	}
	in.scanned[name] = true
	if what == "" {
		what = fmt.Sprintf("the workbook's part %s", name)
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("open the workbook: %s: %w", name, err)
	}
	defer rc.Close()
	guard := &tokenGuard{r: rc, max: maxTokenBytes}
	d := xml.NewDecoder(guard)
	d.CharsetReader = charset.NewReaderLabel // as excelize reads it
	depth := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if guard.over {
				return &LimitError{what, fmt.Sprintf("holds a tag or a text of more than %d MiB (before byte %s)", maxTokenBytes>>20, thousands(int(guard.read))),
					notACatalogue}
			}
			if !strict {
				return nil
			}
			return fmt.Errorf("%s is damaged: %v (near byte %d of the XML); open the file in Excel and save it again", what, err, d.InputOffset())
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth++; depth > maxDepth {
				return &LimitError{what, fmt.Sprintf("nests XML elements more than %d deep", maxDepth), notACatalogue}
			}
			if whole {
				if in.elements++; in.elements > maxElements {
					return &LimitError{"the workbook", fmt.Sprintf("holds more than %s XML elements in its shared texts, styles and other parts read whole (%s passed it), more than a catalogue's workbook", thousands(maxElements), what), notACatalogue}
				}
			}
		case xml.EndElement:
			depth--
		}
		if visit != nil {
			if err := visit(tok); err != nil {
				return err
			}
		}
	}
}

// tokenGuard fails a read once more than max bytes have passed without a "<": no tag or text between two tags of a
// spreadsheet is that long, and an XML decoder holds each whole (a tag with millions of attributes, a text of
// gigabytes).
type tokenGuard struct {
	r     io.Reader
	max   int
	since int   // bytes since the last "<"
	read  int64 // bytes read
	over  bool
}

// ErrTokenTooLong is a read of XML that holds a tag or a text longer than GuardTokens allows.
var ErrTokenTooLong = errors.New("a tag or a text is too long")

// GuardTokens reads r, failing with ErrTokenTooLong once more than max bytes pass without a "<". Readers of a
// workbook's XML (excelize's, encoding/xml's) hold a tag or a text whole: scanning a part through the guard first
// bounds what they will hold.
func GuardTokens(r io.Reader, max int) io.Reader { return &tokenGuard{r: r, max: max} }

func (g *tokenGuard) Read(p []byte) (int, error) {
	if g.over {
		return 0, ErrTokenTooLong
	}
	n, err := g.r.Read(p)
	b := p[:n]
	if first := bytes.IndexByte(b, '<'); first < 0 {
		g.since += n
	} else {
		g.since += first
		if g.since <= g.max {
			g.since = n - bytes.LastIndexByte(b, '<') - 1
		}
	}
	g.read += int64(n)
	if g.since > g.max {
		g.over = true
		return 0, ErrTokenTooLong
	}
	return n, err
}

// namedPart is a sheet and the part of the archive that holds it.
type namedPart struct{ name, part string }

// sheetParts finds the workbook's sheets and their parts, as excelize's getSheetMap does.
func (in *inspector) sheetParts() ([]namedPart, error) {
	var workbook string
	err := in.scan("_rels/.rels", "", true, false, relationships(func(_, typ, target string) {
		if workbook == "" && strings.HasSuffix(typ, "/officeDocument") {
			workbook = strings.TrimPrefix(target, "/")
		}
	}))
	if err != nil || workbook == "" {
		return nil, err
	}
	type sheet struct{ name, id string }
	var sheets []sheet
	err = in.scan(workbook, "", true, false, func(tok xml.Token) error {
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "sheet" {
			var s sheet
			for _, a := range se.Attr {
				switch {
				case a.Name.Local == "name" && a.Name.Space == "":
					s.name = a.Value
				case a.Name.Local == "id" && a.Name.Space != "": // r:id
					s.id = a.Value
				}
			}
			sheets = append(sheets, s)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	dir := path.Dir(workbook)
	rels := path.Join(dir, "_rels", path.Base(workbook)+".rels")
	targets := map[string]string{}
	err = in.scan(strings.TrimPrefix(rels, "./"), "", true, false, relationships(func(id, _, target string) {
		p := path.Join(dir, target)
		if strings.HasPrefix(target, "/") {
			p = path.Clean(target)
		}
		targets[id] = strings.TrimPrefix(p, "/")
	}))
	if err != nil {
		return nil, err
	}
	var out []namedPart
	for _, s := range sheets {
		if p, ok := targets[s.id]; ok {
			if _, ok := in.parts[p]; ok {
				out = append(out, namedPart{s.name, p})
			}
		}
	}
	return out, nil
}

// relationships visits the relationships of a .rels part.
func relationships(fn func(id, typ, target string)) func(xml.Token) error {
	return func(tok xml.Token) error {
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "Relationship" {
			var id, typ, target string
			for _, a := range se.Attr {
				switch a.Name.Local {
				case "Id":
					id = a.Value
				case "Type":
					typ = a.Value
				case "Target":
					target = a.Value
				}
			}
			fn(id, typ, target)
		}
		return nil
	}
}

// sharedText notes the length of each shared text, and refuses one longer than a cell may hold.
func (in *inspector) sharedText() func(xml.Token) error {
	var inItem, inText bool
	var bytes, chars int
	return func(tok xml.Token) error {
		switch tok := tok.(type) {
		case xml.StartElement:
			switch tok.Name.Local {
			case "si":
				inItem, bytes, chars = true, 0, 0
			case "t":
				inText = inItem
			}
		case xml.EndElement:
			switch tok.Name.Local {
			case "si":
				if chars > maxSharedText {
					return &LimitError{"the workbook's table of shared texts", fmt.Sprintf("holds a text of %s characters (text %s), more than the %s a cell may hold", thousands(chars), thousands(len(in.shared)+1), thousands(maxSharedText)), notACatalogue}
				}
				in.shared = append(in.shared, int32(bytes))
				inItem = false
			case "t":
				inText = false
			}
		case xml.CharData:
			if inText {
				bytes += len(tok)
				chars += utf8.RuneCount(tok)
			}
		}
		return nil
	}
}

// worksheet reads one worksheet's tokens: it counts its rows and cells with values against the bounds, and notes its
// merged cells and formulas without a value.
type worksheet struct {
	in    *inspector
	sheet string
	scan  *sheetScan

	inData                bool // within <sheetData>
	row, lastCol, rowText int  // the row being read, its last column with a value, its text
	// the cell being read
	inCell, inV, inF, inIS bool
	col                    int
	typ                    string
	hasF                   bool
	v                      []byte // the start of its value (a shared text's index)
	vLen, isLen            int
	formula                []byte
}

func (w *worksheet) where() string { return fmt.Sprintf("sheet %q", w.sheet) }

func (w *worksheet) token(tok xml.Token) error {
	switch tok := tok.(type) {
	case xml.StartElement:
		switch tok.Name.Local {
		case "sheetData":
			w.inData = true
		case "row":
			if w.inData {
				n, err := strconv.Atoi(attr(tok, "r"))
				if err != nil || n <= 0 {
					n = w.row + 1 // excelize counts a row without a number as the next
				}
				w.row, w.lastCol, w.rowText, w.col = n, 0, 0, 0
			}
		case "c":
			if w.inData {
				w.col++
				if ref := attr(tok, "r"); ref != "" {
					if c, _, err := excelize.CellNameToCoordinates(ref); err == nil {
						w.col = c
					}
				}
				w.inCell, w.typ, w.hasF, w.v, w.vLen, w.isLen, w.formula = true, attr(tok, "t"), false, w.v[:0], 0, 0, w.formula[:0]
			}
		case "v":
			w.inV = w.inCell
		case "f":
			if w.inCell {
				w.inF, w.hasF = true, true
			}
		case "is":
			w.inIS = w.inCell
		case "mergeCell":
			if w.in.merges++; w.in.merges > maxMerges {
				return &LimitError{"the workbook", fmt.Sprintf("has more than %s ranges of merged cells, more than one a row of a catalogue", thousands(maxMerges)), notACatalogue}
			}
			w.scan.merges = append(w.scan.merges, attr(tok, "ref"))
		}
	case xml.CharData:
		switch {
		case w.inV:
			w.vLen += len(tok)
			w.v = append(w.v, tok[:min(len(tok), 20-len(w.v))]...)
		case w.inF:
			w.formula = append(w.formula, tok[:min(len(tok), shownFormula-len(w.formula))]...)
		case w.inIS:
			w.isLen += len(tok)
		}
	case xml.EndElement:
		switch tok.Name.Local {
		case "sheetData":
			w.inData = false
		case "v":
			w.inV = false
		case "f":
			w.inF = false
		case "is":
			w.inIS = false
		case "c":
			if w.inCell {
				w.inCell = false
				return w.cell()
			}
		case "row":
			if w.inData && w.lastCol > 0 {
				return w.endRow()
			}
		}
	}
	return nil
}

// cell counts the cell just read, as excelize will read it: a cell with a value or a formula is held, with the blank
// cells to its left.
func (w *worksheet) cell() error {
	if !w.hasF && w.vLen == 0 && w.isLen == 0 {
		return nil // a formatted cell without a value: excelize reads past it
	}
	if w.col > maxColumns {
		name, _ := excelize.ColumnNumberToName(w.col)
		return &LimitError{w.where(), fmt.Sprintf("has a value in column %s (row %d), beyond the %d columns (A to IV) a catalogue may use", name, w.row, maxColumns),
			"delete the columns after the last one the catalogue uses, and import the file again"}
	}
	w.lastCol = max(w.lastCol, w.col)
	n := w.vLen + w.isLen
	if w.typ == "s" {
		// A shared text is counted for every cell that shows it: excelize may copy it for each.
		if i, err := strconv.Atoi(strings.TrimSpace(string(w.v))); err == nil && i >= 0 && i < len(w.in.shared) {
			n = int(w.in.shared[i])
		}
	}
	if w.in.text += n; w.in.text > maxTextBytes {
		return &LimitError{"the workbook", fmt.Sprintf("holds more than %d MiB of text in its cells (passed at %s, row %d), more than a catalogue's %s procedures take", maxTextBytes>>20, w.where(), w.row, thousands(reporting.MaxProcedures)), notACatalogue}
	}
	if w.hasF && w.typ != "str" && w.vLen == 0 && w.isLen == 0 {
		// A formula whose value is an empty text has the type of a formula's text: only others lack a value.
		w.scan.hollow = append(w.scan.hollow, hollowCell{row: w.row, col: w.col, formula: string(w.formula)})
	}
	return nil
}

// endRow counts a row holding values.
func (w *worksheet) endRow() error {
	if w.row > maxRows {
		return &LimitError{w.where(), fmt.Sprintf("has values down to row %s or further, beyond the %s rows a catalogue may take (%s procedures, and as many rows again for titles and notes)", thousands(w.row), thousands(maxRows), thousands(reporting.MaxProcedures)),
			"delete the rows below the catalogue, and import the file again"}
	}
	if w.in.cells += w.lastCol; w.in.cells > maxCells {
		return &LimitError{"the workbook", fmt.Sprintf("holds values over more than %s cells, counting from column A to each row's last value (passed at %s, row %d): more than %s rows of %d columns",
			thousands(maxCells), w.where(), w.row, thousands(maxRows), maxCells/maxRows), "delete what is not the catalogue (other sheets, columns far to the right), and import the file again"}
	}
	return nil
}

func attr(se xml.StartElement, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}
