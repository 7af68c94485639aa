package event

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/egovtrack/egovtrack/internal/event/strictjson"
	"github.com/egovtrack/egovtrack/internal/fuzzcorpus"
)

// FuzzEnvelopeOf holds envelopeOf, which reads the envelope from the members strictjson.Read found, to what it stands
// in for: it reads the same envelope as json.Unmarshal, with the same error. (strictjson's FuzzRead holds the one
// pass itself to encoding/json.)
//
// The seeds are FuzzDecode's corpus (real events, good and bad) and the corners of the envelope below.
func FuzzEnvelopeOf(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"ID":"x"}`, `{"id":5}`, `{"id":null}`, `{"time":"2021-12-15T02:00:00Z"}`, `{"time":"2021-12-15"}`,
		`{"time":5}`, `{"time":null}`, `{"time":"2021-12-15T02:00:00\u005a"}`, `{"data":{"a":1}}`, `{"data":[1]}`,
		`{"data":null}`, `{"data":"x"}`, `{"type":"x","extra":1}`, `{"subject":"egov.province.19.assistant"}`,
	} {
		f.Add([]byte(s))
	}
	for _, in := range fuzzcorpus.Inputs(f, "testdata/fuzz/FuzzDecode") {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := strictjson.Read(b)
		obj, ok := v.Doc.(map[string]any)
		if err != nil || !ok {
			return // Decode refuses it before reading the envelope
		}
		fast, fastErr := envelopeOf(b, obj, v.Members)
		var slow Envelope
		slowErr := json.Unmarshal(b, &slow)
		if !reflect.DeepEqual(fast, slow) || errString(fastErr) != errString(slowErr) {
			t.Fatalf("envelopeOf read %+v (%v), json.Unmarshal %+v (%v): %s", fast, fastErr, slow, slowErr, b)
		}
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
