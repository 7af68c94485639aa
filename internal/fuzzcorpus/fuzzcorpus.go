// Package fuzzcorpus reads a fuzz target's seed corpus so that another target can start from it too: the JSON
// readers' targets start from the events of event's FuzzDecode. Tests only.
package fuzzcorpus

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Inputs returns the inputs of every file of dir, a "go test fuzz v1" corpus of one []byte each.
func Inputs(tb testing.TB, dir string) [][]byte {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) == 0 {
		tb.Fatalf("no corpus in %s", dir)
	}
	var out [][]byte
	for _, name := range files {
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
		out = append(out, []byte(s))
	}
	return out
}
