package sheet

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"

	"github.com/egovtrack/egovtrack/collectors/reporting"
)

// Encoding is how the text of a CSV file was read.
type Encoding string

const (
	UTF8 Encoding = "UTF-8"
	// Windows1258 is the Vietnamese code page, which Excel's plain "CSV (Comma delimited)" writes on a Windows set
	// to Vietnamese. It writes a tone mark as a character of its own after the letter ("ấ" as "â" and an acute
	// accent); the reader composes them (Unicode NFC).
	Windows1258 Encoding = "Windows-1258"
)

// FontEncodingError is text typed with one of the Vietnamese font encodings of the 1990s, TCVN3 (ABC, the .Vn
// fonts) or VNI (the VNI- fonts), rather than Unicode. Those files store other letters (TCVN3 stores "Đăng ký" as
// "§¨ng ký", VNI as "Ñaêng kyù") that only the font draws as Vietnamese: no reader can tell for sure which encoding
// a text is in, so the file is refused with the way to convert it, never guessed.
type FontEncodingError struct {
	// Font is "TCVN3 (ABC)", "VNI", or both names when the text does not say which.
	Font string
	// Where is the first place such text was found ("line 3" of a CSV file that is not UTF-8, "row 3" of one that
	// is, "sheet "Danh mục", row 5" of a workbook), and Text what it reads there as stored.
	Where, Text string
}

func (e *FontEncodingError) Error() string {
	var what string
	switch e.Font {
	case fontTCVN3:
		what = "is in the TCVN3 (ABC) font encoding of the .Vn fonts (.VnTime, .VnArial), not Unicode"
	case fontVNI:
		what = "is in the VNI font encoding of the VNI- fonts (VNI-Times, VNI-Helve), not Unicode"
	default:
		what = "reads as no Vietnamese in Unicode or in Windows-1258: it looks like a font encoding, TCVN3 (ABC) or VNI"
	}
	return fmt.Sprintf("%s reads %q: the text %s, and cannot be read reliably. Convert it to Unicode with Unikey: in "+
		"Excel copy the cells, open Unikey's \"Chuyển mã\" (Ctrl+Shift+F6), convert the clipboard from %s to Unicode, "+
		"paste it back and give the cells a Unicode font such as Times New Roman. Then save the file as Excel Workbook "+
		"(.xlsx) or \"CSV UTF-8 (Comma delimited)\" and import it again", e.Where, reporting.Short(e.Text), what, e.Font)
}

const (
	fontTCVN3  = "TCVN3 (ABC)"
	fontVNI    = "VNI"
	fontEither = "TCVN3 (ABC) or VNI"
)

// decodeLegacy reads a CSV file that is not UTF-8. Excel's plain "CSV (Comma delimited)" writes Windows-1258 on a
// Vietnamese Windows, and the file is read so when no word of it, read so, bears a mark of a font encoding (see
// fontScan). Otherwise the bytes are a font encoding's, or a code page's that is not Vietnamese, and the file is
// refused with a *FontEncodingError that names the first such line.
func decodeLegacy(data []byte) ([]byte, error) {
	// A letter of Windows-1258 takes up to three bytes in UTF-8: bound the text before making it.
	n := 0
	for _, b := range data {
		n += utf8.RuneLen(charmap.Windows1258.DecodeByte(b))
	}
	if n > maxFileBytes {
		return nil, &LimitError{"the file", fmt.Sprintf("takes %d MiB as UTF-8, more than the %d MiB a catalogue's file may take", n>>20, maxFileBytes>>20), notACatalogue}
	}
	text := norm.NFC.Bytes(decode(charmap.Windows1258, data))
	var s fontScan
	eachLine(text, func(i int, line []byte) { s.add(i, string(line)) })
	if s.legacy == 0 {
		return text, nil
	}
	// Name the encoding from the bytes as a Western code page shows them, which is what the font encodings
	// assign letters of (and what the officer sees opening the file in a text editor).
	var clues fontScan
	var first string
	eachLine(data, func(i int, line []byte) {
		western := string(decode(charmap.Windows1252, line))
		clues.add(i, western)
		if i == s.first {
			first = western
		}
	})
	return nil, &FontEncodingError{Font: clues.font(), Where: fmt.Sprintf("line %d", s.first+1), Text: first}
}

// eachLine calls fn with each line of b, without its line break, and its index.
func eachLine(b []byte, fn func(i int, line []byte)) {
	for i := 0; ; i++ {
		line, rest, found := bytes.Cut(b, []byte("\n"))
		fn(i, line)
		if !found {
			return
		}
		b = rest
	}
}

func decode(cm *charmap.Charmap, data []byte) []byte {
	out := make([]byte, 0, len(data)+len(data)/4)
	for _, b := range data {
		out = utf8.AppendRune(out, cm.DecodeByte(b))
	}
	return out
}

// fontScan reads text word by word for the marks of a font encoding. Vietnamese written in Unicode (or in
// Windows-1258) never has, inside a word: a letter of another Latin alphabet (ñ, ï, ü, ø, ß, …), one of the
// symbols TCVN3 puts its letters at (§ ¨ © ª « ¬ ® µ ¶ · ¸ ¹ » ¼ ½ ¾ and the soft hyphen), a tone mark left alone
// after Unicode composition (on a consonant), đ after a letter, or a vowel followed by one of the letters VNI writes
// its marks with ("yù", "eâ", "aø"). A word with one of those is a legacy word.
//
// The marks are strong: TCVN3 gives đ, ă, â, ê, ô, ơ, ư and most tones such symbols and letters, VNI writes đ as ñ
// and most tones with such letters, so that a line of either has legacy words, and Vietnamese has none.
type fontScan struct {
	words      int // words with a character beyond ASCII
	legacy     int // of those, the legacy words
	first      int // the index of the first text with a legacy word
	tcvn3, vni int // clues to the encoding: TCVN3's symbols, VNI's marks after a vowel
}

// add scans one text, the i-th, word by word, as a stream: a text may be long.
func (s *fontScan) add(i int, text string) {
	var w word
	for _, r := range norm.NFC.String(text) {
		if wordRune(r) {
			s.next(&w, r)
			continue
		}
		s.end(i, &w)
	}
	s.end(i, &w)
}

// word is what fontScan knows of the word being read.
type word struct {
	prev                         rune // the word's last character, 0 before its first
	beyondASCII, legacy, letters bool
}

// next reads the next character r of the word w.
func (s *fontScan) next(w *word, r rune) {
	if r >= utf8.RuneSelf {
		w.beyondASCII = true
	}
	if unicode.IsLetter(r) {
		w.letters = true
	}
	prev := w.prev
	switch {
	case tcvn3Symbol(r):
		w.legacy = true
		s.tcvn3++
	case vniMark(prev, r):
		w.legacy = true
		s.vni++
	case foreignLetter(r), unicode.Is(unicode.Mn, r), r == 'đ' && unicode.IsLetter(prev), r == 'Đ' && unicode.IsLower(prev):
		// (Đ after a capital is an abbreviation: HĐND, QĐ-UBND, NĐ-CP.)
		w.legacy = true
	}
	w.prev = r
}

// end counts the word w of the i-th text, if any, and starts the next.
func (s *fontScan) end(i int, w *word) {
	defer func() { *w = word{} }()
	if !w.beyondASCII {
		return
	}
	s.words++
	if w.legacy && w.letters {
		if s.legacy == 0 {
			s.first = i
		}
		s.legacy++
	}
}

// mostlyLegacy reports whether a Unicode text is a font encoding's more than it is Vietnamese: legacy words are
// more than half of the words beyond ASCII. One odd word (a foreign name, "«Mẫu 01»") does not make a file legacy.
func (s *fontScan) mostlyLegacy() bool { return s.legacy > 0 && 2*s.legacy > s.words }

func (s *fontScan) font() string {
	switch {
	case s.tcvn3 > s.vni:
		return fontTCVN3
	case s.vni > s.tcvn3:
		return fontVNI
	}
	return fontEither
}

// wordRune is a character of a word: letters, digits, marks, and the symbols TCVN3 writes letters with.
func wordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || tcvn3Symbol(r)
}

// tcvn3Symbol is a symbol of Latin-1 at a code TCVN3 gives a Vietnamese letter ("Đăng" is stored "§¨ng"), or its
// feminine ordinal ª, which TCVN3 makes ê.
func tcvn3Symbol(r rune) bool {
	return r >= 0xA1 && r <= 0xAE || r >= 0xB5 && r <= 0xBE && r != 0xBA || r == '×' || r == '÷'
}

// vietnameseLatin1 are the letters of Latin-1 that Vietnamese uses.
const vietnameseLatin1 = "ÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚÝàáâãèéêìíòóôõùúý"

// foreignLetter is a Latin letter beyond ASCII that Vietnamese does not use: ñ, ï, ß, and also "ḱ", which a tone
// mark on a consonant composes to. TCVN3 and VNI store Vietnamese letters at the codes of such letters.
func foreignLetter(r rune) bool {
	return r >= utf8.RuneSelf && unicode.Is(unicode.Latin, r) && !strings.ContainsRune(vietnameseLatin1, r) && !vietnameseOnly(r)
}

// vietnameseOnly is a letter Vietnamese has and the Western alphabets do not.
func vietnameseOnly(r rune) bool {
	return strings.ContainsRune("ăĂđĐĩĨũŨơƠưƯ", r) || r >= 0x1EA0 && r <= 0x1EF9
}

// vniMark is a letter VNI writes a mark with, after the vowel it sits on ("yù" is "ý", "eâ" is "ê"), where
// Vietnamese has no such pair of vowels. The letters are the ones Windows-1252 shows; Windows-1258 shows some of them
// as Vietnamese letters ("aă", "oơ"), which are no Vietnamese pair either.
func vniMark(prev, r rune) bool {
	p := unicode.ToLower(prev)
	if !strings.ContainsRune("aeiouy", p) {
		return false
	}
	switch unicode.ToLower(r) {
	case 'ø', 'ù', 'û', 'õ', 'ï', 'å', 'ä', 'ë', 'ü':
		return true
	case 'ơ':
		return p != 'u'
	case 'â':
		return p == 'a' || p == 'e' || p == 'o'
	case 'ê', 'á', 'à', 'ã', 'ă', 'ú':
		return p == 'a'
	case 'é', 'è':
		return p == 'e'
	case 'ó', 'ò':
		return p == 'o'
	}
	return false
}

// CheckFont refuses the text of a Unicode file (CSV UTF-8, a workbook) that is mostly a font encoding's: a file made
// with a .Vn or VNI- font and saved as Unicode keeps the font's letters. where names the i-th text for the error.
func CheckFont(texts []string, where func(i int) string) error {
	var s fontScan
	for i, t := range texts {
		s.add(i, t)
	}
	if !s.mostlyLegacy() {
		return nil
	}
	return &FontEncodingError{Font: s.font(), Where: where(s.first), Text: texts[s.first]}
}

// recordTexts are the texts of records, one per record, for CheckFont.
func recordTexts(recs []record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = strings.Join(nonBlank(r.cells), ", ")
	}
	return out
}

// nonBlank are the cells that hold text, cleaned.
func nonBlank(cells []string) []string {
	var out []string
	for _, c := range cells {
		if c = reporting.Clean(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}
