package poll

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/egovtrack/egovtrack/collectors/reporting"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// RowsError lists every invalid procedure of a document. Row n is the n-th item of "procedures", counting from 1.
type RowsError struct {
	Rows []reporting.RowError
}

// shownRows is how many row errors an error message spells out; the log lists them all (see Run).
const shownRows = 5

func (e *RowsError) Error() string {
	parts := make([]string, 0, shownRows+1)
	for i, r := range e.Rows {
		if i == shownRows {
			parts = append(parts, fmt.Sprintf("and %d more", len(e.Rows)-shownRows))
			break
		}
		parts = append(parts, r.Error())
	}
	noun := "invalid values"
	if len(e.Rows) == 1 {
		noun = "invalid value"
	}
	return fmt.Sprintf("%d %s in the procedures (row n is the n-th item): %s", len(e.Rows), noun, strings.Join(parts, "; "))
}

// Is makes errors.Is(err, ErrInvalidRows) true.
func (e *RowsError) Is(target error) bool { return target == ErrInvalidRows }

// decode reads a portal's document and returns the procedures it reports for want. Anything doubtful refuses the
// whole document: reporting part of a catalogue would retire the rest. Byte offsets in the errors count the bytes read
// when the problem was found, as everywhere in egovtrack (see event.InvalidUTF8).
func decode(body []byte, want units.Ref) ([]reporting.Procedure, error) {
	if off, bad := event.InvalidUTF8(body); bad {
		// encoding/json would quietly turn bad bytes into U+FFFD and store mangled names; say where they are.
		return nil, fmt.Errorf("%w: invalid UTF-8 at byte offset %d", ErrMalformed, off)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var snap reporting.Snapshot
	if err := dec.Decode(&snap); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, describeJSONError(err, len(body)))
	}
	end := dec.InputOffset()
	if err := dec.Decode(&json.RawMessage{}); err != io.EOF {
		return nil, fmt.Errorf("%w: more data after the document, which ends at byte offset %d", ErrMalformed, end)
	}
	// encoding/json keeps the last value of a key given twice; the portal may have meant the first.
	if err := event.CheckDuplicateKeys(body); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	// encoding/json reads half of a surrogate pair (\ud800) as U+FFFD: a name the portal did not write.
	if err := event.CheckLoneSurrogates(body); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if snap.Unit == (units.Ref{}) {
		return nil, fmt.Errorf("%w: \"unit\" is missing", ErrMalformed)
	}
	if snap.Unit != want {
		return nil, fmt.Errorf("%w: the document is about %s, this poller reports for %s; a portal cannot speak for another unit",
			ErrWrongUnit, snap.Unit, want)
	}
	if len(snap.Procedures) == 0 {
		// A unit with no procedures at all is not a real catalogue; far likelier a portal that failed to read its
		// own database. Accepting it would retire every procedure of the unit.
		return nil, fmt.Errorf("%w: \"procedures\" is missing or empty", ErrMalformed)
	}
	if n := len(snap.Procedures); n > reporting.MaxProcedures {
		return nil, fmt.Errorf("%w: it lists %d procedures, more than the %d a catalogue may hold (the largest province has about 2,000, the national database about 6,000 for all units)",
			ErrMalformed, n, reporting.MaxProcedures)
	}
	procs, rowErrs := reporting.ParseRows(snap.Rows())
	if len(rowErrs) > 0 {
		return nil, &RowsError{Rows: rowErrs}
	}
	return procs, nil
}

// describeJSONError says where a document stops being the expected JSON.
func describeJSONError(err error, size int) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("not JSON at byte offset %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "the document"
		}
		return fmt.Sprintf("%s is a JSON %s at byte offset %d, want %s", field, typ.Value, typ.Offset, jsonKind(typ.Type))
	case errors.Is(err, io.EOF):
		return "empty body"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Sprintf("the JSON ends early, at byte offset %d", size)
	}
	return err.Error()
}

// jsonKind names a Go type the way the README describes the document, not by its Go name.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	}
	return t.String()
}
