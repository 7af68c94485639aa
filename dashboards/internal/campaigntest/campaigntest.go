// Package campaigntest gives the dashboards' tests a real ClickHouse holding the simulated 2021 campaign, projected
// by the real projector: the events of collectors/simulate are published to an embedded JetStream (streamtest), a
// few messages the contract refuses are published after them, and projector/consumer writes the stream through
// projector/store into a chdbtest database until it has caught up. That is the whole path of `make demo`, so what
// the dashboards' SQL reads is what production would hold.
//
// Loading takes a few seconds, so it happens once: Load builds the campaign for the first test that asks and hands
// the same one to every later caller until that test ends (the database is dropped then). Call Load from one
// top-level test and share it among its subtests:
//
//	func TestDashboards(t *testing.T) {
//		c := campaigntest.Load(t)
//		t.Run(…, func(t *testing.T) { … c.Conn … })
//	}
//
// The package using it needs chdbtest's TestMain: func TestMain(m *testing.M) { chdbtest.Main(m) }.
package campaigntest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/caarlos0/env/v11"

	"github.com/egovtrack/egovtrack/collectors/simulate"
	"github.com/egovtrack/egovtrack/internal/chdb"
	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
	"github.com/egovtrack/egovtrack/internal/units"
	"github.com/egovtrack/egovtrack/projector/consumer"
	"github.com/egovtrack/egovtrack/projector/projection"
)

// Seed is the simulation's seed, the demo's default.
const Seed = 2021

// Event is one published event as the projector received it.
type Event struct {
	Env  event.Envelope
	Data event.Data
	Seq  uint64 // its stream sequence
}

// Rejected is one published message the contract refuses, and why, as event.Decode says.
type Rejected struct {
	Subject string
	Payload []byte
	Reason  string
	Seq     uint64
}

// Campaign is the loaded database and what was published into it.
type Campaign struct {
	Config chdb.Config // the database holding the projection
	Conn   driver.Conn
	// Events are the valid events in the order of their stream sequence: the simulated campaign, then a few more
	// targets (see extra).
	Events []Event
	// Rejected are the messages published after the events, which the projector quarantined.
	Rejected []Rejected
	// Published is when the first message was published and Projected when the projector had caught up: every
	// received_at and projected_at lies between them (to the second).
	Published, Projected time.Time
	Stats                consumer.Stats

	engines *Engines // the copy into ClickHouse 26.7, made by Engines
}

var cache struct {
	mu sync.Mutex
	c  *Campaign
}

// Load returns the campaign, loading it on the first call. The campaign lives until the test that loaded it ends.
func Load(t *testing.T) *Campaign {
	t.Helper()
	cache.mu.Lock()
	defer cache.mu.Unlock()
	if cache.c != nil {
		return cache.c
	}
	c, err := load(t)
	if err != nil {
		t.Fatalf("campaigntest: %v", err)
	}
	cache.c = c
	t.Cleanup(func() {
		cache.mu.Lock()
		defer cache.mu.Unlock()
		cache.c = nil
	})
	return c
}

func load(t *testing.T) (*Campaign, error) {
	envs, err := simulate.Generate(simulate.Campaign2021(Seed))
	if err != nil {
		return nil, err
	}
	more, err := extra()
	if err != nil {
		return nil, err
	}
	bad, err := badMessages()
	if err != nil {
		return nil, err
	}
	return project(t, append(envs, more...), nil, bad)
}

// Project publishes envs to a fresh stream, then again the events of again (published a second time past JetStream's
// duplicate window: the projector must store nothing of them twice), and projects them all into a fresh database,
// as Load does the campaign. For tests of other histories than the campaign's; it is not cached.
func Project(t *testing.T, envs, again []event.Envelope) *Campaign {
	t.Helper()
	c, err := project(t, envs, again, nil)
	if err != nil {
		t.Fatalf("campaigntest: %v", err)
	}
	return c
}

func project(t *testing.T, envs, again []event.Envelope, bad []Rejected) (*Campaign, error) {
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	ns := streamtest.New(t)
	nc, err := stream.Connect(ctx, ns, log)
	if err != nil {
		return nil, err
	}
	defer nc.Close()

	c := &Campaign{Published: time.Now().Truncate(time.Second)}
	res, err := nc.Publish(ctx, envs, nil)
	if err != nil {
		return nil, err
	}
	if res.Stored != len(envs) {
		return nil, fmt.Errorf("published %d events, JetStream stored %d", len(envs), res.Stored)
	}
	for i, env := range envs {
		// Made and validated by the caller: validating every event again would add seconds to each test run.
		d, err := env.UncheckedData()
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		c.Events = append(c.Events, Event{Env: env, Data: d, Seq: uint64(i + 1)}) // a fresh stream numbers from 1
	}
	raw := streamtest.Dial(t, ns) // they are no events: stream.Conn would not publish them
	for _, env := range again {
		// Without a message id, so that JetStream stores them again: the projector must skip them.
		b, err := json.Marshal(env)
		if err != nil {
			return nil, err
		}
		if _, err := raw.JS.Publish(ctx, env.Subject, b); err != nil {
			return nil, err
		}
	}
	for i, b := range bad {
		ack, err := raw.JS.Publish(ctx, b.Subject, b.Payload)
		if err != nil {
			return nil, fmt.Errorf("publish bad message %d: %w", i, err)
		}
		b.Seq = ack.Sequence
		c.Rejected = append(c.Rejected, b)
	}
	if len(c.Rejected) > 0 {
		if first := c.Rejected[0].Seq; first != uint64(len(c.Events)+len(again)+1) {
			return nil, fmt.Errorf("the first message after the events has stream sequence %d, want %d", first, len(c.Events)+len(again)+1)
		}
	}

	c.Config = chdbtest.New(t)
	c.Conn = chdbtest.Conn(t, c.Config)
	s, err := nc.Stream(ctx)
	if err != nil {
		return nil, err
	}
	// The projector's defaults: its batches of 5,000 write the campaign in several, so that coverage_daily and
	// procedures hold several versions of the same rows, as in production, and only FINAL reads them right.
	cfg, err := env.ParseAs[consumer.Config]()
	if err != nil {
		return nil, err
	}
	cfg.Durable, cfg.FlushInterval = "dashboards-test", 20*time.Millisecond
	if c.Stats, err = projection.New(c.Conn, s, projection.Config{Consumer: cfg, UntilCaughtUp: true}, nil, log).Run(ctx); err != nil {
		return nil, err
	}
	c.Projected = time.Now().Add(time.Second).Truncate(time.Second)
	if c.Stats.Projected != len(c.Events)+len(again) || c.Stats.Skipped != len(again) || c.Stats.Rejected != len(c.Rejected) {
		return nil, fmt.Errorf("the projector wrote %d events (%d of them found written) and quarantined %d, want %d (%d) and %d",
			c.Stats.Projected, c.Stats.Skipped, c.Stats.Rejected, len(c.Events)+len(again), len(again), len(c.Rejected))
	}
	t.Logf("events projected in %s: %d events in %d batches, %d quarantined", time.Since(began).Round(time.Millisecond),
		c.Stats.Projected, c.Stats.Batches, c.Stats.Rejected)
	return c, nil
}

// extra are valid events published after the campaign, so that the SQL must choose among targets as the
// projection's readers do: a national coverage target set before the campaign's and replaced by it, and a target
// for one province, which the national trajectory must ignore.
func extra() ([]event.Envelope, error) {
	hanoi := units.Ref{Kind: units.Province, Code: "01"}
	ds := []event.Data{
		&event.TargetSetData{Metric: event.MetricLevel4Coverage, Scope: event.National, Baseline: 30,
			BaselineDate: "2021-06-01", Target: 90, Deadline: "2021-12-31",
			SetAt: time.Date(2021, 6, 2, 9, 0, 0, 0, event.Vietnam)},
		&event.TargetSetData{Metric: event.MetricLevel4Coverage, Scope: event.ScopeOf(hanoi), Baseline: 50,
			BaselineDate: "2021-08-01", Target: 100, Deadline: "2021-10-31",
			SetAt: time.Date(2021, 8, 2, 9, 0, 0, 0, event.Vietnam)},
	}
	out := make([]event.Envelope, 0, len(ds))
	for _, d := range ds {
		env, err := event.New("/egovtrack/dashboards/test", d)
		if err != nil {
			return nil, err
		}
		out = append(out, env)
	}
	return out, nil
}

// badMessages are messages a collector might send that the contract refuses: malformed JSON twice, an unknown
// type, and a level change whose data was altered after its id was derived.
func badMessages() ([]Rejected, error) {
	thaiNguyen := units.Ref{Kind: units.Province, Code: "19"}
	change, err := event.New("/egovtrack/dashboards/test", &event.LevelChangedData{Unit: thaiNguyen, Procedure: "1.001008",
		From: 3, To: 4, EffectiveAt: time.Date(2021, 9, 1, 10, 0, 0, 0, event.Vietnam)})
	if err != nil {
		return nil, err
	}
	altered := change
	altered.Data = json.RawMessage(`{"unit":{"kind":"province","code":"19"},"procedure":"1.001008","from":3,"to":4,` +
		`"effective_at":"2021-09-02T03:00:00Z"}`)
	alteredJSON, err := json.Marshal(altered)
	if err != nil {
		return nil, err
	}
	unknown := `{"id":"00000000-0000-4000-8000-000000000001","source":"/egovtrack/dashboards/test","specversion":"1.0",` +
		`"type":"gov.egov.procedure.renamed.v1","subject":"egov.province.19.proc.1_001008","time":"2021-09-01T03:00:00Z",` +
		`"datacontenttype":"application/json","data":{}}`
	subject := event.ProcedureSubject(thaiNguyen, "1.001008")
	out := []Rejected{
		{Subject: subject, Payload: []byte(`{"id": "truncated`)},
		{Subject: subject, Payload: []byte(`{"id": "truncated`)},
		{Subject: subject, Payload: []byte(unknown)},
		{Subject: subject, Payload: alteredJSON},
	}
	for i := range out {
		_, _, err := event.Decode(out[i].Payload)
		if err == nil {
			return nil, fmt.Errorf("bad message %d passes the contract", i)
		}
		out[i].Reason = err.Error()
	}
	return out, nil
}
