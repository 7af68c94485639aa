package event

import (
	"time"

	"github.com/egovtrack/egovtrack/internal/units"
)

// Dossier events (hồ sơ): what citizens get from a unit's one-stop shop, the counts Decision 766/QĐ-TTg (2022) scores
// units on. A dossier is named by a hash of its number in the source system: no name, address, identity number or
// free text enters egovtrack, and the schemas refuse any field they do not list.
const (
	DossierReceived      Type = "gov.egov.dossier.received.v1"
	DossierPaid          Type = "gov.egov.dossier.paid.v1"
	DossierSettled       Type = "gov.egov.dossier.settled.v1"
	DossierResultIssued  Type = "gov.egov.dossier.result_issued.v1"
	DossierDigitised     Type = "gov.egov.dossier.digitised.v1"
	DossierWithdrawn     Type = "gov.egov.dossier.withdrawn.v1"
	DossierFeedbackGiven Type = "gov.egov.dossier.feedback_given.v1"
)

// DossierTypes are the dossier event types.
var DossierTypes = []Type{DossierReceived, DossierPaid, DossierSettled, DossierResultIssued, DossierDigitised, DossierWithdrawn, DossierFeedbackGiven}

// Channel is how a dossier was submitted.
type Channel string

const (
	ChannelOnline   Channel = "online"    // trực tuyến
	ChannelInPerson Channel = "in_person" // trực tiếp, at the one-stop shop
	ChannelPost     Channel = "post"      // qua bưu chính
)

// DossierReceivedData: a unit received a dossier for a procedure, due by a time; fee says whether the procedure
// charges one. Whether it is settled on time is worked out from due_at, never taken from the sender.
type DossierReceivedData struct {
	Unit       units.Ref `json:"unit"`
	Procedure  string    `json:"procedure"`
	Dossier    string    `json:"dossier"` // hex SHA-256 of the dossier's number in the source system
	Channel    Channel   `json:"channel"`
	Fee        bool      `json:"fee"`
	ReceivedAt time.Time `json:"received_at"`
	DueAt      time.Time `json:"due_at"`
}

// DossierPaidData: the dossier's fee was paid, online or not.
type DossierPaidData struct {
	Unit    units.Ref `json:"unit"`
	Dossier string    `json:"dossier"`
	Online  bool      `json:"online"`
	PaidAt  time.Time `json:"paid_at"`
}

// DossierSettledData: the unit settled the dossier (giải quyết xong).
type DossierSettledData struct {
	Unit      units.Ref `json:"unit"`
	Dossier   string    `json:"dossier"`
	SettledAt time.Time `json:"settled_at"`
}

// DossierResultIssuedData: the result was issued, electronically or on paper.
type DossierResultIssuedData struct {
	Unit       units.Ref `json:"unit"`
	Dossier    string    `json:"dossier"`
	Electronic bool      `json:"electronic"`
	IssuedAt   time.Time `json:"issued_at"`
}

// DossierDigitisedData: the dossier's papers were digitised (số hóa).
type DossierDigitisedData struct {
	Unit        units.Ref `json:"unit"`
	Dossier     string    `json:"dossier"`
	DigitisedAt time.Time `json:"digitised_at"`
}

// DossierWithdrawnData: the citizen withdrew the dossier; it is due no longer.
type DossierWithdrawnData struct {
	Unit        units.Ref `json:"unit"`
	Dossier     string    `json:"dossier"`
	WithdrawnAt time.Time `json:"withdrawn_at"`
}

// DossierFeedbackGivenData: the citizen's feedback on the dossier: satisfied or not, and whether the unit handled
// it on time.
type DossierFeedbackGivenData struct {
	Unit          units.Ref `json:"unit"`
	Dossier       string    `json:"dossier"`
	Satisfied     bool      `json:"satisfied"`
	HandledOnTime bool      `json:"handled_on_time"`
	GivenAt       time.Time `json:"given_at"`
}

// DossierSubject is the subject of a unit's dossier events: egov.<kind>.<unit>.dossier. One subject a unit, not a
// dossier: millions of dossiers a month would be millions of subjects.
func DossierSubject(u units.Ref) string { return UnitSubject(u, "dossier") }

func (d *DossierReceivedData) EventType() Type       { return DossierReceived }
func (d *DossierReceivedData) Subject() string       { return DossierSubject(d.Unit) }
func (d *DossierReceivedData) OccurredAt() time.Time { return d.ReceivedAt }

func (d *DossierPaidData) EventType() Type       { return DossierPaid }
func (d *DossierPaidData) Subject() string       { return DossierSubject(d.Unit) }
func (d *DossierPaidData) OccurredAt() time.Time { return d.PaidAt }

func (d *DossierSettledData) EventType() Type       { return DossierSettled }
func (d *DossierSettledData) Subject() string       { return DossierSubject(d.Unit) }
func (d *DossierSettledData) OccurredAt() time.Time { return d.SettledAt }

func (d *DossierResultIssuedData) EventType() Type       { return DossierResultIssued }
func (d *DossierResultIssuedData) Subject() string       { return DossierSubject(d.Unit) }
func (d *DossierResultIssuedData) OccurredAt() time.Time { return d.IssuedAt }

func (d *DossierDigitisedData) EventType() Type       { return DossierDigitised }
func (d *DossierDigitisedData) Subject() string       { return DossierSubject(d.Unit) }
func (d *DossierDigitisedData) OccurredAt() time.Time { return d.DigitisedAt }

func (d *DossierWithdrawnData) EventType() Type       { return DossierWithdrawn }
func (d *DossierWithdrawnData) Subject() string       { return DossierSubject(d.Unit) }
func (d *DossierWithdrawnData) OccurredAt() time.Time { return d.WithdrawnAt }

func (d *DossierFeedbackGivenData) EventType() Type       { return DossierFeedbackGiven }
func (d *DossierFeedbackGivenData) Subject() string       { return DossierSubject(d.Unit) }
func (d *DossierFeedbackGivenData) OccurredAt() time.Time { return d.GivenAt }

// dossierUnit returns a dossier event's unit.
func dossierUnit(d Data) (units.Ref, bool) {
	switch d := d.(type) {
	case *DossierReceivedData:
		return d.Unit, true
	case *DossierPaidData:
		return d.Unit, true
	case *DossierSettledData:
		return d.Unit, true
	case *DossierResultIssuedData:
		return d.Unit, true
	case *DossierDigitisedData:
		return d.Unit, true
	case *DossierWithdrawnData:
		return d.Unit, true
	case *DossierFeedbackGivenData:
		return d.Unit, true
	}
	return units.Ref{}, false
}

// DossierOf returns the dossier a dossier event is about.
func DossierOf(d Data) (string, bool) {
	switch d := d.(type) {
	case *DossierReceivedData:
		return d.Dossier, true
	case *DossierPaidData:
		return d.Dossier, true
	case *DossierSettledData:
		return d.Dossier, true
	case *DossierResultIssuedData:
		return d.Dossier, true
	case *DossierDigitisedData:
		return d.Dossier, true
	case *DossierWithdrawnData:
		return d.Dossier, true
	case *DossierFeedbackGivenData:
		return d.Dossier, true
	}
	return "", false
}

// newDossierData is newData for the dossier types.
func newDossierData(t Type) Data {
	switch t {
	case DossierReceived:
		return &DossierReceivedData{}
	case DossierPaid:
		return &DossierPaidData{}
	case DossierSettled:
		return &DossierSettledData{}
	case DossierResultIssued:
		return &DossierResultIssuedData{}
	case DossierDigitised:
		return &DossierDigitisedData{}
	case DossierWithdrawn:
		return &DossierWithdrawnData{}
	case DossierFeedbackGiven:
		return &DossierFeedbackGivenData{}
	}
	return nil
}

// normalizeDossier writes a dossier event's times in UTC.
func normalizeDossier(d Data) {
	switch d := d.(type) {
	case *DossierReceivedData:
		d.ReceivedAt, d.DueAt = d.ReceivedAt.UTC(), d.DueAt.UTC()
	case *DossierPaidData:
		d.PaidAt = d.PaidAt.UTC()
	case *DossierSettledData:
		d.SettledAt = d.SettledAt.UTC()
	case *DossierResultIssuedData:
		d.IssuedAt = d.IssuedAt.UTC()
	case *DossierDigitisedData:
		d.DigitisedAt = d.DigitisedAt.UTC()
	case *DossierWithdrawnData:
		d.WithdrawnAt = d.WithdrawnAt.UTC()
	case *DossierFeedbackGivenData:
		d.GivenAt = d.GivenAt.UTC()
	}
}

// dossierTimeField names the field of a dossier event's time.
func dossierTimeField(d Data) (string, bool) {
	switch d.(type) {
	case *DossierReceivedData:
		return "data.received_at", true
	case *DossierPaidData:
		return "data.paid_at", true
	case *DossierSettledData:
		return "data.settled_at", true
	case *DossierResultIssuedData:
		return "data.issued_at", true
	case *DossierDigitisedData:
		return "data.digitised_at", true
	case *DossierWithdrawnData:
		return "data.withdrawn_at", true
	case *DossierFeedbackGivenData:
		return "data.given_at", true
	}
	return "", false
}

// checkDossier checks what the schemas cannot: the unit is in the reference data, the times in the time domain, and
// a dossier is due after it was received (due_at may lie years ahead: it is a deadline, not a fact).
func (c Contract) checkDossier(es *FieldErrors, d Data, given bool) {
	field, ok := dossierTimeField(d) // the unit is checked with every type's (checkBeyondSchema)
	if !ok {
		return
	}
	c.checkTime(es, field, d.OccurredAt(), given)
	if r, ok := d.(*DossierReceivedData); ok {
		switch {
		case !r.DueAt.After(r.ReceivedAt):
			es.add("data.due_at", "must be after received_at")
		case r.DueAt.Year() > 2100:
			es.add("data.due_at", "is after 2100, the latest year egovtrack records")
		}
	}
}
