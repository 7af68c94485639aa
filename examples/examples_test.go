package examples_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/natsauth"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
	"github.com/egovtrack/egovtrack/internal/units"
	"github.com/egovtrack/egovtrack/projector/consumer"
	"github.com/egovtrack/egovtrack/projector/consumer/consumertest"
)

func TestMain(m *testing.M) { chdbtest.Main(m) }

// nodeDir is the Node example, from this package's directory.
const nodeDir = "node"

// tool returns the path of a program the tests run, failing (never skipping) with how to install it when it is
// missing: `make test` installs both (.ci/install-tools).
func tool(t *testing.T, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not on PATH: run `make test`, which installs it into $EGOV_TOOLS/bin and puts that on PATH, or %s", name, install)
	}
	return p
}

// node returns the node program, with the example's dependencies installed.
func node(t *testing.T) string {
	t.Helper()
	p := tool(t, "node", "apt-get install nodejs npm")
	if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", "@nats-io", "transport-node")); err != nil {
		t.Fatalf("examples/node has no dependencies installed: run `make test`, or `(cd examples/node && npm ci)` (%v)", err)
	}
	return p
}

// run runs a command in dir, returning what it wrote to stdout and stderr together, and fails the test if it does
// not exit 0.
func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	out, err := runErr(t, dir, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return out
}

func runErr(t *testing.T, dir string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// The Node publisher, written from the docs and the vectors alone, computes every vector's subject, canonical
// bytes, id, signed bytes and signature as egovtrack does, and refuses what egovtrack refuses.
func TestNodeClientChecksItselfAgainstTheVectors(t *testing.T) {
	t.Parallel()
	out := run(t, nodeDir, node(t), "publish.mjs", "check-vectors", "../../internal/event/conformance/vectors.json")
	if !regexp.MustCompile(`(?m)^[1-9][0-9]* passed, 0 failed$`).MatchString(out) {
		t.Errorf("the vectors' check did not pass:\n%s", out)
	}
}

// The Node publisher, run as province/19 against a server with egovtrack's permissions, publishes the README's
// example events (names with "&", "<" and diacritics, times with milliseconds, levels as words) with ids, headers
// and signatures that the projector, requiring signatures, accepts: every event is in ClickHouse, submitted by
// province/19, under the id the publisher printed, and the procedures read as the publisher wrote them. An event
// whose signature it tampers with is acknowledged by JetStream, which checks no signature, and quarantined by the
// projector. An event whose id another unit published junk under first is stored all the same: the publisher's
// message id is its signature.
func TestNodeClientPublishesWhatTheProjectorAccepts(t *testing.T) {
	t.Parallel()
	srv := streamtest.StartAuth(t)
	nodeBin := node(t)
	seed := natsauth.SeedFile(srv.Keys, "province/19")
	out := run(t, nodeDir, nodeBin, "publish.mjs", "publish", "--server", srv.Config().URL, "--seed", seed, "example-events.json")
	published := publishedIDs(t, out)
	if len(published) != 4 {
		t.Fatalf("the publisher printed %d events published, want 4:\n%s", len(published), out)
	}

	tampered := filepath.Join(t.TempDir(), "tampered.json")
	writeJSON(t, tampered, []map[string]any{{
		"type": event.ProcedureRetired,
		"data": map[string]any{"unit": map[string]any{"kind": "province", "code": "19"}, "procedure": "1.009902",
			"effective_at": "2021-12-20T10:00:00+07:00"},
	}})
	out = run(t, nodeDir, nodeBin, "publish.mjs", "publish", "--server", srv.Config().URL, "--seed", seed, "--tamper", tampered)
	if n := len(publishedIDs(t, out)); n != 1 {
		t.Fatalf("the tampered event: %d published, want 1 (JetStream does not check signatures):\n%s", n, out)
	}

	squatted := squat(t, srv, "province/01", units.Ref{Kind: units.Province, Code: "19"})
	input := filepath.Join(t.TempDir(), "squatted.json")
	writeJSON(t, input, []map[string]any{{"type": squatted.Type, "data": squatted.Data}})
	out = run(t, nodeDir, nodeBin, "publish.mjs", "publish", "--server", srv.Config().URL, "--seed", seed, input)
	if ids := publishedIDs(t, out); !slices.Equal(ids, []string{squatted.ID}) || strings.Contains(out, "(duplicate)") {
		t.Fatalf("the event whose id province/01 claimed first: %v, want %s stored:\n%s", ids, squatted.ID, out)
	}
	published = append(published, squatted.ID)

	p := project(t, srv)
	if p.stats.Projected != 5 || p.stats.Rejected != 2 {
		t.Errorf("projected %d and rejected %d, want 5 and 2 (the tampered event, the junk)", p.stats.Projected, p.stats.Rejected)
	}
	if got := p.strings(t, "SELECT concat(toString(id), ' ', submitted_by) FROM events FINAL ORDER BY toString(id)"); !slices.Equal(got, sortedWith(published, " province/19")) {
		t.Errorf("events: %q\nwant the published ids, submitted by province/19: %q", got, published)
	}
	wantProcs := []string{
		"1.009901 Cấp phép <thử nghiệm> & kiểm tra | Xây dựng & Nhà ở | level 4 | active 1 | since 2021-12-15 09:00:00",
		"1.009902 Đăng ký hộ tịch có yếu tố nước ngoài | Hộ tịch | level 4 | active 1 | since 2021-07-01 09:00:00",
		"1.009960 Thủ tục bị chiếm id | Tư pháp | level 2 | active 1 | since 2021-09-01 08:00:00", // the one squatted on
	}
	if got := p.strings(t, `SELECT concat(procedure_code, ' ', name, ' | ', sector, ' | level ', toString(level), ' | active ', toString(active), ' | since ', toString(effective_at))
		FROM procedures FINAL WHERE unit_kind = 'province' AND unit_code = '19' ORDER BY procedure_code`); !slices.Equal(got, wantProcs) {
		t.Errorf("procedures:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantProcs, "\n"))
	}
	if got := p.strings(t, "SELECT toString(count()) FROM procedure_changes FINAL"); !slices.Equal(got, []string{"4"}) {
		t.Errorf("procedure_changes holds %v rows, want 4", got)
	}
	want := "egov.province.19.proc.1_009902 unauthorised: invalid signature of province/19"
	if got := p.strings(t, "SELECT concat(subject, ' ', reason) FROM quarantine FINAL WHERE subject LIKE 'egov.province.19.%'"); !slices.Equal(got, []string{want}) {
		t.Errorf("quarantine: %q, want only the tampered event of province/19: %q", got, want)
	}
}

// The recipe for the nats command in internal/event/publishing.md, run as it is written there (only its three
// settings replaced: the server, the seed file, the event file) as province/19 against a server with egovtrack's
// permissions: the real nats command publishes the prepared event with the headers the Node example signs, its
// signature as Nats-Msg-Id, shows JetStream's acknowledgement, reads the event back with its headers, and the
// projector, requiring signatures, stores it as submitted by province/19, although province/01 had published junk
// under the event's id first.
func TestNATSCommandRecipe(t *testing.T) {
	t.Parallel()
	natsBin := tool(t, "nats", "GOBIN=$EGOV_TOOLS/bin go install github.com/nats-io/natscli/nats@v0.5.0")
	if out := run(t, ".", natsBin, "--version"); strings.TrimSpace(out) != "v0.5.0" {
		t.Fatalf("nats --version says %q; the recipe is written for v0.5.0 (run `make test`)", out)
	}
	node(t)
	srv := streamtest.StartAuth(t)

	// An event as another system writes it: Go's encoding/json escapes "&" and "<", which the id does not see.
	env, err := event.New("/example/nats-cli", &event.ProcedureRegisteredData{
		Unit: units.Ref{Kind: units.Province, Code: "19"}, Procedure: "1.009950", Name: "Thủ tục <mẫu> & nhanh", Sector: "Tư pháp",
		Eligible: true, Level: 4, EffectiveAt: time.Date(2021, 8, 2, 9, 30, 0, 250_000_000, event.Vietnam),
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	eventFile := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(eventFile, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}

	squatFor(t, srv, "province/01", env.ID)
	cred, err := natsauth.LoadCredential(natsauth.SeedFile(srv.Keys, "province/19"))
	if err != nil {
		t.Fatal(err)
	}
	signed := &nats.Msg{Subject: env.Subject, Data: append(b, '\n')}
	if err := cred.Sign(signed); err != nil {
		t.Fatal(err)
	}

	script := recipe(t, map[string]string{
		"NATS_URL": srv.Config().URL,
		"SEED":     natsauth.SeedFile(srv.Keys, "province/19"),
		"EVENT":    eventFile,
	})
	out := run(t, "..", "bash", "-euo", "pipefail", "-c", script)
	key := srv.Model.Users[slices.IndexFunc(srv.Model.Users, func(u natsauth.User) bool { return u.Name == "province/19" })].Key
	for _, want := range []string{
		"Stored in Stream: EGOV Sequence: 2",
		"Nats-Msg-Id: " + signed.Header.Get(natsauth.SignatureHeader),
		"Egov-Submitted-By: province/19",
		"Egov-Signer: " + key,
		string(b),
		"No Messages",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the recipe's output does not show %q:\n%s", want, out)
		}
	}

	p := project(t, srv)
	if p.stats.Projected != 1 || p.stats.Rejected != 1 {
		t.Errorf("projected %d and rejected %d, want 1 and 1 (the junk)", p.stats.Projected, p.stats.Rejected)
	}
	if got := p.strings(t, "SELECT concat(toString(id), ' ', submitted_by) FROM events FINAL"); !slices.Equal(got, []string{env.ID + " province/19"}) {
		t.Errorf("events: %q, want %s submitted by province/19", got, env.ID)
	}
}

// squat has the unit squatter publish junk on its own subjects under the id of an event of unit that it can
// compute, as anyone can, from public content, and returns that event: it must be stored when unit publishes it.
func squat(t *testing.T, srv *streamtest.AuthServer, squatter string, unit units.Ref) event.Envelope {
	t.Helper()
	env, err := event.New("/example/node", &event.ProcedureRegisteredData{
		Unit: unit, Procedure: "1.009960", Name: "Thủ tục bị chiếm id", Sector: "Tư pháp", Eligible: true, Level: 2,
		EffectiveAt: time.Date(2021, 9, 1, 8, 0, 0, 0, event.Vietnam),
	})
	if err != nil {
		t.Fatal(err)
	}
	squatFor(t, srv, squatter, env.ID)
	return env
}

// squatFor has the unit squatter publish junk, signed, on its own subjects under the Nats-Msg-Id id.
func squatFor(t *testing.T, srv *streamtest.AuthServer, squatter, id string) {
	t.Helper()
	c := streamtest.Dial(t, srv.As(squatter))
	cred, err := natsauth.LoadCredential(natsauth.SeedFile(srv.Keys, squatter))
	if err != nil {
		t.Fatal(err)
	}
	junk := nats.NewMsg(strings.ReplaceAll("egov."+squatter, "/", ".") + ".report")
	junk.Data = []byte(`{"junk": true}`)
	if err := cred.Sign(junk); err != nil {
		t.Fatal(err)
	}
	if ack, err := c.JS.PublishMsg(t.Context(), junk, jetstream.WithMsgID(id)); err != nil || ack.Duplicate {
		t.Fatalf("%s's junk under %s: %+v, %v", squatter, id, ack, err)
	}
}

// recipe returns the shell block of publishing.md that uses the nats command, with the settings it starts with
// given the values of set.
func recipe(t *testing.T, set map[string]string) string {
	t.Helper()
	doc, err := os.ReadFile("../internal/event/publishing.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```sh\n(NATS_URL=.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("publishing.md has no recipe starting NATS_URL=")
	}
	script := string(m[1])
	for name, v := range set {
		line := regexp.MustCompile(`(?m)^` + name + `=.*$`)
		if !line.MatchString(script) {
			t.Fatalf("the recipe does not set %s", name)
		}
		script = line.ReplaceAllLiteralString(script, name+"='"+v+"'")
	}
	return script
}

// publishedIDs are the ids of the events the Node publisher says JetStream acknowledged.
func publishedIDs(t *testing.T, out string) []string {
	t.Helper()
	var ids []string
	for _, m := range regexp.MustCompile(`(?m)^published ([0-9a-f-]{36}) egov\.\S+ seq [0-9]+$`).FindAllStringSubmatch(out, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

func sortedWith(ids []string, suffix string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id + suffix
	}
	slices.Sort(out)
	return out
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// projection is the projector run once over the stream, as deployed (consumertest.ProjectAsDeployed).
type projection struct {
	stats consumer.Stats
	// query runs a query whose rows are one string each.
	query func(q string) ([]string, error)
}

// project runs the projector over everything srv's stream holds, as it is deployed.
func project(t *testing.T, srv *streamtest.AuthServer) *projection {
	t.Helper()
	stats, ch := consumertest.ProjectAsDeployed(t, srv)
	return &projection{stats: stats, query: func(q string) ([]string, error) {
		rows, err := ch.Query(t.Context(), q)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, rows.Err()
	}}
}

// strings runs a query whose rows are one string each.
func (p *projection) strings(t *testing.T, q string) []string {
	t.Helper()
	out, err := p.query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}
