package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
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
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // the end, or malformed JSON
		}
		var top *container
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return nil // one document: what follows it is malformed JSON
			}
			continue
		}
		if top != nil && top.keys != nil && top.atKey {
			k, _ := tok.(string)
			if top.keys[k] {
				return &DuplicateKeyError{Field: joinField(top.field, k), Offset: dec.InputOffset()}
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
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &container{field: field, keys: map[string]bool{}, atKey: true})
		case json.Delim('['):
			stack = append(stack, &container{field: field})
		default:
			if top == nil {
				return nil // a document that is one scalar
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
