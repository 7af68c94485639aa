package strictjson

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/egovtrack/egovtrack/internal/fuzzcorpus"
)

// FuzzRead holds onePass, Read's one pass, to the slow path it stands in for, encoding/json: whatever it accepts,
// parse reads to the same values, checkDuplicateKeys finds no key given twice, and each member's span reads as its
// value. It must also accept every plain value, or Read would be slow for nothing.
//
// The seeds are event's FuzzDecode corpus (real events, good and bad) and the corners of JSON below.
func FuzzRead(f *testing.F) {
	for _, s := range []string{
		`{}`, ` {"a" : [ ] , "b":{ } } `, `{"a":1}x`, `{"a":1} {"b":2}`, `[]`, `"a"`, ``, `{`, `{"a"}`, `{"a":}`,
		`{"a":1,}`, `{,"a":1}`, `{"a":1 "b":2}`, `{"a":[1,]}`, `{"a":[,1]}`, `{"a":[1 2]}`,
		`{"n":[0,-0,1.5,-1e9,1E+2,2e-3,12345678901234567890]}`, `{"n":01}`, `{"n":-}`, `{"n":1.}`, `{"n":.5}`,
		`{"n":1e}`, `{"n":+1}`, `{"l":[true,false,null]}`, `{"l":tru}`, `{"l":nul}`, `{"l":True}`,
		`{"s":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00"}`, `{"s":"\ud800"}`, `{"s":"\x"}`, `{"s":"\u12"}`,
		"{\"s\":\"a\tb\"}", "{\"s\":\"a\x00b\"}", "{\"s\":\"a\x1fb\"}", `{"s":"mức 4"}`, `{"s":"abc`, `{"s":"abc\"}`,
		`{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, `{"a":{"b":1,"b":1}}`, `{"a":[{"b":1},{"b":1}]}`, `{"":1,"":2}`,
		`{"A":1,"a":2}`, `{"ID":"x"}`, `{"id":5}`, `{"id":null}`, `{"time":"2021-12-15T02:00:00Z"}`,
		`{"time":"2021-12-15"}`, `{"time":5}`, `{"time":null}`, `{"time":"2021-12-15T02:00:00\u005a"}`,
		`{"data":{"a":1}}`, `{"data":[1]}`, `{"data":null}`, `{"data":"x"}`, `{"type":"x","extra":1}`,
		strings.Repeat(`{"a":`, maxDepth+2) + `1` + strings.Repeat(`}`, maxDepth+2),
		`{"a":` + strings.Repeat(`[`, maxDepth) + strings.Repeat(`]`, maxDepth) + `}`,
		`5`, ` -0.5e3 `, `true`, ` null`, `"a\u0000b"`, `[1,[2,{"a":3}]]`, `[{"a":1,"a":2}]`, `[1]]`, `01`,
		strings.Repeat(`[`, maxDepth+1) + strings.Repeat(`]`, maxDepth+1),
	} {
		f.Add([]byte(s))
	}
	for _, in := range fuzzcorpus.Inputs(f, "../testdata/fuzz/FuzzDecode") {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !utf8.Valid(b) {
			return // Read refuses it before reading it
		}
		v, ok := onePass(b)
		doc, parseErr := parse(b)
		dupErr := checkDuplicateKeys(b)
		if !ok {
			if parseErr == nil && dupErr == nil && depth(b) <= maxDepth {
				t.Fatalf("onePass refused a plain value: %s", b)
			}
			return
		}
		obj, isObject := doc.(map[string]any)
		switch {
		case parseErr != nil:
			t.Fatalf("onePass accepted what parse refuses (%v): %s", parseErr, b)
		case dupErr != nil:
			t.Fatalf("onePass accepted a key given twice (%v): %s", dupErr, b)
		case !reflect.DeepEqual(v.Doc, doc):
			t.Fatalf("onePass read %#v, parse %#v: %s", v.Doc, doc, b)
		case isObject != (v.Members != nil):
			t.Fatalf("onePass gave the members %v of %#v: %s", v.Members, doc, b)
		}
		for k, sp := range v.Members {
			if m, err := parse(b[sp.Start:sp.End]); err != nil || !reflect.DeepEqual(m, obj[k]) {
				t.Fatalf("the span of %q is %q, which reads as %#v (%v), not %#v", k, b[sp.Start:sp.End], m, err, obj[k])
			}
		}
	})
}

// depth is how deep b nests, counting every bracket outside strings.
func depth(b []byte) int {
	d, deepest, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case !inString && (c == '{' || c == '['):
			d++
			deepest = max(deepest, d)
		case !inString && (c == '}' || c == ']'):
			d--
		}
	}
	return deepest
}
