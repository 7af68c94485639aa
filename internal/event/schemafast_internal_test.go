package event

import (
	"strings"
	"testing"

	"github.com/egovtrack/egovtrack/internal/event/strictjson"
	"github.com/egovtrack/egovtrack/internal/fuzzcorpus"
)

// schemasAccept is the oracle: the JSON Schema validator's verdict on the envelope and its type's data.
func schemasAccept(doc map[string]any) bool {
	if len(check(schemas.envelope, doc, "")) > 0 {
		return false
	}
	typ, _ := doc["type"].(string)
	data, _ := doc["data"].(map[string]any)
	sch := schemas.data[Type(typ)]
	return sch != nil && data != nil && len(check(sch, data, "data")) == 0
}

func docOf(t testing.TB, b []byte) (map[string]any, bool) {
	t.Helper()
	v, err := strictjson.Read(b)
	if err != nil {
		return nil, false
	}
	doc, ok := v.Doc.(map[string]any)
	return doc, ok
}

// FuzzSchemaAccepts holds the Go checks to the schemas: whatever they accept, the schemas accept. (What they leave
// to the schemas, the schemas judge: Decode's answer is the schemas' either way.) It starts from FuzzDecode's corpus.
func FuzzSchemaAccepts(f *testing.F) {
	for _, in := range fuzzcorpus.Inputs(f, "testdata/fuzz/FuzzDecode") {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		doc, ok := docOf(t, b)
		if !ok {
			return
		}
		if schemaAccepts(doc) && !schemasAccept(doc) {
			t.Fatalf("the Go checks accept what the schemas refuse:\n%s", b)
		}
	})
}

// The Go checks accept every valid event of the stream's types as egovtrack and the README's examples write them, so the
// projector's hot path never waits on the validator; they defer a target, and the forms listed, to the schemas.
func TestSchemaAcceptsEveryExample(t *testing.T) {
	n := 0
	for _, in := range fuzzcorpus.Inputs(t, "testdata/fuzz/FuzzDecode") {
		doc, ok := docOf(t, in)
		if !ok {
			continue
		}
		fast, slow := schemaAccepts(doc), schemasAccept(doc)
		typ, _ := doc["type"].(string)
		switch {
		case fast && !slow:
			t.Errorf("the Go checks accept what the schemas refuse:\n%s", in)
		case slow && !fast && Type(typ) != TargetSet && decodes(in):
			t.Errorf("Decode accepts a %s the Go checks leave to the schemas: the hot path is slow for it\n%s", typ, in)
		case fast:
			n++
		}
	}
	if n < 15 {
		t.Errorf("the Go checks accepted %d of the corpus' events, want the README's, the stored and the legacy ones", n)
	}
}

func decodes(b []byte) bool {
	_, _, err := Decode(b)
	return err == nil
}

// Each rule of the schemas, broken once in an event the Go checks accept: they refuse it, as the schemas do; and the
// forms they leave to the schemas, which the schemas accept.
func TestSchemaAcceptsEachRule(t *testing.T) {
	const base = `{"id":"6a7072b7-265f-570c-a0df-b56dd7803ed0","source":"/egovtrack/collectors/sheet","specversion":"1.0",` +
		`"type":"gov.egov.procedure.registered.v1","subject":"egov.province.19.proc.1_001234","time":"2021-07-01T02:00:00Z",` +
		`"datacontenttype":"application/json","data":{"unit":{"kind":"province","code":"19"},"procedure":"1.001234",` +
		`"name":"Cấp giấy phép","sector":"Xây dựng","eligible":true,"level":4,"effective_at":"2021-07-01T02:00:00Z"}}`
	doc, _ := docOf(t, []byte(base))
	if !schemaAccepts(doc) || !schemasAccept(doc) {
		t.Fatalf("the base event: Go %v, schemas %v, want both to accept", schemaAccepts(doc), schemasAccept(doc))
	}
	for _, tc := range []struct {
		old, new string
		schemas  bool // what the schemas say of it
	}{
		{`"specversion":"1.0"`, `"specversion":"1.1"`, false},
		{`"id":"6a7072b7-`, `"id":"6a7072b7`, false},
		{`"source":"/egovtrack/collectors/sheet"`, `"source":""`, false},
		{`"subject":"egov.province.19.proc.1_001234"`, `"subject":"egov..19"`, false},
		{`"subject":"egov.province.19.proc.1_001234"`, `"subject":"egov.province.19.proc.1_001234."`, false},
		{`"subject":"egov.province.19.proc.1_001234"`, `"subject":"egov.province.*"`, false},
		{`"time":"2021-07-01T02:00:00Z"`, `"time":"2021-02-29T02:00:00Z"`, false},
		{`"time":"2021-07-01T02:00:00Z"`, `"time":"2021-07-01T24:00:00Z"`, false},
		{`"time":"2021-07-01T02:00:00Z"`, `"time":"2021-07-01t02:00:00z"`, false},
		{`"time":"2021-07-01T02:00:00Z"`, `"time":"2021-07-01T02:00:00.1234567890Z"`, false},
		{`"time":"2021-07-01T02:00:00Z"`, `"time":"2021-07-01T02:00:00+7:00"`, false},
		{`"datacontenttype":"application/json"`, `"datacontenttype":"text/plain"`, false},
		{`"type":"gov.egov.procedure.registered.v1"`, `"type":"gov.egov.procedure.registered.v2"`, false},
		{`"data":{`, `"extra":1,"data":{`, false},
		{`"kind":"province"`, `"kind":"city"`, false},
		{`"code":"19"`, `"code":"1a"`, false},
		{`"code":"19"`, `"code":""`, false},
		{`"procedure":"1.001234"`, `"procedure":"1.00123"`, false},
		{`"procedure":"1.001234"`, `"procedure":"1.001234."`, false},
		{`"procedure":"1.001234"`, `"procedure":"1.001234.h12"`, false},
		{`"name":"Cấp giấy phép"`, `"name":" \u00a0\u3000"`, false},
		{`"name":"Cấp giấy phép"`, `"name":""`, false},
		{`"eligible":true`, `"eligible":"yes"`, false},
		{`"level":4`, `"level":5`, false},
		{`"level":4`, `"level":"Toàn trình"`, false},
		{`,"eligible":true`, ``, false},
		{`"effective_at":`, `"effective":"x","effective_at":`, false},
		// The forms the Go checks leave to the schemas, which accept them.
		{`"level":4`, `"level":4.0`, true},
		{`"level":4`, `"level":"toàn trình"`, true},
		{`"id":"6a7072b7-265f-570c-a0df-b56dd7803ed0"`, `"id":"6A7072B7-265F-570C-A0DF-B56DD7803ED0"`, true},
		{`"source":"/egovtrack/collectors/sheet"`, `"source":"https://tinh19.gov.vn/dvc?x=1"`, true},
		{`"time":"2021-07-01T02:00:00Z"`, `"time":"2021-07-01T09:00:00.5+07:00"`, true},
	} {
		b := strings.Replace(base, tc.old, tc.new, 1)
		if b == base {
			t.Fatalf("%s is not in the base event", tc.old)
		}
		doc, ok := docOf(t, []byte(b))
		if !ok {
			t.Fatalf("not a JSON object: %s", b)
		}
		if got := schemasAccept(doc); got != tc.schemas {
			t.Errorf("%s → %s: the schemas say %v, want %v", tc.old, tc.new, got, tc.schemas)
		}
		if schemaAccepts(doc) && !schemasAccept(doc) {
			t.Errorf("%s → %s: the Go checks accept what the schemas refuse", tc.old, tc.new)
		}
		if !tc.schemas && schemaAccepts(doc) {
			t.Errorf("%s → %s: the Go checks accept it", tc.old, tc.new)
		}
	}
}
