package sheet

import (
	"fmt"

	"github.com/egovtrack/egovtrack/collectors/reporting"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// The bounds of what the reader reads. A catalogue holds at most reporting.MaxProcedures procedures (10,000: the
// largest unit's catalogue, a province's, has about 2,000, the national database about 6,000 for every unit
// together), one a row, on about ten columns; its file takes a few hundred kilobytes. A file far beyond that is not a
// catalogue, and a few kilobytes of XLSX can unzip to gigabytes: every bound below is checked while the file is read
// as a stream, before its rows are held in memory, so that reading any file takes less than 256 MiB
// (TestBombsAreRefusedInBoundedMemory) and a few seconds. Each refusal names the bound and the file's figure.
const (
	// maxFileBytes bounds the file: a province's catalogue of about 2,000 procedures is a few hundred kilobytes as
	// CSV and less as XLSX, with long notes a few megabytes.
	maxFileBytes = 32 << 20

	// maxRows bounds the rows holding a value: the procedures, and as many again for titles, blank rows and notes.
	maxRows = 2 * reporting.MaxProcedures
	// maxColumns bounds the columns holding a value: a catalogue has about ten; 256 (A to IV) is as far as Excel
	// 97–2003 went. The reader holds a row from column A to its last value, so one value in column XFD costs 16,384
	// cells.
	maxColumns = 256
	// maxCells bounds the cells the reader holds: in each row with a value, from column A to its last value (in a
	// CSV file, every field). 20,000 rows of 50 columns.
	maxCells = 1_000_000
	// maxTextBytes bounds the text of a workbook's values, counted once for every cell that shows it (a shared text
	// is stored once and may be shown in every cell): 10,000 procedures take about 3 MiB, with notes a few more.
	maxTextBytes = 16 << 20

	// maxUnzippedBytes bounds what a workbook unzips to; excelize's default is 16 GiB. A catalogue's workbook unzips
	// to a few megabytes; its worksheet and shared texts are read as a stream, but excelize holds the rest of the
	// archive in memory.
	maxUnzippedBytes = 32 << 20
	// maxParts bounds the files in a workbook's archive: Excel writes about a dozen, a few more for pictures and
	// sheets. Opening an archive takes about 200 bytes a file, before any is read.
	maxParts = 10_000
	// maxElements bounds the XML elements of the parts excelize decodes whole (shared texts, styles, theme,
	// workbook, relationships), together: excelize takes about 175 bytes an element. A catalogue of 2,000
	// procedures has about 10,000, its styles a few hundred.
	maxElements = 250_000
	// maxMerges bounds the ranges of merged cells: a title or a sector merged over a few rows, one a row at most.
	maxMerges = maxRows
	// maxSharedText is the longest text a cell may hold, and maxFormatCode the longest number format, in
	// characters: Excel's own limits.
	maxSharedText = 32_767
	maxFormatCode = 255
	// maxTokenBytes bounds a tag or a text between two tags, and maxDepth the nesting of elements: a cell of
	// 32,767 characters takes at most 300 KB, and a worksheet nests six deep. Beyond them an XML reader holds a tag
	// or the path to it whole.
	maxTokenBytes = 1 << 20
	maxDepth      = 64

	// maxLines bounds a CSV file's lines, blank ones included: Excel's sheets have 1,048,576 rows, so no spreadsheet
	// program writes more.
	maxLines = 1 << 20
)

// LimitError is a file beyond one of the bounds of a catalogue's file: it is refused as soon as the bound is passed,
// before the rest is read.
type LimitError struct {
	// Where is what holds too much: "the file", "the workbook", `sheet "Danh mục"`.
	Where string
	// Figure says how much, with the bound: "has a value in column XFD (row 2), beyond the 256 columns (A to IV) a
	// catalogue may use". Fix says what to do.
	Figure, Fix string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s %s: %s", e.Where, e.Figure, e.Fix)
}

// notACatalogue is the fix of a file far beyond any catalogue.
const notACatalogue = "not a catalogue of procedures: check that it is the right file, or copy the catalogue into the template"

// english writes figures as the messages are, in English: 1,000,000.
var english = message.NewPrinter(language.English)

func thousands(n int) string { return english.Sprint(n) }
