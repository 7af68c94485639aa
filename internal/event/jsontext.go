package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// InvalidUTF8 returns the byte offset of the first byte of b that is not UTF-8, and true, or false when b is UTF-8
// text. encoding/json would quietly read such a byte as U+FFFD and store a name no one wrote.
//
// Offsets are counted as json.SyntaxError counts them: the bytes read when the problem was found, so the offending
// byte is the offset-th, counting from 1. Every "byte offset" egovtrack reports means that.
func InvalidUTF8(b []byte) (int64, bool) {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return int64(i) + 1, true
		}
		i += n
	}
	return 0, false
}

// DuplicateKeyError is a JSON document whose object gives one key twice. encoding/json keeps the last value, other
// readers keep the first (ClickHouse's JSON functions, a person reading the stored event), so egovtrack refuses the
// document rather than let two readers see two facts.
type DuplicateKeyError struct {
	// Field is the key's path: object keys joined by dots, array indices in brackets ("data.level",
	// "procedures[3].code", "[2].data.to"); the empty key is written "".
	Field string
	// Offset is the byte offset where the second one ends (see InvalidUTF8 for how offsets are counted).
	Offset int64
}

func (e *DuplicateKeyError) Error() string {
	return fmt.Sprintf("%s is given twice (the second time at byte offset %d)", e.Field, e.Offset)
}

// CheckDuplicateKeys returns a *DuplicateKeyError for the first key that an object of the JSON document b gives
// twice, comparing keys as encoding/json decodes them ("a" and "\u0061" are one key). It returns nil when there is
// none; it stops, returning nil, where b stops being well-formed JSON, which is for encoding/json to report.
func CheckDuplicateKeys(b []byte) error {
	var found error
	walkJSON(b, func(t walkToken) bool {
		if t.keys != nil && t.keys[t.key] {
			found = &DuplicateKeyError{Field: t.field, Offset: t.end}
			return false
		}
		return true
	})
	return found
}

// LoneSurrogateError is a JSON string holding an escape of half of a UTF-16 surrogate pair without its other half
// ("\ud800" alone): it is no character. encoding/json, and most JSON readers, read it as U+FFFD, so a name would be
// stored, and its event's id derived, from a character its sender did not write; egovtrack refuses it instead.
type LoneSurrogateError struct {
	// Field is the path of the string, or of the member whose key it is, as DuplicateKeyError names it.
	Field string
	// Escape is the escape as written, "\ud800".
	Escape string
	// Offset is the byte offset where the escape ends (see InvalidUTF8 for how offsets are counted).
	Offset int64
}

func (e *LoneSurrogateError) Error() string {
	return fmt.Sprintf("%s holds %s at byte offset %d, half of a UTF-16 surrogate pair without its other half", e.Field, e.Escape, e.Offset)
}

// CheckLoneSurrogates returns a *LoneSurrogateError for the first string of the JSON document b, key or value, that
// escapes half of a surrogate pair alone, or nil. Like CheckDuplicateKeys, it stops where b stops being well-formed.
func CheckLoneSurrogates(b []byte) error {
	if !maySurrogateEscape(b) {
		return nil
	}
	var found error
	walkJSON(b, func(t walkToken) bool {
		if _, ok := t.tok.(string); !ok {
			return true
		}
		if esc, end, ok := loneSurrogate(b[t.start:t.end]); ok {
			found = &LoneSurrogateError{Field: t.field, Escape: esc, Offset: t.start + int64(end)}
			return false
		}
		return true
	})
	return found
}

// loneSurrogateError is CheckLoneSurrogates' finding as the FieldError Decode reports, its field under prefix.
func loneSurrogateError(prefix string, b []byte) (FieldError, bool) {
	err := CheckLoneSurrogates(b)
	if err == nil {
		return FieldError{}, false
	}
	le := err.(*LoneSurrogateError)
	return FieldError{joinPath(prefix, le.Field), fmt.Sprintf("holds %s (at byte offset %d), half of a UTF-16 surrogate pair "+
		"without its other half: no character, and JSON readers would read it as U+FFFD; write the character itself, "+
		"or both halves of its pair", le.Escape, le.Offset)}, true
}

// maySurrogateEscape reports whether b holds something like an escape of a surrogate, \uD800 to \uDFFF: a cheap test
// that spares almost every event the walk of CheckLoneSurrogates.
func maySurrogateEscape(b []byte) bool {
	for i := 0; i+3 < len(b); i++ {
		if b[i] == '\\' && b[i+1] == 'u' && (b[i+2]|0x20) == 'd' && strings.IndexByte("89abcdefABCDEF", b[i+3]) >= 0 {
			return true
		}
	}
	return false
}

// loneSurrogate finds, in seg (a JSON string token with what separates it from the token before), the first escape
// of a surrogate that is not one half of a pair: a high one (\uD800–\uDBFF) not followed by the escape of a low one
// (\uDC00–\uDFFF), or a low one not preceded by a high one. It returns the escape and where it ends in seg.
func loneSurrogate(seg []byte) (string, int, bool) {
	hex4 := func(i int) (rune, bool) {
		if i+6 > len(seg) || seg[i] != '\\' || seg[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(seg[i+2:i+6]), 16, 16)
		return rune(n), err == nil
	}
	for i := 0; i < len(seg); i++ {
		if seg[i] != '\\' {
			continue
		}
		r, ok := hex4(i)
		if !ok {
			i++ // another escape: \" or \\ must not be read as the start of one
			continue
		}
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			if low, ok := hex4(i + 6); ok && low >= 0xDC00 && low <= 0xDFFF {
				i += 11
				continue
			}
			return string(seg[i : i+6]), i + 6, true
		case r >= 0xDC00 && r <= 0xDFFF:
			return string(seg[i : i+6]), i + 6, true
		}
		i += 5
	}
	return "", 0, false
}

// walkToken is one token of a JSON document, as walkJSON hands it over.
type walkToken struct {
	tok   json.Token
	field string // the path of the value; for a key, of the member it names
	// keys is, for a key, the keys its object gave before it; nil for a value.
	keys map[string]bool
	key  string // for a key: the key, as encoding/json decodes it
	// start and end are where the token lies in the document, with the separators and white space before it.
	start, end int64
}

// walkJSON calls visit with every key and scalar value of the JSON document b, and every object and array as it
// opens, until visit returns false. It stops where b stops being well-formed JSON, or after its first value.
func walkJSON(b []byte, visit func(walkToken) bool) {
	type container struct {
		field string          // the path of the container
		keys  map[string]bool // the keys seen, for an object; nil for an array
		key   string          // for an object: the key of the value that comes next
		index int             // for an array: the index of the value that comes next
		atKey bool            // for an object: the next token is a key
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var stack []*container
	var last int64
	for {
		tok, err := dec.Token()
		if err != nil {
			return // the end, or malformed JSON
		}
		start, end := last, dec.InputOffset()
		last = end
		var top *container
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return // one document: what follows it is malformed JSON
			}
			continue
		}
		if top != nil && top.keys != nil && top.atKey {
			k, _ := tok.(string)
			if !visit(walkToken{tok: tok, field: joinField(top.field, k), keys: top.keys, key: k, start: start, end: end}) {
				return
			}
			top.keys[k], top.key, top.atKey = true, k, false
			continue
		}
		// A value: name it after its place in its container.
		var field string
		switch {
		case top == nil:
		case top.keys != nil:
			field, top.atKey = joinField(top.field, top.key), true
		default:
			field = top.field + "[" + strconv.Itoa(top.index) + "]"
			top.index++
		}
		if !visit(walkToken{tok: tok, field: field, start: start, end: end}) {
			return
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &container{field: field, keys: map[string]bool{}, atKey: true})
		case json.Delim('['):
			stack = append(stack, &container{field: field})
		default:
			if top == nil {
				return // a document that is one scalar
			}
		}
	}
}

func joinField(field, key string) string {
	key = keyName(key)
	if field == "" {
		return key
	}
	return field + "." + key
}
