package chserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/egovtrack/egovtrack/internal/chdb"
	"github.com/egovtrack/egovtrack/internal/secret"
)

// ErrNoServerBinary is wrapped by FindServerBinary, StartServer and Ensure when no
// clickhouse-server is installed; the wrapping message says how to install one.
var ErrNoServerBinary = errors.New("no clickhouse-server binary found")

// InstallHint tells a developer how to get a ClickHouse server on this project's machines.
const InstallHint = "install it with `apt-get update && apt-get install -y clickhouse-server clickhouse-client` (Debian), " +
	"or set EGOV_CLICKHOUSE_ADDR to a running ClickHouse server"

const (
	// startTimeout bounds the wait for a fresh server to answer a ping; a 2-core
	// machine starts 18.16 in a few seconds, newer servers load more at start.
	startTimeout = 60 * time.Second
	// stopTimeout is how long a server gets to flush and exit after SIGTERM.
	stopTimeout = 10 * time.Second
	// markCacheSize keeps a throwaway server small (the default is 5 GiB).
	markCacheSize = 64 << 20
	// consoleFile gets the server's stdout and stderr: where it reports failures
	// that happen before its logger is set up, such as a bad config.
	consoleFile = "console.log"
	logFile     = "clickhouse-server.log"
	errLogFile  = "clickhouse-server.err.log"
)

// defaultBinaryDirs are searched after PATH: Debian installs clickhouse-server in
// /usr/sbin, which is not on a normal user's PATH.
var defaultBinaryDirs = []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"}

// FindServerBinary returns the path of a clickhouse-server executable, or of the
// `clickhouse` multi-binary (run as `clickhouse server`), looking on PATH and then
// in /usr/sbin, /usr/bin, /usr/local/sbin and /usr/local/bin. When there is none
// it returns an error wrapping ErrNoServerBinary that says how to install one.
func FindServerBinary() (string, error) {
	return findServerBinary(os.Getenv("PATH"), defaultBinaryDirs)
}

func findServerBinary(pathList string, extraDirs []string) (string, error) {
	dirs := append(filepath.SplitList(pathList), extraDirs...)
	// clickhouse-server first: where both exist the multi-binary is usually the client's.
	for _, name := range []string{"clickhouse-server", "clickhouse"} {
		for _, dir := range dirs {
			if dir == "" {
				continue // an empty PATH entry means ".", never a place to run a server from
			}
			p := filepath.Join(dir, name)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%w on PATH or in %s: %s", ErrNoServerBinary, strings.Join(extraDirs, ", "), InstallHint)
}

// Server is a clickhouse-server process that this program started, listening on
// 127.0.0.1 only and keeping everything it writes under Dir. Its methods are safe
// for concurrent use, but Restart makes the server unavailable for a while: tests
// that restart a shared server must not run in parallel with tests using it.
type Server struct {
	log       *slog.Logger
	bin       string
	dir       string
	tcpPort   int
	httpPort  int
	user      string // the user that chdb.Config hands out and that readiness pings use
	password  string
	startedAt time.Time

	mu      sync.Mutex
	running *process // nil when stopped
}

// process is one run of the server binary.
type process struct {
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has exited and been reaped
	waitErr error         // set before done is closed
}

// ServerUser is the account a started server accepts from 127.0.0.1 and ::1.
type ServerUser struct {
	Name, Password string
	// Databases, when not empty, are the only databases the user may use (users.xml's allow_databases), so that
	// tests can provoke an access error; empty allows every one.
	Databases []string
}

// StartServer starts a throwaway clickhouse-server whose config, data and logs all
// live in dir, which is created if missing. Data already in dir is kept, so a
// server started again on the same dir sees the same tables; a dir whose server
// still runs is an error. The server listens on free ports of 127.0.0.1 only and
// StartServer returns once a native ping answers, at most 60 s after the start
// (on a 2-core machine 18.16 answers within about 0.2 s).
//
// The process runs in its own process group and is killed if this program dies;
// call Stop to end it cleanly. Errors wrap ErrNoServerBinary when there is no
// server to run, and include the tail of the server's logs when it fails to start.
func StartServer(ctx context.Context, dir string, log *slog.Logger) (*Server, error) {
	return StartServerAs(ctx, dir, log, ServerUser{Name: "default"})
}

// StartServerAs is StartServer with the one account the server accepts: user, rather than "default" without a
// password. Its chdb.Config hands out that user and password.
func StartServerAs(ctx context.Context, dir string, log *slog.Logger, user ServerUser) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if user.Name == "" {
		user.Name = "default" // as ClickHouse assumes for an empty user name
	}
	bin, err := FindServerBinary()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("start clickhouse server: %w", err)
	}
	if err := checkDirFree(dir); err != nil {
		return nil, fmt.Errorf("start clickhouse server: %w", err)
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, fmt.Errorf("start clickhouse server: %w", err)
	}
	if err := writeServerConfig(dir, ports[0], ports[1], ports[2], user); err != nil {
		return nil, fmt.Errorf("start clickhouse server in %s: %w", dir, err)
	}
	s := &Server{
		log:      log.With("component", "clickhouse-server"),
		bin:      bin,
		dir:      dir,
		tcpPort:  ports[0],
		httpPort: ports[1],
		user:     user.Name,
		password: user.Password,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.startLocked(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Addr is the native protocol address, "127.0.0.1:PORT".
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.tcpPort))
}

// HTTPAddr is the HTTP interface's address, "127.0.0.1:PORT": what Grafana's plugin may use, and how tests read an
// answer as the server writes it.
func (s *Server) HTTPAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.httpPort))
}

// Dir is the directory holding the server's config, data and logs.
func (s *Server) Dir() string { return s.dir }

// Config returns a connection Config for this server and the given database.
func (s *Server) Config(database string) chdb.Config {
	return chdb.Config{
		Addr:        s.Addr(),
		Database:    database,
		User:        s.user,
		Password:    secret.String(s.password),
		DialTimeout: 5 * time.Second,
	}
}

// Stop ends the server: SIGTERM to its process group, then SIGKILL if it has not
// exited within 10 s. Stopping a stopped server does nothing. It returns an error
// only when the process could not be signalled.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked()
}

// Freeze stops the server's processes where they are (SIGSTOP), as a hung machine or a stuck disk would: connections
// stay open and nothing answers. Thaw lets them go on (SIGCONT). For tests of what a frozen ClickHouse looks like.
func (s *Server) Freeze() error { return s.signal(syscall.SIGSTOP) }

// Thaw undoes Freeze.
func (s *Server) Thaw() error { return s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running == nil {
		return errors.New("clickhouse server: not running")
	}
	if err := syscall.Kill(-s.running.cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("clickhouse server: %s: %w", sig, err)
	}
	return nil
}

// Restart stops the server and starts it again on the same directory and ports,
// so clients see an outage and then the same address with the same data.
func (s *Server) Restart(ctx context.Context) error {
	return s.RestartAfter(ctx, 0)
}

// RestartAfter is Restart with an outage of a chosen length: it stops the server,
// keeps it stopped for down, then starts it again on the same directory and ports
// and returns once it answers. Stopping (up to 10 s) and starting again are not
// counted in down, so clients see the server gone for a little longer than that.
// When ctx ends during the outage the server stays stopped and the error says so.
func (s *Server) RestartAfter(ctx context.Context, down time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stopLocked(); err != nil {
		return err
	}
	if down > 0 {
		timer := time.NewTimer(down)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
			return fmt.Errorf("restart clickhouse server %s: %w (it stays stopped)", s.Addr(), ctx.Err())
		}
	}
	return s.startLocked(ctx)
}

// LogTail returns up to n last lines of the server's error log and of its console
// output, for test failure messages. It never fails: unreadable logs are noted.
func (s *Server) LogTail(n int) string {
	var b strings.Builder
	for _, name := range []string{errLogFile, consoleFile} {
		lines, err := tailLines(filepath.Join(s.dir, name), n)
		switch {
		case errors.Is(err, os.ErrNotExist):
			continue
		case err != nil:
			fmt.Fprintf(&b, "--- %s: %v\n", name, err)
		case len(lines) > 0:
			fmt.Fprintf(&b, "--- last %d lines of %s\n%s\n", len(lines), filepath.Join(s.dir, name), strings.Join(lines, "\n"))
		}
	}
	if b.Len() == 0 {
		return "(the server's logs are empty)"
	}
	return b.String()
}

func (s *Server) startLocked(ctx context.Context) error {
	if s.running != nil {
		return nil
	}
	s.startedAt = time.Now()
	p, err := s.launch()
	if err != nil {
		return err
	}
	if err := s.waitReady(ctx, p); err != nil {
		_ = stopProcess(p, 0) // it may be half up; nothing of it must outlive a failed start
		return err
	}
	s.running = p
	s.log.Info("clickhouse server ready", "addr", s.Addr(), "dir", s.dir, "took", time.Since(s.startedAt).Round(time.Millisecond))
	return nil
}

func (s *Server) stopLocked() error {
	p := s.running
	if p == nil {
		return nil
	}
	s.running = nil
	start := time.Now()
	if err := stopProcess(p, stopTimeout); err != nil {
		return fmt.Errorf("stop clickhouse server %s: %w", s.Addr(), err)
	}
	s.log.Info("clickhouse server stopped", "addr", s.Addr(), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// launch starts the binary and a goroutine that reaps it.
func (s *Server) launch() (*process, error) {
	console, err := os.OpenFile(filepath.Join(s.dir, consoleFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start clickhouse server: %w", err)
	}
	var args []string
	if filepath.Base(s.bin) == "clickhouse" {
		args = append(args, "server")
	}
	args = append(args, "--config-file="+filepath.Join(s.dir, "config.xml"))
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	cmd.Stdout = console
	cmd.Stderr = console
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own group, so a ^C meant for `go test` or the demo does not hit the
		// server before Stop, and Stop can signal everything it may have spawned.
		Setpgid: true,
		// A crashed or timed-out test binary must not leave servers behind.
		Pdeathsig: syscall.SIGKILL,
	}

	p := &process{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the OS thread that forked the child exits, not the
		// process; Go may retire idle threads, so the forking goroutine keeps its
		// thread, blocked in Wait, for as long as the server lives.
		runtime.LockOSThread()
		defer console.Close()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start clickhouse server %s: %w", s.bin, err)
	}
	fmt.Fprintf(console, "--- egovtrack started %s pid %d at %s\n", s.bin, cmd.Process.Pid, s.startedAt.Format(time.RFC3339))
	return p, nil
}

// waitReady pings the server until it answers, it exits, or startTimeout passes.
func (s *Server) waitReady(ctx context.Context, p *process) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	cfg := s.Config("")
	cfg.DialTimeout = time.Second
	retry := time.NewTicker(100 * time.Millisecond)
	defer retry.Stop()
	var lastErr error
	for {
		pingCtx, cancelPing := context.WithTimeout(ctx, 2*time.Second)
		conn, err := chdb.Dial(pingCtx, cfg, "", nil)
		cancelPing()
		if err == nil {
			_ = conn.Close()
			return nil
		}
		lastErr = err
		select {
		case <-p.done:
			return fmt.Errorf("clickhouse server %s exited during start (%v): %s", s.Addr(), p.waitErr, s.LogTail(20))
		case <-ctx.Done():
			return fmt.Errorf("clickhouse server %s did not answer within %v (last error: %v): %s",
				s.Addr(), time.Since(s.startedAt).Round(time.Millisecond), lastErr, s.LogTail(20))
		case <-retry.C:
		}
	}
}

// stopProcess sends SIGTERM to p's process group, waits up to grace, then sends
// SIGKILL and waits for the exit.
func stopProcess(p *process, grace time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	pgid := -p.cmd.Process.Pid
	if grace > 0 {
		if err := syscall.Kill(pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("send SIGTERM: %w", err)
		}
		timer := time.NewTimer(grace)
		defer timer.Stop()
		select {
		case <-p.done:
			return nil
		case <-timer.C:
		}
	}
	if err := syscall.Kill(pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("send SIGKILL: %w", err)
	}
	<-p.done
	return nil
}

// checkDirFree fails when a server runs on dir already: starting another would
// rewrite the config under it (ClickHouse reloads users.xml live) and then fail.
// ClickHouse holds an flock on data/status while it runs.
func checkDirFree(dir string) error {
	f, err := os.Open(filepath.Join(dir, "data", "status"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("a clickhouse server is already running in %s", dir)
		}
		return fmt.Errorf("check %s: %w", f.Name(), err)
	}
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}

// freePorts returns n distinct TCP ports that were free on 127.0.0.1. All n
// listeners stay open until the end so the kernel cannot hand out one port twice.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// validUserName matches names that can be XML element names in users.xml.
var validUserName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// serverConfigXML is config.xml. The root element is <yandex>, which 18.16
// requires and newer servers still accept.
type serverConfigXML struct {
	XMLName xml.Name `xml:"yandex"`
	Logger  struct {
		Level    string `xml:"level"`
		Log      string `xml:"log"`
		ErrorLog string `xml:"errorlog"`
		Size     string `xml:"size"`
		Count    int    `xml:"count"`
		Console  int    `xml:"console"`
	} `xml:"logger"`
	ListenHost            string `xml:"listen_host"`
	TCPPort               int    `xml:"tcp_port"`
	HTTPPort              int    `xml:"http_port"`
	InterserverHTTPPort   int    `xml:"interserver_http_port"`
	InterserverHTTPHost   string `xml:"interserver_http_host"`
	Path                  string `xml:"path"`
	TmpPath               string `xml:"tmp_path"`
	UserFilesPath         string `xml:"user_files_path"`
	FormatSchemaPath      string `xml:"format_schema_path"`
	MarkCacheSize         int64  `xml:"mark_cache_size"`
	UncompressedCacheSize int64  `xml:"uncompressed_cache_size"`
	UsersConfig           string `xml:"users_config"`
	DefaultProfile        string `xml:"default_profile"`
	DefaultDatabase       string `xml:"default_database"`
	Timezone              string `xml:"timezone"`
}

type usersXML struct {
	XMLName  xml.Name `xml:"yandex"`
	Profiles struct {
		Default struct {
			// How often, in seconds, an idle connection's handler checks for
			// shutdown. With the default 10, an 18.16 server with an idle client
			// (any open pool) did not exit within 10 s of SIGTERM; with 1 it
			// exits in about 1 s.
			PollInterval int `xml:"poll_interval"`
		} `xml:"default"`
	} `xml:"profiles"`
	Users struct {
		User userXML
	} `xml:"users"`
	Quotas struct {
		Default struct{} `xml:"default"`
	} `xml:"quotas"`
}

type userXML struct {
	XMLName  xml.Name // the user's name is the element's name
	Password *string  `xml:"password,omitempty"`
	// A hash rather than the password itself, as the file stays on disk.
	PasswordSHA256 string   `xml:"password_sha256_hex,omitempty"`
	Networks       []string `xml:"networks>ip"`
	Profile        string   `xml:"profile"`
	Quota          string   `xml:"quota"`
	AllowDatabases []string `xml:"allow_databases>database,omitempty"`
}

// writeServerConfig writes dir/config.xml and dir/users.xml and the directories they name.
func writeServerConfig(dir string, tcpPort, httpPort, interserverPort int, user ServerUser) error {
	if !validUserName.MatchString(user.Name) {
		return fmt.Errorf("user name %q cannot be written to users.xml", user.Name)
	}
	sub := func(name string) string { return filepath.Join(dir, name) + string(filepath.Separator) }

	var c serverConfigXML
	c.Logger.Level = "information"
	c.Logger.Log = filepath.Join(dir, logFile)
	c.Logger.ErrorLog = filepath.Join(dir, errLogFile)
	c.Logger.Size = "50M"
	c.Logger.Count = 1
	c.ListenHost = "127.0.0.1"
	c.TCPPort = tcpPort
	c.HTTPPort = httpPort
	c.InterserverHTTPPort = interserverPort
	c.InterserverHTTPHost = "127.0.0.1"
	c.Path = sub("data")
	c.TmpPath = sub("tmp")
	c.UserFilesPath = sub("user_files")
	c.FormatSchemaPath = sub("format_schemas")
	c.MarkCacheSize = markCacheSize
	c.UncompressedCacheSize = markCacheSize
	c.UsersConfig = "users.xml"
	c.DefaultProfile = "default"
	c.DefaultDatabase = "default"
	// UTC whatever the machine says, so tests do not depend on where they run;
	// egovtrack's tables name Asia/Ho_Chi_Minh where they need it.
	c.Timezone = "UTC"

	var u usersXML
	u.Profiles.Default.PollInterval = 1
	u.Users.User = userXML{
		XMLName:        xml.Name{Local: user.Name},
		Networks:       []string{"127.0.0.1", "::1"},
		Profile:        "default",
		Quota:          "default",
		AllowDatabases: user.Databases,
	}
	if user.Password == "" {
		empty := ""
		u.Users.User.Password = &empty
	} else {
		sum := sha256.Sum256([]byte(user.Password))
		u.Users.User.PasswordSHA256 = hex.EncodeToString(sum[:])
	}

	for _, d := range []string{c.Path, c.TmpPath, c.UserFilesPath, c.FormatSchemaPath} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for name, v := range map[string]any{"config.xml": c, "users.xml": u} {
		out, err := xml.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Errorf("render %s: %w", name, err)
		}
		// users.xml may hold a password hash: keep it to the owner.
		if err := os.WriteFile(filepath.Join(dir, name), append(out, '\n'), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// tailLines returns the last n lines of the file at path, reading at most its
// last 256 KiB so a long-lived log costs nothing much.
func tailLines(path string, n int) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	const window = 256 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > window {
		if _, err := f.Seek(-window, io.SeekEnd); err != nil {
			return nil, err
		}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(bytes.TrimRight(data, "\n")), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return nil, nil
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines, nil
}
