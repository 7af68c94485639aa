package intake

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/egovtrack/egovtrack/collectors/reporting"
	"github.com/egovtrack/egovtrack/internal/event"
)

// ErrorResponse is the body of every refusal (4xx) and failure (5xx).
type ErrorResponse struct {
	// Error says what went wrong and what to do about it.
	Error string `json:"error"`
	// Fields lists each problem with a field of the body, empty when the problem is not one field's.
	Fields []FieldError `json:"fields"`
	// Offset is the byte of the body where malformed JSON or invalid UTF-8 was found.
	Offset *int64 `json:"offset,omitempty"`
}

// FieldError is one problem with one field. Field is a path into the body: "data.level" for a single event,
// "[2].data.from" for the third event of an array, "procedures[4].level" for the fifth procedure of a snapshot.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	// Row and Value are set for a snapshot's procedures, as a spreadsheet import reports them: the procedure's
	// position (1-based) and the value refused.
	Row   int    `json:"row,omitempty"`
	Value string `json:"value,omitempty"`
}

// code says what kind of refusal or failure a request met. Each is chosen where the problem is found; statuses turns
// it into HTTP, and answer and write into the response, at the edge (fail, jsonErrors): the one place that knows
// which status each kind gets. openapi.yaml documents the statuses.
type code string

const (
	eMediaType    code = "unsupported_media_type" // a Content-Type or charset the API does not read
	eMalformed    code = "malformed"              // a body that is not UTF-8 JSON, or could not be read
	eInvalid      code = "invalid"                // JSON that breaks the contract or the API's forms
	eConflict     code = "conflict"               // valid, but at odds with the unit's catalogue as the stream holds it
	eTooLarge     code = "too_large"              // more than one request may carry
	eUnauthorized code = "unauthorized"           // no valid token
	eForbidden    code = "forbidden"              // a token of another unit
	eTooMany      code = "too_many_requests"      // over a rate limit, for now: retry after
	eNotFound     code = "not_found"              // no such endpoint
	eMethod       code = "method_not_allowed"     // an endpoint of another method
	eInternal     code = "internal"               // a defect of the server, which a retry does not fix
	eUnavailable  code = "unavailable"            // the stream could not be read or did not acknowledge: retry
)

// statuses is the HTTP status of each code.
var statuses = map[code]int{
	eMediaType:    http.StatusUnsupportedMediaType,
	eMalformed:    http.StatusBadRequest,
	eInvalid:      http.StatusUnprocessableEntity,
	eConflict:     http.StatusConflict,
	eTooLarge:     http.StatusRequestEntityTooLarge,
	eUnauthorized: http.StatusUnauthorized,
	eForbidden:    http.StatusForbidden,
	eTooMany:      http.StatusTooManyRequests,
	eNotFound:     http.StatusNotFound,
	eMethod:       http.StatusMethodNotAllowed,
	eInternal:     http.StatusInternalServerError,
	eUnavailable:  http.StatusServiceUnavailable,
}

// apiError is what a request is answered with when it is not served: the kind of problem, the body that says what to
// do about it, and the headers some kinds carry. Handlers return it; the edge writes it.
type apiError struct {
	code       code
	body       ErrorResponse
	challenge  string // WWW-Authenticate, of eUnauthorized
	retryAfter string // Retry-After in seconds, of eTooMany and eUnavailable
}

func (e *apiError) status() int { return statuses[e.code] }

func (e *apiError) Error() string {
	s := fmt.Sprintf("%d %s", e.status(), e.body.Error)
	for _, f := range e.body.Fields {
		s += fmt.Sprintf("; %s: %s", f.Field, f.Message)
	}
	return s
}

func refuse(c code, msg string, fields ...FieldError) *apiError {
	if fields == nil {
		fields = []FieldError{} // always an array, so that clients can iterate without a null check
	}
	return &apiError{code: c, body: ErrorResponse{Error: msg, Fields: fields}}
}

// answer is what a request whose handler returned err is answered: the refusal the handler made, or else the
// server's failure. What the server built broke the contract, or its clock is wrong: a defect (eInternal). Anything
// else is the stream's, which could not be read or did not acknowledge in time (eUnavailable): a retry may fix it,
// and a retry is safe because ids are derived from the facts.
func answer(err error) *apiError {
	if ae, ok := errors.AsType[*apiError](err); ok {
		return ae
	}
	if _, ok := errors.AsType[event.FieldErrors](err); ok || errors.Is(err, reporting.ErrClock) {
		return refuse(eInternal, "internal error")
	}
	e := refuse(eUnavailable, "the event stream is unavailable; retry later: sending the same events again is safe, they keep their ids")
	e.retryAfter = "30"
	return e
}

// write sends ae as the response: its status, its headers and its body.
func write(w http.ResponseWriter, ae *apiError) {
	if ae.challenge != "" {
		w.Header().Set("WWW-Authenticate", ae.challenge)
	}
	if ae.retryAfter != "" {
		w.Header().Set("Retry-After", ae.retryAfter)
	}
	writeJSON(w, ae.status(), ae.body)
}

// envelopeFields are the CloudEvents attributes of an envelope; the contract's field errors name every other field
// by its name inside data.
var envelopeFields = map[string]bool{
	"id": true, "source": true, "specversion": true, "type": true, "subject": true, "time": true,
	"datacontenttype": true, "data": true,
}

// fromEvent turns the contract's field errors into the API's, with paths from the root of the event. (The contract
// names data fields by their path, "data.level"; older versions of it named them bare, "level", which is read alike.)
func fromEvent(prefix string, es event.FieldErrors) []FieldError {
	out := make([]FieldError, 0, len(es))
	for _, e := range es {
		f := e.Field
		if head, _, _ := strings.Cut(f, "."); f != "" && !envelopeFields[head] {
			f = "data." + f
		}
		out = append(out, FieldError{Field: prefix + f, Message: e.Message})
	}
	return out
}

// fromRows turns a snapshot's row errors into field errors; a row is the procedure at index Line-1.
func fromRows(es []reporting.RowError) []FieldError {
	out := make([]FieldError, 0, len(es))
	for _, e := range es {
		out = append(out, FieldError{
			Field: fmt.Sprintf("procedures[%d].%s", e.Line-1, e.Column), Message: e.Reason, Row: e.Line, Value: e.Value,
		})
	}
	return out
}

// prefixed puts every field of fs under prefix (an array index such as "[3].").
func prefixed(prefix string, fs []FieldError) []FieldError {
	for i := range fs {
		fs[i].Field = strings.TrimSuffix(prefix+fs[i].Field, ".")
	}
	return fs
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only our own response types are written: a defect
		http.Error(w, `{"error":"internal error: cannot encode the response","fields":[]}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
