// Package event is egovtrack's event contract: what collectors publish, what the projector stores. Every component
// imports it; nothing else defines an event.
//
// An event is a CloudEvents 1.0 document in structured JSON mode. Its type names the fact and its version
// ("gov.egov.procedure.level_changed.v1"); its subject names the aggregate the fact is about, one NATS subject per
// procedure or per unit (see Subject); its id is derived from the fact itself, so the same fact reported twice has
// the same id (see New).
package event

import (
	"encoding/json"
	"fmt"
	"time"

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
)

// Types lists every event type the contract defines.
var Types = []Type{ProcedureRegistered, LevelChanged, ProcedureRetired, AssistantStageChanged, ReportSubmitted, TargetSet}

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

// New wraps data in an envelope (writing its times in UTC, in place). The id is derived from the type, the subject and the data, never from when or by
// whom it was reported, so reporting the same fact again yields the same id: JetStream drops the duplicate within its
// window, and the projector's tables are keyed by it beyond that.
func New(source string, d Data) (Envelope, error) {
	if source == "" {
		return Envelope{}, FieldErrors{{"source", "is missing"}}
	}
	normalize(d)
	if err := Validate(d); err != nil {
		return Envelope{}, err
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return Envelope{}, fmt.Errorf("encode %s data: %w", d.EventType(), err)
	}
	return Envelope{
		ID:              deriveID(d.EventType(), d.Subject(), raw),
		Source:          source,
		SpecVersion:     SpecVersion,
		Type:            d.EventType(),
		Subject:         d.Subject(),
		Time:            d.OccurredAt().UTC(),
		DataContentType: DataContentType,
		Data:            raw,
	}, nil
}

// Decode parses an envelope and its data, and validates both against the contract. The returned Data is one of the
// pointer types of this package (*LevelChangedData, …).
func Decode(b []byte) (Envelope, Data, error) {
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return Envelope{}, nil, fmt.Errorf("decode envelope: %w", err)
	}
	d, err := env.Decode()
	if err != nil {
		return env, nil, err
	}
	return env, d, nil
}

// Decode parses and validates the envelope's data.
func (e Envelope) Decode() (Data, error) {
	var errs FieldErrors
	if e.ID == "" {
		errs.add("id", "is missing")
	}
	if e.SpecVersion != SpecVersion {
		errs.add("specversion", fmt.Sprintf("is %q, want %q", e.SpecVersion, SpecVersion))
	}
	if e.Source == "" {
		errs.add("source", "is missing")
	}
	d := newData(e.Type)
	if d == nil {
		errs.add("type", fmt.Sprintf("%q is not a known event type", e.Type))
		return nil, errs.err()
	}
	if len(e.Data) == 0 || string(e.Data) == "null" {
		errs.add("data", "is missing")
		return nil, errs.err()
	}
	if err := json.Unmarshal(e.Data, d); err != nil {
		errs.add("data", err.Error())
		return nil, errs.err()
	}
	errs = append(errs, validate(d)...)
	if len(errs) == 0 {
		errs = append(errs, e.checkIdentity(d)...)
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return d, nil
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
	}
	return nil
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
	return units.Ref{}, false
}

// UnitOf returns the unit a fact is about; targets of national scope have none.
func UnitOf(d Data) (units.Ref, bool) {
	if t, ok := d.(*TargetSetData); ok {
		return t.Scope.Unit()
	}
	return unitOf(d)
}

// normalize writes every time in UTC, so that the same instant always encodes, and so hashes, the same way.
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
	}
}

// checkIdentity holds the envelope to the fact it carries: its subject and time are the fact's, and its id is the
// one the fact derives, so that no one can give the same fact a second id (and have it counted twice) or two facts
// one id.
func (e Envelope) checkIdentity(d Data) FieldErrors {
	var errs FieldErrors
	if d.Subject() != e.Subject {
		errs.add("subject", fmt.Sprintf("is %q, but the data is about %q", e.Subject, d.Subject()))
	}
	if !e.Time.Equal(d.OccurredAt()) {
		errs.add("time", fmt.Sprintf("is %s, but the data took effect at %s", e.Time.Format(time.RFC3339), d.OccurredAt().Format(time.RFC3339)))
	}
	normalize(d)
	canonical, err := json.Marshal(d)
	if err != nil {
		errs.add("data", err.Error())
		return errs
	}
	if want := deriveID(e.Type, d.Subject(), canonical); e.ID != want {
		errs.add("id", fmt.Sprintf("is %q, but this fact's id is %q: ids are derived from the fact", e.ID, want))
	}
	return errs
}
