package intake

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/egovtrack/egovtrack/collectors/reporting"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// idSet reads through to the stream and notes the id of every event read, so that the catalogue is loaded and the
// stored ids are known in one pass.
type idSet struct {
	r   reporting.Reader
	ids map[string]bool
}

func (s *idSet) Read(ctx context.Context, subject string, fn func(seq uint64, data []byte) error) error {
	return s.r.Read(ctx, subject, func(seq uint64, b []byte) error {
		var env struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(b, &env) == nil && env.ID != "" {
			s.ids[env.ID] = true
		}
		return fn(seq, b)
	})
}

// conflict is what makes one valid event wrong for the unit's catalogue.
type conflict struct {
	index  int
	fields []FieldError
}

// check holds the events to the unit's catalogue as the stream knows it, applying them in order of effective time
// (the order reporting.Load folds them in), so that a batch may register a procedure and then change its level. It
// returns the events to publish, in that order: an event already in the stream, under the current id or an earlier
// rule's, is a re-send, accepted with its current id and not stored again.
func (h *handler) check(ctx context.Context, unit units.Ref, evs []incoming) ([]event.Envelope, []conflict, error) {
	stored := idSet{r: h.read, ids: map[string]bool{}}
	cat, err := reporting.Load(ctx, &stored, unit)
	if err != nil {
		return nil, nil, err
	}
	// Load reads the procedures and reports; the ids of the unit's other aggregates (its assistant) are read too,
	// so that a re-sent event of theirs is found.
	read := map[string]bool{}
	for _, in := range evs {
		if s := in.env.Subject; !strings.HasPrefix(s, event.UnitSubject(unit, "proc.")) && !read[s] {
			read[s] = true
			if err := stored.Read(ctx, s, func(uint64, []byte) error { return nil }); err != nil {
				return nil, nil, fmt.Errorf("read %s: %w", s, err)
			}
		}
	}
	ordered := slices.Clone(evs)
	slices.SortStableFunc(ordered, func(a, b incoming) int { return a.env.Time.Compare(b.env.Time) })
	var (
		fresh     []event.Envelope
		conflicts []conflict
		seen      = map[string]bool{}
	)
	for _, in := range ordered {
		if seen[in.env.ID] {
			continue
		}
		// The stream may hold the fact under the id of an earlier rule (event.IDs): a re-send all the same.
		ids, err := event.IDs(in.data)
		if err != nil {
			return nil, nil, err
		}
		if slices.ContainsFunc(ids, func(id string) bool { return stored.ids[id] }) {
			continue
		}
		seen[in.env.ID] = true
		if fs := conflictsWith(cat, in.data); len(fs) > 0 {
			conflicts = append(conflicts, conflict{in.index, fs})
			continue
		}
		apply(&cat, in.data)
		fresh = append(fresh, in.env)
	}
	slices.SortFunc(conflicts, func(a, b conflict) int { return cmp.Compare(a.index, b.index) })
	return fresh, conflicts, nil
}

// conflictsWith says what makes a valid event wrong for the catalogue: a change to a procedure the unit does not
// have (or no longer has), a level change from a level the procedure is not at, or a change that would take effect
// before the procedure's latest one (the catalogue folds changes in order of effective time, so it would be
// overtaken and never seen).
func conflictsWith(cat reporting.Catalogue, d event.Data) []FieldError {
	var (
		code  string
		needs bool // the procedure must be in the catalogue and active
		at    time.Time
	)
	switch d := d.(type) {
	case *event.ProcedureRegisteredData:
		code, at = d.Procedure, d.EffectiveAt
	case *event.LevelChangedData:
		code, at, needs = d.Procedure, d.EffectiveAt, true
	case *event.ProcedureRetiredData:
		code, at, needs = d.Procedure, d.EffectiveAt, true
	default:
		return nil
	}
	e, known := cat.Procedures[code]
	switch {
	case needs && !known:
		return []FieldError{{Field: "data.procedure", Message: fmt.Sprintf(
			"unknown procedure: %s is not in %s's catalogue; register it first (%s, or a catalogue snapshot)",
			code, cat.Unit, event.ProcedureRegistered)}}
	case needs && !e.Active:
		what := "register it again before changing its level"
		if _, retire := d.(*event.ProcedureRetiredData); retire {
			what = "it is already retired"
		}
		return []FieldError{{Field: "data.procedure", Message: fmt.Sprintf("%s was retired, effective %s: %s", code, stamp(e.Since), what)}}
	}
	var fs []FieldError
	if lc, ok := d.(*event.LevelChangedData); ok && lc.From != e.Level {
		fs = append(fs, FieldError{Field: "data.from",
			Message: fmt.Sprintf("is %d, but the current level of %s is %d", lc.From, code, e.Level)})
	}
	if known && at.Before(e.Since) {
		fs = append(fs, FieldError{Field: "data.effective_at", Message: fmt.Sprintf(
			"is %s, before the latest change of %s (effective %s): report changes in the order they happened",
			stamp(at), code, stamp(e.Since))})
	}
	return fs
}

// apply folds an accepted event into the catalogue, as reporting.Load folds the stream, so that the next event of a
// batch is checked against the state this one leaves.
func apply(cat *reporting.Catalogue, d event.Data) {
	switch d := d.(type) {
	case *event.ProcedureRegisteredData:
		cat.Procedures[d.Procedure] = reporting.Entry{
			Procedure: reporting.Procedure{Code: d.Procedure, Name: d.Name, Sector: d.Sector, Eligible: d.Eligible, Level: d.Level},
			Active:    true, Since: d.EffectiveAt,
		}
	case *event.LevelChangedData:
		e := cat.Procedures[d.Procedure]
		e.Level, e.Since = d.To, d.EffectiveAt
		cat.Procedures[d.Procedure] = e
	case *event.ProcedureRetiredData:
		e := cat.Procedures[d.Procedure]
		e.Active, e.Since = false, d.EffectiveAt
		cat.Procedures[d.Procedure] = e
	}
}

// stamp writes a time as Vietnamese officials read it: in Vietnam's zone.
func stamp(t time.Time) string { return t.In(event.Vietnam).Format(time.RFC3339) }
