package event

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/egovtrack/egovtrack/internal/units"
)

func TestSchemasCompile(t *testing.T) {
	t.Parallel()
	c, err := compile(Schemas())
	if err != nil {
		t.Fatal(err)
	}
	if c.envelope == nil || c.source == nil {
		t.Fatal("the envelope's schema is missing")
	}
	names, err := fs.Glob(Schemas(), "*.json")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{EnvelopeSchemaFile, CommonSchemaFile}
	for _, typ := range Types {
		if c.data[typ] == nil {
			t.Errorf("%s has no compiled schema", typ)
		}
		want = append(want, SchemaFile(typ))
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("schema files = %v, want one per type plus the envelope and the shared definitions: %v", names, want)
	}
}

// A schema in another draft, under another $id, or referring to a file that is not embedded does not compile.
func TestCompileRefuses(t *testing.T) {
	t.Parallel()
	good := func() fstest.MapFS {
		m := fstest.MapFS{}
		names, _ := fs.Glob(Schemas(), "*.json")
		for _, n := range names {
			b, _ := fs.ReadFile(Schemas(), n)
			m[n] = &fstest.MapFile{Data: b}
		}
		return m
	}
	edit := func(name, old, new string) fstest.MapFS {
		m := good()
		b := m[name].Data
		if !bytes.Contains(b, []byte(old)) {
			t.Fatalf("%s does not contain %q", name, old)
		}
		m[name] = &fstest.MapFile{Data: bytes.Replace(b, []byte(old), []byte(new), 1)}
		return m
	}
	tests := []struct {
		name  string
		files fstest.MapFS
		msg   string
	}{
		{"draft 7", edit(CommonSchemaFile, "https://json-schema.org/draft/2020-12/schema", "http://json-schema.org/draft-07/schema#"), "$schema is"},
		{"another $id", edit(SchemaFile(LevelChanged), `"$id": "https://egovtrack.example/schemas/gov`, `"$id": "https://egovtrack.example/other/gov`), "$id is"},
		{"a file not embedded", edit(SchemaFile(LevelChanged), `common.v1.json#/$defs/procedure`, `procedures.v1.json#/$defs/procedure`), "not one of the embedded schemas"},
		{"a missing type", func() fstest.MapFS { m := good(); delete(m, SchemaFile(TargetSet)); return m }(), "gov.egov.target.set.v1"},
		{"not a schema", edit(CommonSchemaFile, `"minimum": 0,`, `"minimum": "zero",`), "minimum"},
	}
	for _, tt := range tests {
		_, err := compile(tt.files)
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: compile error %v, want one saying %q", tt.name, err, tt.msg)
		}
	}
}

// The schemas and the Go types describe the same fields, so that neither can change without the other: every JSON
// field of a data struct is a property of its schema and the other way round; a field is required exactly when Go
// always writes it (no omitempty); and fields come in the same order (the order in which Go writes them, which the
// README gives as the canonical form).
func TestSchemaAgreesWithGoTypes(t *testing.T) {
	t.Parallel()
	raw := rawSchemas(t)
	for _, typ := range Types {
		t.Run(string(typ), func(t *testing.T) {
			t.Parallel()
			d := newData(typ)
			if d == nil {
				t.Fatalf("no Go type for %s", typ)
			}
			if d.EventType() != typ {
				t.Errorf("%T.EventType() = %s", d, d.EventType())
			}
			compareStruct(t, "data", reflect.TypeOf(d).Elem(), schemas.data[typ], raw)
		})
	}
}

func compareStruct(t *testing.T, path string, st reflect.Type, sch *jsonschema.Schema, raw rawSet) {
	t.Helper()
	sch = deref(sch)
	if sch.AdditionalProperties != false {
		t.Errorf("%s: the schema must refuse additional properties", path)
	}
	var goFields, goRequired []string
	for i := range st.NumField() {
		f := st.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		goFields = append(goFields, name)
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			goRequired = append(goRequired, name)
		}
		prop, ok := sch.Properties[name]
		if !ok {
			t.Errorf("%s.%s (Go field %s.%s) is not a property of the schema", path, name, st.Name(), f.Name)
			continue
		}
		if ft := f.Type; ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Time]() {
			compareStruct(t, path+"."+name, ft, prop, raw)
		}
	}
	var props []string
	for name := range sch.Properties {
		props = append(props, name)
	}
	if !sameSet(props, goFields) {
		t.Errorf("%s: schema properties %v, Go fields %v", path, sorted(props), sorted(goFields))
	}
	if !sameSet(sch.Required, goRequired) {
		t.Errorf("%s: schema requires %v, Go always writes %v", path, sorted(sch.Required), sorted(goRequired))
	}
	if order := raw.propertyOrder(t, sch.Location); !slices.Equal(order, goFields) {
		t.Errorf("%s: schema properties in the order %v, Go writes %v", path, order, goFields)
	}
}

// deref follows $ref to the schema that says something.
func deref(s *jsonschema.Schema) *jsonschema.Schema {
	for s.Ref != nil && s.Properties == nil {
		s = s.Ref
	}
	return s
}

func sameSet(a, b []string) bool { return slices.Equal(sorted(a), sorted(b)) }

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// The enumerations and patterns the Go code also knows are the same in the schemas.
func TestSchemaAgreesWithGo(t *testing.T) {
	t.Parallel()
	common := rawSchemas(t)[CommonSchemaFile].doc
	def := func(name string) map[string]any { return common["$defs"].(map[string]any)[name].(map[string]any) }

	if got := def("procedure")["pattern"]; got != procedureCode.String() {
		t.Errorf("procedure pattern %q, Go's %q", got, procedureCode.String())
	}
	if got := strings.Join(enumOf(schemas.data[AssistantStageChanged].Properties["stage"]), ","); got != join(Stages) {
		t.Errorf("stages in the schema %s, in Go %s", got, join(Stages))
	}
	if got := strings.Join(enumOf(schemas.data[TargetSet].Properties["metric"]), ","); got != join([]Metric{MetricLevel4Coverage, MetricAssistantLive}) {
		t.Errorf("metrics in the schema %s", got)
	}
	if got := strings.Join(enumOf(deref(schemas.data[LevelChanged].Properties["unit"]).Properties["kind"]), ","); got != join([]units.Kind{units.Ministry, units.Province}) {
		t.Errorf("kinds of unit in the schema %s", got)
	}
	if got := strings.Join(enumOf(schemas.envelope.Properties["type"]), ","); got != join(Types) {
		t.Errorf("types in the envelope's schema %s, in Go %s", got, join(Types))
	}

	// Every level word ParseLevel knows is in the schema, and every word of the schema reads as a level.
	var words []string
	for _, alt := range schemas.data[LevelChanged].Properties["to"].Ref.AnyOf {
		words = append(words, enumOf(alt)...)
	}
	for w := range levelWords {
		if !slices.Contains(words, w) {
			t.Errorf("level word %q is not in the schema", w)
		}
	}
	for _, w := range words {
		l, err := ParseLevel(w)
		if err != nil || !l.Valid() {
			t.Errorf("the schema's level word %q: ParseLevel = %d, %v", w, l, err)
		}
		var fromJSON Level
		if err := json.Unmarshal([]byte(strconv.Quote(w)), &fromJSON); err != nil || fromJSON != l {
			t.Errorf("the schema's level word %q reads from JSON as %d, %v", w, fromJSON, err)
		}
	}
	for l := MinLevel; l <= MaxLevel; l++ {
		for _, w := range []string{"%d", "level %d", "mức %d"} {
			if s := strings.Replace(w, "%d", strconv.Itoa(int(l)), 1); !slices.Contains(words, s) {
				t.Errorf("level %q is not in the schema", s)
			}
		}
	}

	// Every unit of the reference data has the form the schema gives a unit, and a scope.
	unit := deref(schemas.data[LevelChanged].Properties["unit"])
	scope := schemas.data[TargetSet].Properties["scope"]
	for _, u := range units.All() {
		if err := unit.Validate(map[string]any{"kind": string(u.Kind), "code": u.Code}); err != nil {
			t.Errorf("unit %s: %v", u.Ref, err)
		}
		if err := scope.Validate(string(ScopeOf(u.Ref))); err != nil {
			t.Errorf("scope of %s: %v", u.Ref, err)
		}
	}
}

func enumOf(s *jsonschema.Schema) []string {
	for s.Enum == nil && s.Ref != nil {
		s = s.Ref
	}
	if s.Enum == nil {
		return nil
	}
	var out []string
	for _, v := range s.Enum.Values {
		out = append(out, fmtAny(v))
	}
	return out
}

func fmtAny(v any) string { s, _ := v.(string); return s }

func join[S ~string](vs []S) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, ",")
}

// orderedSchema is a schema file as written, for what a compiled schema forgets: the order of properties.
type orderedSchema struct {
	doc   map[string]any
	bytes []byte
}

type rawSet map[string]orderedSchema

func rawSchemas(t *testing.T) rawSet {
	t.Helper()
	out := rawSet{}
	names, _ := fs.Glob(Schemas(), "*.json")
	for _, n := range names {
		b, err := fs.ReadFile(Schemas(), n)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		out[n] = orderedSchema{doc, b}
	}
	return out
}

// propertyOrder returns the names of the properties of the schema at loc ("…/common.v1.json#/$defs/unit"), in the
// order the file writes them.
func (rs rawSet) propertyOrder(t *testing.T, loc string) []string {
	t.Helper()
	file, ptr, _ := strings.Cut(strings.TrimPrefix(loc, SchemaBase), "#")
	r, ok := rs[file]
	if !ok {
		t.Fatalf("no schema file for %s", loc)
	}
	var tokens []string
	if ptr != "" {
		tokens = strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	}
	tokens = append(tokens, "properties")
	return keysAt(t, r.bytes, tokens)
}

// keysAt reads the keys of the object at path in the JSON document b, in order.
func keysAt(t *testing.T, b []byte, path []string) []string {
	t.Helper()
	var v json.RawMessage = b
	for _, tok := range path {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(v, &m); err != nil {
			t.Fatalf("%v: %v", path, err)
		}
		v = m[tok]
	}
	dec := json.NewDecoder(bytes.NewReader(v))
	var keys []string
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch tok := tok.(type) {
		case json.Delim:
			if tok == '{' || tok == '[' {
				depth++
			} else {
				depth--
			}
		case string:
			if depth == 1 {
				keys = append(keys, tok)
				// Skip the value.
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return keys
}
