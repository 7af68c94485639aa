package intake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// The fuzz targets drive the API's own reading of a body, without a stream: readBody, then what the endpoint makes of
// it. They must not panic; a refusal is an *apiError of a 4xx status with a message, whose field errors each have a
// message and name a field (a problem of the whole body or event excepted); and what is accepted is what the
// contract accepts.

// FuzzEvents reads a body sent to POST …/events. An event accepted is stored as the contract makes it: it decodes,
// with the same id. The seed corpus (testdata/fuzz/FuzzEvents) holds the bodies of the README and of the tests.
func FuzzEvents(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := readBody(httptest.NewRecorder(), jsonRequest(body), DefaultConfig().MaxBody, mediaJSON)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		raws, _, err := splitEvents(b)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		for _, raw := range raws {
			env, d, fs := parseEvent(raw)
			if len(fs) > 0 {
				checkFields(t, fs, "must be a JSON object: an event", "decode envelope: ")
				continue
			}
			stored, err := json.Marshal(env)
			if err != nil {
				t.Fatal(err)
			}
			again, d2, err := event.Decode(stored)
			if err != nil {
				t.Fatalf("the event accepted does not decode: %v\n%s", err, stored)
			}
			if again.ID != env.ID || d2.EventType() != d.EventType() || pushable[d.EventType()] == nil {
				t.Fatalf("accepted %s %s, stored %s %s", env.ID, d.EventType(), again.ID, d2.EventType())
			}
		}
	})
}

// FuzzCatalogue reads a body sent to PUT …/catalogue for Thái Nguyên. A catalogue accepted is one of procedures the
// contract accepts, for the unit of the request. The seed corpus (testdata/fuzz/FuzzCatalogue) holds the bodies of
// the README and of the tests.
func FuzzCatalogue(f *testing.F) {
	unit := units.Ref{Kind: units.Province, Code: "19"}
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := readBody(httptest.NewRecorder(), jsonRequest(body), DefaultConfig().MaxBody, mediaJSON)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		procs, claimed, fs := parseCatalogue(b, unit)
		if len(fs) > 0 {
			checkFields(t, fs, "the body must be a catalogue snapshot")
			if len(procs) > 0 {
				t.Fatalf("procedures returned with the errors %v", fs)
			}
			return
		}
		if claimed != unit || len(procs) == 0 {
			t.Fatalf("accepted a catalogue of %d procedures claiming %s", len(procs), claimed)
		}
		for _, p := range procs {
			d := &event.ProcedureRegisteredData{Unit: unit, Procedure: p.Code, Name: p.Name, Sector: p.Sector,
				Eligible: p.Eligible, Level: p.Level, EffectiveAt: time.Date(2021, 9, 1, 2, 0, 0, 0, time.UTC)}
			if _, err := event.New(Source, d); err != nil {
				t.Fatalf("procedure %+v, accepted, breaks the contract: %v", p, err)
			}
		}
	})
}

func jsonRequest(body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/v1/units/province/19/events", bytes.NewReader(body))
	r.Header.Set("Content-Type", mediaJSON)
	return r
}

// checkRefusal holds a refusal to what the API promises: a 4xx status and a message, and an offset for what is
// malformed at a place of the body.
func checkRefusal(t *testing.T, err error) {
	t.Helper()
	ae, ok := errors.AsType[*apiError](err)
	if !ok {
		t.Fatalf("error %v (%T) is not a refusal", err, err)
	}
	if ae.status() < 400 || ae.status() > 499 || ae.body.Error == "" {
		t.Fatalf("refused with %d %q", ae.status(), ae.body.Error)
	}
	said := ae.body.Error
	for _, f := range ae.body.Fields {
		said += "; " + f.Message
	}
	if off := ae.body.Offset; strings.Contains(ae.body.Error, "byte offset") && off == nil || off != nil && !strings.Contains(said, fmt.Sprintf("byte offset %d", *off)) {
		t.Fatalf("%q with the offset %v", said, off)
	}
	checkFields(t, ae.body.Fields)
}

// checkFields holds field errors to naming a field and saying what is wrong with it; a message that starts with one
// of whole is about the whole body or event, and names no field.
func checkFields(t *testing.T, fs []FieldError, whole ...string) {
	t.Helper()
	for _, f := range fs {
		if f.Message == "" {
			t.Fatalf("a field error without a message: %+v", fs)
		}
		if f.Field != "" {
			continue
		}
		named := false
		for _, w := range whole {
			named = named || strings.HasPrefix(f.Message, w)
		}
		if !named {
			t.Fatalf("a field error without a field: %+v", f)
		}
	}
}
