package intake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/event/strictjson"
)

// Media types the API reads. CloudEvents' own JSON media types are accepted for events, so that a client built on a
// CloudEvents SDK needs no special case.
const (
	mediaJSON            = "application/json"
	mediaCloudEvent      = "application/cloudevents+json"
	mediaCloudEventBatch = "application/cloudevents-batch+json"
)

// readBody checks the content type, reads at most maxBody bytes, and makes sure the body is one well-formed JSON
// value in UTF-8 that gives each key of an object once. Each refusal says where the client went wrong: eMediaType for
// the content type, eTooLarge for the size, eMalformed with the byte offset for bytes that are not UTF-8 or not JSON,
// eInvalid with the field and the byte offset for a key given twice or a string holding half of a surrogate pair. (encoding/json would
// read bytes that are not UTF-8, and half a pair, as U+FFFD, storing a name no one wrote, and keep the last value of a
// key given twice.)
//
// The JSON is read by strictjson, as every entry point reads it; offsets are counted as it counts them: the offending
// byte is the offset-th, counting from 1.
func readBody(w http.ResponseWriter, r *http.Request, maxBody int64, accept ...string) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || !slices.Contains(accept, mt) {
		return nil, refuse(eMediaType,
			fmt.Sprintf("Content-Type is %q; send %s", ct, strings.Join(accept, " or ")))
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, refuse(eMediaType, fmt.Sprintf("charset is %q; the API reads UTF-8 only", cs))
	}
	tooLarge := refuse(eTooLarge,
		fmt.Sprintf("the body is larger than %d bytes: send fewer events a request (a catalogue this large needs EGOV_SERVE_MAX_BODY raised)", maxBody))
	if r.ContentLength > maxBody {
		return nil, tooLarge // refused before reading a byte of it
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge
		}
		return nil, refuse(eMalformed, fmt.Sprintf("could not read the body: %v", err))
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, refuse(eMalformed, "the body is empty: send a JSON document")
	}
	_, err = strictjson.Read(b)
	if ue, ok := errors.AsType[*strictjson.InvalidUTF8Error](err); ok {
		line, col := position(b, ue.Offset)
		e := refuse(eMalformed,
			fmt.Sprintf("the body is not valid UTF-8 at byte offset %d (line %d, column %d): send text in UTF-8, not a legacy Vietnamese encoding (TCVN3, VNI)", ue.Offset, line, col))
		e.body.Offset = &ue.Offset
		return nil, e
	}
	if se, ok := errors.AsType[*strictjson.SyntaxError](err); ok {
		line, col := position(b, se.Offset)
		e := refuse(eMalformed, fmt.Sprintf("malformed JSON at byte offset %d (line %d, column %d): %s", se.Offset, line, col, se.Err))
		e.body.Offset = &se.Offset
		return nil, e
	}
	// encoding/json keeps the last of two values of a key: the client may have meant the first.
	if de, ok := errors.AsType[*strictjson.DuplicateKeyError](err); ok {
		return nil, fieldRefusal(b, "a field is given twice; nothing was stored", de.Field, de.Offset,
			"is given twice (the second time at byte offset %d, line %d, column %d): give each field once")
	}
	// encoding/json reads half of a surrogate pair as U+FFFD: a character the client did not write.
	if le, ok := errors.AsType[*strictjson.LoneSurrogateError](err); ok {
		return nil, fieldRefusal(b, "a text holds half of a UTF-16 surrogate pair; nothing was stored", le.Field, le.Offset,
			"holds "+le.Escape+" (at byte offset %d, line %d, column %d), half of a UTF-16 surrogate pair without its other half: "+
				"write the character itself, or both halves of its pair")
	}
	return b, nil
}

// fieldRefusal refuses a body as eInvalid for what it holds at offset in field; msg is the field's message, formatted
// with the offset and its line and column.
func fieldRefusal(b []byte, error, field string, offset int64, msg string) error {
	line, col := position(b, offset)
	e := refuse(eInvalid, error, FieldError{Field: field, Message: fmt.Sprintf(msg, offset, line, col)})
	e.body.Offset = &offset
	return e
}

// position returns the line and column (in bytes, both from 1), which editors show, of the offset-th byte.
func position(b []byte, off int64) (line, col int) {
	i := min(max(off-1, 0), int64(len(b)))
	before := b[:i]
	return bytes.Count(before, []byte("\n")) + 1, int(i) - bytes.LastIndexByte(before, '\n')
}

// decodeFields decodes a JSON object into the struct v points to, one field at a time, so that each problem names
// its field (prefix + the field's JSON name), where encoding/json would stop at the first and sometimes name none
// (a bad time, a bad level). Keys v does not have are refused with unknownMsg, or ignored when it is empty (the
// extension attributes of a CloudEvent). Keys match exactly: the contract's names are lower case.
//
// A time (every time of the contract is required) left out or null is missing, and one given as 0001-01-01T00:00:00Z is
// refused as the time it is, before the time domain (event.CheckTime): decoded, it is Go's zero time, which
// event.New cannot tell from a time never set.
func decodeFields(raw json.RawMessage, v any, prefix, unknownMsg string) []FieldError {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return []FieldError{{Field: strings.TrimSuffix(prefix, "."), Message: "must be a JSON object"}}
	}
	var errs []FieldError
	rv := reflect.ValueOf(v).Elem()
	known := map[string]bool{}
	for i := range rv.NumField() {
		name := jsonName(rv.Type().Field(i))
		if name == "" {
			continue
		}
		known[name] = true
		_, isTime := rv.Field(i).Interface().(time.Time)
		val, ok := obj[name]
		if !ok || isTime && string(val) == "null" {
			if isTime {
				errs = append(errs, FieldError{Field: prefix + name, Message: "is missing"})
			}
			continue
		}
		if err := json.Unmarshal(val, rv.Field(i).Addr().Interface()); err != nil {
			sub, msg := describe(err)
			errs = append(errs, FieldError{Field: joinPath(prefix+name, sub), Message: msg})
		} else if t, _ := rv.Field(i).Interface().(time.Time); isTime && t.IsZero() {
			errs = append(errs, FieldError{Field: prefix + name, Message: event.CheckTime(t).Error()})
		}
	}
	if unknownMsg != "" {
		var extra []string
		for k := range obj {
			if !known[k] {
				extra = append(extra, k)
			}
		}
		sort.Strings(extra)
		for _, k := range extra {
			if k == "" {
				k = `""` // named, so that the error says where
			}
			errs = append(errs, FieldError{Field: prefix + k, Message: unknownMsg})
		}
	}
	return errs
}

func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	switch name {
	case "-":
		return ""
	case "":
		return f.Name
	}
	return name
}

func joinPath(path, sub string) string {
	if sub == "" {
		return path
	}
	return path + "." + sub
}

// describe says what is wrong with a value encoding/json refused, and where inside it, when it was nested.
func describe(err error) (sub, msg string) {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		return te.Field, fmt.Sprintf("must be %s, not a JSON %s", strictjson.TypeName(te.Type), te.Value)
	}
	if pe, ok := errors.AsType[*time.ParseError](err); ok {
		return "", fmt.Sprintf("%q is not a time in RFC 3339 form, like 2021-09-01T09:00:00+07:00", pe.Value)
	}
	return "", strings.TrimPrefix(err.Error(), "json: ")
}
