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
		dossier, _ := event.DossierOf(d)
		procedure, channel, fee, due := "", "", false, at // due_at is a receipt's; the others hold their own time
		if r, ok := d.(*event.DossierReceivedData); ok {
			procedure, channel, fee, due = r.Procedure, string(r.Channel), r.Fee, r.DueAt
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
