package event

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// The JSON Schemas (draft 2020-12) are the contract's single statement of what an event looks like: which fields,
// of which types and forms. Decode validates every event against them (the envelope's schema, then the schema of
// its type for the data), and New validates the data it encodes against them too, so that an event New makes is one
// Decode accepts. The Go code checks only what a schema cannot say (see checkBeyondSchema): the reference data, the
// clock, and comparisons between fields.
//
// The envelope's schema does not pick the data's schema by type itself (if/then on type would let one file validate
// a whole event): that doubled the cost of validating, and Go knows the type anyway.
//
//go:embed schema/*.json
var schemaFiles embed.FS

// SchemaBase is where the schemas say they live: each file's $id is SchemaBase followed by its name. Nothing is
// fetched from there; the schemas are embedded.
const SchemaBase = "https://egovtrack.example/schemas/"

// Schema file names: the envelope, the definitions the data schemas share, and one per event type (see
// SchemaFile).
const (
	EnvelopeSchemaFile = "envelope.v1.json"
	CommonSchemaFile   = "common.v1.json"
)

// SchemaFile is the name of the schema of t's data: "gov.egov.procedure.level_changed.v1.json".
func SchemaFile(t Type) string { return string(t) + ".json" }

// Schemas returns the schema files, for instance to serve them to the provinces' developers.
func Schemas() fs.FS {
	sub, err := fs.Sub(schemaFiles, "schema")
	if err != nil {
		panic(err) // "schema" is a valid path: cannot happen
	}
	return sub
}

// draft2020 is the only dialect the schemas may be written in.
const draft2020 = "https://json-schema.org/draft/2020-12/schema"

// compiled holds the schemas ready to validate with.
type compiled struct {
	envelope *jsonschema.Schema
	source   *jsonschema.Schema // the envelope's source attribute alone, for New
	data     map[Type]*jsonschema.Schema
}

// schemas are compiled once, at start-up; an embedded schema that does not compile is a build defect, so it panics
// (and TestSchemasCompile says why).
var schemas = mustCompile(Schemas())

func mustCompile(files fs.FS) *compiled {
	c, err := compile(files)
	if err != nil {
		panic(fmt.Sprintf("event: embedded schemas: %v", err))
	}
	return c
}

// compile reads every schema in files, makes sure it is draft 2020-12 and carries the $id of its file name, and
// compiles the envelope, its source attribute and each type's data schema, with format assertions on (date,
// date-time, uuid, uri-reference are checked, not merely annotated).
func compile(files fs.FS) (*compiled, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(embeddedOnly{})
	names, err := fs.Glob(files, "*.json")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		b, err := fs.ReadFile(files, name)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		obj, _ := doc.(map[string]any)
		if obj["$schema"] != draft2020 {
			return nil, fmt.Errorf("%s: $schema is %v, want %s", name, obj["$schema"], draft2020)
		}
		if obj["$id"] != SchemaBase+name {
			return nil, fmt.Errorf("%s: $id is %v, want %s", name, obj["$id"], SchemaBase+name)
		}
		if err := c.AddResource(SchemaBase+name, doc); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	get := func(loc string) (*jsonschema.Schema, error) {
		s, err := c.Compile(loc)
		if err != nil {
			return nil, err
		}
		if s.DraftVersion != 2020 {
			return nil, fmt.Errorf("%s: compiled as draft %d, want 2020", loc, s.DraftVersion)
		}
		return s, nil
	}
	out := &compiled{data: map[Type]*jsonschema.Schema{}}
	if out.envelope, err = get(SchemaBase + EnvelopeSchemaFile); err != nil {
		return nil, err
	}
	if out.source, err = get(SchemaBase + EnvelopeSchemaFile + "#/properties/source"); err != nil {
		return nil, err
	}
	for _, t := range Types {
		if out.data[t], err = get(SchemaBase + SchemaFile(t)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// embeddedOnly refuses to load anything: every schema a $ref names must be one of the embedded files.
type embeddedOnly struct{}

func (embeddedOnly) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s is not one of the embedded schemas", url)
}

// check validates v against sch and returns every failure as a FieldError named by the path of the failing value,
// below prefix: "data.unit.code", "id". One message per field, in the order of the fields.
func check(sch *jsonschema.Schema, v any, prefix string) FieldErrors {
	err := sch.Validate(v)
	if err == nil {
		return nil
	}
	ve, ok := errors.AsType[*jsonschema.ValidationError](err)
	if !ok {
		return FieldErrors{{prefix, err.Error()}}
	}
	var es FieldErrors
	collect(&es, ve, v, prefix)
	slices.SortStableFunc(es, func(a, b FieldError) int { return strings.Compare(a.Field, b.Field) })
	// A value that fails two keywords (an empty name is too short and blank) gets one message.
	return slices.CompactFunc(es, func(a, b FieldError) bool { return a.Field == b.Field })
}

// collect turns the leaves of a validation error into FieldErrors. A failed anyOf (a level is a number or a word)
// is one error about its value, not one per alternative.
func collect(es *FieldErrors, e *jsonschema.ValidationError, root any, prefix string) {
	switch e.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf:
	default:
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				collect(es, c, root, prefix)
			}
			return
		}
	}
	tokens := make([]string, len(e.InstanceLocation))
	for i, tok := range e.InstanceLocation {
		tokens[i] = keyName(tok)
	}
	field := joinPath(prefix, tokens...)
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		for _, name := range k.Missing {
			es.add(joinPath(field, keyName(name)), "is missing")
		}
	case *kind.AdditionalProperties:
		for _, name := range k.Properties {
			es.add(joinPath(field, keyName(name)), "is not a field of the contract")
		}
	default:
		es.add(field, describe(e, valueAt(root, e.InstanceLocation)))
	}
}

// keyName is how a key of the event is named in a field's path: as it is, but the empty key, which is written "".
func keyName(k string) string {
	if k == "" {
		return `""`
	}
	return k
}

func joinPath(prefix string, tokens ...string) string {
	p := strings.Join(tokens, ".")
	switch {
	case prefix == "":
		return p
	case p == "":
		return prefix
	}
	return prefix + "." + p
}

func valueAt(v any, tokens []string) any {
	for _, tok := range tokens {
		switch x := v.(type) {
		case map[string]any:
			v = x[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// describe says what is wrong with the value v that failed e, in words a province officer can act on.
func describe(e *jsonschema.ValidationError, v any) string {
	if _, ok := e.ErrorKind.(*kind.Type); !ok { // a value of the wrong type is named as such, below
		if s, ok := v.(string); ok && s == "" {
			return "is missing"
		}
		if hint := hints[definition(e.SchemaURL)]; hint != nil {
			if msg := hint(v); msg != "" {
				return msg
			}
		}
	}
	switch k := e.ErrorKind.(type) {
	case *kind.Type:
		if k.Got == "null" {
			return "is null, want " + typeNames(k.Want)
		}
		return fmt.Sprintf("is %s, want %s", typeName(k.Got), typeNames(k.Want))
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = fmt.Sprint(w)
		}
		return fmt.Sprintf("%s is not one of %s", show(v), strings.Join(want, ", "))
	case *kind.Const:
		return fmt.Sprintf("is %s, want %s", show(v), show(k.Want))
	case *kind.Format:
		if name, ok := formatNames[k.Want]; ok {
			return fmt.Sprintf("%s is not %s", show(v), name)
		}
		return fmt.Sprintf("%s is not a valid %s: %v", show(v), k.Want, k.Err)
	case *kind.Pattern:
		return fmt.Sprintf("%s does not match %s", show(v), k.Want)
	case *kind.Minimum:
		if k.Want.Sign() == 0 {
			return fmt.Sprintf("%s must not be negative", show(v))
		}
		return fmt.Sprintf("%s is less than %s", show(v), ratString(k.Want))
	case *kind.Maximum:
		return fmt.Sprintf("%s is more than %s", show(v), ratString(k.Want))
	case *kind.AnyOf, *kind.OneOf:
		return fmt.Sprintf("%s is none of the forms the schema allows", show(v))
	}
	return e.ErrorKind.LocalizedString(english)
}

var english = message.NewPrinter(language.English)

// definition names the shared definition a schema location is, "level" for ".../common.v1.json#/$defs/level", or
// "" when it is not one.
func definition(schemaURL string) string {
	_, frag, ok := strings.Cut(schemaURL, "#/$defs/")
	if !ok || strings.Contains(frag, "/") {
		return ""
	}
	return frag
}

// hints word the failures of the definitions ($defs) of the schemas, by name. A hint returns "" to leave the
// generic message (for instance when the value is not even of the definition's type).
var hints = map[string]func(v any) string{
	"eventType": func(v any) string { return ifString(v, "%s is not a known event type") },
	"level":     levelHint,
	"procedure": func(v any) string {
		return ifString(v, "%s is not a procedure code like 1.001234")
	},
	"unitCode": func(v any) string {
		return ifString(v, "%s is not a unit code (digits and upper-case letters, like 01 or BTTTT)")
	},
	"text": func(v any) string { return ifString(v, "is blank") },
	"time": func(v any) string {
		return ifString(v, "%s is not a time like 2021-12-15T09:00:00+07:00 (RFC 3339, upper-case T, at most nanoseconds)")
	},
	"date":  func(v any) string { return ifString(v, "%s is not a date YYYY-MM-DD") },
	"scope": func(v any) string { return ifString(v, `%s is neither "national" nor kind/code of a unit`) },
	"percent": func(v any) string {
		if n, ok := v.(json.Number); ok {
			return fmt.Sprintf("%s is not a percentage 0–100", n)
		}
		return ""
	},
}

// ifString formats msg with the quoted value when v is a string.
func ifString(v any, msg string) string {
	s, ok := v.(string)
	if !ok {
		return ""
	}
	if strings.Contains(msg, "%s") {
		return fmt.Sprintf(msg, strconv.Quote(s))
	}
	return msg
}

// levelHint explains a level the schema refused: a number out of range, a word ParseLevel does not know, or a
// word it knows but the contract does not spell that way.
func levelHint(v any) string {
	switch v := v.(type) {
	case json.Number:
		n, err := v.Int64()
		switch {
		case err != nil:
			return fmt.Sprintf("%s is not a level: 1–4", v)
		case n == 0:
			return "is missing or 0 (levels are 1–4)"
		}
		return fmt.Sprintf("%d is out of range 1–4", n)
	case string:
		if _, err := ParseLevel(v); err != nil {
			return err.Error()
		}
		return fmt.Sprintf(`%q is not spelled as the contract writes levels: a number 1–4, or a word in lower case such as "full" or "toàn trình"`, v)
	case nil:
		return "is null, want a level: 1–4, partial or full"
	}
	return fmt.Sprintf("is %s, want a level: 1–4, partial or full", typeName(jsonKind(v)))
}

var formatNames = map[string]string{
	"uuid":          "a UUID",
	"uri-reference": "a URI reference",
	"date":          "a date YYYY-MM-DD",
	"date-time":     "a time like 2021-12-15T09:00:00+07:00 (RFC 3339)",
}

// show writes a JSON value as it would appear in the event (strings with their Vietnamese letters as they are).
func show(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func ratString(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	return r.FloatString(6)
}

// jsonKind names the JSON type of a parsed value.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number, float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	}
	return "object"
}

func typeName(t string) string {
	switch t {
	case "null":
		return "null"
	case "integer", "object", "array":
		return "an " + t
	}
	return "a " + t
}

func typeNames(ts []string) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = typeName(t)
	}
	return strings.Join(names, " or ")
}

// unmarshalError names the field of an error Go's decoder met after the schema had accepted the document: a number
// written with a fraction where Go reads an integer (5.0 in a count), which JSON Schema cannot tell from 5.
func unmarshalError(prefix string, err error) FieldError {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
		return FieldError{joinPath(prefix, te.Field), fmt.Sprintf("%s cannot be read as a Go %s", te.Value, te.Type)}
	}
	return FieldError{prefix, err.Error()}
}

// merge adds the Go checks to the schema's findings, leaving out what the Go code found about a field the schema
// already refused (a unit of unknown kind is not also an unknown unit).
func merge(fromSchema, fromGo FieldErrors) FieldErrors {
	es := slices.Clone(fromSchema)
	for _, g := range fromGo {
		if !slices.ContainsFunc(fromSchema, func(s FieldError) bool {
			return s.Field == g.Field || strings.HasPrefix(s.Field, g.Field+".")
		}) {
			es = append(es, g)
		}
	}
	slices.SortStableFunc(es, func(a, b FieldError) int { return strings.Compare(a.Field, b.Field) })
	return es
}
