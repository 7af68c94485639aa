package intake

import (
	"encoding/json"
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

// apiError is a refusal the client can act on. Handlers return it; the edge turns it into a status and a body.
type apiError struct {
	status     int
	body       ErrorResponse
	challenge  string // WWW-Authenticate of a 401
	retryAfter string // Retry-After of a 429, in seconds
}

func (e *apiError) Error() string {
	s := fmt.Sprintf("%d %s", e.status, e.body.Error)
	for _, f := range e.body.Fields {
		s += fmt.Sprintf("; %s: %s", f.Field, f.Message)
	}
	return s
}

func refuse(status int, msg string, fields ...FieldError) *apiError {
	if fields == nil {
		fields = []FieldError{} // always an array, so that clients can iterate without a null check
	}
	return &apiError{status: status, body: ErrorResponse{Error: msg, Fields: fields}}
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
