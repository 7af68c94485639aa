package consumer_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/natsauth"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
	"github.com/egovtrack/egovtrack/internal/units"
	"github.com/egovtrack/egovtrack/projector/consumer"
)

// A unit cannot suppress another unit's event. province/19 publishes junk on its own subjects (which the server
// lets it) under Nats-Msg-Ids that are all a unit can know of Hà Nội's coming events: their ids, derived from public
// content. Those events, published afterwards by province/01 itself and by the intake API for a token of Hà Nội,
// are stored, not dropped as duplicates, and projected as submitted by them; the junk is quarantined.
func TestAUnitCannotSuppressAnotherUnitsEvent(t *testing.T) {
	ctx := context.Background()
	srv := streamtest.StartAuth(t)
	own, onBehalf := registered(t, haNoi, "1.000123"), registered(t, haNoi, "1.000124")

	squatter := streamtest.Dial(t, srv.As("province/19"))
	cred := credential(t, srv.Keys, "province/19")
	for i, id := range []string{own.ID, onBehalf.ID} {
		junk := nats.NewMsg("egov.province.19.report")
		junk.Data = []byte(`{"junk":` + string(rune('1'+i)) + `}`)
		if err := cred.Sign(junk); err != nil {
			t.Fatal(err)
		}
		ack, err := squatter.JS.PublishMsg(ctx, junk, jetstream.WithMsgID(id))
		if err != nil || ack.Duplicate {
			t.Fatalf("the squatter's message under %s: %+v, %v", id, ack, err)
		}
	}

	hanoi, err := stream.Connect(ctx, srv.As("province/01"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer hanoi.Close()
	if res, err := hanoi.Publish(ctx, []event.Envelope{own}, nil); err != nil || res.Stored != 1 || res.Duplicates != 0 {
		t.Errorf("province/01 publishing its event: %+v, %v; want it stored", res, err)
	}
	intake, err := stream.Connect(ctx, srv.As(natsauth.IntakeName), quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer intake.Close()
	tokenCtx := natsauth.WithOnBehalf(ctx, haNoi, "1a2b3c4d")
	if res, err := intake.Publish(tokenCtx, []event.Envelope{onBehalf}, nil); err != nil || res.Stored != 1 || res.Duplicates != 0 {
		t.Errorf("the intake publishing for Hà Nội's token: %+v, %v; want it stored", res, err)
	}

	p, err := stream.Connect(ctx, srv.As(natsauth.ProjectorName), quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r, stats := projectVerified(t, p, srv.SignersFile(), true)
	if stats.Projected != 2 || stats.Rejected != 2 {
		t.Errorf("projected %d and rejected %d, want Hà Nội's 2 events and the 2 pieces of junk", stats.Projected, stats.Rejected)
	}
	if by := submittedBy(t, r); by["province/01"] != 1 || by["intake:province/01:1a2b3c4d"] != 1 || len(by) != 2 {
		t.Errorf("events by submitter: %v, want one by province/01 and one by the intake for its token", by)
	}
}

// A unit cannot keep the projector from its durable consumer, nor make it skip events, by creating a consumer under
// a name the projector will use: here the durable a new database is projected under (EGOV_PROJECTOR_DURABLE), which
// the authorisation reserves only once it is generated for it. The projector, finding a consumer it did not make
// under its name (filtered on the unit's subjects, ahead of the stream's start), deletes it, starts its own, and
// projects every event; on a squatter's consumer with another acknowledgement policy it would not start at all, and
// on one it could update it would skip every event the squatter had read past.
func TestProjectorTakesItsDurableBackFromASquatter(t *testing.T) {
	for _, tc := range []struct {
		name string
		ack  jetstream.AckPolicy
	}{
		{"acking nothing", jetstream.AckNonePolicy},
		{"acking explicitly, as the projector does", jetstream.AckExplicitPolicy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			srv := streamtest.StartAuth(t)
			sim, own := officeThenProvince(t, srv, units.All()[0])
			const durable = "projector-v2"
			// A unit may not look the stream up: it names it, as any client may.
			squatter := streamtest.Dial(t, srv.As("province/19"))
			cons, err := squatter.JS.CreateConsumer(ctx, "EGOV", jetstream.ConsumerConfig{Durable: durable,
				FilterSubject: "egov.province.19.>", AckPolicy: tc.ack, AckWait: time.Hour})
			if err != nil {
				t.Fatalf("the squatter creating %s: %v", durable, err)
			}
			// It reads its own events, which come after everything else in the stream.
			batch, err := cons.Fetch(len(own), jetstream.FetchMaxWait(5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for range batch.Messages() {
				n++
			}
			if n != len(own) {
				t.Fatalf("the squatter read %d messages, want %d", n, len(own))
			}

			// The office moves the projection to a new durable, and generates the authorisation for it.
			srv.Model.Durable = durable
			if err := srv.Restart(0); err != nil {
				t.Fatal(err)
			}
			p, err := stream.Connect(ctx, srv.As(natsauth.ProjectorName), quiet)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			r := openRig(t, p)
			cfg := config(500, 50*time.Millisecond)
			cfg.Durable, cfg.SignersFile, cfg.RequireSignature = durable, srv.SignersFile(), true
			rctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			c, err := consumer.New(rctx, r.s, cfg, r.w, r.m, quiet)
			if err != nil {
				t.Fatalf("the projector starting on its durable: %v", err)
			}
			stats, err := c.Run(rctx, true)
			if err != nil {
				t.Fatal(err)
			}
			if want := sim.Stored + len(own); stats.Projected != want || r.count(t, "SELECT count() FROM events FINAL") != uint64(want) {
				t.Errorf("projected %d events, want every one of the %d", stats.Projected, want)
			}
			info, err := r.s.Consumer(ctx, durable)
			if err != nil {
				t.Fatal(err)
			}
			if cfg := info.CachedInfo().Config; cfg.FilterSubject != "" || len(cfg.FilterSubjects) != 0 || cfg.AckPolicy != jetstream.AckExplicitPolicy {
				t.Errorf("the durable is filtered on %q %v with %v, want the projector's: unfiltered, acked explicitly", cfg.FilterSubject, cfg.FilterSubjects, cfg.AckPolicy)
			}
		})
	}
}
