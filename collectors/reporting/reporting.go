// Package reporting is how a unit's report of its catalogue becomes events, the same for every collector (sheet, poll,
// the intake API's snapshots): it reads the unit's catalogue back as the event stream knows it (no local database),
// checks the rows reported (ParseRows), works out what changed (Diff), and publishes only that, with one
// report-submitted event (Submit).
package reporting

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/units"
)

// Procedure is one procedure of a unit's catalogue, as reported.
type Procedure struct {
	Code     string
	Name     string
	Sector   string
	Eligible bool
	Level    event.Level
}

// Entry is a procedure as the stream knows it.
type Entry struct {
	Procedure
	Active bool      // false once retired
	Since  time.Time // effective time of its latest change
}

// Catalogue is a unit's procedures as the stream knows them, with its latest report.
type Catalogue struct {
	Unit       units.Ref
	Procedures map[string]Entry
	LastReport *event.ReportSubmittedData // nil before the first report
}

// Reader reads the messages stored under a subject; *stream.Conn is one.
type Reader interface {
	Read(ctx context.Context, subject string, fn func(seq uint64, data []byte) error) error
}

// Load reads a unit's catalogue back from the stream: every event of its procedures, folded in order of effective
// time (stream sequence breaking ties), and its latest report.
func Load(ctx context.Context, r Reader, unit units.Ref) (Catalogue, error) {
	type change struct {
		seq uint64
		at  time.Time
		d   event.Data
	}
	var cs []change
	err := r.Read(ctx, event.UnitSubject(unit, "proc.>"), func(seq uint64, b []byte) error {
		env, d, err := event.Decode(b)
		if err != nil {
			return nil // not the collectors' business: the projector quarantines it
		}
		cs = append(cs, change{seq, env.Time, d})
		return nil
	})
	if err != nil {
		return Catalogue{}, fmt.Errorf("load catalogue of %s: %w", unit, err)
	}
	slices.SortFunc(cs, func(a, b change) int { return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.seq, b.seq)) })
	cat := Catalogue{Unit: unit, Procedures: map[string]Entry{}}
	for _, c := range cs {
		switch d := c.d.(type) {
		case *event.ProcedureRegisteredData:
			cat.Procedures[d.Procedure] = Entry{Procedure: Procedure{d.Procedure, d.Name, d.Sector, d.Eligible, d.Level}, Active: true, Since: d.EffectiveAt}
		case *event.LevelChangedData:
			if e, ok := cat.Procedures[d.Procedure]; ok {
				e.Level, e.Since = d.To, d.EffectiveAt
				cat.Procedures[d.Procedure] = e
			}
		case *event.ProcedureRetiredData:
			if e, ok := cat.Procedures[d.Procedure]; ok {
				e.Active, e.Since = false, d.EffectiveAt
				cat.Procedures[d.Procedure] = e
			}
		}
	}
	err = r.Read(ctx, event.UnitSubject(unit, "report"), func(_ uint64, b []byte) error {
		if _, d, err := event.Decode(b); err == nil {
			rep := d.(*event.ReportSubmittedData)
			if cat.LastReport == nil || !rep.ReportedAt.Before(cat.LastReport.ReportedAt) {
				cat.LastReport = rep
			}
		}
		return nil
	})
	if err != nil {
		return Catalogue{}, fmt.Errorf("load reports of %s: %w", unit, err)
	}
	return cat, nil
}

// Plan is what a reported catalogue changes.
type Plan struct {
	Events    []event.Data // registrations, level changes and retirements, in code order
	Added     []string     // codes registered, new or back after a retirement
	Updated   []string     // codes registered again because their name, sector or eligibility changed
	Changed   []string     // codes whose level changed
	Retired   []string     // codes no longer reported
	Unchanged []string
}

// Counts summarises the plan for the report event.
func (p Plan) Counts() event.ReportCounts {
	return event.ReportCounts{Registered: len(p.Added) + len(p.Updated), Changed: len(p.Changed), Retired: len(p.Retired), Unchanged: len(p.Unchanged)}
}

// Empty reports whether the catalogue changes nothing.
func (p Plan) Empty() bool { return len(p.Events) == 0 }

// Diff returns the events that take cur to the reported catalogue, effective at. The reported catalogue is the
// unit's whole catalogue: an active procedure it lacks is retired. A procedure whose name, sector or eligibility
// changed is registered again with its new attributes; one whose level alone changed gets a level change.
func Diff(cur Catalogue, reported []Procedure, at time.Time) Plan {
	var p Plan
	seen := map[string]bool{}
	sorted := slices.Clone(reported)
	slices.SortFunc(sorted, func(a, b Procedure) int { return cmp.Compare(a.Code, b.Code) })
	for _, r := range sorted {
		seen[r.Code] = true
		e, ok := cur.Procedures[r.Code]
		register := &event.ProcedureRegisteredData{Unit: cur.Unit, Procedure: r.Code, Name: r.Name, Sector: r.Sector, Eligible: r.Eligible, Level: r.Level, EffectiveAt: at}
		switch {
		case !ok || !e.Active:
			p.Events = append(p.Events, register)
			p.Added = append(p.Added, r.Code)
		case e.Name != r.Name || e.Sector != r.Sector || e.Eligible != r.Eligible:
			p.Events = append(p.Events, register)
			p.Updated = append(p.Updated, r.Code)
		case e.Level != r.Level:
			p.Events = append(p.Events, &event.LevelChangedData{Unit: cur.Unit, Procedure: r.Code, From: e.Level, To: r.Level, EffectiveAt: at})
			p.Changed = append(p.Changed, r.Code)
		default:
			p.Unchanged = append(p.Unchanged, r.Code)
		}
	}
	codes := make([]string, 0, len(cur.Procedures))
	for code, e := range cur.Procedures {
		if e.Active && !seen[code] {
			codes = append(codes, code)
		}
	}
	slices.Sort(codes)
	for _, code := range codes {
		p.Events = append(p.Events, &event.ProcedureRetiredData{Unit: cur.Unit, Procedure: code, Reason: "không còn trong danh mục báo cáo", EffectiveAt: at})
		p.Retired = append(p.Retired, code)
	}
	return p
}

// Digest names a reported catalogue by its content, whatever the order of its rows: two files that say the same
// thing have the same digest.
func Digest(reported []Procedure) string {
	sorted := slices.Clone(reported)
	slices.SortFunc(sorted, func(a, b Procedure) int { return cmp.Compare(a.Code, b.Code) })
	h := sha256.New()
	for _, r := range sorted {
		for _, f := range []string{r.Code, r.Name, r.Sector, strconv.FormatBool(r.Eligible), strconv.Itoa(int(r.Level))} {
			h.Write([]byte(f))
			h.Write([]byte{0})
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Result is what Submit did.
type Result struct {
	Plan      Plan
	Published stream.Result
	// Repeat is set when the report changed nothing and repeated the unit's latest report of the same day: nothing
	// was published.
	Repeat bool
}

// Report is what one collector run reports for a unit.
type Report struct {
	Source    string // the CloudEvents source of the events
	Collector string // simulate, sheet, poll, serve
	At        time.Time
	// Procedures is the unit's whole catalogue.
	Procedures []Procedure
	// AllowRetireMost lets the report retire more than half of the unit's active procedures, as a reorganisation
	// may. Without it such a report is refused as a likely partial file: someone sending only the rows that
	// changed would otherwise take most of the unit's procedures out of the national figures.
	AllowRetireMost bool
}

// MaxProcedures is the most procedures one report may hold. The national database of administrative procedures lists
// about 6,000 for every ministry and province together, and the largest catalogue of one unit, a province's, about
// 2,000: a report of more is not one unit's catalogue, and publishing it would flood the stream and every table with
// one unit's mistake.
const MaxProcedures = 10_000

// MaxEvents is the most events one report publishes, besides its report event: each procedure reported is registered
// or changed once at most, and each of the unit's procedures that the report leaves out is retired once.
const MaxEvents = 2 * MaxProcedures

// ErrTooLarge is returned, wrapped with the numbers, for a report of more than MaxProcedures procedures or more than
// MaxEvents changes.
var ErrTooLarge = errors.New("the report is larger than a catalogue of one unit")

// ErrRetiresMost is returned, wrapped with the numbers, for a report that would retire more than half of the unit's
// active procedures without Report.AllowRetireMost.
var ErrRetiresMost = errors.New("the report would retire most of the unit's procedures")

// ErrClock is returned, wrapped with the bound passed, for a report whose time (the clock of the machine that took
// it) lies outside the time domain (event.CheckTime): nothing is published.
var ErrClock = errors.New("the clock of this computer is outside the times egovtrack records")

// Submit publishes what a unit reported: the plan's events and one report-submitted event carrying the counts and the
// catalogue's digest. A report that changes nothing and repeats the unit's latest report (same collector, same
// digest, same Vietnamese day) publishes nothing: importing the same file twice is harmless. A new day's unchanged
// report is published, so that the unit is seen to be reporting.
//
// Errors: ErrTooLarge for more than MaxProcedures procedures or MaxEvents changes, ErrRetiresMost, both before
// anything is published; then what publishing returned.
func Submit(ctx context.Context, pub stream.Publisher, cur Catalogue, r Report) (Result, error) {
	if err := event.CheckTime(r.At); err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrClock, err)
	}
	if n := len(r.Procedures); n > MaxProcedures {
		return Result{}, fmt.Errorf("%w: it holds %d procedures, more than the %d a catalogue may hold", ErrTooLarge, n, MaxProcedures)
	}
	res := Result{Plan: Diff(cur, r.Procedures, r.At)}
	if n := len(res.Plan.Events); n > MaxEvents {
		return res, fmt.Errorf("%w: it makes %d changes, more than the %d one report may make", ErrTooLarge, n, MaxEvents)
	}
	active := 0
	for _, e := range cur.Procedures {
		if e.Active {
			active++
		}
	}
	if n := len(res.Plan.Retired); !r.AllowRetireMost && n > 0 && 2*n > active {
		return res, fmt.Errorf("%w: %d of its %d active procedures are not in the report; send the whole catalogue, or allow it if the unit really stopped offering them", ErrRetiresMost, n, active)
	}
	digest := Digest(r.Procedures)
	if last := cur.LastReport; res.Plan.Empty() && last != nil && last.Collector == r.Collector && last.Digest == digest &&
		event.DateOf(last.ReportedAt) == event.DateOf(r.At) {
		res.Repeat = true
		return res, nil
	}
	ds := append(slices.Clone(res.Plan.Events), &event.ReportSubmittedData{
		Unit: cur.Unit, Collector: r.Collector, ReportedAt: r.At, Counts: res.Plan.Counts(), Digest: digest,
	})
	envs := make([]event.Envelope, 0, len(ds))
	for _, d := range ds {
		env, err := event.New(r.Source, d)
		if err != nil {
			return res, fmt.Errorf("%s on %s: %w", d.EventType(), d.Subject(), err)
		}
		envs = append(envs, env)
	}
	p, err := pub.Publish(ctx, envs, nil)
	res.Published = p
	if err != nil {
		return res, fmt.Errorf("publish the report of %s: %w", cur.Unit, err)
	}
	return res, nil
}
