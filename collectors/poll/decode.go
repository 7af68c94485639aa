package poll

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/egovtrack/egovtrack/collectors/reporting"
	"github.com/egovtrack/egovtrack/internal/event/strictjson"
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
// whole document: reporting part of a catalogue would retire the rest. The JSON is read by strictjson, as every entry
// point reads it: bytes that are not UTF-8, a key given twice and half of a surrogate pair are refused (encoding/json
// would store mangled names, or keep the last of two values the portal may have meant the first of), with the byte
// offset where they are.
func decode(body []byte, want units.Ref) ([]reporting.Procedure, error) {
	if _, err := strictjson.Read(body); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, notJSON(err, len(body)))
	}
	var snap reporting.Snapshot
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&snap); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, describeJSONError(err))
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

// notJSON says why a document of size bytes is not the JSON strictjson reads.
func notJSON(err error, size int) string {
	se, ok := errors.AsType[*strictjson.SyntaxError](err)
	switch {
	case !ok:
		return err.Error() // not UTF-8, a key given twice, half of a surrogate pair: each says where
	case se.Empty:
		return "empty body"
	case se.Truncated:
		return fmt.Sprintf("the JSON ends early, at byte offset %d", size)
	case se.ValueEnd > 0:
		return fmt.Sprintf("more data after the document, which ends at byte offset %d", se.ValueEnd)
	}
	return fmt.Sprintf("not JSON at byte offset %d: %v", se.Offset, se.Err)
}

// describeJSONError says where a document of JSON is not the catalogue expected.
func describeJSONError(err error) string {
	if typ, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		field := typ.Field
		if field == "" {
			field = "the document"
		}
		return fmt.Sprintf("%s is a JSON %s at byte offset %d, want %s", field, typ.Value, typ.Offset, strictjson.TypeName(typ.Type))
	}
	return err.Error()
}
