package dossiers

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/egovtrack/egovtrack/collectors/reporting"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// HashNumber is how a dossier is named in the contract: the SHA-256, in lower-case hex, of its number in the
// one-stop shop's system as UTF-8, after reporting.Clean (Unicode NFC, runs of spaces made one, ends trimmed). The
// number itself never leaves the officer's computer.
func HashNumber(number string) string {
	sum := sha256.Sum256([]byte(reporting.Clean(number)))
	return hex.EncodeToString(sum[:])
}

// maxNumberChars bounds a dossier number: one-stop-shop numbers are about 25 characters (000.00.19.H22-250715-0001).
const maxNumberChars = 100

// row is one row of an export read as a dossier: the facts it states and the number's hash.
type row struct {
	line    int
	number  string // as written, for the officer's messages; never published
	dossier string
	facts   []event.Envelope
}

// reader turns an export's rows into dossier events of one unit.
type reader struct {
	unit     units.Ref
	h        header
	contract event.Contract
}

func (r *reader) cell(rec record, col string) string {
	i := r.h.at[indexOf(col)]
	if i < 0 || i >= len(rec.cells) {
		return ""
	}
	return strings.TrimSpace(rec.cells[i])
}

// parse reads one row: a receipt, and a payment, a settlement, a result, a digitisation and a withdrawal for each
// of their dates that is filled in. Every problem of the row is returned, each naming its column.
func (r *reader) parse(rec record) (row, []reporting.RowError) {
	var bad []reporting.RowError
	fail := func(col, reason string) {
		bad = append(bad, reporting.RowError{Line: rec.line, Column: col, Value: r.cell(rec, col), Reason: reason})
	}
	for i, c := range rec.cells {
		if utf8.RuneCountInString(c) > maxCellChars {
			col := letter(i) // a column not read: its letter
			if j := slices.Index(r.h.at, i); j >= 0 {
				col = columns[j].name // a column read: named as the others are
			}
			bad = append(bad, reporting.RowError{Line: rec.line, Column: col, Value: reporting.Short(c), Reason: fmt.Sprintf("holds more than %s characters, more than a cell may", thousands(maxCellChars))})
			return row{line: rec.line}, bad
		}
	}
	number := reporting.Clean(r.cell(rec, colDossier))
	switch {
	case number == "":
		fail(colDossier, "is empty")
	case utf8.RuneCountInString(number) > maxNumberChars:
		fail(colDossier, fmt.Sprintf("is longer than %d characters: not a dossier number", maxNumberChars))
	}
	procedure := r.cell(rec, colProcedure)
	switch {
	case procedure == "":
		fail(colProcedure, "is empty")
	case !event.ValidProcedureCode(procedure):
		fail(colProcedure, "is not a procedure code of the national database, like 1.001234 (a code typed in a number cell loses its last zeros: format the column as Text)")
	}
	channel, err := parseChannel(r.cell(rec, colChannel))
	if err != nil {
		fail(colChannel, reasonOf(r.cell(rec, colChannel), err))
	}
	fee, err := parseFee(r.cell(rec, colFee))
	if err != nil {
		fail(colFee, reasonOf(r.cell(rec, colFee), err))
	}
	at := func(col string, required, endOfDay bool) time.Time {
		v := r.cell(rec, col)
		if v == "" {
			if required {
				fail(col, "is empty")
			}
			return time.Time{}
		}
		t, err := parseTime(v, endOfDay)
		if err != nil {
			fail(col, err.Error())
		}
		return t
	}
	received, due := at(colReceived, true, false), at(colDue, true, true)
	paid, settled, issued := at(colPaid, false, false), at(colSettled, false, false), at(colIssued, false, false)
	digitised, withdrawn := at(colDigitised, false, false), at(colWithdrawn, false, false)
	var paidOnline, electronic bool
	if !paid.IsZero() {
		if paidOnline, err = parseOnline(r.cell(rec, colPaidOnline), colPaidOnline); err != nil {
			fail(colPaidOnline, reasonOf(r.cell(rec, colPaidOnline), err))
		}
	}
	if !issued.IsZero() {
		if electronic, err = parseOnline(r.cell(rec, colElectronic), colElectronic); err != nil {
			fail(colElectronic, reasonOf(r.cell(rec, colElectronic), err))
		}
	}
	if len(bad) > 0 {
		return row{line: rec.line}, bad
	}
	d := HashNumber(number)
	type fact struct {
		col  string
		data event.Data
	}
	facts := []fact{{colReceived, &event.DossierReceivedData{Unit: r.unit, Procedure: procedure, Dossier: d, Channel: channel, Fee: fee, ReceivedAt: received, DueAt: due}}}
	add := func(col string, t time.Time, data event.Data) {
		if !t.IsZero() {
			facts = append(facts, fact{col, data})
		}
	}
	add(colPaid, paid, &event.DossierPaidData{Unit: r.unit, Dossier: d, Online: paidOnline, PaidAt: paid})
	add(colSettled, settled, &event.DossierSettledData{Unit: r.unit, Dossier: d, SettledAt: settled})
	add(colIssued, issued, &event.DossierResultIssuedData{Unit: r.unit, Dossier: d, Electronic: electronic, IssuedAt: issued})
	add(colDigitised, digitised, &event.DossierDigitisedData{Unit: r.unit, Dossier: d, DigitisedAt: digitised})
	add(colWithdrawn, withdrawn, &event.DossierWithdrawnData{Unit: r.unit, Dossier: d, WithdrawnAt: withdrawn})
	out := row{line: rec.line, number: number, dossier: d}
	for _, f := range facts {
		env, err := r.contract.New(Source, f.data)
		if fes, ok := errors.AsType[event.FieldErrors](err); ok {
			for _, fe := range fes {
				col := f.col
				if fe.Field == "data.due_at" {
					col = colDue
				}
				fail(col, fe.Message)
			}
			continue
		}
		if err != nil {
			fail(f.col, err.Error())
			continue
		}
		out.facts = append(out.facts, env)
	}
	if len(bad) > 0 {
		return row{line: rec.line}, bad
	}
	return out, nil
}

// reasonOf is err's message for a value, or "is empty" when there is none.
func reasonOf(v string, err error) string {
	if v == "" {
		return "is empty"
	}
	return err.Error()
}
