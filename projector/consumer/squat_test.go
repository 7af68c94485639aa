package consumer_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/egovtrack/egovtrack/collectors/simulate"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/natsauth"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
	"github.com/egovtrack/egovtrack/internal/units"
	"github.com/egovtrack/egovtrack/projector/consumer"
)

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
			office, err := stream.Connect(ctx, srv.As(natsauth.OfficeName), quiet)
			if err != nil {
				t.Fatal(err)
			}
			defer office.Close()
			o := simulate.Campaign2021(3)
			o.Units = []units.Unit{units.All()[0]}
			sim, err := simulate.Run(ctx, office, o, io.Discard, quiet)
			if err != nil {
				t.Fatal(err)
			}
			squatter, err := stream.Connect(ctx, srv.As("province/19"), quiet)
			if err != nil {
				t.Fatal(err)
			}
			defer squatter.Close()
			own := []event.Envelope{registered(t, thaiNguyen, "1.000001"), registered(t, thaiNguyen, "1.000002")}
			if _, err := squatter.Publish(ctx, own, nil); err != nil {
				t.Fatal(err)
			}
			const durable = "projector-v2"
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
