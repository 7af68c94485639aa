package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// This file runs the projector as the separate process it is in production: built once per test binary, started
// with an environment of its own, its output kept in one log file and watched for the lines a test waits on.

// buildProjector builds this command into a temporary directory and returns the binary's path.
func buildProjector(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go") // `go test` puts its own GOROOT/bin first on PATH
	if err != nil {
		t.Fatalf("no go command to build the projector with: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "projector")
	start := time.Now()
	out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build the projector: %v\n%s", err, out)
	}
	t.Logf("built the projector in %v", time.Since(start).Round(time.Millisecond))
	return bin
}

// projectorEnv is the projector's environment: this one without any EGOV_ variable, so that a developer's settings
// cannot leak in, plus vars.
func projectorEnv(vars map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EGOV_") {
			env = append(env, kv)
		}
	}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// Lines of the projector's log that tests wait on (slog's text format).
const (
	logProjecting  = "msg=projecting "              // started: schema applied, consumer created
	logWritten     = `msg="batch written"`          // a batch is in ClickHouse and acked (debug level)
	logWriteFailed = `msg="write failed, retrying"` // ClickHouse refused a batch; the projector retries it
)

var watched = []string{logProjecting, logWritten, logWriteFailed}

// projectorLog is the file every projector process of a test writes to, each line after the process's name, with
// lines of the test's own between them (starts, kills). It prints its last lines when the test fails.
type projectorLog struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

func newProjectorLog(t *testing.T) *projectorLog {
	t.Helper()
	path := filepath.Join(t.TempDir(), "projector.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	l := &projectorLog{path: path, f: f}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last lines of the projectors' log %s:\n%s", path, l.tail(80))
		}
		_ = f.Close()
	})
	return l
}

func (l *projectorLog) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.f, "=== "+format+"\n", args...)
}

func (l *projectorLog) writeLine(name string, line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = fmt.Fprintf(l.f, "%s| %s", name, line)
}

// tail returns the last n lines written.
func (l *projectorLog) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, err := os.ReadFile(l.path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// lifeLog is one process's output: it passes whole lines on to the shared log and notes, in order, which of the
// watched lines came.
type lifeLog struct {
	name    string // of the process, before each of its lines
	shared  *projectorLog
	mu      sync.Mutex
	partial []byte
	seen    []string      // the watched patterns, one per matching line, in the order the lines came
	changed chan struct{} // closed and replaced whenever seen grows
	skipped int           // events the batches written found in the raw log already: written before a kill
}

// skippedAttr is how a written batch tells the events it left out because the raw log held them.
var skippedAttr = regexp.MustCompile(` skipped=(\d+)`)

func (l *lifeLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, b...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := l.partial[:i+1]
		l.shared.writeLine(l.name, line)
		for _, p := range watched {
			if bytes.Contains(line, []byte(p)) {
				l.seen = append(l.seen, p)
				close(l.changed)
				l.changed = make(chan struct{})
			}
		}
		if m := skippedAttr.FindSubmatch(line); m != nil && bytes.Contains(line, []byte(logWritten)) {
			n, _ := strconv.Atoi(string(m[1]))
			l.skipped += n
		}
		l.partial = l.partial[i+1:]
	}
	return len(b), nil
}

// flush passes on a last line that lacks its newline, as one cut short by SIGKILL.
func (l *lifeLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.partial) > 0 {
		l.shared.writeLine(l.name, append(l.partial, '\n'))
		l.partial = nil
	}
}

// skippedTotal is the sum of the skipped events of the batches written.
func (l *lifeLog) skippedTotal() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.skipped
}

// count is how many lines matching pattern came.
func (l *lifeLog) count(pattern string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return countOf(l.seen, pattern)
}

// countOf is how many of seen are pattern.
func countOf(seen []string, pattern string) int {
	n := 0
	for _, s := range seen {
		if s == pattern {
			n++
		}
	}
	return n
}

// projectorProc is one projector process.
type projectorProc struct {
	name    string
	cmd     *exec.Cmd
	log     *lifeLog
	started time.Time
	done    chan struct{} // closed once the process has exited and its output is all in the log
	waitErr error         // set before done is closed
	ended   time.Time     // set before done is closed
}

// startProjector starts `projector run`. The process gets SIGKILL if the test binary dies first, and when the test
// ends if it still runs.
func startProjector(t *testing.T, bin string, env []string, logs *projectorLog, name string) *projectorProc {
	t.Helper()
	ll := &lifeLog{name: name, shared: logs, changed: make(chan struct{})}
	cmd := exec.Command(bin, "run")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = ll, ll
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &projectorProc{name: name, cmd: cmd, log: ll, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the thread that forked the child ends, not the process: this goroutine keeps its
		// thread, blocked in Wait, for as long as the projector runs.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.waitErr = cmd.Wait()
		p.ended = time.Now()
		ll.flush()
		close(p.done)
	}()
	if err := <-started; err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p.started = time.Now()
	logs.printf("%s: pid %d started at %s", name, cmd.Process.Pid, p.started.Format("15:04:05.000"))
	t.Cleanup(func() { p.kill() })
	return p
}

// ran is how long the process ran; call it once done is closed.
func (p *projectorProc) ran() time.Duration { return p.ended.Sub(p.started) }

// kill sends SIGKILL and waits for the exit. It reports whether the signal ended the process, rather than the
// process having exited by itself before.
func (p *projectorProc) kill() bool {
	_ = p.cmd.Process.Signal(syscall.SIGKILL) // fails only when it has exited already
	<-p.done
	return p.killed()
}

// killed reports whether the process ended by SIGKILL; call it once done is closed.
func (p *projectorProc) killed() bool {
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// exitedByItself reports whether the process has already ended other than by SIGKILL.
func (p *projectorProc) exitedByItself() bool {
	select {
	case <-p.done:
		return !p.killed()
	default:
		return false
	}
}

// wait waits for the process to exit by itself within limit, killing it after that, and returns its exit error.
func (p *projectorProc) wait(limit time.Duration) error {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-p.done:
		return p.waitErr
	case <-timer.C:
		p.kill()
		return fmt.Errorf("%s still ran after %v and was killed", p.name, limit)
	}
}

// waitLog waits until the lines the process wrote satisfy ok (given the watched patterns in the order they came),
// the process exits, or ctx ends.
func (p *projectorProc) waitLog(ctx context.Context, what string, ok func(seen []string) bool) error {
	for {
		p.log.mu.Lock()
		met, changed := ok(p.log.seen), p.log.changed
		p.log.mu.Unlock()
		if met {
			return nil
		}
		select {
		case <-changed:
		case <-p.done:
			return fmt.Errorf("%s exited (%v) before %s", p.name, p.waitErr, what)
		case <-ctx.Done():
			return fmt.Errorf("%s: no %s within the time allowed: %w", p.name, what, ctx.Err())
		}
	}
}

// seenAfter reports whether pattern then came after a line matching first.
func seenAfter(first, then string) func(seen []string) bool {
	return func(seen []string) bool {
		i := slices.Index(seen, first)
		return i >= 0 && slices.Index(seen[i+1:], then) >= 0
	}
}
