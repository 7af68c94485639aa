package consumer_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/natsauth"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
	"github.com/egovtrack/egovtrack/projector/projection"
	"github.com/egovtrack/egovtrack/projector/rebuild"
)

// Each signature is verified once in its event's life. A rebuild relies on the verdict recorded when the event was
// first accepted, so a province's key rotated since still vouches for what it signed while valid (before, the
// rebuild quarantined all of it as signed by no credential); nothing forged gets in for it — not an altered event,
// not one signed with the retired key after the rotation, not through a verdict that is not the message's.
func TestARotatedKeyStillVouchesForWhatItSigned(t *testing.T) {
	ctx := context.Background()
	keys, signers, ns, conn := openServer(t)
	raw := streamtest.Dial(t, ns)
	old := credential(t, keys, "province/19")
	publish := func(c *natsauth.Credential, env event.Envelope, alter func(*nats.Msg)) *nats.Msg {
		t.Helper()
		m := rawMessage(t, env.Subject, env)
		if err := c.Sign(m); err != nil {
			t.Fatal(err)
		}
		if alter != nil {
			alter(m)
		}
		if _, err := raw.JS.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, code := range []string{"1.000001", "1.000002", "1.000003"} {
		publish(old, registered(t, thaiNguyen, code), nil)
	}
	altered := publish(old, registered(t, thaiNguyen, "1.000004"), func(m *nats.Msg) {
		m.Data = mustJSON(t, registeredAt(t, thaiNguyen, "1.000004", 4)) // another valid event, the signature kept
	})

	r := openRig(t, conn)
	cfg := config(500, 50*time.Millisecond)
	cfg.SignersFile, cfg.RequireSignature = signers, true
	live, err := r.consumer(t, cfg).Run(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if live.Projected != 3 || live.Rejected != 1 || live.Verified != 3 || live.Trusted != 0 {
		t.Fatalf("live: %+v, want 3 projected and verified, the altered one rejected", live)
	}
	if got := quarantined(t, r)[altered.Subject]; got != "unauthorised: invalid signature of province/19" {
		t.Errorf("the altered event, live: quarantined as %q", got)
	}

	// The province's key is rotated: the signers file holds only its new key.
	if _, err := natsauth.EnsureKeys(signers, keys, func(name string) bool { return name == "province/19" }, io.Discard); err != nil {
		t.Fatal(err)
	}
	renewed := credential(t, keys, "province/19")
	if renewed.PublicKey() == old.PublicKey() {
		t.Fatal("the key was not rotated")
	}
	stale := publish(old, registered(t, thaiNguyen, "1.000005"), nil) // the retired key, after its retirement
	publish(renewed, registered(t, thaiNguyen, "1.000006"), nil)

	rebuildOnce := func() rebuild.Result {
		t.Helper()
		res, err := projection.New(r.conn, r.s, projection.Config{Consumer: cfg}, nil, quiet).Rebuild(ctx, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := rebuildOnce()
	if res.Projected != 4 || res.Rejected != 2 || res.Trusted != 3 || res.Verified != 1 {
		t.Errorf("rebuild after the rotation: %d projected, %d rejected, %d trusted, %d verified; want 4 (three vouched for by "+
			"their verdicts, one verified with the new key), 2 (the altered event, the retired key's late one)",
			res.Projected, res.Rejected, res.Trusted, res.Verified)
	}
	if by := submittedBy(t, r); by["province/19"] != 4 || len(by) != 1 {
		t.Errorf("events by submitter: %v, want province/19's four", by)
	}
	q := quarantined(t, r)
	// The altered event had no verdict: verified again, against the new key it is signed by no credential.
	if got := q[altered.Subject]; !strings.HasPrefix(got, "unauthorised: signed by no credential of the model") {
		t.Errorf("the altered event, rebuilt: quarantined as %q", got)
	}
	if got := q[stale.Subject]; !strings.HasPrefix(got, "unauthorised: signed by no credential of the model") {
		t.Errorf("the retired key's late event: quarantined as %q", got)
	}

	// A verdict that is not the message's (another message's digest, recorded under the stale message's sequence)
	// vouches for nothing: it is verified, and refused, again.
	staleSeq := r.count(t, "SELECT stream_seq FROM quarantine FINAL WHERE subject = '"+stale.Subject+"'")
	if err := r.conn.Exec(ctx, "INSERT INTO signature_verdicts (stream_seq, digest, submitted_by, verified_at) "+
		"SELECT ?, digest, 'province/19', now() FROM signature_verdicts WHERE stream_seq = 1", staleSeq); err != nil {
		t.Fatal(err)
	}
	again := rebuildOnce()
	if again.Projected != 4 || again.Rejected != 2 || again.Trusted != 4 || again.Verified != 0 {
		t.Errorf("the next rebuild: %d projected, %d rejected, %d trusted, %d verified; want 4, 2, 4 (every event now "+
			"has its verdict), 0", again.Projected, again.Rejected, again.Trusted, again.Verified)
	}
	if got := quarantined(t, r)[stale.Subject]; !strings.HasPrefix(got, "unauthorised: signed by no credential of the model") {
		t.Errorf("the retired key's late event, under another message's verdict: quarantined as %q", got)
	}

	// Revoking what the retired key vouched for (the README's command, as if it had leaked): its verdicts deleted,
	// the next rebuild verifies those events again against the current keys, and quarantines them.
	if err := r.conn.Exec(ctx, "ALTER TABLE signature_verdicts DELETE WHERE submitted_by = 'province/19' AND stream_seq <= 3"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for r.count(t, "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND table = 'signature_verdicts' AND is_done = 0") > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the deletion of the verdicts did not finish within 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	revoked := rebuildOnce()
	if revoked.Projected != 1 || revoked.Rejected != 5 || revoked.Trusted != 1 || revoked.Verified != 0 {
		t.Errorf("the rebuild after revoking: %d projected, %d rejected, %d trusted, %d verified; want 1 (the new key's), "+
			"5 (the three revoked, the altered, the late one), 1, 0", revoked.Projected, revoked.Rejected, revoked.Trusted, revoked.Verified)
	}
}
