package reporting

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// Row is one reported procedure as text, the way a spreadsheet row or a JSON item gives it. Line is where it stood:
// the sheet's row number, or the item's index + 1 in a JSON document.
type Row struct {
	Line                                int
	Code, Name, Sector, Eligible, Level string
}

// Columns name a Row's fields in errors.
const (
	ColCode     = "code"
	ColName     = "name"
	ColSector   = "sector"
	ColEligible = "eligible"
	ColLevel    = "level"
)

// RowError says what is wrong with one value of one row.
type RowError struct {
	Line   int    `json:"row"`
	Column string `json:"column"`
	Value  string `json:"value"`
	Reason string `json:"reason"`
}

func (e RowError) Error() string {
	return fmt.Sprintf("row %d, %s %q: %s", e.Line, e.Column, e.Value, e.Reason)
}

// eligibleWords are the ways reports say whether a procedure can be offered fully online, in lower case.
var eligibleWords = map[string]bool{
	"có": true, "co": true, "x": true, "yes": true, "y": true, "true": true, "1": true, "đủ điều kiện": true,
	"không": false, "khong": false, "no": false, "n": false, "false": false, "0": false, "-": false, "không đủ điều kiện": false,
}

// foldedEligibleWords are eligibleWords as Fold writes them ("du dieu kien"), for officers who type without
// diacritics. A word that folds to nothing ("-") is left out: an empty cell is not an answer.
var foldedEligibleWords = func() map[string]bool {
	m := map[string]bool{}
	for w, e := range eligibleWords {
		if f := Fold(w); f != "" {
			m[f] = e
		}
	}
	return m
}()

// ParseEligible reads whether a procedure can be offered fully online, as reports write it: có/không, yes/no, x,
// 1/0, "đủ điều kiện"/"không đủ điều kiện", in any case, with or without diacritics. It returns false for a word it
// does not know, an empty one included.
func ParseEligible(s string) (eligible, known bool) {
	w := strings.ToLower(Clean(s))
	if e, ok := eligibleWords[w]; ok {
		return e, true
	}
	e, ok := foldedEligibleWords[Fold(w)]
	return e, ok
}

// Clean is how every reported text is kept: Unicode NFC (spreadsheets made on some systems write Vietnamese letters
// decomposed, which would make "Hộ tịch" and "Hộ tịch" two sectors), spaces folded, ends trimmed.
func Clean(s string) string {
	return strings.Join(strings.Fields(norm.NFC.String(s)), " ")
}

// Fold is how reported words are compared: Clean, lower case, without diacritics (đ as d), punctuation as spaces.
// Officers type headers and values with and without diacritics, and some systems write them decomposed:
// "Đủ điều kiện (mức 4)" folds to "du dieu kien muc 4".
func Fold(s string) string {
	var b strings.Builder
	space := false
	for _, r := range norm.NFD.String(Clean(s)) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r == 'đ' || r == 'Đ':
			r = 'd'
		}
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// The longest values ParseRows accepts, in characters. The longest names of the national database are a few hundred
// characters and codes about twenty; a cell far longer is a paste gone wrong, and would make an event larger than
// the contract allows (event.MaxSize).
const (
	MaxCodeLen = 64
	MaxTextLen = 1000
)

// ParseRows checks every row and returns the procedures, or every problem found, row by row. A code reported twice
// is an error on its second row: a catalogue says each thing once.
func ParseRows(rows []Row) ([]Procedure, []RowError) {
	var out []Procedure
	var errs []RowError
	first := map[string]int{}
	for _, r := range rows {
		bad := func(col, val, reason string) { errs = append(errs, RowError{r.Line, col, val, reason}) }
		p := Procedure{Code: strings.ToUpper(Clean(r.Code)), Name: Clean(r.Name), Sector: Clean(r.Sector)}
		ok := true
		switch n := utf8.RuneCountInString(p.Code); {
		case n == 0:
			bad(ColCode, r.Code, "is empty")
			ok = false
		case n > MaxCodeLen:
			bad(ColCode, r.Code, fmt.Sprintf("is %d characters long: not a procedure code of the national database, like 1.001234", n))
			ok = false
		case !event.ValidProcedureCode(p.Code):
			bad(ColCode, r.Code, "is not a procedure code of the national database, like 1.001234")
			ok = false
		default:
			if line, dup := first[p.Code]; dup {
				bad(ColCode, r.Code, fmt.Sprintf("is already on row %d", line))
				ok = false
			} else {
				first[p.Code] = r.Line
			}
		}
		for _, f := range []struct{ col, raw, clean string }{{ColName, r.Name, p.Name}, {ColSector, r.Sector, p.Sector}} {
			switch n := utf8.RuneCountInString(f.clean); {
			case n == 0:
				bad(f.col, f.raw, "is empty")
				ok = false
			case n > MaxTextLen:
				bad(f.col, f.raw, fmt.Sprintf("is %d characters long, more than the %d a %s may be", n, MaxTextLen, f.col))
				ok = false
			default:
				// A formula, a bidirectional control or NUL would be refused by the event contract; said here with
				// the row.
				if err := event.CheckText(f.clean); err != nil {
					bad(f.col, f.raw, err.Error())
					ok = false
				}
			}
		}
		e, known := ParseEligible(r.Eligible)
		if !known {
			bad(ColEligible, r.Eligible, "is not one of có/không (yes/no)")
			ok = false
		}
		p.Eligible = e
		l, err := event.ParseLevel(Clean(r.Level))
		if err != nil {
			bad(ColLevel, r.Level, err.Error())
			ok = false
		}
		p.Level = l
		if ok {
			out = append(out, p)
		}
	}
	return out, errs
}

// Snapshot is a unit's whole catalogue as JSON: what `poll` expects from a provincial portal and what `serve`
// accepts from a provincial system.
//
//	{"unit": {"kind": "province", "code": "19"},
//	 "procedures": [{"code": "1.001234", "name": "Cấp giấy phép xây dựng", "sector": "Xây dựng",
//	                 "eligible": true, "level": 4}]}
//
// level takes 1–4 or the words "partial" and "full"; eligible is a boolean.
type Snapshot struct {
	Unit       units.Ref      `json:"unit"`
	Procedures []SnapshotItem `json:"procedures"`
}

// SnapshotItem is one procedure of a Snapshot.
type SnapshotItem struct {
	Code     string          `json:"code"`
	Name     string          `json:"name"`
	Sector   string          `json:"sector"`
	Eligible *bool           `json:"eligible"`
	Level    json.RawMessage `json:"level"`
}

// Rows turns the snapshot into rows for ParseRows; Line is the item's index + 1.
func (s Snapshot) Rows() []Row {
	out := make([]Row, len(s.Procedures))
	for i, it := range s.Procedures {
		r := Row{Line: i + 1, Code: it.Code, Name: it.Name, Sector: it.Sector}
		if it.Eligible != nil {
			r.Eligible = fmt.Sprint(*it.Eligible)
		}
		var word string
		if json.Unmarshal(it.Level, &word) == nil {
			r.Level = word
		} else {
			r.Level = string(it.Level)
		}
		out[i] = r
	}
	return out
}

// Short is a text cut for a one-line listing or a message: cleaned, and at most 60 characters (whole ones).
func Short(s string) string {
	s = Clean(s)
	const max = 60
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}
