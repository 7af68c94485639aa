package intake

import (
	"fmt"
	"net/http"

	"github.com/egovtrack/egovtrack/internal/event"
)

// postDossiers stores dossier events (gov.egov.dossier.*), one or an array, as postEvents takes events, counted
// against the token's bucket of dossier events. Nothing is read back from the stream: a dossier event has no state
// to check it against (the projector counts a dossier's facts whatever their order), and the unit's dossiers are
// millions. An event sent again is stored once by JetStream within its duplicate window, and counted once by the
// projector after it (its id is derived from the fact). Every event is checked before the first is published, so
// that a refusal stores none.
func (h *handler) postDossiers(w http.ResponseWriter, r *http.Request, c caller) error {
	body, err := readBody(w, r, h.cfg.MaxBody, mediaJSON, mediaCloudEvent, mediaCloudEventBatch)
	if err != nil {
		return err
	}
	raws, batch, err := splitEvents(body)
	if err != nil {
		return err
	}
	if err := h.takeDossiers(r, c, len(raws)); err != nil {
		return err
	}
	evs, err := h.parseAll(c, raws, batch, func(d event.Data) string {
		if _, dossier := event.DossierOf(d); !dossier {
			return fmt.Sprintf("is %s: this path takes dossier events only; send it to POST /v1/units/%s/%s/events", d.EventType(), c.unit.Kind, c.unit.Code)
		}
		return ""
	})
	if err != nil {
		return err
	}
	envs := make([]event.Envelope, len(evs))
	for i, in := range evs {
		envs[i] = in.env
	}
	res, err := h.pub.Publish(r.Context(), envs, nil)
	if err != nil {
		return fmt.Errorf("publish %d dossier events of %s: %w", len(envs), c.unit, err)
	}
	ids := make([]string, len(envs))
	for i, env := range envs {
		ids[i] = env.ID
	}
	h.log.Info("dossier events accepted", "unit", c.unit, "credential", c.cred, "events", len(envs),
		"stored", res.Stored, "already_stored", len(envs)-res.Stored)
	writeJSON(w, http.StatusAccepted, EventsResponse{IDs: ids})
	return nil
}
