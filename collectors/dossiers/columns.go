package dossiers

import (
	"fmt"
	"strings"

	"github.com/egovtrack/egovtrack/collectors/sheet"
)

// The columns of an export, by the names errors give them.
const (
	colDossier    = "dossier"
	colProcedure  = "procedure"
	colChannel    = "channel"
	colReceived   = "received_at"
	colDue        = "due_at"
	colFee        = "fee"
	colPaid       = "paid_at"
	colPaidOnline = "paid_online"
	colSettled    = "settled_at"
	colIssued     = "issued_at"
	colElectronic = "electronic"
	colDigitised  = "digitised_at"
	colWithdrawn  = "withdrawn_at"
)

// column is one of an export's columns and the headers the one-stop-shop systems give it. Headers are compared by
// sheet.HeaderKey: in any case, with or without diacritics, remarks in parentheses left out.
type column struct {
	name     string
	vi, en   string
	aliases  []string
	required bool
	// needs is the column this one is read with: a payment's date with how it was paid, a result's date with its form.
	needs string
}

var columns = []column{
	{name: colDossier, vi: "Số hồ sơ", en: "dossier number", required: true,
		aliases: []string{"Mã hồ sơ", "Số biên nhận", "Mã biên nhận", "Mã số hồ sơ", "Số hiệu hồ sơ", "dossier", "dossier no", "dossier code"}},
	{name: colProcedure, vi: "Mã thủ tục", en: "procedure code", required: true,
		aliases: []string{"Mã TTHC", "Mã thủ tục hành chính", "Mã số thủ tục", "procedure"}},
	{name: colChannel, vi: "Hình thức nộp", en: "channel", required: true,
		aliases: []string{"Hình thức nộp hồ sơ", "Kênh nộp", "Kênh nộp hồ sơ", "Hình thức tiếp nhận", "Kênh tiếp nhận", "Nguồn hồ sơ", "submitted via"}},
	{name: colReceived, vi: "Ngày tiếp nhận", en: "received at", required: true,
		aliases: []string{"Thời gian tiếp nhận", "Ngày nhận", "Ngày nộp", "Ngày nhận hồ sơ", "Ngày tiếp nhận hồ sơ", "received"}},
	{name: colDue, vi: "Ngày hẹn trả", en: "due at", required: true,
		aliases: []string{"Ngày hẹn trả kết quả", "Hạn giải quyết", "Hạn xử lý", "Thời hạn giải quyết", "Ngày hẹn", "due"}},
	{name: colFee, vi: "Có phí", en: "fee", required: true,
		aliases: []string{"Phí, lệ phí", "Lệ phí", "Thu phí", "Phí", "fee applies"}},
	{name: colPaid, vi: "Ngày thanh toán", en: "paid at", needs: colPaidOnline,
		aliases: []string{"Thời gian thanh toán", "Ngày nộp phí", "paid"}},
	{name: colPaidOnline, vi: "Thanh toán trực tuyến", en: "paid online",
		aliases: []string{"Hình thức thanh toán", "Thanh toán qua mạng", "Thanh toán qua Cổng DVC"}},
	{name: colSettled, vi: "Ngày hoàn thành", en: "settled at",
		aliases: []string{"Ngày có kết quả", "Ngày giải quyết xong", "Ngày kết thúc", "Ngày kết thúc xử lý", "Ngày xử lý xong", "settled"}},
	{name: colIssued, vi: "Ngày trả kết quả", en: "result issued at", needs: colElectronic,
		aliases: []string{"Ngày trả", "Thời gian trả kết quả", "issued at", "result issued"}},
	{name: colElectronic, vi: "Kết quả điện tử", en: "electronic result",
		aliases: []string{"Hình thức trả kết quả", "Hình thức nhận kết quả", "Trả kết quả điện tử", "electronic"}},
	{name: colDigitised, vi: "Ngày số hóa", en: "digitised at",
		aliases: []string{"Thời gian số hóa", "digitized at", "digitised"}},
	{name: colWithdrawn, vi: "Ngày rút hồ sơ", en: "withdrawn at",
		aliases: []string{"Ngày rút", "Ngày công dân rút hồ sơ", "withdrawn"}},
}

// headerIndex maps every folded header to its column's index in columns.
var headerIndex = func() map[string]int {
	m := map[string]int{}
	for i, c := range columns {
		for _, h := range append([]string{c.vi, c.en}, c.aliases...) {
			k := sheet.HeaderKey(h)
			if _, dup := m[k]; dup {
				panic("dossiers: header " + h + " names two columns")
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
	panic("dossiers: no column " + name)
}

// headerSearchRows is how many non-blank rows may stand above the header: exports open with a title ("DANH SÁCH
// HỒ SƠ …"), the unit and the period.
const headerSearchRows = 10

// header is where each column stands in the file: at[i] is the cell index of columns[i], -1 when absent.
type header struct {
	row     int
	at      []int
	names   []string // as written
	ignored []string // headers of columns not read
}

// matchHeader reads a row as a header, with how many columns it names and the columns it names twice.
func matchHeader(rec record) (header, int, []string) {
	h := header{row: rec.line, at: make([]int, len(columns)), names: make([]string, len(columns))}
	for i := range h.at {
		h.at[i] = -1
	}
	known := 0
	var twice []string
	for i, cell := range rec.cells {
		text := strings.TrimSpace(cell)
		if text == "" {
			continue
		}
		c, ok := headerIndex[sheet.HeaderKey(text)]
		switch {
		case !ok:
			h.ignored = append(h.ignored, text)
		case h.at[c] >= 0:
			twice = append(twice, columns[c].vi)
		default:
			h.at[c], h.names[c] = i, text
			known++
		}
	}
	return h, known, twice
}

// HeaderError says what the header lacks: every required column must be named, once.
type HeaderError struct {
	// Row is the row taken for the header; when no row of the first ones names three columns, NotFound is set and
	// Row is the first row, whose cells Found lists.
	NotFound bool
	Row      int
	Missing  []string // the Vietnamese headers of the columns not found
	Twice    []string
	Found    []string
}

func (e *HeaderError) Error() string {
	var b strings.Builder
	if e.NotFound {
		fmt.Fprintf(&b, "no header row found among the first %d rows (the first is row %d)", headerSearchRows, e.Row)
	} else {
		fmt.Fprintf(&b, "the header (row %d)", e.Row)
	}
	if len(e.Missing) > 0 && !e.NotFound {
		fmt.Fprintf(&b, " lacks %s", quoteAll(e.Missing))
	}
	if len(e.Twice) > 0 {
		fmt.Fprintf(&b, " gives %s more than once", quoteAll(e.Twice))
	}
	if len(e.Found) > 0 {
		fmt.Fprintf(&b, "; found %s", quoteAll(e.Found))
	}
	var want []string
	for _, c := range columns {
		if c.required {
			want = append(want, c.vi)
		}
	}
	fmt.Fprintf(&b, "; an export needs the columns %s (see collectors/dossiers/README.md for the names accepted)", quoteAll(want))
	return b.String()
}

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

// findHeader takes for the header the first of the top rows naming at least three columns (a title names none, a
// note one at most), and checks that it names every required column and the companions of those it names.
func findHeader(top []record) (header, error) {
	for _, rec := range top {
		h, known, twice := matchHeader(rec)
		if known < 3 {
			continue
		}
		e := &HeaderError{Row: rec.line, Twice: twice}
		for i, c := range columns {
			if h.at[i] >= 0 {
				e.Found = append(e.Found, h.names[i])
			}
			switch {
			case c.required && h.at[i] < 0:
				e.Missing = append(e.Missing, c.vi)
			case c.needs != "" && h.at[i] >= 0 && h.at[indexOf(c.needs)] < 0:
				e.Missing = append(e.Missing, fmt.Sprintf("%s (read with %s)", columnNamed(c.needs).vi, c.vi))
			}
		}
		if len(e.Missing) > 0 || len(e.Twice) > 0 {
			return header{}, e
		}
		return h, nil
	}
	e := &HeaderError{NotFound: true}
	if len(top) > 0 {
		e.Row = top[0].line
		for _, c := range top[0].cells {
			if t := strings.TrimSpace(c); t != "" {
				e.Found = append(e.Found, t)
			}
		}
	}
	for _, c := range columns {
		if c.required {
			e.Missing = append(e.Missing, c.vi)
		}
	}
	return header{}, e
}

func indexOf(name string) int {
	for i, c := range columns {
		if c.name == name {
			return i
		}
	}
	panic("dossiers: no column " + name)
}
