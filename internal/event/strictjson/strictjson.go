// Package strictjson is the one JSON reader of everything egovtrack takes in: events (event.Decode), the intake API's
// bodies and the portals' documents. It reads JSON as encoding/json does, but refuses what encoding/json accepts
// quietly and a sender did not mean: bytes that are not UTF-8 and the escape of half of a UTF-16 surrogate pair (both
// read as U+FFFD, a character no one wrote), a key given twice (encoding/json keeps the last value, other readers the
// first), and anything after the one value. Numbers are kept as written (json.Number), as the contract's schemas
// want them.
//
// Offsets are counted as json.SyntaxError counts them: the bytes read when the problem was found, so the offending
// byte is the offset-th, counting from 1. Every "byte offset" egovtrack reports means that.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Value is a JSON document Read read.
type Value struct {
	// Doc is the document as encoding/json reads it with UseNumber: map[string]any, []any, json.Number, string,
	// bool or nil.
	Doc any
	// Members says, for an object, where the value of each of its members lies in the document (to read the values
	// as they are written). It is nil for other values, and for an object nested deeper than the one pass reads
	// (MaxDepth).
	Members map[string]Span
}

// Span is where a value lies in the document: b[Start:End].
type Span struct{ Start, End int }

// Read reads b, which must be one JSON value and nothing else but white space. It returns the first problem it
// finds, checked in this order:
//
//   - *InvalidUTF8Error: b is not UTF-8 text;
//   - *SyntaxError: b is not one JSON value (empty, malformed, cut short, or followed by more);
//   - *DuplicateKeyError: an object of b gives a key twice;
//   - *LoneSurrogateError: a string of b escapes half of a UTF-16 surrogate pair alone.
//
// With the last two, b is well-formed JSON, and the Value returned is what encoding/json makes of it, so that a caller
// can say first what b is (an event must be an object) and then what is wrong inside it.
//
// An object of plain JSON is read in one pass, which does the work of parsing, of looking for duplicate keys and of
// finding the members, at about the cost of one of them; anything else takes the slow path, encoding/json itself,
// which says where the problem lies. FuzzRead holds the one pass to the slow path.
func Read(b []byte) (Value, error) {
	if off, bad := invalidUTF8(b); bad {
		return Value{}, &InvalidUTF8Error{Offset: off}
	}
	v, ok := onePass(b)
	if !ok {
		doc, err := parse(b)
		if err != nil {
			return Value{}, err
		}
		v = Value{Doc: doc}
		if err := checkDuplicateKeys(b); err != nil {
			return v, err
		}
	}
	if err := checkLoneSurrogates(b); err != nil {
		return v, err
	}
	return v, nil
}

// InvalidUTF8Error is a document with bytes that are not UTF-8. encoding/json would quietly read such a byte as
// U+FFFD and store a name no one wrote.
type InvalidUTF8Error struct {
	// Offset is the byte offset of the first byte that is not UTF-8.
	Offset int64
}

func (e *InvalidUTF8Error) Error() string {
	return fmt.Sprintf("invalid UTF-8 at byte offset %d", e.Offset)
}

// SyntaxError is a document that is not one JSON value.
type SyntaxError struct {
	// Offset is where the document stops being JSON, as encoding/json counts it; for a document cut short, its
	// length.
	Offset int64
	// Err is encoding/json's account of it: a *json.SyntaxError, "invalid character ']' looking for beginning of
	// value", "unexpected end of JSON input".
	Err error
	// Empty is set when the document holds nothing but white space.
	Empty bool
	// Truncated is set when the document ends inside its value.
	Truncated bool
	// ValueEnd is, when the document holds more after one whole value, the byte offset where that value ends; 0
	// otherwise.
	ValueEnd int64
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("malformed JSON at byte offset %d: %v", e.Offset, e.Err)
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// DuplicateKeyError is a JSON document whose object gives one key twice. encoding/json keeps the last value, other
// readers keep the first (ClickHouse's JSON functions, a person reading the stored event), so egovtrack refuses the
// document rather than let two readers see two facts.
type DuplicateKeyError struct {
	// Field is the key's path: object keys joined by dots, array indices in brackets ("data.level",
	// "procedures[3].code", "[2].data.to"); the empty key is written "".
	Field string
	// Offset is the byte offset where the second one ends.
	Offset int64
}

func (e *DuplicateKeyError) Error() string {
	return fmt.Sprintf("%s is given twice (the second time at byte offset %d)", e.Field, e.Offset)
}

// LoneSurrogateError is a JSON string holding an escape of half of a UTF-16 surrogate pair without its other half
// ("\ud800" alone): it is no character. encoding/json, and most JSON readers, read it as U+FFFD, so a name would be
// stored, and its event's id derived, from a character its sender did not write; egovtrack refuses it instead.
type LoneSurrogateError struct {
	// Field is the path of the string, or of the member whose key it is, as DuplicateKeyError names it.
	Field string
	// Escape is the escape as written, "\ud800".
	Escape string
	// Offset is the byte offset where the escape ends.
	Offset int64
}

func (e *LoneSurrogateError) Error() string {
	return fmt.Sprintf("%s holds %s at byte offset %d, half of a UTF-16 surrogate pair without its other half", e.Field, e.Escape, e.Offset)
}

// TypeName names a Go type as a JSON document's author knows it ("a string", "an object", "true or false"), for
// saying what a value should have been when encoding/json cannot read it into t (json.UnmarshalTypeError).
func TypeName(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return t.String()
}

// invalidUTF8 returns the byte offset of the first byte of b that is not UTF-8, and true, or false when b is UTF-8
// text.
func invalidUTF8(b []byte) (int64, bool) {
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

// parse is the slow path: one JSON value read by encoding/json, its numbers kept as written, or the *SyntaxError
// saying why b is not one.
func parse(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	se := &SyntaxError{Err: err}
	switch {
	case err == nil:
		end := dec.InputOffset()
		if _, err = dec.Token(); err == io.EOF {
			return v, nil
		}
		se.ValueEnd, se.Err = end, err
	case err == io.EOF:
		se.Empty = true
	case err == io.ErrUnexpectedEOF:
		se.Truncated = true
	}
	// The decoder reads a stream: ask json.Unmarshal, which reads one document, where this one broke.
	se.Offset = dec.InputOffset()
	if err := json.Unmarshal(b, new(any)); err != nil {
		se.Err = err
		if s, ok := errors.AsType[*json.SyntaxError](err); ok {
			se.Offset = s.Offset
		}
	}
	return nil, se
}

// checkDuplicateKeys returns a *DuplicateKeyError for the first key that an object of the JSON document b gives
// twice, comparing keys as encoding/json decodes them ("a" and "\u0061" are one key), or nil. It stops where b stops
// being well-formed JSON.
func checkDuplicateKeys(b []byte) error {
	var found error
	walk(b, func(t token) bool {
		if t.keys != nil && t.keys[t.key] {
			found = &DuplicateKeyError{Field: t.field, Offset: t.end}
			return false
		}
		return true
	})
	return found
}

// checkLoneSurrogates returns a *LoneSurrogateError for the first string of the JSON document b, key or value, that
// escapes half of a surrogate pair alone, or nil. Like checkDuplicateKeys, it stops where b stops being well-formed.
func checkLoneSurrogates(b []byte) error {
	if !maySurrogateEscape(b) {
		return nil
	}
	var found error
	walk(b, func(t token) bool {
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

// maySurrogateEscape reports whether b holds something like an escape of a surrogate, \uD800 to \uDFFF: a cheap test
// that spares almost every document the walk of checkLoneSurrogates.
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

// token is one token of a JSON document, as walk hands it over.
type token struct {
	tok   json.Token
	field string // the path of the value; for a key, of the member it names
	// keys is, for a key, the keys its object gave before it; nil for a value.
	keys map[string]bool
	key  string // for a key: the key, as encoding/json decodes it
	// start and end are where the token lies in the document, with the separators and white space before it.
	start, end int64
}

// walk calls visit with every key and scalar value of the JSON document b, and every object and array as it opens,
// until visit returns false. It stops where b stops being well-formed JSON, or after its first value.
func walk(b []byte, visit func(token) bool) {
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
			if !visit(token{tok: tok, field: joinField(top.field, k), keys: top.keys, key: k, start: start, end: end}) {
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
		if !visit(token{tok: tok, field: field, start: start, end: end}) {
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

// joinField names the member key of the value at field; the empty key is written "", so that the path says where.
func joinField(field, key string) string {
	if key == "" {
		key = `""`
	}
	if field == "" {
		return key
	}
	return field + "." + key
}
