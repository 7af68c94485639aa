package strictjson

import (
	"encoding/json"
)

// onePass reads b, one JSON value, in one pass into what parse makes of it (objects as map[string]any, numbers as
// json.Number), and for an object, where each of its members' values lies in b. It returns false for malformed JSON,
// a key given twice, nesting deeper than maxDepth: Read then takes the slow path, parse and checkDuplicateKeys, which
// report the problem with its offset; so onePass need only be right about what it accepts, and FuzzRead holds it to
// parse there.
//
// b must be UTF-8 (see invalidUTF8): encoding/json reads an invalid byte as U+FFFD, onePass would keep it.
//
// Parsing each event three times (for the schema, for duplicate keys, into the envelope) was most of what decoding
// an event cost the projector; this one pass does the work of all three.
func onePass(b []byte) (Value, bool) {
	r := reader{b: b, s: string(b)}
	r.space()
	if r.i < len(b) && b[r.i] == '{' {
		r.top = map[string]Span{}
	}
	v, ok := r.value(-1)
	if !ok {
		return Value{}, false
	}
	r.space()
	if r.i != len(b) {
		return Value{}, false
	}
	return Value{Doc: v, Members: r.top}, true
}

// maxDepth bounds onePass's recursion; events nest three deep, and deeper documents take the slow path.
const maxDepth = 64

type reader struct {
	b   []byte
	s   string // b, once: the strings and numbers read are slices of it, not an allocation each
	i   int
	top map[string]Span // the spans of the outermost object's values, when the document is an object
}

func (r *reader) space() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

func (r *reader) value(depth int) (any, bool) {
	if r.i >= len(r.b) {
		return nil, false
	}
	switch c := r.b[r.i]; {
	case c == '{':
		return r.object(depth + 1)
	case c == '[':
		return r.array(depth + 1)
	case c == '"':
		return r.string()
	case c == '-' || '0' <= c && c <= '9':
		return r.number()
	case c == 't':
		return true, r.literal("true")
	case c == 'f':
		return false, r.literal("false")
	case c == 'n':
		return nil, r.literal("null")
	}
	return nil, false
}

func (r *reader) literal(lit string) bool {
	if len(r.b)-r.i < len(lit) || string(r.b[r.i:r.i+len(lit)]) != lit {
		return false
	}
	r.i += len(lit)
	return true
}

// object reads an object from its '{'; keys are compared as encoding/json decodes them, as checkDuplicateKeys
// does.
func (r *reader) object(depth int) (map[string]any, bool) {
	if depth > maxDepth {
		return nil, false
	}
	outermost := depth == 0
	r.i++ // '{'
	m := map[string]any{}
	r.space()
	if r.i < len(r.b) && r.b[r.i] == '}' {
		r.i++
		return m, true
	}
	for {
		if r.i >= len(r.b) || r.b[r.i] != '"' {
			return nil, false
		}
		k, ok := r.string()
		if !ok {
			return nil, false
		}
		if _, dup := m[k]; dup {
			return nil, false
		}
		r.space()
		if r.i >= len(r.b) || r.b[r.i] != ':' {
			return nil, false
		}
		r.i++
		r.space()
		start := r.i
		v, ok := r.value(depth)
		if !ok {
			return nil, false
		}
		m[k] = v
		if outermost {
			r.top[k] = Span{start, r.i}
		}
		r.space()
		if r.i >= len(r.b) {
			return nil, false
		}
		switch r.b[r.i] {
		case ',':
			r.i++
			r.space()
		case '}':
			r.i++
			return m, true
		default:
			return nil, false
		}
	}
}

func (r *reader) array(depth int) ([]any, bool) {
	if depth > maxDepth {
		return nil, false
	}
	r.i++ // '['
	a := []any{}
	r.space()
	if r.i < len(r.b) && r.b[r.i] == ']' {
		r.i++
		return a, true
	}
	for {
		v, ok := r.value(depth)
		if !ok {
			return nil, false
		}
		a = append(a, v)
		r.space()
		if r.i >= len(r.b) {
			return nil, false
		}
		switch r.b[r.i] {
		case ',':
			r.i++
			r.space()
		case ']':
			r.i++
			return a, true
		default:
			return nil, false
		}
	}
}

// string reads a string from its opening quote. One with escapes, rare in events, is decoded by encoding/json
// itself, so that onePass never reads an escape differently.
func (r *reader) string() (string, bool) {
	start := r.i
	r.i++ // '"'
	escaped := false
	for r.i < len(r.b) {
		switch c := r.b[r.i]; {
		case c == '"':
			r.i++
			if !escaped {
				return r.s[start+1 : r.i-1], true
			}
			var s string
			if err := json.Unmarshal(r.b[start:r.i], &s); err != nil {
				return "", false
			}
			return s, true
		case c == '\\':
			escaped = true
			r.i += 2 // the escaped byte cannot end the string; encoding/json checks the escape
		case c < 0x20:
			return "", false
		default:
			r.i++
		}
	}
	return "", false
}

// number reads a number as JSON writes one, -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, keeping it as written.
func (r *reader) number() (json.Number, bool) {
	start := r.i
	if r.b[r.i] == '-' {
		r.i++
	}
	switch {
	case r.i < len(r.b) && r.b[r.i] == '0':
		r.i++
	case r.digits() == 0:
		return "", false
	}
	if r.i < len(r.b) && r.b[r.i] == '.' {
		r.i++
		if r.digits() == 0 {
			return "", false
		}
	}
	if r.i < len(r.b) && (r.b[r.i] == 'e' || r.b[r.i] == 'E') {
		r.i++
		if r.i < len(r.b) && (r.b[r.i] == '+' || r.b[r.i] == '-') {
			r.i++
		}
		if r.digits() == 0 {
			return "", false
		}
	}
	return json.Number(r.s[start:r.i]), true
}

func (r *reader) digits() int {
	n := 0
	for r.i < len(r.b) && '0' <= r.b[r.i] && r.b[r.i] <= '9' {
		r.i++
		n++
	}
	return n
}
