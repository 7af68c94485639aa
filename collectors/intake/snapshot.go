package intake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/egovtrack/egovtrack/collectors/reporting"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/units"
)

// CatalogueResponse is the body of PUT /v1/units/{kind}/{code}/catalogue (and POST …/snapshot): 202 when events were
// published, 200 with Repeat when the snapshot repeated the unit's latest one of the day and nothing was published.
type CatalogueResponse struct {
	// IDs are the events published: registrations, level changes and retirements in code order, then the
	// report-submitted event. Empty on a repeat.
	IDs    []string `json:"ids"`
	Repeat bool     `json:"repeat"`
	Counts Counts   `json:"counts"`
	// The codes behind the counts, but for the unchanged ones (most of a catalogue, most days).
	Added   []string `json:"added"`
	Updated []string `json:"updated"`
	Changed []string `json:"changed"`
	Retired []string `json:"retired"`
}

// Counts says what a snapshot changed in the unit's catalogue.
type Counts struct {
	Added     int `json:"added"`     // new procedures, or back after a retirement
	Updated   int `json:"updated"`   // registered again: name, sector or eligibility changed
	Changed   int `json:"changed"`   // level changed
	Retired   int `json:"retired"`   // no longer in the catalogue
	Unchanged int `json:"unchanged"` // reported as the stream knows them
}

// putCatalogue takes a unit's whole catalogue and publishes the differences to what the stream knows, with one
// report-submitted event (reporting.Submit): the same path as a spreadsheet import, so that both report alike.
func (h *handler) putCatalogue(w http.ResponseWriter, r *http.Request, c caller) error {
	body, err := readBody(w, r, h.cfg.MaxBody, mediaJSON)
	if err != nil {
		return err
	}
	procs, claimed, fields := parseCatalogue(body, c.unit)
	if claimed != c.unit {
		h.log.Warn("catalogue for another unit refused", "credential", c.cred, "unit", c.unit, "claimed_unit", claimed)
	}
	if len(fields) > 0 {
		return refuse(eInvalid, "the catalogue is invalid; nothing was stored", fields...)
	}
	return h.submit(r, w, c, procs)
}

// parseCatalogue reads the body of a catalogue snapshot for unit: the procedures, the unit the body claims, and every
// problem found, field by field. Procedures are returned only when there is none.
func parseCatalogue(body []byte, unit units.Ref) ([]reporting.Procedure, units.Ref, []FieldError) {
	snap, claimed, fields := parseSnapshot(body, unit)
	if len(snap.Procedures) == 0 {
		return nil, claimed, fields
	}
	// Also for a snapshot with fields at fault, so that one answer lists every problem; a row error on a field that
	// could not even be decoded says nothing more and is left out.
	procs, rowErrs := reporting.ParseRows(snap.Rows())
	have := map[string]bool{}
	for _, f := range fields {
		have[f.Field] = true
	}
	for _, f := range fromRows(rowErrs) {
		if !have[f.Field] {
			fields = append(fields, f)
		}
	}
	if len(fields) > 0 {
		return nil, claimed, fields
	}
	return procs, claimed, nil
}

func (h *handler) submit(r *http.Request, w http.ResponseWriter, c caller, procs []reporting.Procedure) error {
	ctx := r.Context()
	unlock, err := h.locks.lock(ctx, c.unit)
	if err != nil {
		return fmt.Errorf("wait for %s's other requests: %w", c.unit, err)
	}
	defer unlock()
	cur, err := reporting.Load(ctx, h.read, c.unit)
	if err != nil {
		return err
	}
	rec := &recorder{pub: h.pub, take: func(n int) error { return h.takeEvents(r, c, n, "this catalogue makes") }}
	res, err := reporting.Submit(ctx, rec, cur, reporting.Report{Source: Source, Collector: Collector, At: h.now(), Procedures: procs})
	if errors.Is(err, reporting.ErrRetiresMost) {
		// Far likelier a partial export than the truth; a reorganisation is reported with the sheet collector.
		return refuse(eConflict, err.Error()+"; nothing was stored")
	}
	if errors.Is(err, reporting.ErrTooLarge) {
		return refuse(eTooLarge, err.Error()+"; nothing was stored")
	}
	if err != nil {
		return err
	}
	p := res.Plan
	out := CatalogueResponse{
		IDs: nonNil(rec.ids), Repeat: res.Repeat,
		Counts: Counts{Added: len(p.Added), Updated: len(p.Updated), Changed: len(p.Changed), Retired: len(p.Retired), Unchanged: len(p.Unchanged)},
		Added:  nonNil(p.Added), Updated: nonNil(p.Updated), Changed: nonNil(p.Changed), Retired: nonNil(p.Retired),
	}
	h.log.Info("catalogue accepted", "unit", c.unit, "credential", c.cred, "procedures", len(procs), "repeat", res.Repeat,
		"added", out.Counts.Added, "updated", out.Counts.Updated, "changed", out.Counts.Changed,
		"retired", out.Counts.Retired, "unchanged", out.Counts.Unchanged, "stored", res.Published.Stored)
	status := http.StatusAccepted
	if res.Repeat {
		status = http.StatusOK
	}
	writeJSON(w, status, out)
	return nil
}

// parseSnapshot decodes a reporting.Snapshot field by field, and returns the unit it claims. Its unit may be left
// out (the path names it) but may not differ. An empty catalogue is refused: it would retire every procedure of the unit, which is far likelier a
// broken export than the truth.
func parseSnapshot(body []byte, unit units.Ref) (_ reporting.Snapshot, claimed units.Ref, _ []FieldError) {
	var top struct {
		Unit       *units.Ref      `json:"unit"`
		Procedures json.RawMessage `json:"procedures"`
	}
	snap := reporting.Snapshot{Unit: unit}
	if bytes.TrimLeft(body, " \t\r\n")[0] != '{' {
		return snap, unit, []FieldError{{Message: "the body must be a catalogue snapshot: a JSON object with \"unit\" and \"procedures\""}}
	}
	fields := decodeFields(body, &top, "", `is not a field of a catalogue snapshot, which has "unit" and "procedures"`)
	claimed = unit
	if top.Unit != nil && *top.Unit != unit {
		claimed = *top.Unit
		fields = append(fields, FieldError{Field: "unit",
			Message: fmt.Sprintf("is %s, but this request reports for %s (the unit of the path and of the token)", top.Unit, unit)})
	}
	var items []json.RawMessage
	switch {
	case len(top.Procedures) == 0 || string(top.Procedures) == "null":
		return snap, claimed, append(fields, FieldError{Field: "procedures", Message: "is missing: list every procedure the unit offers"})
	case json.Unmarshal(top.Procedures, &items) != nil:
		return snap, claimed, append(fields, FieldError{Field: "procedures", Message: "must be an array of procedures"})
	case len(items) == 0:
		return snap, claimed, append(fields, FieldError{Field: "procedures",
			Message: "is empty: a snapshot lists every procedure the unit offers, and an empty one would retire them all"})
	case len(items) > reporting.MaxProcedures:
		// Refused before each is decoded.
		return snap, claimed, append(fields, FieldError{Field: "procedures", Message: fmt.Sprintf(
			"holds %d procedures, more than the %d a catalogue may hold (the largest province has about 2,000, the national database about 6,000 for all units)",
			len(items), reporting.MaxProcedures)})
	}
	for i, raw := range items {
		var it reporting.SnapshotItem
		fields = append(fields, decodeFields(raw, &it, fmt.Sprintf("procedures[%d].", i),
			`is not a field of a procedure, which has "code", "name", "sector", "eligible" and "level"`)...)
		snap.Procedures = append(snap.Procedures, it)
	}
	return snap, claimed, fields
}

// recorder notes the ids Submit publishes, for the response (reporting.Result carries only counts), and takes the
// changes it publishes from the token's bucket of events first.
type recorder struct {
	pub  stream.Publisher
	take func(changes int) error
	ids  []string
}

func (p *recorder) Publish(ctx context.Context, envs []event.Envelope, progress func(int)) (stream.Result, error) {
	// The report event a catalogue adds is the request's own, which the limit of requests counts.
	changes := 0
	for _, e := range envs {
		if e.Type != event.ReportSubmitted {
			changes++
		}
	}
	if err := p.take(changes); err != nil {
		return stream.Result{}, err
	}
	for _, e := range envs {
		p.ids = append(p.ids, e.ID)
	}
	return p.pub.Publish(ctx, envs, progress)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
