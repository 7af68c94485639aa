// Package intake is the HTTP intake API behind `collectors serve`: provincial and ministry systems that push their
// status send events, or their whole catalogue of procedures, with a bearer token of their unit. Everything accepted
// is checked against the event contract and against the unit's catalogue as the event stream holds it, then
// published to JetStream; the response carries the events' ids only once JetStream has stored them.
//
// openapi.yaml describes the API; README.md shows a provincial system's developer how to use it.
package intake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/egovtrack/egovtrack/collectors/reporting"
	"github.com/egovtrack/egovtrack/internal/natsauth"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/units"
)

type handler struct {
	cfg    Config
	tokens Tokens
	pub    stream.Publisher
	read   reporting.Reader
	log    *slog.Logger
	now    func() time.Time
	locks  unitLocks
	limits *limiters
	// refused samples the log lines of refused requests.
	refused refusals
}

// caller is who a request speaks for: the unit of its token (and of its path), and the credential, for the logs
// and for the events it submits (natsauth.WithOnBehalf).
type caller struct {
	unit       units.Ref
	cred       string
	tokenID    string
	credential credential // its limits' key
}

// route is one endpoint: a net/http pattern (method and path) and what serves it. openapi.yaml describes each.
type route struct {
	pattern string
	serve   http.Handler
}

// NewHandler returns the intake API. Events are published with pub, and checked against each unit's catalogue read
// back through r (a *stream.Conn is both); now is the handler's clock: the time a catalogue snapshot takes effect,
// and the time its rate limits and log sampling count (the event contract's checks of future times read the system
// clock, as event.New and event.Decode do everywhere). Requests are served one at a time per unit, so that two
// requests of one unit are not both checked against the catalogue as it was before either.
func NewHandler(cfg Config, tokens Tokens, pub stream.Publisher, r reporting.Reader, log *slog.Logger, now func() time.Time) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	cfg = cfg.withDefaults()
	h := &handler{cfg: cfg, tokens: tokens, pub: pub, read: r, log: log, now: now, limits: newLimiters(cfg)}
	mux := http.NewServeMux()
	for _, rt := range h.routes() {
		mux.Handle(rt.pattern, rt.serve)
	}
	return jsonErrors(mux)
}

func (h *handler) routes() []route {
	return []route{
		{"GET /healthz", http.HandlerFunc(h.healthz)},
		{"POST /v1/units/{kind}/{code}/events", h.forUnit(h.postEvents)},
		{"POST /v1/units/{kind}/{code}/dossiers", h.forUnit(h.postDossiers)},
		{"PUT /v1/units/{kind}/{code}/catalogue", h.forUnit(h.putCatalogue)},
		// POST for clients that cannot send PUT (some government middleware allows only GET and POST).
		{"POST /v1/units/{kind}/{code}/snapshot", h.forUnit(h.putCatalogue)},
	}
}

// healthz says the process serves requests; it does not reach the stream, so that a NATS restart, which publishes
// ride out by retrying, does not get the API restarted too.
func (h *handler) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// forUnit authorises a request for the unit in its path, bounds its work by the request timeout, names its token as
// the submitter of the events it publishes, and turns what serve returns into the response.
func (h *handler) forUnit(serve func(http.ResponseWriter, *http.Request, caller) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := h.authorize(r)
		if err == nil {
			ctx, cancel := context.WithTimeout(r.Context(), h.cfg.RequestTimeout)
			defer cancel()
			ctx = natsauth.WithOnBehalf(ctx, c.unit, c.tokenID)
			err = serve(w, r.WithContext(ctx), c)
		}
		if err != nil {
			h.fail(w, r, c, err)
		}
	})
}

// authorize finds the unit of the request's bearer token: eUnauthorized without a valid token, eTooMany when the
// token is over its limit of requests or, for a request without a valid token, its client's address over its own;
// eForbidden when the token is another unit's. Refusals are logged, sampled, with the units involved and where the request came from, never
// with the token.
func (h *handler) authorize(r *http.Request) (caller, error) {
	now := h.now()
	target := units.Ref{Kind: units.Kind(r.PathValue("kind")), Code: r.PathValue("code")}
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	var cred credential
	ok := strings.EqualFold(scheme, "Bearer") && token != ""
	if ok {
		cred, ok = h.tokens.lookup(token)
	}
	if !ok {
		// Before anything else is done for it: a flood of such requests costs a map lookup each.
		if allowed, wait := h.limits.allowUnknown(r.RemoteAddr, now); !allowed {
			h.refused.overAddress.log(now, func(n int) {
				h.log.Warn("request without a valid token over its address's limit refused", "target", target, "remote", r.RemoteAddr,
					"path", r.URL.Path, "retry_after", wait, notLogged(n))
			})
			return caller{}, tooManyUnknown(wait)
		}
	}
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		h.refused.noToken.log(now, func(n int) {
			h.log.Warn("request without a bearer token refused", "target", target, "remote", r.RemoteAddr, "path", r.URL.Path, notLogged(n))
		})
		e := refuse(eUnauthorized, "missing bearer token: send the header Authorization: Bearer <your unit's token>")
		e.challenge = `Bearer realm="egovtrack"`
		return caller{}, e
	}
	if !ok {
		h.refused.invalidToken.log(now, func(n int) {
			h.log.Warn("invalid token refused", "target", target, "remote", r.RemoteAddr, "path", r.URL.Path, notLogged(n))
		})
		e := refuse(eUnauthorized, "invalid token: it is not one of the tokens issued to units")
		e.challenge = `Bearer realm="egovtrack", error="invalid_token"`
		return caller{}, e
	}
	c := caller{unit: cred.unit, cred: cred.id(), tokenID: cred.tokenID(), credential: cred}
	// Before the unit is compared, so that a flood of refused requests is limited as well, and their log lines too.
	if ok, wait := h.limits.allow(cred, now); !ok {
		h.refused.overRequests.log(now, func(n int) {
			h.log.Warn("request over the token's rate limit refused", "credential", c.cred, "target", target,
				"remote", r.RemoteAddr, "path", r.URL.Path, "retry_after", wait, notLogged(n))
		})
		return c, tooMany(wait, h.cfg)
	}
	if cred.unit != target {
		h.refused.otherUnit.log(now, func(n int) {
			h.log.Warn("token of another unit refused", "token_unit", cred.unit, "credential", c.cred, "target", target,
				"remote", r.RemoteAddr, "path", r.URL.Path, notLogged(n))
		})
		return c, refuse(eForbidden, fmt.Sprintf("this token reports for %s, not for %s", cred.unit, target))
	}
	return c, nil
}

// takeEvents takes n events from the bucket of c's token, what says what they are ("this request has", "this
// catalogue makes"): eTooMany when they are not free yet, eTooLarge when they never will be.
func (h *handler) takeEvents(r *http.Request, c caller, n int, what string) error {
	now := h.now()
	ok, wait, never := h.limits.allowEvents(c.credential, n, now)
	return h.taken(r, c, n, what, ok, wait, never, eventLimit{"events", "EVENT", h.cfg.EventBurst, h.cfg.EventRate})
}

// takeDossiers is takeEvents for dossier events, from their own bucket.
func (h *handler) takeDossiers(r *http.Request, c caller, n int) error {
	now := h.now()
	ok, wait, never := h.limits.allowDossiers(c.credential, n, now)
	return h.taken(r, c, n, "this request has", ok, wait, never, eventLimit{"dossier events", "DOSSIER", h.cfg.DossierBurst, h.cfg.DossierRate})
}

func (h *handler) taken(r *http.Request, c caller, n int, what string, ok bool, wait time.Duration, never bool, l eventLimit) error {
	now := h.now()
	if ok {
		return nil
	}
	h.refused.overEvents.log(now, func(left int) {
		h.log.Warn("events over the token's rate limit refused", "credential", c.cred, "events", n, "remote", r.RemoteAddr,
			"path", r.URL.Path, "retry_after", wait, notLogged(left))
	})
	if never {
		return eventsTooLarge(n, what, l)
	}
	return tooManyEvents(n, what, wait, l)
}

// notLogged is the log attribute counting the refusals of a kind left out of the log since its last line.
func notLogged(n int) slog.Attr { return slog.Int("not_logged", n) }

// fail answers a request that was not served (see answer), and logs it: a refusal as the client's doing, anything
// else as the server's failure. A request the client abandoned is not answered.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, c caller, err error) {
	if _, refused := errors.AsType[*apiError](err); !refused && r.Context().Err() != nil && errors.Is(err, context.Canceled) {
		h.log.Info("request abandoned by the client", "unit", c.unit, "credential", c.cred, "path", r.URL.Path, "err", err)
		return
	}
	ae := answer(err)
	switch ae.code {
	case eUnauthorized, eForbidden, eTooMany: // logged where refused
	case eInternal, eUnavailable:
		h.log.Error("request failed", "unit", c.unit, "credential", c.cred, "path", r.URL.Path, "err", err)
	default:
		h.log.Info("request refused", "unit", c.unit, "credential", c.cred, "method", r.Method, "path", r.URL.Path,
			"status", ae.status(), "error", ae.body.Error, "fields", len(ae.body.Fields))
		h.log.Debug("request refused: fields", "unit", c.unit, "detail", ae.Error())
	}
	write(w, ae)
}

// unitLocks serialise the requests of each unit: each checks the unit's catalogue and then publishes, and must not
// be checked against a catalogue another request is changing. (This holds within one process; several intake
// servers behind one address would need JetStream's per-subject expected sequence, which stream.Publisher does not
// offer.)
type unitLocks struct {
	mu sync.Mutex
	m  map[units.Ref]chan struct{}
}

// lock waits for the unit's turn, or for ctx to end.
func (l *unitLocks) lock(ctx context.Context, u units.Ref) (unlock func(), err error) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[units.Ref]chan struct{}{}
	}
	ch, ok := l.m[u]
	if !ok {
		ch = make(chan struct{}, 1) // units come from the tokens file, so the map stays small
		l.m[u] = ch
	}
	l.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// jsonErrors answers what no route takes with the API's JSON error body instead of ServeMux's plain text: 404 for
// an unknown path, 405 (with Allow) for a known path and another method.
func jsonErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		cw := &captured{header: http.Header{}}
		mux.ServeHTTP(cw, r)
		switch cw.status {
		case http.StatusNotFound:
			write(w, refuse(eNotFound, fmt.Sprintf("no endpoint %s: see openapi.yaml", r.URL.Path)))
		case http.StatusMethodNotAllowed:
			allow := cw.header.Get("Allow")
			w.Header().Set("Allow", allow)
			write(w, refuse(eMethod, fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, allow)))
		default:
			maps.Copy(w.Header(), cw.header)
			w.WriteHeader(cw.status)
			w.Write(cw.body.Bytes())
		}
	})
}

// captured holds what ServeMux answered, to be rewritten.
type captured struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *captured) Header() http.Header { return c.header }

func (c *captured) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}

func (c *captured) Write(b []byte) (int, error) {
	c.WriteHeader(http.StatusOK)
	return c.body.Write(b)
}
