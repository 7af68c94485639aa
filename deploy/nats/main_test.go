package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/natsauth"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/units"
)

// The committed auth.conf is what nkeys.txt and units.csv give: after a change of units.csv, generate again.
func TestCommittedConfigIsCurrent(t *testing.T) {
	g := &generator{dir: ".", stream: "EGOV", durable: "projector", check: true}
	if err := g.run(io.Discard); err != nil {
		t.Fatal(err)
	}
	keys, err := natsauth.ReadKeys("nkeys.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(natsauth.Names()) {
		t.Errorf("nkeys.txt lists %d credentials, the model has %d", len(keys), len(natsauth.Names()))
	}
}

// generateInto runs generate into a copy of deploy/nats in a temporary directory, and returns it.
func generateInto(t *testing.T, args ...string) (dir string, out string) {
	t.Helper()
	dir = t.TempDir()
	conf, err := os.ReadFile("nats-server.conf")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nats-server.conf"), conf, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, runGenerate(t, dir, args...)
}

func runGenerate(t *testing.T, dir string, args ...string) string {
	t.Helper()
	g, err := parseFlags(append([]string{"-dir", dir, "-secrets", filepath.Join(dir, "secrets")}, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := g.run(&out); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// A real nats-server started from nats-server.conf has JetStream with the durable setting and exactly the model's
// users and permissions: a province publishes its own events and not another's.
func TestServerFromTheConfigFile(t *testing.T) {
	dir, _ := generateInto(t)
	opts, err := server.ProcessConfigFile(filepath.Join(dir, "nats-server.conf"))
	if err != nil {
		t.Fatalf("nats-server would not read the configuration: %v", err)
	}
	if !opts.JetStream || !opts.SyncAlways {
		t.Errorf("jetstream %t, sync always %t: want both", opts.JetStream, opts.SyncAlways)
	}
	m, err := natsauth.LoadModel(filepath.Join(dir, "nkeys.txt"), "EGOV", "projector")
	if err != nil {
		t.Fatal(err)
	}
	retired, err := (&generator{}).retired()
	if err != nil {
		t.Fatal(err)
	}
	if len(opts.Nkeys) != len(m.Users)-len(retired) || !retired["province/27"] || retired["province/24"] {
		t.Fatalf("the configuration has %d users, the model %d of which %d retired (merged away): %v", len(opts.Nkeys), len(m.Users), len(retired), retired)
	}
	for _, nk := range opts.Nkeys {
		u, ok := m.Lookup(nk.Nkey)
		if !ok {
			t.Fatalf("user %s is not in the model", nk.Nkey)
		}
		if retired[u.Name] {
			t.Errorf("%s, merged away, may still connect", u.Name)
		}
		want := m.Permissions(u)
		got := nk.Permissions
		if got == nil || !reflect.DeepEqual(got.Publish, want.Publish) || !reflect.DeepEqual(got.Subscribe, want.Subscribe) {
			t.Errorf("%s: the file gives %+v %+v, the model %+v %+v", u.Name, got.Publish, got.Subscribe, want.Publish, want.Subscribe)
		}
	}

	// The same file, run.
	srv := serve(t, dir, t.TempDir())
	ctx := context.Background()
	connectAs(t, srv, dir, natsauth.OfficeName) // creates the stream
	// The Ministry of Information and Communications was merged into the Ministry of Science and Technology on
	// 1 March 2025: its credential is refused; the merged ministry's is not.
	if c, err := stream.Connect(ctx, streamConfig(srv, dir, "ministry/BTTTT"), slog.New(slog.DiscardHandler)); err == nil {
		c.Close()
		t.Error("ministry/BTTTT, merged away, connects")
	}
	c := connectAs(t, srv, dir, "ministry/BKHCN")
	mine, other := registered(t, units.Ref{Kind: units.Ministry, Code: "BKHCN"}), registered(t, units.Ref{Kind: units.Province, Code: "19"})
	if _, err := c.Publish(ctx, []event.Envelope{mine}, nil); err != nil {
		t.Errorf("the ministry publishing its own event: %v", err)
	}
	if _, err := c.Publish(ctx, []event.Envelope{other}, nil); !errors.Is(err, nats.ErrPermissionViolation) {
		t.Errorf("the ministry publishing a province's event: %v, want a permissions violation", err)
	}
}

// serve runs a nats-server from dir's nats-server.conf, as `nats-server -c` would, but on a free port of loopback,
// without monitoring, storing into store; it stops when the test ends.
func serve(t *testing.T, dir, store string) *server.Server {
	t.Helper()
	opts := serverOptions(t, dir, store)
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(5 * time.Second) {
		t.Fatal("not ready")
	}
	return srv
}

// serverOptions are the options of dir's nats-server.conf, on a free port of loopback, without monitoring, storing
// into store.
func serverOptions(t *testing.T, dir, store string) *server.Options {
	t.Helper()
	opts, err := server.ProcessConfigFile(filepath.Join(dir, "nats-server.conf"))
	if err != nil {
		t.Fatalf("nats-server would not read the configuration: %v", err)
	}
	opts.Host, opts.Port, opts.HTTPHost, opts.HTTPPort, opts.StoreDir, opts.NoSigs = "127.0.0.1", -1, "", 0, store, true
	return opts
}

// connectAs connects to srv as the credential name, whose seed generate wrote into dir/secrets; the office's
// connection makes sure of the stream, as its deployment does.
func connectAs(t *testing.T, srv *server.Server, dir, name string) *stream.Conn {
	t.Helper()
	c, err := stream.Connect(context.Background(), streamConfig(srv, dir, name), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("connect as %s: %v", name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func streamConfig(srv *server.Server, dir, name string) stream.Config {
	return stream.Config{URL: srv.ClientURL(), Stream: "EGOV", Replicas: 1, DuplicateWindow: 2 * time.Minute, ConnectTimeout: 5 * time.Second,
		NkeySeedFile: natsauth.SeedFile(filepath.Join(dir, "secrets"), name), ManageStream: name == natsauth.OfficeName}
}

func registered(t *testing.T, u units.Ref) event.Envelope {
	t.Helper()
	env, err := event.New("/test", &event.ProcedureRegisteredData{Unit: u, Procedure: "1.000001", Name: "Thủ tục", Sector: "Khác",
		Eligible: true, Level: 4, EffectiveAt: time.Date(2021, 7, 1, 9, 0, 0, 0, event.Vietnam)})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// Generating again changes nothing; -rekey changes the keys it names, and only those; a key whose seed is elsewhere
// is kept; a seed file is readable by its owner alone.
func TestGenerateKeepsKeys(t *testing.T) {
	dir, out := generateInto(t)
	if n := strings.Count(out, ": new key"); n != len(natsauth.Names()) {
		t.Errorf("the first run made %d keys, want %d:\n%s", n, len(natsauth.Names()), out)
	}
	first, err := natsauth.ReadKeys(filepath.Join(dir, "nkeys.txt"))
	if err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(filepath.Join(dir, "auth.conf"))
	if err != nil {
		t.Fatal(err)
	}
	seed := natsauth.SeedFile(filepath.Join(dir, "secrets"), "province/19")
	if fi, err := os.Stat(seed); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("seed file %s: %v, mode %v; want 0600", seed, err, fi.Mode().Perm())
	}
	if fi, err := os.Stat(filepath.Join(dir, "secrets")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("secrets dir: %v, want 0700", fi.Mode().Perm())
	}
	if seedLike.Match(conf) {
		t.Error("auth.conf holds something like a seed")
	}

	if out := runGenerate(t, dir); !strings.HasPrefix(out, fmt.Sprintf("%d credentials (36 retired, merged away by %s): wrote ", len(natsauth.Names()), time.Now().In(event.Vietnam).Format(time.DateOnly))+filepath.Join(dir, "nkeys.txt")+" and "+filepath.Join(dir, "auth.conf")+"; seeds are in "+filepath.Join(dir, "secrets")+" (never commit them)\nA running nats-server") {
		t.Errorf("generating again reported changes:\n%s", out)
	}
	again, _ := os.ReadFile(filepath.Join(dir, "auth.conf"))
	if !bytes.Equal(conf, again) {
		t.Error("generating again changed auth.conf")
	}

	// The office's seed handed over and removed from here: its key stays.
	if err := os.Remove(natsauth.SeedFile(filepath.Join(dir, "secrets"), "office")); err != nil {
		t.Fatal(err)
	}
	runGenerate(t, dir, "-rekey", "province/19")
	after, err := natsauth.ReadKeys(filepath.Join(dir, "nkeys.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for name, k := range first {
		if changed := after[name] != k; changed != (name == "province/19") {
			t.Errorf("%s: key changed %t after -rekey province/19", name, changed)
		}
	}
	if _, err := os.Stat(natsauth.SeedFile(filepath.Join(dir, "secrets"), "office")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a seed was made for the office, whose key is listed")
	}
	if err := (&generator{dir: dir, stream: "EGOV", durable: "projector", check: true}).run(io.Discard); err != nil {
		t.Errorf("-check after generating: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "auth.conf"), conf, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := (&generator{dir: dir, stream: "EGOV", durable: "projector", check: true}).run(io.Discard); err == nil {
		t.Error("-check passed a stale auth.conf")
	}
}

// seedLike is an nkey user seed.
var seedLike = regexp.MustCompile(`\bSU[A-Z2-7]{56}\b`)

func TestFlags(t *testing.T) {
	for _, args := range [][]string{{"-rekey", "province/99"}, {"-check", "-rekey", "all"}, {"-check", "-operator"},
		{"-partitions", "0"}, {"-partitions", "17"}, {"extra"}} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}

// generate refuses a directory that is not there rather than make one that no server reads, and says that what it
// wrote is in force only once the server reloads.
func TestGenerateSaysWhatItDid(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "deploy", "nats")
	g, err := parseFlags([]string{"-dir", missing, "-secrets", filepath.Join(missing, "secrets")}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.run(io.Discard); err == nil || !strings.Contains(err.Error(), "is not a directory here") {
		t.Errorf("generate into %s: %v, want a refusal", missing, err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s was made (%v)", missing, err)
	}
	_, out := generateInto(t, "-rekey", "province/19")
	for _, want := range []string{"province/19: new key, seed in", "nats-server --signal reload", "docker compose restart nats"} {
		if !strings.Contains(out, want) {
			t.Errorf("the output does not say %q:\n%s", want, out)
		}
	}
}
