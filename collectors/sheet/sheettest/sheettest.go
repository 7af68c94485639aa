// Package sheettest makes files as officers' spreadsheet programs write them, for the tests of the readers of
// spreadsheets (collectors/sheet, collectors/dossiers).
package sheettest

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"
)

// Windows1258 encodes s as Excel's plain "CSV (Comma delimited)" does on a Vietnamese Windows: a letter Windows-1258
// has is one byte, and one it lacks is written as the letter without its tone and the tone as a combining mark
// ("ấ" as "â" and U+0301, "ý" as "y" and U+0301).
func Windows1258(s string) ([]byte, error) {
	const tones = "\u0300\u0301\u0303\u0309\u0323"
	var out []byte
	for _, r := range norm.NFC.String(s) {
		if b, ok := charmap.Windows1258.EncodeRune(r); ok {
			out = append(out, b)
			continue
		}
		var base, tone strings.Builder
		for _, c := range norm.NFD.String(string(r)) {
			if strings.ContainsRune(tones, c) {
				tone.WriteRune(c)
			} else {
				base.WriteRune(c)
			}
		}
		for _, c := range norm.NFC.String(base.String()) + tone.String() {
			b, ok := charmap.Windows1258.EncodeRune(c)
			if !ok {
				return nil, fmt.Errorf("%q has no Windows-1258 form", r)
			}
			out = append(out, b)
		}
	}
	return out, nil
}

// PeakRSS is this process's peak resident memory so far, in bytes: Linux's VmHWM. (getrusage's maxrss would not
// do: Linux carries the parent's peak over into a child started with exec.)
func PeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	_, after, ok := bytes.Cut(b, []byte("VmHWM:"))
	if !ok {
		return 0
	}
	var kb int64
	fmt.Sscan(string(after), &kb)
	return kb << 10
}

// Says checks that some line of out, what an officer reads, matches each pattern: words separated by any run of
// spaces, so that a table's alignment does not matter.
func Says(t testing.TB, out string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		words := strings.Fields(p)
		for i, w := range words {
			words[i] = regexp.QuoteMeta(w)
		}
		if !regexp.MustCompile(`(?m)` + strings.Join(words, `\s+`)).MatchString(out) {
			t.Errorf("the output does not say %q", p)
		}
	}
}
