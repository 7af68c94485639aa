package stream_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/natsauth"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
	"github.com/egovtrack/egovtrack/internal/units"
)

var (
	thaiNguyen = units.Ref{Kind: units.Province, Code: "19"}
	haNoi      = units.Ref{Kind: units.Province, Code: "01"}
)

// unitEvents are n procedures registered by unit.
func unitEvents(t *testing.T, unit units.Ref, n int) []event.Envelope {
	t.Helper()
	at := time.Date(2021, 7, 1, 9, 0, 0, 0, event.Vietnam)
	var out []event.Envelope
	for i := range n {
		env, err := event.New("/test", &event.ProcedureRegisteredData{
			Unit: unit, Procedure: fmt.Sprintf("1.%06d", i), Name: "Cấp giấy phép xây dựng", Sector: "Xây dựng",
			Eligible: true, Level: 3, EffectiveAt: at,
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, env)
	}
	return out
}

// logBuffer is a log that the connection's goroutines and the test may use at once.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// logged reports whether the server logged the line want (the log quotes its messages).
func logged(srv *streamtest.AuthServer, want string) bool {
	return strings.Contains(srv.Log(), strings.ReplaceAll(want, `"`, `\"`))
}

// connectAs connects as the credential name, logging at debug level into the returned buffer.
func connectAs(t *testing.T, srv *streamtest.AuthServer, name string) (*stream.Conn, *logBuffer) {
	t.Helper()
	buf := &logBuffer{}
	c, err := stream.Connect(context.Background(), srv.As(name), slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("connect as %s: %v", name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c, buf
}

// readAll reads subject back with stream.Read, as reporting.Load does.
func readAll(ctx context.Context, c *stream.Conn, subject string) (int, error) {
	n := 0
	err := c.Read(ctx, subject, func(uint64, []byte) error { n++; return nil })
	return n, err
}

// A province's credential publishes its own events, signed, each under its signature as Nats-Msg-Id, so that sending
// them again stores nothing twice; the server refuses its events for another province at once, says why, and logs
// the attempt with the credential's name.
func TestProvincePublishesOnlyItsOwnSubjects(t *testing.T) {
	ctx := context.Background()
	srv := streamtest.StartAuth(t)
	c, clientLog := connectAs(t, srv, "province/19")

	own := unitEvents(t, thaiNguyen, 3)
	res, err := c.Publish(ctx, own, nil)
	if err != nil || res.Stored != len(own) {
		t.Fatalf("province/19 publishing its own events: %+v, %v", res, err)
	}
	if res, err := c.Publish(ctx, own, nil); err != nil || res.Duplicates != len(own) {
		t.Errorf("province/19 publishing its events again: %+v, %v; want %d duplicates", res, err, len(own))
	}

	began := time.Now()
	_, err = c.Publish(ctx, unitEvents(t, haNoi, 2), nil)
	if !errors.Is(err, nats.ErrPermissionViolation) {
		t.Fatalf("province/19 publishing Hà Nội's events: %v, want a permissions violation", err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("the refusal took %s: it should not wait for an ack", took)
	}
	if !strings.Contains(err.Error(), `Permissions Violation for Publish to "egov.province.01.proc.1_000000"`) {
		t.Errorf("the error does not say what the server refused: %v", err)
	}
	// The server logs before it reads the next command: after Close's round trip, the line is there.
	c.Close()
	log := srv.Log()
	if !strings.Contains(log, `Publish Violation`) || !strings.Contains(log, `egov.province.01.proc.1_000000`) ||
		!strings.Contains(log, "credential=province/19") {
		t.Errorf("the server did not log the attempt with its credential:\n%s", log)
	}
	if !strings.Contains(clientLog.String(), "NATS refused an operation of this credential") {
		t.Errorf("the client did not log the refusal:\n%s", clientLog)
	}

	office, _ := connectAs(t, srv, natsauth.OfficeName)
	if n, err := readAll(ctx, office, "egov.province.01.>"); err != nil || n != 0 {
		t.Errorf("Hà Nội's subjects hold %d messages (%v), want none", n, err)
	}
	// What province/19 published is signed by it.
	s, err := office.Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{own[0].Subject}})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := cons.Fetch(1)
	if err != nil {
		t.Fatal(err)
	}
	for m := range msgs.Messages() {
		by, err := srv.Model.Authorise(m.Subject(), m.Headers(), m.Data())
		if err != nil || by.Name != "province/19" || m.Headers().Get(natsauth.SubmittedByHeader) != "province/19" {
			t.Errorf("stored event: signed by %q (%v), header %q; want province/19", by.Name, err, m.Headers().Get(natsauth.SubmittedByHeader))
		}
		if id, sig := m.Headers().Get(jetstream.MsgIDHeader), m.Headers().Get(natsauth.SignatureHeader); id != sig || len(id) != 86 {
			t.Errorf("stored event: Nats-Msg-Id %q, want its signature %q", id, sig)
		}
	}
}

// No credential of the generated authorisation can delete, purge, update (shrink, seal, re-configure) the stream or
// delete a message, nor take a name the projector's consumers use or may use; the server logs every attempt, and the
// stream keeps its events and its configuration. The office may create the stream, but creating it again with another
// configuration is refused by JetStream itself.
func TestStreamCannotBeChangedOrDeleted(t *testing.T) {
	ctx := context.Background()
	srv := streamtest.StartAuth(t)
	office, _ := connectAs(t, srv, natsauth.OfficeName)
	envs := unitEvents(t, thaiNguyen, 5)
	if _, err := office.Publish(ctx, envs, nil); err != nil {
		t.Fatal(err)
	}
	s, err := office.Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := s.CachedInfo().Config
	t.Run("every credential", func(t *testing.T) {
		for _, name := range []string{"province/19", "ministry/BTTTT", natsauth.ProjectorName, natsauth.IntakeName, natsauth.OfficeName} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				c := streamtest.Dial(t, srv.As(name))
				for _, api := range []string{"STREAM.DELETE.EGOV", "STREAM.PURGE.EGOV", "STREAM.UPDATE.EGOV", "STREAM.MSG.DELETE.EGOV",
					"STREAM.SNAPSHOT.EGOV", "STREAM.RESTORE.EGOV", "CONSUMER.CREATE.EGOV.projector-1-of-2.egov.province.19.>",
					"CONSUMER.CREATE.EGOV.projector-3-of-7"} {
					subject := "$JS.API." + api
					if _, err := c.NC.Request(subject, []byte(`{}`), 200*time.Millisecond); err == nil {
						t.Errorf("%s answered %s", name, subject)
					}
					if err := c.NC.Flush(); err != nil {
						t.Fatal(err)
					}
					if !logged(srv, fmt.Sprintf("Publish Violation - Subject %q", subject)) {
						t.Errorf("the server did not log %s's %s", name, subject)
					}
				}
				dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
				defer cancel()
				if err := c.JS.DeleteStream(dctx, "EGOV"); err == nil {
					t.Errorf("%s deleted the stream", name)
				}
				sealed := before
				sealed.Sealed = true
				uctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
				defer cancel()
				if _, err := c.JS.UpdateStream(uctx, sealed); err == nil {
					t.Errorf("%s sealed the stream", name)
				}
			})
		}
	})
	// The office's create, with other limits, of the stream that exists: JetStream refuses it.
	shrunk := before
	shrunk.MaxMsgs = 1
	if _, err := streamtest.Dial(t, srv.As(natsauth.OfficeName)).JS.CreateStream(ctx, shrunk); !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		t.Errorf("the office creating the stream again with max_msgs 1: %v, want it refused as a stream in use", err)
	}
	info, err := s.Info(ctx)
	if err != nil || info.State.Msgs != uint64(len(envs)) {
		t.Fatalf("after the attempts the stream holds %+v (%v), want its %d events", info.State, err, len(envs))
	}
	if !reflect.DeepEqual(info.Config, before) {
		t.Errorf("after the attempts the stream is configured\n%+v\nwas\n%+v", info.Config, before)
	}
}

// The operator's credential, when the authorisation has one, may change the stream: the office's then says how the
// stream differs rather than calling it ready.
func TestOnlyTheOperatorChangesTheStream(t *testing.T) {
	ctx := context.Background()
	srv := streamtest.StartAuth(t)
	op, _ := connectAs(t, srv, natsauth.OperatorName)
	s, err := op.Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sc := s.CachedInfo().Config
	sc.Duplicates = 5 * time.Minute
	if _, err := streamtest.Dial(t, srv.As(natsauth.OperatorName)).JS.UpdateStream(ctx, sc); err != nil {
		t.Fatalf("the operator changing the duplicate window: %v", err)
	}
	_, err = stream.Connect(ctx, srv.As(natsauth.OfficeName), slog.New(slog.DiscardHandler))
	if !errors.Is(err, stream.ErrStreamDiffers) || !strings.Contains(err.Error(), "its duplicate window is 5m0s, EGOV_NATS_DUPLICATE_WINDOW says 2m0s") {
		t.Errorf("the office after the operator's change: %v, want it to say how the stream differs", err)
	}
	cfg := srv.As(natsauth.OfficeName)
	cfg.DuplicateWindow = 5 * time.Minute
	c, err := stream.Connect(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("the office told the new window: %v", err)
	}
	c.Close()
}

// A province reads its own subjects back, as reporting.Load does, and no other unit's; it cannot take over the
// projector's durable consumer, nor listen to other credentials' replies.
func TestProvinceReadsOnlyItsOwnSubjects(t *testing.T) {
	ctx := context.Background()
	srv := streamtest.StartAuth(t)
	office, _ := connectAs(t, srv, natsauth.OfficeName)
	if _, err := office.Publish(ctx, append(unitEvents(t, thaiNguyen, 4), unitEvents(t, haNoi, 3)...), nil); err != nil {
		t.Fatal(err)
	}
	c, _ := connectAs(t, srv, "province/19")
	for subject, want := range map[string]int{"egov.province.19.proc.>": 4, "egov.province.19.report": 0, "egov.province.19.>": 4} {
		if n, err := readAll(ctx, c, subject); err != nil || n != want {
			t.Errorf("province/19 reading %s: %d messages, %v; want %d", subject, n, err, want)
		}
	}
	for _, subject := range []string{"egov.province.01.proc.>", "egov.province.*.proc.>", "egov.>"} {
		began := time.Now()
		n, err := readAll(ctx, c, subject)
		if !errors.Is(err, nats.ErrPermissionViolation) || n != 0 {
			t.Errorf("province/19 reading %s: %d messages, %v; want a permissions violation", subject, n, err)
		}
		if took := time.Since(began); took > 5*time.Second {
			t.Errorf("the refusal of %s took %s", subject, took)
		}
	}

	// The projector's durable consumer: neither created with a filter of its own nor read from.
	raw := streamtest.Dial(t, srv.As("province/19"))
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := raw.JS.CreateOrUpdateConsumer(rctx, "EGOV", jetstream.ConsumerConfig{Durable: "projector", FilterSubject: "egov.province.19.>"}); err == nil {
		t.Error("province/19 created or updated the projector's consumer")
	}
	// Another credential's replies: a subscription to every inbox is refused.
	if _, err := raw.NC.SubscribeSync("_INBOX.>"); err != nil {
		t.Fatal(err)
	}
	if err := raw.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`Subject "$JS.API.CONSUMER.CREATE.EGOV.projector.egov.province.19.>"`, `Subscription Violation - Subject "_INBOX.>"`} {
		if !logged(srv, want) {
			t.Errorf("the server log lacks %s:\n%s", want, srv.Log())
		}
	}
}

// The projector's credential publishes no event; the office's publishes any unit's.
func TestProjectorCannotPublishOfficeSimulates(t *testing.T) {
	ctx := context.Background()
	srv := streamtest.StartAuth(t)
	p, _ := connectAs(t, srv, natsauth.ProjectorName)
	if _, err := p.Publish(ctx, unitEvents(t, thaiNguyen, 1), nil); !errors.Is(err, nats.ErrPermissionViolation) {
		t.Errorf("the projector publishing an event: %v, want a permissions violation", err)
	}

	office, _ := connectAs(t, srv, natsauth.OfficeName)
	all := units.All()
	envs := append(unitEvents(t, all[0].Ref, 10), unitEvents(t, all[70].Ref, 10)...)
	res, err := office.Publish(ctx, envs, nil)
	if err != nil || res.Stored != len(envs) {
		t.Fatalf("the office publishing a ministry's and a province's events: %+v, %v, want %d stored", res, err, len(envs))
	}
	// The durable consumer the projector creates, reads and acks.
	s, err := p.Stream(ctx)
	if err != nil {
		t.Fatalf("the projector looking at the stream: %v", err)
	}
	cons, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "projector", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatalf("the projector creating its consumer: %v", err)
	}
	batch, err := cons.Fetch(10)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := range batch.Messages() {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatalf("the projector acking: %v", err)
		}
		n++
	}
	if n != 10 {
		t.Errorf("the projector fetched %d messages, want 10", n)
	}
	// Another durable name is not the projector's.
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := s.CreateOrUpdateConsumer(rctx, jetstream.ConsumerConfig{Durable: "other", AckPolicy: jetstream.AckExplicitPolicy}); err == nil {
		t.Error("the projector created a consumer that is not its own")
	}
	// A rebuild deletes the projector's consumer and starts again.
	if err := s.DeleteConsumer(ctx, "projector"); err != nil {
		t.Errorf("the projector deleting its consumer, as a rebuild does: %v", err)
	}
}

// With three projector instances, the projector's credential uses each partition's durable consumer and no other
// name, and a province none of them.
func TestPartitionDurablesAreTheProjectors(t *testing.T) {
	ctx := context.Background()
	srv := streamtest.StartAuthPartitions(t, 3)
	p, _ := connectAs(t, srv, natsauth.ProjectorName)
	s, err := p.Stream(ctx)
	if err != nil {
		t.Fatalf("the projector looking at the stream: %v", err)
	}
	prov := streamtest.Dial(t, srv.As("province/19"))
	for _, tc := range []struct {
		durable string
		allowed bool
	}{
		{"projector-1-of-3", true},
		{"projector-3-of-3", true},
		{"projector", false}, // one instance's name is not in use with three
		{"projector-4-of-3", false},
		{"projector-1-of-2", false},
	} {
		t.Run(tc.durable, func(t *testing.T) {
			rctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			_, err := s.CreateOrUpdateConsumer(rctx, jetstream.ConsumerConfig{
				Durable: tc.durable, AckPolicy: jetstream.AckExplicitPolicy,
				FilterSubjects: []string{"egov.province.19.>", "egov.province.1.>"},
			})
			if (err == nil) != tc.allowed {
				t.Errorf("the projector creating %s: %v, allowed %v", tc.durable, err, tc.allowed)
			}
			if tc.allowed {
				if err := s.DeleteConsumer(ctx, tc.durable); err != nil {
					t.Errorf("the projector deleting %s, as a rebuild does: %v", tc.durable, err)
				}
			}
		})
	}
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := prov.JS.CreateOrUpdateConsumer(rctx, "EGOV", jetstream.ConsumerConfig{Durable: "projector-2-of-3", FilterSubject: "egov.province.19.>"}); err == nil {
		t.Error("province/19 created a partition's consumer")
	}
}

// A credential that may not manage the stream says so when told to.
func TestManageStreamNeedsTheOffice(t *testing.T) {
	srv := streamtest.StartAuth(t)
	cfg := srv.As("province/19")
	cfg.ManageStream = true
	_, err := stream.Connect(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), "only the office credential") {
		t.Fatalf("a province managing the stream: %v", err)
	}
}

// The intake API's credential publishes and reads back any unit's events, and sets no national target.
func TestIntakeSpeaksForEveryUnit(t *testing.T) {
	ctx := context.Background()
	srv := streamtest.StartAuth(t)
	c, _ := connectAs(t, srv, natsauth.IntakeName)
	if _, err := c.Publish(ctx, append(unitEvents(t, thaiNguyen, 2), unitEvents(t, haNoi, 1)...), nil); err != nil {
		t.Fatalf("intake publishing two provinces' events: %v", err)
	}
	if n, err := readAll(ctx, c, "egov.province.19.proc.>"); err != nil || n != 2 {
		t.Errorf("intake reading Thái Nguyên's catalogue: %d, %v", n, err)
	}
	target, err := event.New("/test", &event.TargetSetData{Metric: event.MetricLevel4Coverage, Scope: event.National,
		Baseline: 40, BaselineDate: event.DateOf(time.Date(2021, 6, 30, 0, 0, 0, 0, event.Vietnam)), Target: 100,
		Deadline: event.DateOf(time.Date(2021, 12, 31, 0, 0, 0, 0, event.Vietnam)), SetAt: time.Date(2021, 6, 30, 0, 0, 0, 0, event.Vietnam)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, []event.Envelope{target}, nil); !errors.Is(err, nats.ErrPermissionViolation) {
		t.Errorf("intake setting a national target: %v, want a permissions violation", err)
	}
}
