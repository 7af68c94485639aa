package event

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/runenames"
)

// A text an event carries (a procedure's name, its sector, a reason) reaches every table, export and briefing made of
// the stream, so three kinds of text that look harmless in the report do harm there, and are refused:
//
//   - a formula: a text that starts with "=", or with "+", "-" or "@" followed by a function call or a DDE link
//     ("=cmd|' /C calc'!A0", "+HYPERLINK(…)", "@SUM(…)"), is run by Excel and LibreOffice when a table of the
//     stream is opened in them (CSV injection). Only what a spreadsheet would run is refused: "-", "+ 1 thủ tục" or
//     "- Cấp giấy phép (bản sao)" are text to it, and to us;
//   - a bidirectional control (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C), which makes a text show in
//     another order than it is stored ("Trojan Source"), so that a name reads as another; Vietnamese never needs one;
//   - NUL (U+0000), which many programs take for the end of the text, so that they show only its first part.
//
// Refusing rather than neutralising (Excel's leading apostrophe, dropping the character) keeps a fact as its unit
// wrote it, and its id the one derived from what was sent; the unit corrects the text and reports again. Other
// control characters are the contract's to carry (a tab, a line break; the conformance vectors hold U+001F and U+007F).

// formulaCall is what makes a text after a leading "+", "-" or "@" a formula to a spreadsheet: a function call
// ("HYPERLINK(", "_xlfn.CONCAT(") or a DDE link ("cmd|"), an ASCII name starting at a word boundary (a letter with
// a diacritic before it makes it part of a Vietnamese word: "phép(" is not a call).
var formulaCall = regexp.MustCompile(`(?:^|[^\pL\pN_.])[A-Za-z_][A-Za-z0-9_.]*[(|]`)

// CheckText says why a text of an event cannot be stored: it would run as a formula in a spreadsheet, or it holds a
// bidirectional control or NUL (see above). The error's message is the reason, to follow the text's name
// ("data.name: starts with …"); nil when the text can be stored.
func CheckText(s string) error {
	for i, r := range s {
		if r == 0 || bidiControl(r) {
			what := "a NUL character (U+0000), which many programs take for the end of the text"
			if r != 0 {
				what = fmt.Sprintf("the invisible character U+%04X (%s), which makes the text show in another order than it is written", r, runenames.Name(r))
			}
			return fmt.Errorf("holds %s, at character %d: remove it", what, utf8.RuneCountInString(s[:i])+1)
		}
	}
	t := strings.TrimLeftFunc(s, unicode.IsSpace)
	if t == "" {
		return nil
	}
	switch lead := t[:1]; lead {
	case "=":
		return fmt.Errorf(`starts with "=", which a spreadsheet program runs as a formula when the text is exported: write the text without it`)
	case "+", "-", "@":
		rest := strings.TrimLeft(t, "+-@ \t")
		if strings.HasPrefix(rest, "=") || formulaCall.MatchString(rest) {
			return fmt.Errorf(`starts with %q followed by a formula, which a spreadsheet program runs when the text is exported: write the text without the leading %q`, lead, lead)
		}
	}
	return nil
}

// bidiControl reports whether r is one of Unicode's bidirectional formatting characters.
func bidiControl(r rune) bool {
	switch {
	case r == '\u061c', r == '\u200e', r == '\u200f':
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

// checkTexts holds the texts of an event to CheckText, each named by its field.
func checkTexts(d Data) FieldErrors {
	var es FieldErrors
	check := func(field, s string) {
		if err := CheckText(s); err != nil {
			es.add(field, err.Error())
		}
	}
	switch d := d.(type) {
	case *ProcedureRegisteredData:
		check("data.name", d.Name)
		check("data.sector", d.Sector)
	case *ProcedureRetiredData:
		check("data.reason", d.Reason)
	case *UnitMergedData:
		check("data.name", d.Name)
		check("data.decided_by", d.DecidedBy)
	case *UnitRenamedData:
		check("data.name", d.Name)
		check("data.decided_by", d.DecidedBy)
	}
	return es
}
