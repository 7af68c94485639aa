package event

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzReadObject holds readObject, Decode's one pass, to the slow path it stands in for: whatever it accepts,
// parseJSON reads to the same values, CheckDuplicateKeys finds no key given twice, and envelopeOf reads the same
// envelope as json.Unmarshal, with the same error. It must also accept every plain object, or Decode would be slow
// for nothing.
//
// The seeds are FuzzDecode's corpus (real events, good and bad) and the corners of JSON below.
func FuzzReadObject(f *testing.F) {
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
		strings.Repeat(`{"a":`, maxReadDepth+2) + `1` + strings.Repeat(`}`, maxReadDepth+2),
		`{"a":` + strings.Repeat(`[`, maxReadDepth) + strings.Repeat(`]`, maxReadDepth) + `}`,
	} {
		f.Add([]byte(s))
	}
	files, err := filepath.Glob("testdata/fuzz/FuzzDecode/*")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		f.Add(corpusEntry(f, name))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !utf8.Valid(b) {
			return // Decode refuses it before reading it
		}
		obj, top, ok := readObject(b)
		doc, parseErr := parseJSON(b)
		dupErr := CheckDuplicateKeys(b)
		_, isObject := doc.(map[string]any)
		if !ok {
			if parseErr == nil && isObject && dupErr == nil && depth(b) <= maxReadDepth {
				t.Fatalf("readObject refused a plain object: %s", b)
			}
			return
		}
		switch {
		case parseErr != nil:
			t.Fatalf("readObject accepted what parseJSON refuses (%v): %s", parseErr, b)
		case dupErr != nil:
			t.Fatalf("readObject accepted a key given twice (%v): %s", dupErr, b)
		case !reflect.DeepEqual(any(obj), doc):
			t.Fatalf("readObject read %#v, parseJSON %#v: %s", obj, doc, b)
		}
		for k, sp := range top {
			if v, err := parseJSON(b[sp.start:sp.end]); err != nil || !reflect.DeepEqual(v, obj[k]) {
				t.Fatalf("the span of %q is %q, which reads as %#v (%v), not %#v", k, b[sp.start:sp.end], v, err, obj[k])
			}
		}
		fast, fastErr := envelopeOf(b, obj, top)
		var slow Envelope
		slowErr := json.Unmarshal(b, &slow)
		if !reflect.DeepEqual(fast, slow) || errString(fastErr) != errString(slowErr) {
			t.Fatalf("envelopeOf read %+v (%v), json.Unmarshal %+v (%v): %s", fast, fastErr, slow, slowErr, b)
		}
	})
}

// corpusEntry reads one []byte input of a "go test fuzz v1" corpus file.
func corpusEntry(tb testing.TB, name string) []byte {
	tb.Helper()
	raw, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "[]byte(") || !strings.HasSuffix(lines[1], ")") {
		tb.Fatalf("%s is not a corpus file of one []byte", name)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return []byte(s)
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

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
