package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/natsauth"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/units"
)

// natsCLI returns the path of the nats command (v0.5.0, which `make test` installs), failing the test, never
// skipping it, when it is missing.
func natsCLI(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("nats")
	if err != nil {
		t.Fatal("the nats command is not on PATH: run `make test`, which installs it into $EGOV_TOOLS/bin and puts that on PATH")
	}
	out, err := exec.Command(p, "--version").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "v0.5.0" {
		t.Fatalf("nats --version says %q (%v); these tests are written for v0.5.0 (run `make test`)", out, err)
	}
	return p
}

// cli runs the nats command against srv as the credential whose seed is seedFile and public key is key, with the
// inbox prefix that credential may subscribe to; a refusal by permissions shows as a timeout, after timeout.
func cli(t *testing.T, bin string, srv *server.Server, seedFile, key string, timeout time.Duration, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	full := append([]string{"--server", srv.ClientURL(), "--nkey", seedFile, "--inbox-prefix", natsauth.InboxPrefix(key),
		"--timeout", timeout.String()}, args...)
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// createRequest is JetStream's request to create the durable consumer name filtered on filter, as a unit reading its
// own subjects sends it: what the nats command's `consumer add` would send without first asking for the stream's
// information, which only the office and the projector may read.
func createRequest(name, filter string) []string {
	return []string{"req", "$JS.API.CONSUMER.CREATE.EGOV." + name + "." + filter,
		`{"stream_name":"EGOV","config":{"name":"` + name + `","durable_name":"` + name + `","filter_subject":"` + filter +
			`","deliver_policy":"all","ack_policy":"none"}}`}
}

// As every credential generate hands out (the office, the intake API, the projector, a province, a ministry), the
// real nats command cannot shrink, expire, seal, purge, delete or re-create the stream, delete a message, or take a
// consumer name the projector uses or may use with more instances (projector, projector-1-of-2), by the command's
// own verbs or by JetStream's raw requests; afterwards the stream is exactly as the office created it, with every
// event, and has no consumer.
func TestNoGeneratedCredentialCanChangeTheStream(t *testing.T) {
	bin := natsCLI(t)
	dir, _ := generateInto(t)
	srv := serve(t, dir, t.TempDir())
	ctx := context.Background()
	office := connectAs(t, srv, dir, natsauth.OfficeName) // creates the stream
	var envs []event.Envelope
	for _, u := range []units.Ref{{Kind: units.Province, Code: "19"}, {Kind: units.Province, Code: "01"}, {Kind: units.Ministry, Code: "BTTTT"}} {
		envs = append(envs, registered(t, u))
	}
	if _, err := office.Publish(ctx, envs, nil); err != nil {
		t.Fatal(err)
	}
	before := streamInfo(t, office)
	m, err := natsauth.LoadModel(filepath.Join(dir, "nkeys.txt"), "EGOV", "projector")
	if err != nil {
		t.Fatal(err)
	}

	type attempt struct {
		what string
		args []string
	}
	attempts := []attempt{
		{"shrink it to 100 messages", []string{"stream", "edit", "EGOV", "--max-msgs=100", "-f"}},
		{"make its messages expire", []string{"stream", "edit", "EGOV", "--max-age=1m", "-f"}},
		{"re-configure its subjects", []string{"stream", "edit", "EGOV", "--subjects=egov.province.19.>", "-f"}},
		{"seal it", []string{"stream", "seal", "EGOV", "-f"}},
		{"purge it", []string{"stream", "purge", "EGOV", "-f"}},
		{"delete it", []string{"stream", "rm", "EGOV", "-f"}},
		{"delete a message", []string{"stream", "rmm", "EGOV", "1", "-f"}},
		{"create it again holding 100 messages", []string{"stream", "add", "EGOV", "--subjects=egov.>", "--storage=file", "--max-msgs=100", "--defaults"}},
		{"take a future partition's consumer", []string{"consumer", "add", "EGOV", "projector-1-of-2", "--pull", "--defaults"}},
		{"take a future partition's consumer, filtered, by request", createRequest("projector-1-of-2", "egov.province.19.>")},
		{"take the projector's consumer, filtered, by request", createRequest("projector", "egov.province.19.>")},
		{"take the sixteenth of sixteen partitions' consumer, by request", createRequest("projector-16-of-16", "egov.province.19.>")},
	}
	// Every attempt waits for its refusal (a timeout, for the server's permissions): they run side by side.
	var wg sync.WaitGroup
	slots := make(chan struct{}, 12)
	for _, name := range []string{natsauth.OfficeName, natsauth.IntakeName, natsauth.ProjectorName, "province/19", "ministry/BTTTT"} {
		u, _ := m.User(name)
		seed := natsauth.SeedFile(filepath.Join(dir, "secrets"), name)
		tries := attempts
		if name != natsauth.ProjectorName {
			// The projector's own consumer is the projector's to create.
			tries = append(tries, attempt{"take the projector's consumer", []string{"consumer", "add", "EGOV", "projector", "--pull", "--defaults"}})
		}
		for _, a := range tries {
			wg.Go(func() {
				slots <- struct{}{}
				defer func() { <-slots }()
				out, err := cli(t, bin, srv, seed, u.Key, time.Second, a.args...)
				if !refused(out, err) {
					t.Errorf("%s could %s (nats %s):\n%s", name, a.what, strings.Join(a.args, " "), out)
				}
			})
		}
	}
	wg.Wait()
	{
		after := streamInfo(t, office)
		if !reflect.DeepEqual(after.Config, before.Config) {
			t.Errorf("the stream's configuration changed:\n%+v\nwas\n%+v", after.Config, before.Config)
		}
		if after.State.Msgs != uint64(len(envs)) || after.State.LastSeq != before.State.LastSeq {
			t.Errorf("the stream holds %d messages up to %d, want its %d events up to %d", after.State.Msgs, after.State.LastSeq, len(envs), before.State.LastSeq)
		}
		if n := consumers(t, srv); len(n) != 0 {
			t.Errorf("the stream has consumers %v, want none", n)
		}
	}
}

// refused reports whether the nats command run with args was refused, given its output and error: it failed, or it
// printed the server's permissions violation or JetStream's error. (`nats req` exits 0 whatever the answer, and
// `nats stream seal` exits 0 after its update was refused, printing the stream as it is.) What the stream is
// afterwards is checked besides.
func refused(out string, err error) bool {
	return err != nil || strings.Contains(out, "Permissions Violation for Publish to") || strings.Contains(out, `"error":{`)
}

// streamInfo is the stream's configuration and state, as c sees them.
func streamInfo(t *testing.T, c *stream.Conn) *jetstream.StreamInfo {
	t.Helper()
	s, err := c.Stream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// consumers are the names of the stream's consumers, as the server itself knows them.
func consumers(t *testing.T, srv *server.Server) []string {
	t.Helper()
	js, err := srv.Jsz(&server.JSzOptions{Consumer: true})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range js.AccountDetails {
		for _, s := range a.Streams {
			for _, c := range s.Consumer {
				names = append(names, c.Name)
			}
		}
	}
	return names
}

// An operator changes the stream as deploy/nats/README.md says: generate with -operator (which -check then calls
// stale), reload the server, and use the printed credential with the nats command, to change the duplicate window and
// to delete a consumer; the office's credential then says how the stream differs from its settings rather than
// calling it ready. Generated again without -operator and
// reloaded, the server refuses the operator's credential.
func TestAnOperatorChangesTheStream(t *testing.T) {
	bin := natsCLI(t)
	dir, _ := generateInto(t)
	store := t.TempDir()
	srv := serve(t, dir, store)
	connectAs(t, srv, dir, natsauth.OfficeName).Close() // creates the stream

	out := runGenerate(t, dir, "-operator")
	seed := natsauth.SeedFile(filepath.Join(dir, "secrets"), natsauth.OperatorName)
	if !strings.Contains(out, "--nkey "+seed+" --inbox-prefix _INBOX.U") {
		t.Fatalf("generate -operator does not say how to use the operator's credential:\n%s", out)
	}
	key := strings.TrimPrefix(regexpInbox.FindString(out), "_INBOX.")
	if err := (&generator{dir: dir, stream: "EGOV", durable: "projector", check: true}).run(io.Discard); err == nil {
		t.Error("-check passed an auth.conf with the operator's credential in it")
	}
	if err := srv.ReloadOptions(serverOptions(t, dir, store)); err != nil {
		t.Fatal(err)
	}
	if out, err := cli(t, bin, srv, seed, key, 5*time.Second, "stream", "edit", "EGOV", "--dupe-window=5m", "-f"); err != nil || refused(out, err) {
		t.Fatalf("the operator changing the duplicate window: %v\n%s", err, out)
	}
	// An old partition's consumer, which the projector's credential no longer may delete.
	projector := connectAs(t, srv, dir, natsauth.ProjectorName)
	s, err := projector.Stream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateOrUpdateConsumer(context.Background(), jetstream.ConsumerConfig{Durable: "projector", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	if out, err := cli(t, bin, srv, seed, key, 5*time.Second, "consumer", "rm", "EGOV", "projector", "-f"); err != nil || refused(out, err) {
		t.Errorf("the operator deleting a consumer: %v\n%s", err, out)
	}
	if names := consumers(t, srv); len(names) != 0 {
		t.Errorf("after the operator's deletion the stream has consumers %v", names)
	}

	cfg := streamConfig(srv, dir, natsauth.OfficeName)
	_, err = stream.Connect(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if !errors.Is(err, stream.ErrStreamDiffers) || !strings.Contains(err.Error(), "its duplicate window is 5m0s, EGOV_NATS_DUPLICATE_WINDOW says 2m0s") {
		t.Errorf("the office on the changed stream: %v, want it to say how the stream differs", err)
	}
	cfg.DuplicateWindow = 5 * time.Minute
	c, err := stream.Connect(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("the office told the new window: %v", err)
	}
	c.Close()

	runGenerate(t, dir)
	if err := srv.ReloadOptions(serverOptions(t, dir, store)); err != nil {
		t.Fatal(err)
	}
	if out, err := cli(t, bin, srv, seed, key, 5*time.Second, "stream", "info", "EGOV"); err == nil || !strings.Contains(out, "Authorization Violation") {
		t.Errorf("the operator's credential after generating without -operator: %v\n%s", err, out)
	}
}

var regexpInbox = regexp.MustCompile(`_INBOX\.U[A-Z2-7]{55}`)
