package sheet_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/collectors/sheet"
	"github.com/egovtrack/egovtrack/collectors/sheet/sheettest"
)

// memoryBound is the most memory reading one file may take, bombs included: they must be refused well below it.
const memoryBound = 256 << 20

// The child process that reads one file: the test binary itself, started with readChildEnv set to the file's path.
const (
	readChildEnv = "EGOV_TEST_SHEET_READ_CHILD"
	// readChildCapEnv replaces memoryBound as the watchdog's limit, in bytes: to measure how far a bomb goes.
	readChildCapEnv = "EGOV_TEST_SHEET_READ_CAP"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(readChildEnv); path != "" {
		os.Exit(readChild(path))
	}
	os.Exit(m.Run())
}

// childResult is what the child says on stdout.
type childResult struct {
	Read  bool   // the file was read, as a table
	Rows  int    // its rows
	Error string // why it was refused
	Over  bool   // the watchdog stopped the child: its memory passed the cap
	Peak  int64  // the child's peak resident memory, in bytes
}

// readChild reads the file at path with sheet.ReadFile, as `collectors sheet` does, and writes a childResult. A
// watchdog stops it as soon as its resident memory passes the cap, so that a bomb the reader does not refuse stops
// there instead of taking the machine's memory. No soft limit (debug.SetMemoryLimit) is set: the command runs without
// one, and what is measured is the resident memory it would take, garbage included.
func readChild(path string) int {
	limit := int64(memoryBound)
	if v := os.Getenv(readChildCapEnv); v != "" {
		fmt.Sscan(v, &limit)
	}
	out := json.NewEncoder(os.Stdout)
	go func() {
		for {
			if peak := sheettest.PeakRSS(); peak > limit {
				out.Encode(childResult{Over: true, Peak: peak})
				os.Exit(3)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	t, err := sheet.ReadFile(context.Background(), path)
	res := childResult{Read: err == nil, Rows: len(t.Rows), Peak: sheettest.PeakRSS()}
	if err != nil {
		res.Error = err.Error()
	}
	out.Encode(res)
	return 0
}

// readBounded reads the file at path in a child process whose memory is watched, and returns what the reader said
// and the child's peak resident memory. It fails the test when the child passed memoryBound.
func readBounded(t *testing.T, path string) (childResult, int64) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("measures memory with Linux's /proc/self/status")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), readChildEnv+"="+path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	runErr := cmd.Run()
	took := time.Since(start)
	var res childResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("the reader's process ended (%v) after %s without saying what it read: %v\nstdout: %.2000s\nstderr: %.4000s",
			runErr, took.Round(time.Millisecond), err, stdout.String(), stderr.String())
	}
	peak := res.Peak
	t.Logf("%s: peak %d MiB, %s", filepath.Base(path), peak>>20, took.Round(time.Millisecond))
	if res.Over || peak > memoryBound {
		t.Fatalf("reading took more than %d MiB of memory (peak %d MiB when stopped, after %s)", memoryBound>>20, peak>>20, took.Round(time.Millisecond))
	}
	return res, peak
}
