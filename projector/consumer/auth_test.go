package consumer_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/egovtrack/egovtrack/collectors/simulate"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/natsauth"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
	"github.com/egovtrack/egovtrack/internal/units"
	"github.com/egovtrack/egovtrack/projector/consumer"
	"github.com/egovtrack/egovtrack/projector/metrics"
)

var (
	thaiNguyen = units.Ref{Kind: units.Province, Code: "19"}
	haNoi      = units.Ref{Kind: units.Province, Code: "01"}
)

// registered is procedure code of unit, registered at level 3.
func registered(t *testing.T, unit units.Ref, code string) event.Envelope {
	t.Helper()
	return registeredAt(t, unit, code, 3)
}

func registeredAt(t *testing.T, unit units.Ref, code string, level event.Level) event.Envelope {
	t.Helper()
	env, err := event.New("/test", &event.ProcedureRegisteredData{
		Unit: unit, Procedure: code, Name: "Cấp giấy phép xây dựng", Sector: "Xây dựng", Eligible: true, Level: level,
		EffectiveAt: time.Date(2021, 7, 1, 9, 0, 0, 0, event.Vietnam),
	})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func projectVerified(t *testing.T, conn *stream.Conn, signers string, require bool) (*rig, consumer.Stats) {
	t.Helper()
	r := openRig(t, conn)
	cfg := config(500, 50*time.Millisecond)
	cfg.SignersFile, cfg.RequireSignature = signers, require
	stats, err := r.consumer(t, cfg).Run(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	return r, stats
}

// submittedBy counts the raw log's events by who submitted them.
func submittedBy(t *testing.T, r *rig) map[string]uint64 {
	t.Helper()
	rows, err := r.conn.Query(context.Background(), "SELECT submitted_by, count() FROM events FINAL GROUP BY submitted_by")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var by string
		var n uint64
		if err := rows.Scan(&by, &n); err != nil {
			t.Fatal(err)
		}
		out[by] = n
	}
	return out
}

// quarantined returns the quarantine's reasons by subject.
func quarantined(t *testing.T, r *rig) map[string]string {
	t.Helper()
	rows, err := r.conn.Query(context.Background(), "SELECT subject, reason FROM quarantine FINAL")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var subject, reason string
		if err := rows.Scan(&subject, &reason); err != nil {
			t.Fatal(err)
		}
		out[subject] = reason
	}
	return out
}

// On a server that runs the authorisation model, the projector credential projects what the office and a province
// published, signed, and records who submitted each event; a province's event about another province, published on
// its own subject (which the server's permissions allow), is quarantined as unauthorised.
func TestProjectorRecordsTheVerifiedSigner(t *testing.T) {
	ctx := context.Background()
	srv := streamtest.StartAuth(t)
	all := units.All()
	sim, own := officeThenProvince(t, srv, all[0], all[70])
	// Hà Nội's event, under Thái Nguyên's subject: the server lets province/19 publish there.
	hidden := rawMessage(t, "egov.province.19.proc.1_000003", registered(t, haNoi, "1.000003"))
	cred := credential(t, srv.Keys, "province/19")
	if err := cred.Sign(hidden); err != nil {
		t.Fatal(err)
	}
	if _, err := streamtest.Dial(t, srv.As("province/19")).JS.PublishMsg(ctx, hidden); err != nil {
		t.Fatalf("the server refused what its permissions allow: %v", err)
	}

	p, err := stream.Connect(ctx, srv.As(natsauth.ProjectorName), quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r, stats := projectVerified(t, p, srv.SignersFile(), true)
	if stats.Projected != sim.Stored+len(own) || stats.Rejected != 1 {
		t.Errorf("projected %d and rejected %d, want %d and 1", stats.Projected, stats.Rejected, sim.Stored+len(own))
	}
	if by := submittedBy(t, r); by["office"] != uint64(sim.Stored) || by["province/19"] != uint64(len(own)) || len(by) != 2 {
		t.Errorf("events by submitter: %v, want office %d and province/19 %d", by, sim.Stored, len(own))
	}
	want := "unauthorised: published on egov.province.19.proc.1_000003, but the event is about egov.province.01.proc.1_000003"
	if q := quarantined(t, r); q[hidden.Subject] != want {
		t.Errorf("quarantine: %v, want %s: %s", q, hidden.Subject, want)
	}
	if got := testutil.ToFloat64(r.m.Rejected.WithLabelValues(string(metrics.Unauthorised))); got != 1 {
		t.Errorf("rejected unauthorised = %g, want 1", got)
	}
}

// officeThenProvince has the office publish the 2021 campaign of us on srv, then province/19 two events of its own;
// it returns what the office's publish did and province/19's events.
func officeThenProvince(t *testing.T, srv *streamtest.AuthServer, us ...units.Unit) (stream.Result, []event.Envelope) {
	t.Helper()
	ctx := context.Background()
	office, err := stream.Connect(ctx, srv.As(natsauth.OfficeName), quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer office.Close()
	o := simulate.Campaign2021(3)
	o.Units = us
	sim, err := simulate.Run(ctx, office, o, io.Discard, quiet)
	if err != nil {
		t.Fatal(err)
	}
	province, err := stream.Connect(ctx, srv.As("province/19"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer province.Close()
	own := []event.Envelope{registered(t, thaiNguyen, "1.000001"), registered(t, thaiNguyen, "1.000002")}
	if _, err := province.Publish(ctx, own, nil); err != nil {
		t.Fatal(err)
	}
	return sim, own
}

// Through a server that checks nothing (no users, no permissions), anyone can put anything in the stream. The
// projector still quarantines, with its reason, every event that is not signed by a credential that may submit it,
// and projects the one that is.
func TestProjectorQuarantinesSpoofsFromAMisconfiguredServer(t *testing.T) {
	ctx := context.Background()
	keys, signers, ns, conn := openServer(t)
	raw := streamtest.Dial(t, ns)
	province, office := credential(t, keys, "province/19"), credential(t, keys, "office")
	stranger, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}

	signed := func(c *natsauth.Credential, env event.Envelope) *nats.Msg {
		m := rawMessage(t, env.Subject, env)
		if err := c.Sign(m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	proper := signed(office, registered(t, haNoi, "1.000001"))
	spoofs := map[string]struct {
		msg  *nats.Msg
		want string
	}{
		"unsigned": {rawMessage(t, "egov.province.01.proc.1_000002", registered(t, haNoi, "1.000002")),
			"unauthorised: not signed, and EGOV_PROJECTOR_REQUIRE_SIGNATURE wants every event signed"},
		"another province's key": {signed(province, registered(t, haNoi, "1.000003")),
			"unauthorised: the signer may not submit it: province/19 may not submit events on egov.province.01.proc.1_000003"},
		"changed after signing": {func() *nats.Msg {
			m := signed(office, registered(t, haNoi, "1.000004"))
			m.Data = mustJSON(t, registeredAt(t, haNoi, "1.000004", 4)) // another valid event, the signature kept
			return m
		}(), "unauthorised: invalid signature of office"},
		"the office's name, a province's signature": {func() *nats.Msg {
			m := signed(province, registered(t, haNoi, "1.000005"))
			m.Header.Set(natsauth.SignerHeader, office.PublicKey())
			m.Header.Set(natsauth.SubmittedByHeader, "office")
			return m
		}(), "unauthorised: invalid signature of office"},
		"a key of no credential": {func() *nats.Msg {
			m := signed(office, registered(t, haNoi, "1.000006"))
			pub, _ := stranger.PublicKey()
			sig, _ := stranger.Sign([]byte("anything"))
			m.Header.Set(natsauth.SignerHeader, pub)
			m.Header.Set(natsauth.SignatureHeader, fmt.Sprintf("%x", sig))
			return m
		}(), "unauthorised: signed by no credential of the model"},
	}
	for _, m := range append([]*nats.Msg{proper}, msgs(spoofs)...) {
		if _, err := raw.JS.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}

	r, stats := projectVerified(t, conn, signers, true)
	if stats.Projected != 1 || stats.Rejected != len(spoofs) {
		t.Errorf("projected %d and rejected %d, want 1 and %d", stats.Projected, stats.Rejected, len(spoofs))
	}
	if by := submittedBy(t, r); by["office"] != 1 || len(by) != 1 {
		t.Errorf("events by submitter: %v, want the office's one", by)
	}
	q := quarantined(t, r)
	for name, s := range spoofs {
		if got := q[s.msg.Subject]; !strings.HasPrefix(got, s.want) {
			t.Errorf("%s: quarantined as %q, want %q", name, got, s.want)
		}
	}
	if got := testutil.ToFloat64(r.m.Rejected.WithLabelValues(string(metrics.Unauthorised))); got != float64(len(spoofs)) {
		t.Errorf("rejected unauthorised = %g, want %d", got, len(spoofs))
	}
}

// Signatures not required, an unsigned event is projected, recorded as submitted by its source; a signed one must
// still be signed by a credential that may submit it.
func TestUnsignedEventsWhenSignaturesAreNotRequired(t *testing.T) {
	ctx := context.Background()
	keys, signers, ns, conn := openServer(t)
	unsigned := registered(t, haNoi, "1.000001")
	if _, err := conn.Publish(ctx, []event.Envelope{unsigned}, nil); err != nil {
		t.Fatal(err)
	}
	wrong := rawMessage(t, "egov.province.01.proc.1_000002", registered(t, haNoi, "1.000002"))
	if err := credential(t, keys, "province/19").Sign(wrong); err != nil {
		t.Fatal(err)
	}
	if _, err := streamtest.Dial(t, ns).JS.PublishMsg(ctx, wrong); err != nil {
		t.Fatal(err)
	}
	r, stats := projectVerified(t, conn, signers, false)
	if stats.Projected != 1 || stats.Rejected != 1 {
		t.Errorf("projected %d and rejected %d, want 1 and 1", stats.Projected, stats.Rejected)
	}
	if by := submittedBy(t, r); by["/test"] != 1 {
		t.Errorf("events by submitter: %v, want the unsigned one under its source", by)
	}
}

// Requiring signatures without knowing the signers is a configuration error.
func TestRequireSignatureNeedsSigners(t *testing.T) {
	cfg := config(10, time.Second)
	cfg.RequireSignature = true
	if err := cfg.Validate(); err == nil {
		t.Error("valid")
	}
}

func rawMessage(t *testing.T, subject string, env event.Envelope) *nats.Msg {
	t.Helper()
	m := nats.NewMsg(subject)
	m.Data = mustJSON(t, env)
	return m
}

func credential(t *testing.T, dir, name string) *natsauth.Credential {
	t.Helper()
	c, err := natsauth.LoadCredential(natsauth.SeedFile(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func msgs(m map[string]struct {
	msg  *nats.Msg
	want string
}) []*nats.Msg {
	var out []*nats.Msg
	for _, s := range m {
		out = append(out, s.msg)
	}
	return out
}

// openServer makes every credential's keys in a folder of its own (keys, and their public keys in signers) and
// starts a NATS server that checks nothing (no users, no permissions), connected to as no one: anyone can put anything
// in its stream, as through a misconfigured deployment. The connection closes when the test ends.
func openServer(t *testing.T) (keys, signers string, ns stream.Config, conn *stream.Conn) {
	t.Helper()
	keys = t.TempDir()
	signers = filepath.Join(keys, "nkeys.txt")
	if _, err := natsauth.EnsureKeys(signers, keys, nil, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	ns = streamtest.New(t)
	conn, err := stream.Connect(t.Context(), ns, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return keys, signers, ns, conn
}
