package intake_test

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/egovtrack/egovtrack/collectors/intake"
)

// The bad-input list of issue 6, item by item, as the intake API meets it: each request is refused with the status,
// the message, the fields and the byte offset given, exactly, and stores nothing. The items only a spreadsheet holds
// (CSV headers, merged cells, formulas, sheets) are collectors/sheet's; a legacy Vietnamese encoding reaches the API
// as bytes that are not UTF-8, or as a charset it refuses.
func TestBadInput(t *testing.T) {
	t.Parallel()
	a := newAPI(t, func(c *intake.Config) { c.MaxBody = 64 << 10 })
	const (
		reg  = `"type": "gov.egov.procedure.registered.v1"`
		unit = `"unit": {"kind": "province", "code": "19"}`
		// a valid registration's data but for its level and time, which cases add
		data = unit + `, "procedure": "1.000001", "name": "Đăng ký khai sinh", "sector": "Hộ tịch", "eligible": true`
		at   = `"effective_at": "2021-09-01T09:00:00+07:00"`
		item = `{"code": "1.000001", "name": "Đăng ký khai sinh", "sector": "Hộ tịch", "eligible": true, "level": 4}`
	)
	registration := func(fields string) string { return `{` + reg + `, "data": {` + data + `, ` + fields + `}}` }
	field := func(f, msg string) intake.FieldError { return intake.FieldError{Field: f, Message: msg} }
	accepted := "this API accepts gov.egov.procedure.registered.v1, gov.egov.procedure.level_changed.v1, gov.egov.procedure.retired.v1, gov.egov.assistant.stage_changed.v1, " +
		"gov.egov.dossier.received.v1, gov.egov.dossier.paid.v1, gov.egov.dossier.settled.v1, gov.egov.dossier.result_issued.v1, " +
		"gov.egov.dossier.digitised.v1, gov.egov.dossier.withdrawn.v1, gov.egov.dossier.feedback_given.v1"
	cases := []struct {
		item        string
		method      string // POST to the events when empty
		path        string
		contentType string // application/json when empty
		body        string
		status      int
		error       string
		fields      []intake.FieldError
		offset      int64
	}{
		{
			item:   "malformed JSON",
			body:   `{"type": "x", "data": {"level": }}`,
			status: 400, offset: 33,
			error: "malformed JSON at byte offset 33 (line 1, column 33): invalid character '}' looking for beginning of value",
		},
		{
			item:   "wrong types",
			body:   `{` + reg + `, "data": {"unit": {"kind": "province", "code": 19}, "procedure": "1.000001", "name": "x", "sector": "y", "eligible": "có", "level": 4, ` + at + `}}`,
			status: 422, error: "the event is invalid; it was not stored",
			fields: []intake.FieldError{field("data.unit.code", "must be a string, not a JSON number"), field("data.eligible", "must be true or false, not a JSON string")},
		},
		{
			item:   "unknown event type",
			body:   `{"type": "gov.egov.procedure.renamed.v1", "data": {}}`,
			status: 422, error: "the event is invalid; it was not stored",
			fields: []intake.FieldError{field("type", `"gov.egov.procedure.renamed.v1" is not a known event type; `+accepted)},
		},
		{
			item:   "unknown version",
			body:   `{"type": "gov.egov.procedure.registered.v2", "data": {}}`,
			status: 422, error: "the event is invalid; it was not stored",
			fields: []intake.FieldError{field("type", `"gov.egov.procedure.registered.v2" is not a known event type; `+accepted)},
		},
		{
			item:   "unknown unit in the data",
			body:   `{` + reg + `, "data": {"unit": {"kind": "province", "code": "03"}, "procedure": "1.000001", "name": "x", "sector": "y", "eligible": true, "level": 4, ` + at + `}}`,
			status: 422, error: "the event is invalid; it was not stored",
			fields: []intake.FieldError{field("data.unit", "province/03 is not a known unit")},
		},
		{
			item:   "unknown unit in the path",
			path:   "/v1/units/province/03/events",
			body:   registration(`"level": 4, ` + at),
			status: 403, error: "this token reports for province/19, not for province/03",
		},
		{
			item:   "invalid level",
			body:   registration(`"level": "cao", ` + at),
			status: 422, error: "the event is invalid; it was not stored",
			fields: []intake.FieldError{field("data.level", `"cao" is not a level (1–4, partial or full)`)},
		},
		{
			item:   "future time",
			body:   registration(`"level": 4, "effective_at": "2100-01-01T09:00:00+07:00"`),
			status: 422, error: "the event is invalid; it was not stored",
			fields: []intake.FieldError{field("data.effective_at", "2100-01-01T02:00:00Z is in the future: egovtrack records times up to 5 minutes from now")},
		},
		{
			item:   "oversized payload: the body",
			body:   `{"type": "` + strings.Repeat("x", 64<<10) + `"}`,
			status: 413, error: "the body is larger than 65536 bytes: send fewer events a request (a catalogue this large needs EGOV_SERVE_MAX_BODY raised)",
		},
		{
			item:   "oversized payload: one event",
			body:   `{` + reg + `, "data": {` + unit + `, "procedure": "1.000001", "name": "` + strings.Repeat("Đăng ký ", 6000) + `", "sector": "y", "eligible": true, "level": 4, ` + at + `}}`,
			status: 413, error: "the body is larger than 65536 bytes: send fewer events a request (a catalogue this large needs EGOV_SERVE_MAX_BODY raised)",
		},
		{
			item:   "invalid UTF-8",
			body:   `{` + reg + `, "data": {"name": "` + "\xa7\xa8ng k\xfd" + `"}}`,
			status: 400, offset: 64,
			error: "the body is not valid UTF-8 at byte offset 64 (line 1, column 64): send text in UTF-8, not a legacy Vietnamese encoding (TCVN3, VNI)",
		},
		{
			item:        "a legacy Vietnamese encoding, declared",
			contentType: "application/json; charset=windows-1258",
			body:        registration(`"level": 4, ` + at),
			status:      415, error: `charset is "windows-1258"; the API reads UTF-8 only`,
		},
		{
			item:   "duplicate rows: a procedure twice in a catalogue",
			method: http.MethodPut, path: cataloguePath,
			body:   `{"procedures": [` + item + `, ` + item + `]}`,
			status: 422, error: "the catalogue is invalid; nothing was stored",
			fields: []intake.FieldError{{Field: "procedures[1].code", Message: "is already on row 1", Row: 2, Value: "1.000001"}},
		},
		{
			item:   "duplicate rows: a field given twice",
			body:   registration(`"level": 3, "level": 4, ` + at),
			status: 422, offset: 217, error: "a field is given twice; nothing was stored",
			fields: []intake.FieldError{field("data.level", "is given twice (the second time at byte offset 217, line 1, column 217): give each field once")},
		},
		{
			item:   "half of a surrogate pair",
			body:   `{` + reg + `, "data": {` + unit + `, "procedure": "1.000001", "name": "Đăng ký \ud800", "sector": "Hộ tịch", "eligible": true, "level": 4, ` + at + `}}`,
			status: 422, offset: 149, error: "a text holds half of a UTF-16 surrogate pair; nothing was stored",
			fields: []intake.FieldError{field("data.name", `holds \ud800 (at byte offset 149, line 1, column 149), half of a UTF-16 surrogate pair without its other half: write the character itself, or both halves of its pair`)},
		},
		{
			item:   "a name that a spreadsheet runs as a formula",
			body:   `{` + reg + `, "data": {` + unit + `, "procedure": "1.000001", "name": "=cmd|' /C calc'!A0", "sector": "Hộ tịch", "eligible": true, "level": 4, ` + at + `}}`,
			status: 422, error: "the event is invalid; it was not stored",
			fields: []intake.FieldError{field("data.name", `starts with "=", which a spreadsheet program runs as a formula when the text is exported: write the text without it`)},
		},
		{
			item:   "a reason holding NUL",
			body:   `{"type": "gov.egov.procedure.retired.v1", "data": {` + unit + `, "procedure": "1.000001", "reason": "gộp\u0000vào", ` + at + `}}`,
			status: 422, error: "the event is invalid; it was not stored",
			fields: []intake.FieldError{field("data.reason", "holds a NUL character (U+0000), which many programs take for the end of the text, at character 4: remove it")},
		},
		{
			item:   "a catalogue with a bidirectional override in a sector",
			method: http.MethodPut, path: cataloguePath,
			body:   `{"procedures": [{"code": "1.000001", "name": "Đăng ký khai sinh", "sector": "Hộ\u202etịch", "eligible": true, "level": 4}]}`,
			status: 422, error: "the catalogue is invalid; nothing was stored",
			fields: []intake.FieldError{{Field: "procedures[0].sector", Row: 1, Value: "Hộ\u202etịch",
				Message: "holds the invisible character U+202E (RIGHT-TO-LEFT OVERRIDE), which makes the text show in another order than it is written, at character 3: remove it"}},
		},
		{
			item:   "a catalogue with a +HYPERLINK name",
			method: http.MethodPut, path: cataloguePath,
			body:   `{"procedures": [{"code": "1.000001", "name": "+HYPERLINK(\"http://x.example\",\"Bấm\")", "sector": "Hộ tịch", "eligible": true, "level": 4}]}`,
			status: 422, error: "the catalogue is invalid; nothing was stored",
			fields: []intake.FieldError{{Field: "procedures[0].name", Row: 1, Value: `+HYPERLINK("http://x.example","Bấm")`,
				Message: `starts with "+" followed by a formula, which a spreadsheet program runs when the text is exported: write the text without the leading "+"`}},
		},
		{
			item:   "an empty body",
			body:   "",
			status: 400, error: "the body is empty: send a JSON document",
		},
		{
			item:   "an empty catalogue",
			method: http.MethodPut, path: cataloguePath,
			body:   `{"unit": {"kind": "province", "code": "19"}, "procedures": []}`,
			status: 422, error: "the catalogue is invalid; nothing was stored",
			fields: []intake.FieldError{field("procedures", "is empty: a snapshot lists every procedure the unit offers, and an empty one would retire them all")},
		},
		{
			item:   "a snapshot claiming another unit",
			method: http.MethodPut, path: cataloguePath,
			body:   `{"unit": {"kind": "province", "code": "01"}, "procedures": [` + item + `]}`,
			status: 422, error: "the catalogue is invalid; nothing was stored",
			fields: []intake.FieldError{field("unit", "is province/01, but this request reports for province/19 (the unit of the path and of the token)")},
		},
		{
			item:   "an event claiming another unit",
			body:   `{` + reg + `, "data": {"unit": {"kind": "province", "code": "01"}, "procedure": "1.000001", "name": "x", "sector": "y", "eligible": true, "level": 4, ` + at + `}}`,
			status: 422, error: "the event is invalid; it was not stored",
			fields: []intake.FieldError{field("data.unit", "is province/01, but this request reports for province/19 (the unit of the path and of the token)")},
		},
	}
	for _, c := range cases {
		t.Run(c.item, func(t *testing.T) {
			method, path, ct := cmp.Or(c.method, http.MethodPost), cmp.Or(c.path, eventsPath), cmp.Or(c.contentType, "application/json")
			r := a.do(method, path, tokenThaiNguyen, ct, strings.NewReader(c.body))
			if r.status != c.status {
				t.Fatalf("status %d, body %s; want %d", r.status, r.body, c.status)
			}
			e := r.errorBody(t)
			if e.Error != c.error {
				t.Errorf("error\n  %s\nwant\n  %s", e.Error, c.error)
			}
			if !slices.Equal(e.Fields, c.fields) && len(e.Fields)+len(c.fields) > 0 {
				got, _ := json.Marshal(e.Fields)
				want, _ := json.Marshal(c.fields)
				t.Errorf("fields\n  %s\nwant\n  %s", got, want)
			}
			if got := e.Offset; c.offset != 0 && (got == nil || *got != c.offset) || c.offset == 0 && got != nil {
				t.Errorf("offset %s, want %d", r.body, c.offset)
			}
		})
	}
	if n := a.stored(); n != 0 {
		t.Errorf("the stream holds %d events after refused requests, want none", n)
	}
}
