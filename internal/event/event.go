// Package event is egovtrack's event contract: what collectors publish, what the projector stores. Every component
// imports it; nothing else defines an event.
//
// An event is a CloudEvents 1.0 document in structured JSON mode. Its type names the fact and its version
// ("gov.egov.procedure.level_changed.v1"); its subject names the aggregate the fact is about, one NATS subject per
// procedure or per unit (see Subject); its id is derived from the fact itself, so the same fact reported twice has
// the same id (see New).
package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/egovtrack/egovtrack/internal/event/strictjson"
	"github.com/egovtrack/egovtrack/internal/units"
)

// SpecVersion is the CloudEvents version of every envelope.
const SpecVersion = "1.0"

// DataContentType is the media type of every event's data.
const DataContentType = "application/json"

// Type names a kind of fact and the version of its data schema.
type Type string

const (
	ProcedureRegistered   Type = "gov.egov.procedure.registered.v1"
	LevelChanged          Type = "gov.egov.procedure.level_changed.v1"
	ProcedureRetired      Type = "gov.egov.procedure.retired.v1"
	AssistantStageChanged Type = "gov.egov.assistant.stage_changed.v1"
	ReportSubmitted       Type = "gov.egov.report.submitted.v1"
	TargetSet             Type = "gov.egov.target.set.v1"
	UnitMerged            Type = "gov.egov.unit.merged.v1"
	UnitRenamed           Type = "gov.egov.unit.renamed.v1"
)

// Types lists every event type the contract defines.
var Types = append([]Type{ProcedureRegistered, LevelChanged, ProcedureRetired, AssistantStageChanged, ReportSubmitted, TargetSet, UnitMerged, UnitRenamed}, DossierTypes...)

// MaxSize is the most bytes an event may take, as JSON. The largest events egovtrack makes, registrations with long
// names, take about a kilobyte: a message of tens of kilobytes is not an event, and refusing it keeps a wrong
// message from filling the projector's tables.
const MaxSize = 64 << 10

// Envelope is a CloudEvents 1.0 structured-mode event.
type Envelope struct {
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	SpecVersion     string          `json:"specversion"`
	Type            Type            `json:"type"`
	Subject         string          `json:"subject"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
}

// Data is implemented by the payload of each event type.
type Data interface {
	// EventType is the type whose data this is.
	EventType() Type
	// Subject is the NATS subject of the aggregate the fact is about.
	Subject() string
	// OccurredAt is when the fact took effect; it becomes the envelope's time.
	OccurredAt() time.Time
}

// New wraps data in an envelope (writing its times in UTC, in place). The id is derived from the type, the subject and
// the data (see Canonical), never from when or by whom it was reported, so reporting the same fact again yields the
// same id: JetStream drops the duplicate within its window, and the projector's tables are keyed by it beyond that.
//
// New validates source against the envelope's schema and the encoded data as Validate does, and refuses an event of
// more than MaxSize bytes; an event it returns is one Decode accepts. The error is FieldErrors when the fact breaks
// the contract.
func New(source string, d Data) (Envelope, error) { return Contract{}.New(source, d) }

// New is New with c's clock.
func (c Contract) New(source string, d Data) (Envelope, error) {
	normalize(d)
	errs := check(schemas.source, source, "source")
	raw, err := c.checkData(d)
	if fes, ok := errors.AsType[FieldErrors](err); ok {
		errs = append(errs, fes...)
	} else if err != nil {
		return Envelope{}, err
	}
	if len(errs) > 0 {
		return Envelope{}, errs
	}
	canonical, err := canonicalOf(d.EventType(), raw) // raw is the encoding of the normalized data
	if err != nil {
		return Envelope{}, err
	}
	env := Envelope{
		ID:              deriveID(d.EventType(), d.Subject(), canonical),
		Source:          source,
		SpecVersion:     SpecVersion,
		Type:            d.EventType(),
		Subject:         d.Subject(),
		Time:            d.OccurredAt().UTC(),
		DataContentType: DataContentType,
		Data:            raw,
	}
	b, err := json.Marshal(env)
	if err != nil {
		return Envelope{}, fmt.Errorf("encode envelope: %w", err)
	}
	if len(b) > MaxSize {
		return Envelope{}, FieldErrors{{"data", fmt.Sprintf("makes an event of %d bytes, more than the %d an event may be: a text is far too long", len(b), MaxSize)}}
	}
	return env, nil
}

// Decode parses an event and validates it against the contract: first against the schemas, the envelope's and its
// type's for the data, then by the checks a schema cannot make (see Validate), then that the envelope's subject,
// time and id are the ones its data derives. The returned Data is one of the pointer types of this package
// (*LevelChangedData, …).
//
// The id may be the current rule's or the legacy rule's (events published before ids were derived from the JCS
// form; see legacyID): either is accepted, and the envelope returned carries the current rule's id, so that a fact
// has one id wherever it is stored, whichever rule its publisher followed.
//
// The JSON is read by strictjson, as every entry point of egovtrack reads it. Input that is not an event at all is an
// error saying so ("decode envelope: …"): more than MaxSize bytes, bytes that are not UTF-8 (with the byte offset of
// the first), malformed JSON (with the byte offset where it broke), or JSON that is not an object, checked in that
// order. An event that breaks the contract gives FieldErrors naming every problem, with the envelope as far as it
// could be read; a field given twice, or else a string holding half of a UTF-16 surrogate pair (\ud800, which JSON
// readers turn into U+FFFD, a character the sender did not write), is one of them, alone.
func Decode(b []byte) (Envelope, Data, error) { return Contract{}.Decode(b) }

// Decode is Decode with c's clock.
func (c Contract) Decode(b []byte) (Envelope, Data, error) {
	if len(b) > MaxSize {
		return Envelope{}, nil, fmt.Errorf("decode envelope: the event is %d bytes, more than the %d an event may be", len(b), MaxSize)
	}
	v, err := strictjson.Read(b)
	if ue, ok := errors.AsType[*strictjson.InvalidUTF8Error](err); ok {
		return Envelope{}, nil, fmt.Errorf("decode envelope: invalid UTF-8 at byte offset %d: an event is UTF-8 text", ue.Offset)
	}
	if se, ok := errors.AsType[*strictjson.SyntaxError](err); ok {
		return Envelope{}, nil, fmt.Errorf("decode envelope: %w", se)
	}
	obj, ok := v.Doc.(map[string]any)
	if !ok {
		return Envelope{}, nil, fmt.Errorf("decode envelope: the event is %s, not a JSON object", typeName(jsonKind(v.Doc)))
	}
	if de, ok := errors.AsType[*strictjson.DuplicateKeyError](err); ok {
		return Envelope{}, nil, FieldErrors{{de.Field, fmt.Sprintf("is given twice (the second time at byte offset %d): give each field once", de.Offset)}}
	}
	if le, ok := errors.AsType[*strictjson.LoneSurrogateError](err); ok {
		return Envelope{}, nil, FieldErrors{loneSurrogate("", le)}
	}
	env, envErr := envelopeOf(b, obj, v.Members) // what the schema refuses is reported by decode
	d, err := c.decode(&env, obj, envErr)
	if err != nil {
		return env, nil, err
	}
	return env, d, nil
}

// Decode validates the envelope as Decode does its JSON, and returns its data. It accepts an id of either rule, as
// Decode does, and leaves e as it is: the package's Decode returns the envelope with the current rule's id.
func (e Envelope) Decode() (Data, error) { return Contract{}.DecodeEnvelope(e) }

// DecodeEnvelope is Envelope's Decode with c's clock.
func (c Contract) DecodeEnvelope(e Envelope) (Data, error) {
	if len(e.Data) > 0 { // no data at all is the schema's to refuse
		_, err := strictjson.Read(e.Data)
		if ue, ok := errors.AsType[*strictjson.InvalidUTF8Error](err); ok {
			return nil, FieldErrors{{"data", fmt.Sprintf("is not UTF-8 text: invalid UTF-8 at byte offset %d", ue.Offset)}}
		}
		if se, ok := errors.AsType[*strictjson.SyntaxError](err); ok {
			return nil, FieldErrors{{"data", "is " + se.Error()}}
		}
		if de, ok := errors.AsType[*strictjson.DuplicateKeyError](err); ok {
			return nil, FieldErrors{{joinPath("data", de.Field), "is given twice: give each field once"}}
		}
		if le, ok := errors.AsType[*strictjson.LoneSurrogateError](err); ok {
			return nil, FieldErrors{loneSurrogate("data", le)}
		}
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode envelope: %w", err)
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("the event is %d bytes, more than the %d an event may be", len(b), MaxSize)
	}
	v, err := strictjson.Read(b)
	if err != nil {
		return nil, fmt.Errorf("encode envelope: %w", err)
	}
	return c.decode(&e, v.Doc.(map[string]any), nil)
}

// loneSurrogate is what the contract says of a string holding half of a surrogate pair, found in the JSON at prefix.
func loneSurrogate(prefix string, le *strictjson.LoneSurrogateError) FieldError {
	return FieldError{joinPath(prefix, le.Field), fmt.Sprintf("holds %s (at byte offset %d), half of a UTF-16 surrogate pair "+
		"without its other half: no character, and JSON readers would read it as U+FFFD; write the character itself, "+
		"or both halves of its pair", le.Escape, le.Offset)}
}

// envelopeOf reads the envelope of the event b, which is obj, as json.Unmarshal(b, &env) does, and returns what
// json.Unmarshal would say. top, from strictjson.Read, says where obj's values lie in b; without it (the slow path), or
// when the envelope holds anything but strings and an object where the contract wants them, json.Unmarshal reads it.
func envelopeOf(b []byte, obj map[string]any, top map[string]strictjson.Span) (Envelope, error) {
	unmarshal := func() (Envelope, error) {
		var slow Envelope
		err := json.Unmarshal(b, &slow)
		return slow, err
	}
	var env Envelope
	if top == nil {
		return unmarshal()
	}
	for k, v := range obj {
		var dst *string
		switch k {
		case "id":
			dst = &env.ID
		case "source":
			dst = &env.Source
		case "specversion":
			dst = &env.SpecVersion
		case "type":
			dst = (*string)(&env.Type)
		case "subject":
			dst = &env.Subject
		case "datacontenttype":
			dst = &env.DataContentType
		case "time":
			if _, ok := v.(string); !ok {
				return unmarshal()
			}
			sp := top[k]
			if err := env.Time.UnmarshalJSON(b[sp.Start:sp.End]); err != nil {
				return unmarshal() // for the error as json.Unmarshal words it
			}
			continue
		case "data":
			if _, ok := v.(map[string]any); !ok {
				return unmarshal()
			}
			sp := top[k]
			env.Data = bytes.Clone(b[sp.Start:sp.End]) // b may be a message buffer the caller reuses
			continue
		default: // json.Unmarshal matches keys without regard to case: let it
			return unmarshal()
		}
		s, ok := v.(string)
		if !ok {
			return unmarshal()
		}
		*dst = s
	}
	return env, nil
}

// decode validates doc, the JSON of e, and decodes e's data. envErr is what decoding doc into e said. When the event
// is valid, e.ID becomes the current rule's id (it may have been the legacy rule's).
func (c Contract) decode(e *Envelope, doc map[string]any, envErr error) (Data, error) {
	// The Go checks accept what the schemas accept, at a tenth of the cost; anything else the schemas judge and word.
	fast := schemaAccepts(doc)
	var errs FieldErrors
	if !fast {
		errs = check(schemas.envelope, doc, "")
	}
	d := newData(e.Type)
	data, isObject := doc["data"].(map[string]any)
	if d == nil || !isObject {
		if len(errs) == 0 { // cannot happen: the envelope's schema knows every type and wants data an object
			errs.add("type", fmt.Sprintf("%q has no data type", e.Type))
		}
		return nil, errs
	}
	if !fast {
		errs = append(errs, check(schemas.data[e.Type], data, "data")...)
	}
	if len(errs) == 0 && envErr != nil {
		// The schemas accept what Go cannot read only in corners; time is the envelope's one field Go reads as more
		// than a string.
		fe := unmarshalError("", envErr)
		if fe.Field == "" {
			fe.Field = "time"
		}
		return nil, FieldErrors{fe}
	}
	// The checks beyond the schema run whenever the data can be read, so that one answer names every problem.
	if err := json.Unmarshal(e.Data, d); err != nil {
		if len(errs) == 0 {
			// An integer written 5.0: JSON Schema cannot tell it from 5, Go does not read it into an int.
			errs = FieldErrors{unmarshalError("data", err)}
		}
		return nil, errs
	}
	errs = merge(errs, c.checkBeyondSchema(d, true))
	var id string
	if len(errs) == 0 {
		id, errs = e.checkIdentity(d)
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	e.ID = id
	return d, nil
}

// UncheckedData decodes e's data into its type's struct WITHOUT validating it against the contract: only for events
// this program made and validated itself (test fixtures, the benchmark's cached dataset), where validating again would
// only cost time. Everything read from outside goes through Decode.
func (e Envelope) UncheckedData() (Data, error) {
	d := newData(e.Type)
	if d == nil {
		return nil, fmt.Errorf("event %s: unknown type %q", e.ID, e.Type)
	}
	if err := json.Unmarshal(e.Data, d); err != nil {
		return nil, fmt.Errorf("event %s: %w", e.ID, err)
	}
	return d, nil
}

// NewData returns an empty data struct of type t, to decode into (then validate with New), or false for a type the
// contract does not define.
func NewData(t Type) (Data, bool) {
	d := newData(t)
	return d, d != nil
}

func newData(t Type) Data {
	switch t {
	case ProcedureRegistered:
		return &ProcedureRegisteredData{}
	case LevelChanged:
		return &LevelChangedData{}
	case ProcedureRetired:
		return &ProcedureRetiredData{}
	case AssistantStageChanged:
		return &AssistantStageChangedData{}
	case ReportSubmitted:
		return &ReportSubmittedData{}
	case TargetSet:
		return &TargetSetData{}
	case UnitMerged:
		return &UnitMergedData{}
	case UnitRenamed:
		return &UnitRenamedData{}
	}
	return newDossierData(t)
}

// unitOf returns the unit a fact is about, for the data types that have one.
func unitOf(d Data) (units.Ref, bool) {
	switch d := d.(type) {
	case *ProcedureRegisteredData:
		return d.Unit, true
	case *LevelChangedData:
		return d.Unit, true
	case *ProcedureRetiredData:
		return d.Unit, true
	case *AssistantStageChangedData:
		return d.Unit, true
	case *ReportSubmittedData:
		return d.Unit, true
	}
	return dossierUnit(d)
}

// UnitOf returns the unit a fact is about; targets of national scope have none. A reorganisation is about the unit
// it makes or renames.
func UnitOf(d Data) (units.Ref, bool) {
	switch d := d.(type) {
	case *TargetSetData:
		return d.Scope.Unit()
	case *UnitMergedData:
		return d.Successor, true
	case *UnitRenamedData:
		return d.Unit, true
	}
	return unitOf(d)
}

// normalize writes every time in UTC, so that the same instant always encodes, and so hashes, the same way. The rest
// of the normalization the id rule states is the types' own: a level decodes to its number, empty optional fields
// (reason, digest, unknown users) carry omitempty, and encoding/json writes a time's fraction shortest.
func normalize(d Data) {
	switch d := d.(type) {
	case *ProcedureRegisteredData:
		d.EffectiveAt = d.EffectiveAt.UTC()
	case *LevelChangedData:
		d.EffectiveAt = d.EffectiveAt.UTC()
	case *ProcedureRetiredData:
		d.EffectiveAt = d.EffectiveAt.UTC()
	case *AssistantStageChangedData:
		d.EffectiveAt = d.EffectiveAt.UTC()
	case *ReportSubmittedData:
		d.ReportedAt = d.ReportedAt.UTC()
	case *TargetSetData:
		d.SetAt = d.SetAt.UTC()
	case *UnitMergedData:
		d.DecidedAt = d.DecidedAt.UTC()
	case *UnitRenamedData:
		d.DecidedAt = d.DecidedAt.UTC()
	default:
		normalizeDossier(d)
	}
}

// checkIdentity holds the envelope to the fact it carries: its subject and time are the fact's, and its id is the
// one the fact derives, by the current rule or the legacy one, so that no one can give the same fact an id of their
// own (and have it counted twice) or two facts one id. It returns the current rule's id.
func (e Envelope) checkIdentity(d Data) (string, FieldErrors) {
	var errs FieldErrors
	if d.Subject() != e.Subject {
		errs.add("subject", fmt.Sprintf("is %q, but the data is about %q", e.Subject, d.Subject()))
	}
	if !e.Time.Equal(d.OccurredAt()) {
		errs.add("time", fmt.Sprintf("is %s, but the data took effect at %s", e.Time.Format(time.RFC3339), d.OccurredAt().Format(time.RFC3339)))
	}
	normalize(d)
	marshalled, err := json.Marshal(d)
	if err != nil {
		errs.add("data", err.Error())
		return "", errs
	}
	canonical, err := canonicalOf(e.Type, marshalled)
	if err != nil {
		errs.add("data", err.Error())
		return "", errs
	}
	current := deriveID(e.Type, d.Subject(), canonical)
	if e.ID != current && e.ID != legacyID(e.Type, d.Subject(), marshalled) {
		errs.add("id", fmt.Sprintf("is %q, but this fact's id is %q: ids are derived from the fact", e.ID, current))
	}
	return current, errs
}
