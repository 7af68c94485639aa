package event_test

import (
	"errors"
	"testing"

	"github.com/egovtrack/egovtrack/internal/event"
)

func TestInvalidUTF8(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		off  int64
		want bool
	}{
		{"", 0, false},
		{`{"name": "Đăng ký"}`, 0, false},
		{"\xff", 1, true},
		{`{"name": "` + "\xd0ang" + `"}`, 11, true},
		{"Đăng \xe1\xba", 8, true}, // a letter cut short
		{"\xed\xa0\x80", 1, true},  // a surrogate, which UTF-8 does not encode
		{"ok \xc0\xaf", 4, true},   // an overlong slash
		{"ký tự\u00a0 ", 0, false}, // a no-break space is UTF-8
		{"\xef\xbf\xbd", 0, false}, // U+FFFD written as such is a character
	}
	for _, tt := range tests {
		off, bad := event.InvalidUTF8([]byte(tt.in))
		if off != tt.off || bad != tt.want {
			t.Errorf("InvalidUTF8(%q) = %d, %v; want %d, %v", tt.in, off, bad, tt.off, tt.want)
		}
	}
}

func TestCheckDuplicateKeys(t *testing.T) {
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
		{`{"A": 1, "a": 2}`, "", 0},          // keys are compared exactly; the schema refuses "A"
		{`{"a": 1,, "a": 2}`, "", 0},         // malformed before the second: for encoding/json to say
		{`{"a": 1} {"a": 1, "a": 2}`, "", 0}, // one document; what follows is malformed
		{`"a"`, "", 0},
		{``, "", 0},
	}
	for _, tt := range tests {
		err := event.CheckDuplicateKeys([]byte(tt.in))
		if tt.field == "" {
			if err != nil {
				t.Errorf("CheckDuplicateKeys(%s) = %v, want nil", tt.in, err)
			}
			continue
		}
		de, ok := errors.AsType[*event.DuplicateKeyError](err)
		if !ok || de.Field != tt.field || de.Offset != tt.off {
			t.Errorf("CheckDuplicateKeys(%s) = %v, want %s at %d", tt.in, err, tt.field, tt.off)
		}
	}
}
