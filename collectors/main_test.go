package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/egovtrack/egovtrack/collectors/intake"
	"github.com/egovtrack/egovtrack/collectors/lineage"
	"github.com/egovtrack/egovtrack/collectors/poll"
	"github.com/egovtrack/egovtrack/internal/envdoc"
	"github.com/egovtrack/egovtrack/internal/natsauth"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
)

// Every variable the command reads is in the README's configuration table, with its default.
func TestREADMEDocumentsConfiguration(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	all := struct {
		Main  config
		Poll  poll.Config   `envPrefix:"EGOV_POLL_"`
		Serve intake.Config `envPrefix:"EGOV_SERVE_"`
	}{}
	for _, v := range envdoc.Missing(string(b), envdoc.Vars(all)) {
		t.Errorf("README.md lacks the row | `%s` | `%s` | …", v.Name, v.Default)
	}
}

// invocation is one command line of a collector, with the environment it runs in.
type invocation struct {
	name string
	args []string
	env  map[string]string
}

// template is the officer's spreadsheet, as the README has them import it.
var template, _ = filepath.Abs("sheet/templates/danh-muc-thu-tuc.xlsx")

// dossierExport is the one-stop shop's export of dossiers/README.md.
var dossierExport, _ = filepath.Abs("dossiers/testdata/ho-so-thang-7.csv")

// everyCommand is every command that talks to the stream, as a unit, the office or a deployment runs it: with
// what each needs besides NATS. portal serves the poller's document.
func everyCommand(t *testing.T, portal string) []invocation {
	tokens := filepath.Join(t.TempDir(), "tokens.txt")
	if err := os.WriteFile(tokens, []byte("province/19 "+strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []invocation{
		{name: "sheet", args: []string{"sheet", "--unit", "province/19", template}},
		{name: "dossiers", args: []string{"dossiers", "--unit", "province/19", dossierExport}},
		{name: "poll", args: []string{"poll"}, env: map[string]string{
			"EGOV_POLL_URL": portal, "EGOV_POLL_UNIT": "province/19", "EGOV_POLL_INTERVAL": "0", "EGOV_POLL_RETRIES": "0"}},
		{name: "simulate", args: []string{"simulate"}, env: map[string]string{"EGOV_SIM_EVENTS": "20"}},
		{name: "serve", args: []string{"serve"}, env: map[string]string{
			"EGOV_SERVE_TOKENS_FILE": tokens, "EGOV_SERVE_ADDR": "127.0.0.1:0"}},
		{name: "stream", args: []string{"stream"}},
		{name: "lineage", args: []string{"lineage"}},
	}
}

// run runs the command in this process, as main would, with env on top of a NATS environment emptied of what the
// developer's shell may hold; it returns the exit code and what was written to stdout and stderr.
func (inv invocation) run(t *testing.T, env map[string]string) (int, string, string) {
	t.Helper()
	for _, k := range []string{"EGOV_NATS_URL", "EGOV_NATS_EMBEDDED", "EGOV_NATS_NKEY_SEED_FILE", "EGOV_NATS_MANAGE_STREAM"} {
		t.Setenv(k, "")
	}
	for _, e := range []map[string]string{inv.env, env} {
		for k, v := range e {
			t.Setenv(k, v)
		}
	}
	// serve would run until stopped: a minute is the bound of any test here.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, inv.args, strings.NewReader(""), &stdout, &stderr)
	t.Logf("collectors %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(inv.args, " "), code, stdout.String(), stderr.String())
	return code, stdout.String(), stderr.String()
}

// success is what a command says when it believes it has delivered: none may say it of a server that did not
// acknowledge, nor of one it made up.
var success = regexp.MustCompile(`Published \d|events published|events acknowledged|simulation published|stream ready|msg=submitted|intake API listening`)

// No command that talks to the stream falls back to a private embedded server: without EGOV_NATS_URL each refuses,
// naming the variable to set, exits 2 and starts nothing (no .demo/nats appears where it ran). Asking for the
// embedded server beside a URL is refused too.
func TestCommandsRefuseWithoutAServer(t *testing.T) {
	t.Chdir(t.TempDir())
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no URL", nil, "EGOV_NATS_URL is not set"},
		{"a URL and the embedded server", map[string]string{"EGOV_NATS_URL": "nats://127.0.0.1:4222", "EGOV_NATS_EMBEDDED": "true"},
			"EGOV_NATS_URL and EGOV_NATS_EMBEDDED=true"},
	}
	for _, c := range cases {
		for _, inv := range everyCommand(t, "http://127.0.0.1:9/catalogue.json") {
			t.Run(c.name+"/"+inv.name, func(t *testing.T) {
				code, stdout, stderr := inv.run(t, c.env)
				if code != exitUsage {
					t.Errorf("exit %d, want %d", code, exitUsage)
				}
				if !strings.Contains(stderr, c.want) {
					t.Errorf("stderr does not say %q", c.want)
				}
				if success.MatchString(stdout + stderr) {
					t.Errorf("it says it succeeded")
				}
				if inv.name != "serve" && inv.name != "stream" && !strings.Contains(stderr, "Nothing was sent.") {
					t.Errorf("stderr does not say that nothing was sent")
				}
				if _, err := os.Stat(".demo"); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf(".demo exists (%v): an embedded server was started", err)
				}
			})
		}
	}
}

// A server that stores without acknowledging (a stream with no_ack) is not a delivery: every publishing command,
// holding its real credential, exits 1 within EGOV_NATS_PUBLISH_RETRY_FOR and never says it published.
func TestCommandsFailWhenTheServerDoesNotAck(t *testing.T) {
	readme, err := os.ReadFile("poll/README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := regexp.MustCompile("(?s)```json\n(.*?)```").FindSubmatch(readme)
	if doc == nil {
		t.Fatal("poll/README.md has no ```json example")
	}
	portal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc[1])
	}))
	t.Cleanup(portal.Close)

	credential := map[string]string{"sheet": "province/19", "dossiers": "province/19", "poll": "province/19", "simulate": natsauth.OfficeName, "lineage": natsauth.OfficeName}
	for _, inv := range everyCommand(t, portal.URL) {
		name, ok := credential[inv.name]
		if !ok {
			continue // serve answers 503 then (collectors/intake's TestStreamUnavailable); stream publishes nothing
		}
		t.Run(inv.name, func(t *testing.T) {
			srv := noAckServer(t) // each its own: the server keeps what it does not acknowledge
			began := time.Now()
			code, stdout, stderr := inv.run(t, map[string]string{
				"EGOV_NATS_URL":               srv.Config().URL,
				"EGOV_NATS_NKEY_SEED_FILE":    natsauth.SeedFile(srv.Keys, name),
				"EGOV_NATS_CONNECT_TIMEOUT":   "300ms",
				"EGOV_NATS_PUBLISH_RETRY_FOR": "1s",
			})
			if code != exitFailed {
				t.Errorf("exit %d, want %d", code, exitFailed)
			}
			if success.MatchString(stdout + stderr) {
				t.Errorf("it says it succeeded")
			}
			if !strings.Contains(stderr, "not acknowledged by stream EGOV") {
				t.Errorf("stderr does not say the events were not acknowledged")
			}
			if (inv.name == "sheet" || inv.name == "dossiers") && !strings.Contains(stdout, "PUBLISHING FAILED: the stream acknowledged 0 of the") {
				t.Errorf("the officer is not told that publishing failed")
			}
			t.Logf("failed after %s", time.Since(began).Round(time.Millisecond))
		})
	}
}

// noAckServer is a server running the authorisation model whose stream stores without acknowledging (JetStream's
// no_ack), as a misconfigured or failing server would.
func noAckServer(t *testing.T) *streamtest.AuthServer {
	t.Helper()
	srv := streamtest.StartAuth(t)
	// Changing the stream is an operator's act: no service's credential may.
	sc := stream.StreamConfig(srv.As(natsauth.OfficeName))
	sc.NoAck = true
	if _, err := streamtest.Dial(t, srv.As(natsauth.OperatorName)).JS.UpdateStream(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	return srv
}

// `collectors stream`, as the office, says "stream ready" only of a stream as specified. Of one an operator changed
// (sealed, cut to fewer messages, deduplicating over another window than EGOV_NATS_DUPLICATE_WINDOW says) it says how
// it differs and that the office may not change it, exits 1, and leaves it as it is.
func TestStreamSaysWhatItCannotChange(t *testing.T) {
	var streamCmd invocation
	for _, inv := range everyCommand(t, "") {
		if inv.name == "stream" {
			streamCmd = inv
		}
	}
	for _, tc := range []struct {
		name   string
		change func(*jetstream.StreamConfig)
		env    map[string]string
		want   string // in stderr; "" for a stream as specified
	}{
		{name: "as specified"},
		{name: "sealed", change: func(c *jetstream.StreamConfig) { c.Sealed = true }, want: "it is sealed: it stores no event, ever again"},
		{name: "cut to 100 messages", change: func(c *jetstream.StreamConfig) { c.MaxMsgs = 100 }, want: "its max_msgs is 100, want no limit"},
		{name: "another duplicate window", env: map[string]string{"EGOV_NATS_DUPLICATE_WINDOW": "5m"},
			want: "its duplicate window is 2m0s, EGOV_NATS_DUPLICATE_WINDOW says 5m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := streamtest.StartAuth(t)
			operator, err := stream.Connect(context.Background(), srv.As(natsauth.OperatorName), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer operator.Close()
			s, err := operator.Stream(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if tc.change != nil {
				sc := s.CachedInfo().Config
				tc.change(&sc)
				if _, err := streamtest.Dial(t, srv.As(natsauth.OperatorName)).JS.UpdateStream(context.Background(), sc); err != nil {
					t.Fatal(err)
				}
			}
			before, err := s.Info(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			env := map[string]string{"EGOV_NATS_URL": srv.Config().URL, "EGOV_NATS_NKEY_SEED_FILE": natsauth.SeedFile(srv.Keys, natsauth.OfficeName)}
			for k, v := range tc.env {
				env[k] = v
			}
			code, stdout, stderr := streamCmd.run(t, env)
			if tc.want == "" {
				if code != exitOK || !strings.Contains(stderr, "stream ready") {
					t.Errorf("exit %d, want %d and stream ready", code, exitOK)
				}
				return
			}
			if code != exitFailed || success.MatchString(stdout+stderr) {
				t.Errorf("exit %d, want %d, without saying the stream is ready", code, exitFailed)
			}
			for _, want := range []string{tc.want, "The office's credential creates the stream but may not change it", "an operator changes it"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr does not say %q", want)
				}
			}
			after, err := s.Info(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(after.Config, before.Config) {
				t.Errorf("the stream was changed: %+v, was %+v", after.Config, before.Config)
			}
		})
	}
}

// The office publishes the 2025 reorganisation once: again, JetStream stores nothing new. A unit's credential cannot
// publish it (a province cannot declare itself merged), and a file with one bad line sends nothing at all.
func TestLineageIsTheOfficesAndIdempotent(t *testing.T) {
	srv := streamtest.StartAuth(t)
	as := func(name string) map[string]string {
		return map[string]string{"EGOV_NATS_URL": srv.Config().URL, "EGOV_NATS_NKEY_SEED_FILE": natsauth.SeedFile(srv.Keys, name),
			"EGOV_NATS_CONNECT_TIMEOUT": "2s", "EGOV_NATS_PUBLISH_RETRY_FOR": "2s"}
	}
	lineageCmd := invocation{name: "lineage", args: []string{"lineage"}}
	for i, want := range []string{"30 unit events acknowledged by JetStream: 30 stored, 0 already there", "30 unit events acknowledged by JetStream: 0 stored, 30 already there"} {
		code, stdout, _ := lineageCmd.run(t, as(natsauth.OfficeName))
		if code != exitOK || !strings.Contains(stdout, want) {
			t.Errorf("run %d: exit %d, stdout %q; want 0 and %q", i+1, code, stdout, want)
		}
	}
	code, stdout, stderr := lineageCmd.run(t, as("province/24"))
	if code != exitFailed || success.MatchString(stdout+stderr) || !strings.Contains(stderr, "ermission") {
		t.Errorf("as province/24: exit %d, stderr %q; want 1 and a permission violation", code, stderr)
	}
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	file := string(lineage.Reorganisation2025) + `{"type": "gov.egov.unit.renamed.v1", "data": {"unit": {"kind": "province", "code": "99"}, "name": "X", "effective_on": "2025-01-01", "decided_at": "2024-11-30T02:00:00Z"}}` + "\n"
	if err := os.WriteFile(bad, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = invocation{name: "lineage", args: []string{"lineage", bad}}.run(t, as(natsauth.OfficeName))
	if code != exitUsage || success.MatchString(stdout+stderr) || !strings.Contains(stderr, "line 31: data.unit: province/99 is not a known unit") ||
		!strings.Contains(stderr, "Nothing was sent.") {
		t.Errorf("a bad file: exit %d, stderr %q", code, stderr)
	}
}
