package store

import (
	"time"

	"github.com/google/uuid"

	"github.com/egovtrack/egovtrack/internal/event"
)

// addDossier adds a dossier event's row to dossier_facts (0007_dossier_facts.sql).
func addDossier(facts *inserter, id uuid.UUID, seq uint64, d event.Data) {
	row := func(fact string, at time.Time, flag, onTime bool) {
		u, _ := event.UnitOf(d)
		dossier := ""
		procedure, channel, fee, due := "", "", false, at // due_at is a receipt's; the others hold their own time
		switch d := d.(type) {
		case *event.DossierReceivedData:
			dossier, procedure, channel, fee, due = d.Dossier, d.Procedure, string(d.Channel), d.Fee, d.DueAt
		case *event.DossierPaidData:
			dossier = d.Dossier
		case *event.DossierSettledData:
			dossier = d.Dossier
		case *event.DossierResultIssuedData:
			dossier = d.Dossier
		case *event.DossierDigitisedData:
			dossier = d.Dossier
		case *event.DossierWithdrawnData:
			dossier = d.Dossier
		case *event.DossierFeedbackGivenData:
			dossier = d.Dossier
		}
		facts.add(string(u.Kind), u.Code, dossier, fact, at, procedure, channel, boolU8(fee), due, boolU8(flag), boolU8(onTime), id, seq)
	}
	switch d := d.(type) {
	case *event.DossierReceivedData:
		row("received", d.ReceivedAt, false, false)
	case *event.DossierPaidData:
		row("paid", d.PaidAt, d.Online, false)
	case *event.DossierSettledData:
		row("settled", d.SettledAt, false, false)
	case *event.DossierResultIssuedData:
		row("result_issued", d.IssuedAt, d.Electronic, false)
	case *event.DossierDigitisedData:
		row("digitised", d.DigitisedAt, false, false)
	case *event.DossierWithdrawnData:
		row("withdrawn", d.WithdrawnAt, false, false)
	case *event.DossierFeedbackGivenData:
		row("feedback_given", d.GivenAt, d.Satisfied, d.HandledOnTime)
	}
}
