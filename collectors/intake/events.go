package intake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/egovtrack/egovtrack/internal/event"
)

// Source is the CloudEvents source of the envelopes the server builds: events sent as type and data alone, and the
// events of a catalogue snapshot. Full envelopes keep the source their sender gave.
const Source = "/egovtrack/collectors/serve"

// Collector names the intake API in the report-submitted events of catalogue snapshots.
const Collector = "serve"

// pushable are the facts a unit reports about itself through the API. The contract's other types are not a unit's to
// report: the server records one report-submitted event per catalogue snapshot, and targets are set by the digital
// office.
var pushable = map[event.Type]func() event.Data{
	event.ProcedureRegistered:   func() event.Data { return &event.ProcedureRegisteredData{} },
	event.LevelChanged:          func() event.Data { return &event.LevelChangedData{} },
	event.ProcedureRetired:      func() event.Data { return &event.ProcedureRetiredData{} },
	event.AssistantStageChanged: func() event.Data { return &event.AssistantStageChangedData{} },
	// Dossiers (hồ sơ): what the unit's one-stop shop received, settled, issued; pushed by the provincial systems.
	event.DossierReceived:      func() event.Data { return &event.DossierReceivedData{} },
	event.DossierPaid:          func() event.Data { return &event.DossierPaidData{} },
	event.DossierSettled:       func() event.Data { return &event.DossierSettledData{} },
	event.DossierResultIssued:  func() event.Data { return &event.DossierResultIssuedData{} },
	event.DossierDigitised:     func() event.Data { return &event.DossierDigitisedData{} },
	event.DossierWithdrawn:     func() event.Data { return &event.DossierWithdrawnData{} },
	event.DossierFeedbackGiven: func() event.Data { return &event.DossierFeedbackGivenData{} },
}

// notPushable says why a type of the contract is refused here.
var notPushable = map[event.Type]string{
	event.ReportSubmitted: "the server records a report for each catalogue snapshot (PUT …/catalogue)",
	event.TargetSet:       "targets are set by the digital office",
	event.UnitMerged:      "reorganisations are recorded by the digital office (collectors lineage)",
	event.UnitRenamed:     "reorganisations are recorded by the digital office (collectors lineage)",
}

// EventsResponse is the body of 202 Accepted for POST /v1/units/{kind}/{code}/events.
type EventsResponse struct {
	// IDs are the events' ids, in the order sent. An id is derived from the fact, so an event sent again gets the
	// same id and is not stored again.
	IDs []string `json:"ids"`
}

// incoming is one event of a request, valid on its own.
type incoming struct {
	index int // position in the request
	env   event.Envelope
	data  event.Data
}

// postEvents stores one event or an array of events. Every event is checked, on its own and then against the unit's
// catalogue, before the first is published, so that a refusal stores none. (A publish that fails midway may have
// stored some; the client's retry stores the rest, and the ids keep the first from being stored twice.)
func (h *handler) postEvents(w http.ResponseWriter, r *http.Request, c caller) error {
	body, err := readBody(w, r, h.cfg.MaxBody, mediaJSON, mediaCloudEvent, mediaCloudEventBatch)
	if err != nil {
		return err
	}
	raws, batch, err := splitEvents(body)
	if err != nil {
		return err
	}
	// Every event sent counts, before any is read: reading one takes tens of microseconds.
	if err := h.takeEvents(r, c, len(raws), "this request has"); err != nil {
		return err
	}
	evs, err := h.parseAll(c, raws, batch, func(d event.Data) string {
		if _, dossier := event.DossierOf(d); dossier {
			// Checking them here would read the unit's every dossier back from the stream.
			return fmt.Sprintf("is %s, a dossier event: send dossier events to POST /v1/units/%s/%s/dossiers", d.EventType(), c.unit.Kind, c.unit.Code)
		}
		return ""
	})
	if err != nil {
		return err
	}

	ctx := r.Context()
	unlock, err := h.locks.lock(ctx, c.unit)
	if err != nil {
		return fmt.Errorf("wait for %s's other requests: %w", c.unit, err)
	}
	defer unlock()
	fresh, conflicts, err := h.check(ctx, c.unit, evs)
	if err != nil {
		return err
	}
	if len(conflicts) > 0 {
		fs := make([]FieldError, 0, len(conflicts))
		for _, cf := range conflicts {
			fs = append(fs, prefixed(eventAt(batch, cf.index), cf.fields)...)
		}
		return refuse(eConflict,
			fmt.Sprintf("the events conflict with %s's catalogue as the event stream holds it; none was stored", c.unit), fs...)
	}
	res, err := h.pub.Publish(ctx, fresh, nil)
	if err != nil {
		return fmt.Errorf("publish %d events of %s: %w", len(fresh), c.unit, err)
	}
	ids := make([]string, len(evs))
	for i, in := range evs {
		ids[i] = in.env.ID
	}
	h.log.Info("events accepted", "unit", c.unit, "credential", c.cred, "events", len(evs),
		"stored", res.Stored, "already_stored", len(evs)-res.Stored)
	writeJSON(w, http.StatusAccepted, EventsResponse{IDs: ids})
	return nil
}

// parseAll parses every event of a request (parseEvent). One invalid, for another unit than c's, or of a type
// refused by refusal (which says why, or "") refuses the request, every problem named by the event's place.
func (h *handler) parseAll(c caller, raws []json.RawMessage, batch bool, refusal func(event.Data) string) ([]incoming, error) {
	var (
		evs    []incoming
		fields []FieldError
	)
	for i, raw := range raws {
		env, d, fs := parseEvent(raw)
		if len(fs) == 0 {
			fs = h.ofUnit(c, d)
		}
		if len(fs) == 0 {
			if why := refusal(d); why != "" {
				fs = []FieldError{{Field: "type", Message: why}}
			}
		}
		if len(fs) > 0 {
			fields = append(fields, prefixed(eventAt(batch, i), fs)...)
			continue
		}
		evs = append(evs, incoming{i, env, d})
	}
	if invalid := len(raws) - len(evs); invalid > 0 {
		msg := "the event is invalid; it was not stored"
		if batch {
			msg = fmt.Sprintf("%d of %d events are invalid; none was stored", invalid, len(raws))
		}
		return nil, refuse(eInvalid, msg, fields...)
	}
	return evs, nil
}

// eventAt is the prefix of the fields of a request's i-th event: "[i]." in an array, none for a lone event.
func eventAt(batch bool, i int) string {
	if batch {
		return fmt.Sprintf("[%d].", i)
	}
	return ""
}

// ofUnit refuses an event for another unit than the caller's.
func (h *handler) ofUnit(c caller, d event.Data) []FieldError {
	if u, _ := event.UnitOf(d); u != c.unit {
		h.log.Warn("event for another unit refused", "credential", c.cred, "unit", c.unit, "claimed_unit", u)
		return []FieldError{{Field: "data.unit", Message: fmt.Sprintf("is %s, but this request reports for %s (the unit of the path and of the token)", u, c.unit)}}
	}
	return nil
}

// splitEvents returns the events of a body holding one event (an object) or several (an array).
func splitEvents(body []byte) (raws []json.RawMessage, batch bool, err error) {
	switch bytes.TrimLeft(body, " \t\r\n")[0] { // readBody made sure the body is a JSON value
	case '{':
		return []json.RawMessage{body}, false, nil
	case '[':
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, true, fmt.Errorf("split a checked array: %w", err)
		}
		if len(raws) == 0 {
			return nil, true, refuse(eInvalid, "the array holds no events")
		}
		return raws, true, nil
	}
	return nil, false, refuse(eInvalid, "the body must be an event (a JSON object) or an array of events")
}

// parseEvent reads one event, either a full CloudEvents envelope (it has specversion) or the short form of type and
// data, and returns the envelope to store, built as the contract builds it.
func parseEvent(raw json.RawMessage) (event.Envelope, event.Data, []FieldError) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil || probe == nil {
		return event.Envelope{}, nil, []FieldError{{Message: "must be a JSON object: an event"}}
	}
	if _, full := probe["specversion"]; full {
		return parseEnvelope(raw, probe["type"])
	}
	var short struct {
		Type event.Type      `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	fs := decodeFields(raw, &short, "",
		`is not a field of the short form, which has only "type" and "data" (a full CloudEvents envelope has "specversion": "1.0")`)
	if len(fs) > 0 {
		return event.Envelope{}, nil, fs
	}
	if fs := checkType(short.Type); len(fs) > 0 {
		return event.Envelope{}, nil, fs
	}
	if len(short.Data) == 0 || string(short.Data) == "null" {
		return event.Envelope{}, nil, []FieldError{{Field: "data", Message: "is missing"}}
	}
	d := pushable[short.Type]()
	fs = decodeFields(short.Data, d, "data.", fmt.Sprintf("is not a field of %s", short.Type))
	if len(fs) == 1 && fs[0].Field == "data" { // not an object: nothing more to say
		return event.Envelope{}, nil, fs
	}
	// The contract checks what was decoded even when some fields were not, so that one answer names every
	// problem; a field that could not be decoded is not also reported missing.
	env, err := event.New(Source, d)
	if err != nil {
		fs = mergeFields(fs, contractErrors(err))
	}
	if len(fs) > 0 {
		return event.Envelope{}, nil, fs
	}
	return env, d, nil
}

// parseEnvelope reads a full envelope as the contract defines it: event.Decode holds it to the contract's schemas and
// to its fact (subject, time and id must be the ones the data derives). The envelope stored is the one event.New
// builds from the data, encoded exactly as every other; its id is the one Decode checked.
func parseEnvelope(raw, rawType json.RawMessage) (event.Envelope, event.Data, []FieldError) {
	var t event.Type
	if json.Unmarshal(rawType, &t) == nil && t != "" {
		if fs := checkType(t); len(fs) > 0 {
			return event.Envelope{}, nil, fs
		}
	}
	env, d, err := event.Decode(raw)
	if err != nil {
		return event.Envelope{}, nil, contractErrors(err)
	}
	canon, err := event.New(env.Source, d)
	if err != nil {
		return event.Envelope{}, nil, contractErrors(err)
	}
	return canon, d, nil
}

// checkType refuses a type the API does not take, saying which it takes.
func checkType(t event.Type) []FieldError {
	if pushable[t] != nil {
		return nil
	}
	if t == "" {
		return []FieldError{{Field: "type", Message: "is missing"}}
	}
	if why := notPushable[t]; why != "" {
		return []FieldError{{Field: "type", Message: fmt.Sprintf("%s is not accepted here: %s", t, why)}}
	}
	accepted := make([]string, 0, len(pushable))
	for _, t := range event.Types {
		if pushable[t] != nil {
			accepted = append(accepted, string(t))
		}
	}
	return []FieldError{{Field: "type", Message: fmt.Sprintf("%q is not a known event type; this API accepts %s", t, strings.Join(accepted, ", "))}}
}

// contractErrors turns what event.New or Decode refused into field errors.
func contractErrors(err error) []FieldError {
	if fe, ok := errors.AsType[event.FieldErrors](err); ok {
		return fromEvent("", fe)
	}
	return []FieldError{{Message: err.Error()}}
}

// mergeFields adds more to fs, but for the fields fs already names (or names a part of).
func mergeFields(fs, more []FieldError) []FieldError {
	for _, m := range more {
		if !slices.ContainsFunc(fs, func(f FieldError) bool {
			return f.Field == m.Field || strings.HasPrefix(f.Field, m.Field+".")
		}) {
			fs = append(fs, m)
		}
	}
	return fs
}
