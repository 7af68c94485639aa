package progress

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// Without a terminal there is no bar: nothing is written to out, and progress goes to the log at most every Every.
func TestWithoutTerminalLogs(t *testing.T) {
	var out, logs bytes.Buffer
	r := New("publishing", 100, &out, slog.New(slog.NewTextHandler(&logs, nil)))
	r.last = r.last.Add(-Every) // as if the last line were Every ago
	r.Set(40)
	r.Set(41) // too soon for another line
	r.Done()
	if out.Len() != 0 {
		t.Errorf("wrote %q to a non-terminal", out.String())
	}
	if n := strings.Count(logs.String(), "msg=publishing"); n != 1 {
		t.Errorf("logged %d progress lines, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "done=40 of=100") {
		t.Errorf("log lacks the count: %s", logs.String())
	}
}
