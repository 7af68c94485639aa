package strictjson_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/egovtrack/egovtrack/internal/event/strictjson"
)

func TestInvalidUTF8(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		off  int64
		want bool
	}{
		{`{"name": "Đăng ký"}`, 0, false},
		{"\xff", 1, true},
		{`{"name": "` + "\xd0ang" + `"}`, 11, true},
		{`"Đăng ` + "\xe1\xba", 9, true},       // a letter cut short
		{"\xed\xa0\x80", 1, true},              // a surrogate, which UTF-8 does not encode
		{`"ok ` + "\xc0\xaf", 5, true},         // an overlong slash
		{`"ký tự` + "\u00a0 \"", 0, false},     // a no-break space is UTF-8
		{`"` + "\xef\xbf\xbd" + `"`, 0, false}, // U+FFFD written as such is a character
	}
	for _, tt := range tests {
		_, err := strictjson.Read([]byte(tt.in))
		ue, bad := errors.AsType[*strictjson.InvalidUTF8Error](err)
		if bad != tt.want || bad && ue.Offset != tt.off {
			t.Errorf("Read(%q) = %v; want invalid UTF-8 %v at %d", tt.in, err, tt.want, tt.off)
		}
	}
}

func TestDuplicateKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    string
		field string // "" for none
		off   int64
	}{
		{`{"a": 1, "b": {"a": 2}, "c": [{"a": 3}, {"a": 4}]}`, "", 0},
		{`{"a": 1, "a": 2}`, "a", 12},
		{`{"data": {"unit": {"kind": "province", "code": "19", "code": "01"}}}`, "data.unit.code", 59},
		{`{"procedures": [{"code": "1"}, {"code": "2", "level": 3, "level": 4}]}`, "procedures[1].level", 64},
		{`[{}, {}, {"data": {"to": 3, "to": 4}}]`, "[2].data.to", 32},
		{`{"a": 1, "\u0061": 2}`, "a", 17}, // the same key, escaped
		{`{"a": [[1, {"b": 1, "b": 1}]]}`, "a[0][1].b", 23},
		{`{"": 1, "": 2}`, `""`, 10},
		{`{"A": 1, "a": 2}`, "", 0},          // keys are compared exactly; the schema refuses "A"
		{`{"a": 1,, "a": 2}`, "", 0},         // malformed before the second: a syntax error
		{`{"a": 1} {"a": 1, "a": 2}`, "", 0}, // one document; what follows is malformed
		{`"a"`, "", 0},
	}
	for _, tt := range tests {
		v, err := strictjson.Read([]byte(tt.in))
		de, ok := errors.AsType[*strictjson.DuplicateKeyError](err)
		if tt.field == "" {
			if ok {
				t.Errorf("Read(%s) = %v, want no key given twice", tt.in, err)
			}
			continue
		}
		if !ok || de.Field != tt.field || de.Offset != tt.off {
			t.Errorf("Read(%s) = %v, want %s at %d", tt.in, err, tt.field, tt.off)
		}
		if v.Doc == nil {
			t.Errorf("Read(%s) returned no document with the duplicate key", tt.in)
		}
	}
}

func TestLoneSurrogates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in            string
		field, escape string // "" for none
		off           int64
	}{
		{`{"name": "\ud83d\ude00 \u00e9"}`, "", "", 0}, // a pair, and another escape
		{`{"name": "a\ud800"}`, "name", `\ud800`, 17},
		{`{"name": "\\ud800"}`, "", "", 0}, // an escaped backslash, then letters
		{`{"a": ["x", "\udc00y"]}`, "a[1]", `\udc00`, 19},
		{`{"\uDBFF": 1}`, `\uDBFF`, `\uDBFF`, 8}, // in a key
		{`["\ud800\ud800"]`, "[0]", `\ud800`, 8},
	}
	for _, tt := range tests {
		_, err := strictjson.Read([]byte(tt.in))
		le, ok := errors.AsType[*strictjson.LoneSurrogateError](err)
		if tt.field == "" {
			if err != nil {
				t.Errorf("Read(%s) = %v, want nil", tt.in, err)
			}
			continue
		}
		if !ok || le.Escape != tt.escape || le.Offset != tt.off {
			t.Errorf("Read(%s) = %v, want %s at %d", tt.in, err, tt.escape, tt.off)
		}
	}
}

// A document that is not one JSON value says how: empty, cut short, followed by more, or broken at a byte.
func TestSyntaxErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in        string
		msg       string
		empty     bool
		truncated bool
		valueEnd  int64
	}{
		{" \n", "malformed JSON at byte offset 2: unexpected end of JSON input", true, false, 0},
		{`{"a": [1, 2`, "malformed JSON at byte offset 11: unexpected end of JSON input", false, true, 0},
		{`{"a": 1}}`, "malformed JSON at byte offset 9: invalid character '}' after top-level value", false, false, 8},
		{`{"a": 1} {}`, "malformed JSON at byte offset 10: invalid character '{' after top-level value", false, false, 8},
		{`{"a": [1,]}`, "malformed JSON at byte offset 10: invalid character ']' looking for beginning of value", false, false, 0},
	}
	for _, tt := range tests {
		_, err := strictjson.Read([]byte(tt.in))
		se, ok := errors.AsType[*strictjson.SyntaxError](err)
		if !ok || err.Error() != tt.msg || se.Empty != tt.empty || se.Truncated != tt.truncated || se.ValueEnd != tt.valueEnd {
			t.Errorf("Read(%q) = %#v (%v), want %q, empty %v, truncated %v, value end %d", tt.in, se, err, tt.msg, tt.empty, tt.truncated, tt.valueEnd)
		}
	}
}

func TestTypeName(t *testing.T) {
	t.Parallel()
	for v, want := range map[any]string{"": "a string", true: "true or false", 1.5: "a number", uint8(1): "a number",
		new([]int): "an array", struct{}{}: "an object", new(map[string]int): "an object"} {
		if got := strictjson.TypeName(reflect.TypeOf(v)); got != want {
			t.Errorf("TypeName(%T) = %q, want %q", v, got, want)
		}
	}
	if got := strictjson.TypeName(nil); got != "another type" {
		t.Errorf("TypeName(nil) = %q", got)
	}
}
