package conformance_test

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// checkJCS checks that b is in the canonical form of RFC 8785 (JCS), as far as event data goes, with a reader of its
// own rather than the jcs package the code uses: UTF-8; no white space between tokens; every object's keys unique and
// in the order of their UTF-16 code units; strings escaping only '"', '\' and the controls below U+0020, those as
// \b \t \n \f \r or \u00xx in lower case, and nothing else escaped (not "/", not "&", not U+2028, no astral
// character as a surrogate pair); numbers as ECMAScript writes them (no "+", no leading zero, no ".0", no exponent
// within the range event data uses).
func checkJCS(b []byte) error {
	if !utf8.Valid(b) {
		return fmt.Errorf("not UTF-8")
	}
	c := &jcsChecker{b: b}
	if err := c.value(); err != nil {
		return err
	}
	if c.i != len(b) {
		return fmt.Errorf("byte %d: %q after the value", c.i, b[c.i:])
	}
	return nil
}

type jcsChecker struct {
	b []byte
	i int
}

func (c *jcsChecker) errorf(format string, args ...any) error {
	return fmt.Errorf("byte %d: "+format, append([]any{c.i}, args...)...)
}

func (c *jcsChecker) value() error {
	if c.i >= len(c.b) {
		return c.errorf("a value is missing")
	}
	switch ch := c.b[c.i]; {
	case ch == '{':
		return c.object()
	case ch == '[':
		c.i++
		for n := 0; ; n++ {
			if c.i < len(c.b) && c.b[c.i] == ']' {
				c.i++
				return nil
			}
			if n > 0 {
				if err := c.expect(','); err != nil {
					return err
				}
			}
			if err := c.value(); err != nil {
				return err
			}
		}
	case ch == '"':
		_, err := c.str()
		return err
	case ch == '-' || '0' <= ch && ch <= '9':
		return c.number()
	}
	for _, lit := range []string{"true", "false", "null"} {
		if len(c.b)-c.i >= len(lit) && string(c.b[c.i:c.i+len(lit)]) == lit {
			c.i += len(lit)
			return nil
		}
	}
	return c.errorf("%q starts no value (white space?)", c.b[c.i])
}

func (c *jcsChecker) expect(ch byte) error {
	if c.i >= len(c.b) || c.b[c.i] != ch {
		return c.errorf("want %q", ch)
	}
	c.i++
	return nil
}

func (c *jcsChecker) object() error {
	c.i++ // '{'
	var prev []uint16
	for n := 0; ; n++ {
		if c.i < len(c.b) && c.b[c.i] == '}' {
			c.i++
			return nil
		}
		if n > 0 {
			if err := c.expect(','); err != nil {
				return err
			}
		}
		k, err := c.str()
		if err != nil {
			return err
		}
		units := utf16.Encode([]rune(k))
		if n > 0 && slices.Compare(prev, units) >= 0 {
			return c.errorf("key %q is not after the key before it in UTF-16 order", k)
		}
		prev = units
		if err := c.expect(':'); err != nil {
			return err
		}
		if err := c.value(); err != nil {
			return err
		}
	}
}

// str reads a string, holding its escapes to JCS's.
func (c *jcsChecker) str() (string, error) {
	if err := c.expect('"'); err != nil {
		return "", err
	}
	var out []rune
	for c.i < len(c.b) {
		r, n := utf8.DecodeRune(c.b[c.i:])
		switch {
		case r == '"':
			c.i++
			return string(out), nil
		case r < 0x20:
			return "", c.errorf("control character %U not escaped", r)
		case r != '\\':
			out = append(out, r)
			c.i += n
			continue
		}
		if c.i+1 >= len(c.b) {
			return "", c.errorf("the string does not end")
		}
		short := map[byte]rune{'"': '"', '\\': '\\', 'b': '\b', 't': '\t', 'n': '\n', 'f': '\f', 'r': '\r'}
		if r, ok := short[c.b[c.i+1]]; ok {
			out = append(out, r)
			c.i += 2
			continue
		}
		if c.b[c.i+1] != 'u' || c.i+6 > len(c.b) {
			return "", c.errorf("escape %q is not JCS's", c.b[c.i:min(c.i+2, len(c.b))])
		}
		hex := string(c.b[c.i+2 : c.i+6])
		v, err := strconv.ParseUint(hex, 16, 16)
		switch {
		case err != nil:
			return "", c.errorf("escape \\u%s", hex)
		case v >= 0x20 || v == '\b' || v == '\t' || v == '\n' || v == '\f' || v == '\r':
			return "", c.errorf("\\u%s escapes a character JCS writes as itself or with a short escape", hex)
		case hex != fmt.Sprintf("%04x", v):
			return "", c.errorf("\\u%s is not in lower case", hex)
		}
		out = append(out, rune(v))
		c.i += 6
	}
	return "", c.errorf("the string does not end")
}

// number reads a number and holds its text to what ECMAScript's Number.prototype.toString writes for it, for the
// magnitudes event data has (no exponent form: at least 1e-6 and below 1e21).
func (c *jcsChecker) number() error {
	start := c.i
	for c.i < len(c.b) && (c.b[c.i] == '-' || c.b[c.i] == '+' || c.b[c.i] == '.' || c.b[c.i] == 'e' || c.b[c.i] == 'E' ||
		'0' <= c.b[c.i] && c.b[c.i] <= '9') {
		c.i++
	}
	text := string(c.b[start:c.i])
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return fmt.Errorf("byte %d: %q is no number", start, text)
	}
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		return fmt.Errorf("byte %d: %q is beyond the magnitudes this check knows", start, text)
	}
	want := strconv.FormatFloat(f, 'f', -1, 64)
	if f == 0 {
		want = "0" // -0 too
	}
	if text != want {
		return fmt.Errorf("byte %d: %q is written %q in JCS", start, text, want)
	}
	return nil
}
