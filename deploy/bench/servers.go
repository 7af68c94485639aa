package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/egovtrack/egovtrack/internal/chdb"
	"github.com/egovtrack/egovtrack/internal/natsauth"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/embedded"
)

// natsPhase is an embedded NATS server of one step, on a store directory of its own (file storage), and a connection
// to it that manages the EGOV stream as the collectors' does. Each step starts with an empty stream.
type natsPhase struct {
	srv  *embedded.Server
	conn *stream.Conn
	dir  string
	// With the authorisation model (startSignedNATS): pub publishes as the office, signed; conn is the projector's
	// credential, which alone may look at the projector's consumer; env gives the projector its seed. Nil otherwise.
	pub *stream.Conn
	env []string
}

// publisher is the connection events are published on.
func (p *natsPhase) publisher() *stream.Conn {
	if p.pub != nil {
		return p.pub
	}
	return p.conn
}

// startSignedNATS is startNATS under the authorisation model of the credentials in keys (natsauth.EnsureKeys): the
// office publishes, signing every event, and the projector consumes as itself, as deployed.
func (b *bench) startSignedNATS(ctx context.Context, name, keys string) (*natsPhase, error) {
	dir := filepath.Join(b.dir, "nats-"+name)
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	pub, err := natsauth.ReadKeys(filepath.Join(keys, "nkeys.txt"))
	if err != nil {
		return nil, err
	}
	auth, err := natsauth.New(pub, "EGOV", "projector")
	if err != nil {
		return nil, err
	}
	cfg := stream.Config{StoreDir: dir, Port: -1, Stream: "EGOV", Replicas: 1, DuplicateWindow: 2 * time.Minute,
		ConnectTimeout: 10 * time.Second}
	sc := cfg.EmbeddedServer()
	sc.Auth, sc.Log = auth, b.quiet()
	srv, err := embedded.Start(sc)
	if err != nil {
		return nil, err
	}
	cfg.URL = srv.ClientURL()
	office, projector := cfg, cfg
	office.NkeySeedFile, office.ManageStream = natsauth.SeedFile(keys, natsauth.OfficeName), true
	projector.NkeySeedFile = natsauth.SeedFile(keys, natsauth.ProjectorName)
	p := &natsPhase{srv: srv, dir: dir, env: []string{"EGOV_NATS_NKEY_SEED_FILE=" + projector.NkeySeedFile}}
	if p.pub, err = stream.Connect(ctx, office, b.quiet()); err == nil {
		p.conn, err = stream.Connect(ctx, projector, b.quiet())
	}
	if err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func (b *bench) quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func (b *bench) startNATS(ctx context.Context, name string) (*natsPhase, error) {
	dir := filepath.Join(b.dir, "nats-"+name)
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	cfg := stream.Config{StoreDir: dir, Port: -1, Stream: "EGOV", Replicas: 1, DuplicateWindow: 2 * time.Minute,
		ConnectTimeout: 10 * time.Second}
	srv, err := embedded.Start(cfg.EmbeddedServer())
	if err != nil {
		return nil, err
	}
	cfg.URL = srv.ClientURL()
	conn, err := stream.Connect(ctx, cfg, b.quiet())
	if err != nil {
		srv.Stop()
		return nil, err
	}
	return &natsPhase{srv: srv, conn: conn, dir: dir}, nil
}

func (p *natsPhase) close() {
	for _, c := range []*stream.Conn{p.pub, p.conn} {
		if c != nil {
			c.Close()
		}
	}
	p.srv.Stop()
	os.RemoveAll(p.dir)
}

// pending is how many of the stream's messages the durable consumer has not acknowledged yet; false when it does
// not exist (yet).
func (p *natsPhase) pending(ctx context.Context, durable string) (uint64, bool) {
	ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := p.conn.Stream(ictx)
	if err != nil {
		return 0, false
	}
	c, err := s.Consumer(ictx, durable)
	if err != nil {
		return 0, false
	}
	ci, err := c.Info(ictx)
	if err != nil {
		return 0, false
	}
	return ci.NumPending + uint64(ci.NumAckPending), true
}

// acked counts, for watch, how many of the total messages the durable consumer has acknowledged so far.
func (p *natsPhase) acked(ctx context.Context, durable string, total uint64) func() uint64 {
	return func() uint64 {
		left, ok := p.pending(ctx, durable)
		if !ok {
			return 0
		}
		return total - min(left, total)
	}
}

func (p *natsPhase) stream(ctx context.Context) (jetstream.Stream, error) { return p.conn.Stream(ctx) }

// process is a projector running as a child process.
type process struct {
	name    string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
	logPath string
	began   time.Time
}

// startProjector runs the projector binary with args against the phase's NATS server and a ClickHouse database. It
// dies with the benchmark (Pdeathsig).
func (b *bench) startProjector(name string, p *natsPhase, ch chdb.Config, env []string, args ...string) (*process, error) {
	logPath := filepath.Join(b.cfg.Out, "projector-"+name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(b.projector, args...)
	cmd.Env = append(os.Environ(),
		"EGOV_NATS_URL="+p.srv.ClientURL(),
		"EGOV_NATS_STREAM=EGOV",
		"EGOV_CLICKHOUSE_ADDR="+ch.Addr,
		"EGOV_CLICKHOUSE_DATABASE="+ch.Database,
		"EGOV_CLICKHOUSE_USER="+ch.User,
		"EGOV_CLICKHOUSE_PASSWORD="+ch.Password.Reveal(),
		"EGOV_PROJECTOR_METRICS_ADDR=off",
		"EGOV_LOG_LEVEL=warn",
	)
	cmd.Env = append(append(cmd.Env, p.env...), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pr := &process{name: name, cmd: cmd, done: make(chan struct{}), logPath: logPath}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the forking thread exits: keep it for the child's life.
		runtime.LockOSThread()
		defer logf.Close()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		pr.began = time.Now()
		started <- nil
		pr.err = cmd.Wait()
		close(pr.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start projector %s: %w", strings.Join(args, " "), err)
	}
	return pr, nil
}

// stop sends SIGTERM (the projector writes its batch in flight) and waits for the exit, killing it after grace.
func (pr *process) stop(grace time.Duration) {
	select {
	case <-pr.done:
		return
	default:
	}
	_ = pr.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-pr.done:
	case <-time.After(grace):
		_ = pr.cmd.Process.Kill()
		<-pr.done
	}
}

// memory reads a process's resident set now and its peak (VmRSS, VmHWM), in KiB.
func memory(pid int) (rss, hwm uint64, err error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm, sc.Err()
}

// watched is what watching a projector run saw.
type watched struct {
	Elapsed time.Duration
	Done    uint64 // messages acknowledged at the end
	PeakKB  uint64 // VmHWM, the kernel's own peak of the resident set
	Capped  bool   // stopped at the cap rather than finished
	// MaxStall is the longest time the run acknowledged nothing while messages were left.
	MaxStall time.Duration
	ExitErr  error
	Progress []progressPoint
}

// watch samples a projector run every second until it exits or until cap, when it is stopped. done reports how many
// messages are finished; finished, when not nil, ends the watch early (the run itself goes on).
func (b *bench) watch(ctx context.Context, pr *process, limit time.Duration, done func() uint64, finished func(uint64) bool) watched {
	var w watched
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	lastLog := time.Now()
	var lastDone uint64
	lastMoved := time.Now()
	sample := func() {
		n := done()
		w.Done = n
		if n != lastDone || (finished != nil && finished(n)) {
			lastDone, lastMoved = n, time.Now()
		} else if stall := time.Since(lastMoved); stall > w.MaxStall {
			w.MaxStall = stall
		}
		rss, hwm, err := memory(pr.cmd.Process.Pid)
		if err == nil && hwm > w.PeakKB {
			w.PeakKB = hwm
		}
		w.Progress = append(w.Progress, progressPoint{Seconds: time.Since(pr.began).Seconds(), Done: n, RSSKB: rss})
		if time.Since(lastLog) > 15*time.Second {
			lastLog = time.Now()
			b.log.Info("projector", "run", pr.name, "done", n, "rss_mb", rss/1024, "elapsed", time.Since(pr.began).Round(time.Second))
		}
	}
	for {
		select {
		case <-pr.done:
			w.Elapsed = time.Since(pr.began)
			w.Done = done()
			w.ExitErr = pr.err
			return w
		case <-ctx.Done():
			pr.stop(time.Minute)
			w.Elapsed = time.Since(pr.began)
			w.ExitErr = ctx.Err()
			return w
		case <-deadline.C:
			sample()
			w.Elapsed = time.Since(pr.began)
			w.Capped = true
			b.log.Warn("projector run capped: stopping it", "run", pr.name, "after", limit, "done", w.Done)
			pr.stop(2 * time.Minute)
			w.Done = done()
			return w
		case <-tick.C:
			sample()
			if finished != nil && finished(w.Done) {
				w.Elapsed = time.Since(pr.began)
				return w
			}
		}
	}
}

// rateBetween is the rate of a run's progress between two moments (seconds since its start).
func rateBetween(pts []progressPoint, from, to float64) float64 {
	var a, z *progressPoint
	for i := range pts {
		p := &pts[i]
		if a == nil && p.Seconds >= from {
			a = p
		}
		if p.Seconds <= to {
			z = p
		}
	}
	if a == nil || z == nil || z.Seconds <= a.Seconds {
		return 0
	}
	return float64(z.Done-a.Done) / (z.Seconds - a.Seconds)
}
