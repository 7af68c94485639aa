package deploy_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
	"github.com/egovtrack/egovtrack/internal/chserver"
)

// runbook is the page a new operator follows to run egovtrack without Docker.
const runbook = "without-docker.md"

// systemctlSocket names, in the environment of the test binary run as the runbook's systemctl, where the test's
// stand-in for systemd listens (see TestMain).
const systemctlSocket = "EGOV_TEST_SYSTEMCTL_SOCKET"

// TestWithoutDocker follows deploy/without-docker.md: it runs every sh block of the page, in order and as written,
// in a temporary directory and against real processes (nats-server, egovtrack's commands as the page builds them, a
// clickhouse-server), changing only what the page's last section lists. It then checks that the province's import
// was projected: ClickHouse holds every event the import published, each submitted by the province's credential.
func TestWithoutDocker(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the commands and runs the servers")
	}
	if _, err := exec.LookPath("nats-server"); err != nil {
		t.Fatal("nats-server is not on PATH: run .ci/install-tools, which puts it in $EGOV_TOOLS/bin (make test does both)")
	}
	page, err := os.ReadFile(runbook)
	if err != nil {
		t.Fatal(err)
	}
	checkNATSVersion(t, string(page))
	blocks := shellBlocks(string(page))
	if len(blocks) < 8 {
		t.Fatalf("%s has %d sh blocks: not the page this test follows", runbook, len(blocks))
	}

	tmp := t.TempDir()
	ctx := t.Context()
	// Debian's clickhouse-server.service, as apt-get leaves it: running, the default user without a password.
	ch, err := chserver.StartServer(ctx, filepath.Join(tmp, "clickhouse"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Stop() })
	_, chPort, _ := net.SplitHostPort(ch.Addr())
	natsPort, monitorPort, metricsPort := freePort(t), freePort(t), freePort(t)
	sd := &systemd{
		t: t, ch: ch,
		units: filepath.Join(tmp, "etc", "systemd", "system"), etc: filepath.Join(tmp, "etc", "egovtrack"),
		varLib: filepath.Join(tmp, "var", "lib"), credentials: filepath.Join(tmp, "run", "credentials"),
		running: map[string]*unit{},
		// The page's machine, moved into tmp: longer strings first, where one contains another.
		moved: strings.NewReplacer(
			"/etc/egovtrack", filepath.Join(tmp, "etc", "egovtrack"),
			"/etc/systemd/system", filepath.Join(tmp, "etc", "systemd", "system"),
			"/etc/clickhouse-server", ch.Dir(),
			"/var/lib/egovtrack", filepath.Join(tmp, "var", "lib", "egovtrack"),
			"/usr/local/bin", filepath.Join(tmp, "bin"),
			"0.0.0.0:4222", "127.0.0.1:"+natsPort,
			":4222", ":"+natsPort,
			"127.0.0.1:8222", "127.0.0.1:"+monitorPort,
			"127.0.0.1:9000", ch.Addr(),
			"--port 9000", "--port "+chPort,
			"127.0.0.1:9464", "127.0.0.1:"+metricsPort,
		),
	}
	// The directories a Debian machine has already.
	for _, d := range []string{sd.units, sd.varLib} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sd.listen(filepath.Join(tmp, "systemctl.sock"))
	t.Cleanup(sd.stopAll)
	t.Cleanup(func() {
		if t.Failed() {
			sd.printLogs()
		}
	})

	env := runbookEnv(t, tmp, filepath.Join(tmp, "systemctl.sock"))
	// The province's catalogue, filled in from the template: its three example rows.
	template, err := os.ReadFile(filepath.Join(repoRoot, "collectors", "sheet", "templates", "danh-muc-thu-tuc.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "home", "danh-muc-thu-tuc.xlsx"), template, 0o644); err != nil {
		t.Fatal(err)
	}

	published := 0
	var last string
	for i, b := range blocks {
		b = sd.moved.Replace(b)
		if queriesClickHouse.MatchString(b) {
			if published == 0 {
				t.Fatal("the page queries ClickHouse before any import said what it published")
			}
			sd.waitProjected(published, time.Minute)
		}
		began := time.Now()
		cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", b)
		cmd.Dir, cmd.Env = repoRoot, env
		out, err := cmd.CombinedOutput()
		t.Logf("block %d (%s):\n%s\n%s", i+1, time.Since(began).Round(time.Millisecond), b, out)
		if err != nil {
			t.Fatalf("block %d of %s failed: %v", i+1, runbook, err)
		}
		if m := regexp.MustCompile(`Published (\d+) events`).FindSubmatch(out); m != nil {
			published, _ = strconv.Atoi(string(m[1]))
		}
		last = string(out)
	}

	if !strings.Contains(last, "province/19") {
		t.Errorf("the page's last query does not show events submitted by province/19:\n%s", last)
	}
	var n uint64
	conn := chdbtest.Conn(t, ch.Config("egov"))
	if err := conn.QueryRow(ctx, "SELECT count() FROM events FINAL WHERE unit_code = '19' AND submitted_by = 'province/19'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != uint64(published) || published == 0 {
		t.Errorf("ClickHouse holds %d events of province/19 submitted by it; the import published %d", n, published)
	}
}

// queriesClickHouse finds the block that reads what the projector wrote: the test waits for the projector first.
var queriesClickHouse = regexp.MustCompile(`(?m)^clickhouse-client `)

// shellBlocks are the page's ```sh blocks, in order.
func shellBlocks(page string) []string {
	var out []string
	for _, m := range regexp.MustCompile("(?ms)^```sh\n(.*?)^```$").FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

// checkNATSVersion holds the page's nats-server, .ci/install-tools' and the one on PATH to the release go.mod pins.
func checkNATSVersion(t *testing.T, page string) {
	t.Helper()
	mod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`github.com/nats-io/nats-server/v2 (v\S+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod requires no nats-server")
	}
	want := string(m[1])
	tools, err := os.ReadFile(filepath.Join(repoRoot, ".ci", "install-tools"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("nats-server", "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	for what, ok := range map[string]bool{
		runbook:             strings.Contains(page, "nats-server/v2@"+want),
		".ci/install-tools": strings.Contains(string(tools), "nats_version="+want+"\n"),
		"the nats-server on PATH (" + strings.TrimSpace(string(out)) + ")": strings.TrimSpace(string(out)) == "nats-server: "+want,
	} {
		if !ok {
			t.Errorf("%s is not nats-server %s, which go.mod pins", what, want)
		}
	}
}

// runbookEnv is the environment the page's blocks run in: root's, with the test's systemctl and apt-get first on
// PATH, the moved /usr/local/bin next, HOME in tmp, and Go's caches where they were.
func runbookEnv(t *testing.T, tmp, socket string) []string {
	t.Helper()
	fake, home := filepath.Join(tmp, "fakebin"), filepath.Join(tmp, "home")
	for _, d := range []string{fake, home, filepath.Join(tmp, "bin")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	scripts := map[string]string{
		"systemctl": fmt.Sprintf("#!/bin/sh\n%s=%q exec %q \"$@\"\n", systemctlSocket, socket, self),
		"apt-get":   "#!/bin/sh\necho \"apt-get $*: skipped by the test, which runs what is installed\"\n",
	}
	for name, s := range scripts {
		if err := os.WriteFile(filepath.Join(fake, name), []byte(s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	goEnv, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		t.Fatal(err)
	}
	vals := strings.Split(strings.TrimSpace(string(goEnv)), "\n")
	if len(vals) != 3 {
		t.Fatalf("go env: %q", goEnv)
	}
	return []string{
		"PATH=" + fake + ":" + filepath.Join(tmp, "bin") + ":" + os.Getenv("PATH"),
		"HOME=" + home, "LANG=C.UTF-8",
		"GOCACHE=" + vals[0], "GOMODCACHE=" + vals[1], "GOPATH=" + vals[2], "GOFLAGS=" + os.Getenv("GOFLAGS"),
	}
}

// systemd is the test's stand-in for systemd: the page's systemctl (the test binary, see TestMain) asks it, over a
// unix socket, to start, restart or reload units. It starts a unit from the file the page installed, its paths moved
// into the test's directory; Debian's clickhouse-server.service is the test's throwaway server.
type systemd struct {
	t                               *testing.T
	ch                              *chserver.Server
	moved                           *strings.Replacer
	units, etc, varLib, credentials string

	mu      sync.Mutex
	running map[string]*unit
}

// unit is a started unit's process and its output.
type unit struct {
	cmd  *exec.Cmd
	log  *watchedLog
	done chan struct{}
}

// listen serves systemctl's requests on socket until the test ends: one JSON array of arguments a connection, one
// JSON answer {code, out}.
func (sd *systemd) listen(socket string) {
	l, err := net.Listen("unix", socket)
	if err != nil {
		sd.t.Fatal(err)
	}
	sd.t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			var args []string
			code, out := 1, ""
			if err := json.NewDecoder(c).Decode(&args); err == nil {
				if err := sd.systemctl(args); err != nil {
					out = err.Error()
				} else {
					code = 0
				}
			}
			json.NewEncoder(c).Encode(map[string]any{"code": code, "out": out})
			c.Close()
		}
	}()
}

// systemctl carries out one command line of the page's systemctl.
func (sd *systemd) systemctl(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("systemctl: no command")
	}
	verb, names := args[0], slices.DeleteFunc(slices.Clone(args[1:]), func(a string) bool { return a == "--now" })
	switch verb {
	case "daemon-reload":
		return nil
	case "enable", "start", "restart":
		for _, n := range names {
			if err := sd.start(strings.TrimSuffix(n, ".service"), verb == "restart"); err != nil {
				return err
			}
		}
		return nil
	case "reload":
		for _, n := range names {
			sd.mu.Lock()
			u := sd.running[strings.TrimSuffix(n, ".service")]
			sd.mu.Unlock()
			if u == nil {
				return fmt.Errorf("systemctl reload %s: not running", n)
			}
			if err := u.cmd.Process.Signal(syscall.SIGHUP); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("systemctl %s: not something the page's test stands in for", verb)
}

// start starts a unit, or restarts it.
func (sd *systemd) start(name string, restart bool) error {
	if name == "clickhouse-server" {
		if restart { // the users.d the page wrote is read at the start
			return sd.ch.Restart(sd.t.Context())
		}
		return nil
	}
	sd.mu.Lock()
	defer sd.mu.Unlock()
	if u := sd.running[name]; u != nil {
		if !restart {
			return nil
		}
		stop(u)
	}
	text, err := os.ReadFile(filepath.Join(sd.units, name+".service"))
	if err != nil {
		return fmt.Errorf("unit %s: %w", name, err)
	}
	// What the unit reads under /etc/egovtrack names the page's paths and ports too (nats-server.conf): moved like the
	// blocks.
	if err := sd.moveFiles(); err != nil {
		return err
	}
	creds := filepath.Join(sd.credentials, name)
	var exe []string
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "CREDENTIALS_DIRECTORY=" + creds}
	if name == "egov-projector" {
		env = append(env, "EGOV_LOG_LEVEL=debug") // so that the test sees each batch written
	}
	sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(sd.moved.Replace(string(text)), "%d", creds)))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), "=")
		switch {
		case !ok || strings.HasPrefix(key, "#"):
		case key == "ExecStart":
			exe = strings.Fields(val)
		case key == "Environment":
			env = append(env, val)
		case key == "LoadCredential":
			id, path, _ := strings.Cut(val, ":")
			b, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("unit %s: LoadCredential %s: %w", name, id, err)
			}
			if err := os.MkdirAll(creds, 0o700); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(creds, id), b, 0o400); err != nil && !os.IsPermission(err) {
				return err
			}
		case key == "StateDirectory":
			if err := os.MkdirAll(filepath.Join(sd.varLib, val), 0o750); err != nil {
				return err
			}
		}
	}
	if len(exe) == 0 {
		return fmt.Errorf("unit %s has no ExecStart", name)
	}
	u := &unit{cmd: exec.Command(exe[0], exe[1:]...), log: &watchedLog{}, done: make(chan struct{})}
	u.cmd.Env, u.cmd.Stdout, u.cmd.Stderr = env, u.log, u.log
	if err := u.cmd.Start(); err != nil {
		return fmt.Errorf("unit %s: %w", name, err)
	}
	go func() { u.cmd.Wait(); close(u.done) }()
	sd.running[name] = u
	return nil
}

// moveFiles moves the page's paths and ports in every file under /etc/egovtrack, as in the blocks.
func (sd *systemd) moveFiles() error {
	return filepath.WalkDir(sd.etc, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if moved := sd.moved.Replace(string(b)); moved != string(b) {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			return os.WriteFile(p, []byte(moved), fi.Mode().Perm())
		}
		return nil
	})
}

// batchWritten is the projector's debug line for a batch it wrote.
var batchWritten = regexp.MustCompile(`msg="batch written" events=(\d+)`)

// waitProjected waits until the projector has logged writing n events, or fails the test after timeout.
func (sd *systemd) waitProjected(n int, timeout time.Duration) {
	sd.t.Helper()
	sd.mu.Lock()
	u := sd.running["egov-projector"]
	sd.mu.Unlock()
	if u == nil {
		sd.t.Fatal("the page never started egov-projector")
	}
	deadline := time.After(timeout)
	for {
		changed := u.log.changed()
		written := 0
		for _, m := range batchWritten.FindAllStringSubmatch(u.log.String(), -1) {
			k, _ := strconv.Atoi(m[1])
			written += k
		}
		if written >= n {
			return
		}
		select {
		case <-changed:
		case <-u.done:
			sd.t.Fatalf("the projector stopped after writing %d of %d events", written, n)
		case <-deadline:
			sd.t.Fatalf("the projector wrote %d of the %d events the import published within %s", written, n, timeout)
		}
	}
}

func (sd *systemd) stopAll() {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	for _, u := range sd.running {
		stop(u)
	}
}

func (sd *systemd) printLogs() {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	for name, u := range sd.running {
		sd.t.Logf("--- %s:\n%s", name, u.log.String())
	}
}

// stop ends a unit as systemd would: SIGTERM, then SIGKILL after its time to stop.
func stop(u *unit) {
	u.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-u.done:
	case <-time.After(30 * time.Second):
		u.cmd.Process.Kill()
		<-u.done
	}
}

// watchedLog is a unit's output, which a test can wait on.
type watchedLog struct {
	mu     sync.Mutex
	b      bytes.Buffer
	notify chan struct{}
}

func (w *watchedLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.notify != nil {
		close(w.notify)
		w.notify = nil
	}
	return w.b.Write(p)
}

func (w *watchedLog) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// changed returns a channel closed at the next write.
func (w *watchedLog) changed() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.notify == nil {
		w.notify = make(chan struct{})
	}
	return w.notify
}

// runSystemctl is the test binary run as the page's systemctl: it hands its arguments to the test's systemd and
// exits as it answers.
func runSystemctl(socket string, args []string) int {
	c, err := net.Dial("unix", socket)
	if err != nil {
		fmt.Fprintf(os.Stderr, "systemctl (test): %v\n", err)
		return 1
	}
	defer c.Close()
	if err := json.NewEncoder(c).Encode(args); err != nil {
		fmt.Fprintf(os.Stderr, "systemctl (test): %v\n", err)
		return 1
	}
	var answer struct {
		Code int
		Out  string
	}
	if err := json.NewDecoder(c).Decode(&answer); err != nil {
		fmt.Fprintf(os.Stderr, "systemctl (test): %v\n", err)
		return 1
	}
	if answer.Out != "" {
		fmt.Fprintln(os.Stderr, answer.Out)
	}
	return answer.Code
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// The systemd units give our commands only variables they read, as compose.yaml's services must: a misspelt one
// would be ignored in silence, and the projector would run on its default.
func TestSystemdUnitsGiveOnlyWhatTheCommandsRead(t *testing.T) {
	units, err := filepath.Glob(filepath.Join("systemd", "*.service"))
	if err != nil || len(units) == 0 {
		t.Fatalf("no units in deploy/systemd: %v", err)
	}
	reads := commandVars(t)
	for _, path := range units {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var cmd string
		var env []string
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
				fields := strings.Fields(v)
				cmd = strings.Join(append([]string{filepath.Base(fields[0])}, fields[1:]...), " ")
			}
			if v, ok := strings.CutPrefix(line, "Environment="); ok {
				name, _, _ := strings.Cut(v, "=")
				env = append(env, name)
			}
		}
		vars, ours := reads[cmd]
		if !ours {
			if len(env) > 0 {
				t.Errorf("%s runs %q, not one of our commands, and sets %v", path, cmd, env)
			}
			continue
		}
		for _, v := range env {
			if !vars[v] {
				t.Errorf("%s gives %s to %q, which does not read it", path, v, cmd)
			}
		}
	}
}
