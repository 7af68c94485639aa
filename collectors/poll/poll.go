// Package poll is the `poll` collector: it polls a provincial portal's HTTP endpoint that serves the unit's whole
// catalogue as JSON (a reporting.Snapshot, see README.md) and reports it like every collector, publishing only what
// changed since the stream last heard of the unit, plus one report-submitted event.
//
// A poll either records the whole catalogue or nothing: an error status after the retries, a body that is not the
// unit's catalogue, or a single invalid procedure publishes no event and no report, and keeps the portal's previous
// ETag so that the next poll fetches the document again.
package poll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/egovtrack/egovtrack/collectors/reporting"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/stream"
)

const (
	// Source is the CloudEvents source of what this collector publishes.
	Source = "/egovtrack/collectors/poll"
	// Collector names this collector in report-submitted events.
	Collector = "poll"
)

// Status says what a successful poll did.
type Status int

const (
	// Unchanged: the portal answered 304 Not Modified; nothing was read back or published.
	Unchanged Status = iota + 1
	// Submitted: the catalogue's differences and a report were published (Result says what).
	Submitted
	// Repeat: the portal served a catalogue that changes nothing and repeats the unit's report of the same day by
	// this collector; nothing was published.
	Repeat
)

func (s Status) String() string {
	switch s {
	case Unchanged:
		return "unchanged"
	case Submitted:
		return "submitted"
	case Repeat:
		return "repeat"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Outcome is what one successful poll did.
type Outcome struct {
	Status Status
	// Result is what reporting.Submit did, for Submitted and Repeat.
	Result reporting.Result
}

// Poller polls one unit's portal. It remembers the validators (ETag or Last-Modified) of the last document it
// recorded, in memory only: a restarted poller fetches the document once in full, which Submit turns into nothing
// when it repeats the day's report. A Poller is not safe for concurrent use; Run calls it from one goroutine.
type Poller struct {
	cfg    Config
	pub    stream.Publisher
	r      reporting.Reader
	log    *slog.Logger
	now    func() time.Time
	client *http.Client
	url    string // for messages: the URL without its password

	last    validators // of the last document recorded
	lastDay event.Date // the Vietnamese day it was recorded
}

// NewPoller checks cfg and returns a poller publishing to pub and reading the unit's catalogue back from r (a
// *stream.Conn is both). now is the clock events are stamped with; nil means time.Now.
func NewPoller(cfg Config, pub stream.Publisher, r reporting.Reader, log *slog.Logger, now func() time.Time) (*Poller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	u, _ := url.Parse(cfg.URL) // Validate parsed it
	return &Poller{
		cfg: cfg, pub: pub, r: r, log: log, now: now, url: u.Redacted(),
		// No client-wide timeout: each attempt has its own (Timeout), and ctx ends the whole poll.
		client: &http.Client{},
	}, nil
}

// PollOnce fetches the catalogue once (with retries) and records it. The request is conditional (If-None-Match, or
// If-Modified-Since when the portal gave no ETag) except on the first poll of a Vietnamese day: that one fetches
// the document in full so that, even when nothing changed, the day gets its report and the unit is seen to be
// reporting. On error the Outcome is zero, nothing is recorded and the validators are kept, so the next poll tries
// again. (A publish that fails part way may have stored some of the events: true facts, which the next poll reads
// back with the catalogue and does not publish again.)
func (p *Poller) PollOnce(ctx context.Context) (Outcome, error) {
	at := p.now()
	var cond validators
	if p.lastDay == event.DateOf(at) {
		cond = p.last
	}
	f, err := p.fetch(ctx, cond)
	if err != nil {
		return Outcome{}, p.wrap(err)
	}
	if f.notModified {
		p.log.Info("unchanged", "unit", p.cfg.Unit.String(), cond.logAttr())
		return Outcome{Status: Unchanged}, nil
	}
	procs, err := decode(f.body, p.cfg.Unit.Ref)
	if err != nil {
		return Outcome{}, p.wrap(err)
	}
	cur, err := reporting.Load(ctx, p.r, p.cfg.Unit.Ref)
	if err != nil {
		return Outcome{}, p.wrap(err)
	}
	// A portal's truncated answer must not retire the rest: AllowRetireMost stays off.
	res, err := reporting.Submit(ctx, p.pub, cur, reporting.Report{Source: Source, Collector: Collector, At: at, Procedures: procs})
	if err != nil {
		// Events stored before the failure are true facts; the next poll reads them back and publishes the rest.
		// The validators stay, so that the next poll fetches the document again instead of hearing 304.
		return Outcome{}, p.wrap(fmt.Errorf("%d events stored before the failure: %w", res.Published.Stored, err))
	}
	p.last, p.lastDay = f.validators, event.DateOf(at)
	if res.Repeat {
		p.log.Info("unchanged since today's report", "unit", p.cfg.Unit.String(), "procedures", len(procs))
		return Outcome{Status: Repeat, Result: res}, nil
	}
	c := res.Plan.Counts()
	p.log.Info("submitted", "unit", p.cfg.Unit.String(), "registered", c.Registered, "changed", c.Changed,
		"retired", c.Retired, "unchanged", c.Unchanged, "stored", res.Published.Stored, "duplicates", res.Published.Duplicates)
	return Outcome{Status: Submitted, Result: res}, nil
}

func (p *Poller) wrap(err error) error {
	return fmt.Errorf("poll %s for %s: %w", p.url, p.cfg.Unit.String(), err)
}

// maxLoggedRows bounds the log lines of one rejected document; the count of the rest is logged.
const maxLoggedRows = 100

// logFailure logs a failed poll and its invalid values.
func (p *Poller) logFailure(err error) {
	p.log.Error("poll failed, nothing recorded", "unit", p.cfg.Unit.String(), "err", err)
	p.logRows(err)
}

// logRows logs one line per invalid value when the document's procedures were the problem, so that the portal's
// operators can fix them all from the log alone (the error itself spells out only the first few).
func (p *Poller) logRows(err error) {
	var re *RowsError
	if !errors.As(err, &re) {
		return
	}
	for i, r := range re.Rows {
		if i == maxLoggedRows {
			p.log.Error("more invalid values not shown", "unit", p.cfg.Unit.String(), "count", len(re.Rows)-maxLoggedRows)
			break
		}
		p.log.Error("invalid procedure", "unit", p.cfg.Unit.String(), "row", r.Line, "column", r.Column, "value", r.Value, "reason", r.Reason)
	}
}

// Run polls the portal every cfg.Interval until ctx ends, and returns nil then; a failed poll is logged and the next
// one tries again. With an Interval of 0 it polls once and returns that poll's error for the caller to log, logging
// itself only the invalid values, one per line. Each poll is one Load of the unit's catalogue from r and at most one
// Submit to pub; now stamps the events.
func Run(ctx context.Context, cfg Config, pub stream.Publisher, r reporting.Reader, log *slog.Logger, now func() time.Time) error {
	p, err := NewPoller(cfg, pub, r, log, now)
	if err != nil {
		return err
	}
	p.log.Info("polling portal", "config", cfg)
	if cfg.Interval == 0 {
		if _, err := p.PollOnce(ctx); err != nil {
			p.logRows(err)
			return err
		}
		return nil
	}
	// A ticker keeps the schedule regular; a poll longer than the interval skips ticks rather than queueing them.
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	for {
		if _, err := p.PollOnce(ctx); err != nil && ctx.Err() == nil {
			p.logFailure(err)
		}
		select {
		case <-ctx.Done():
			p.log.Info("polling stopped", "unit", cfg.Unit.String())
			return nil
		case <-t.C:
		}
	}
}
