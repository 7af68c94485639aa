package poll

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// The bad-input list of issue 6, item by item, as the poller meets a portal's document: decode refuses each with
// exactly the message given, wrapping the error the poller tells apart (and the poll then records nothing:
// TestFailedPollRecordsNothing). The items a JSON catalogue cannot hold are others': event types and versions and
// future times are the event contract's (a poll's events take effect when it polls), CSV and XLSX the sheet
// collector's, and an oversized body is refused while it is read (ErrTooLarge, before decode).
func TestDecodeBadInput(t *testing.T) {
	t.Parallel()
	thaiNguyen := units.Ref{Kind: units.Province, Code: "19"}
	const item = `{"code": "1.000001", "name": "Đăng ký khai sinh", "sector": "Hộ tịch", "eligible": true, "level": 4}`
	doc := func(items ...string) string {
		return `{"unit": {"kind": "province", "code": "19"}, "procedures": [` + strings.Join(items, ", ") + `]}`
	}
	tests := []struct {
		item string
		body string
		is   error
		err  string
	}{
		{
			item: "malformed JSON",
			body: doc(item)[:60],
			is:   ErrMalformed,
			err:  "document is not a catalogue: the JSON ends early, at byte offset 60",
		},
		{
			item: "malformed JSON: a stray comma",
			body: doc(item, ""),
			is:   ErrMalformed,
			err:  "document is not a catalogue: not JSON at byte offset 170: invalid character ']' looking for beginning of value",
		},
		{
			item: "wrong types",
			body: doc(`{"code": "1.000001", "name": "Đăng ký khai sinh", "sector": "Hộ tịch", "eligible": "có", "level": 4}`),
			is:   ErrMalformed,
			err:  "document is not a catalogue: procedures.eligible is a JSON string at byte offset 155, want true or false",
		},
		{
			item: "unknown unit",
			body: strings.Replace(doc(item), `"19"`, `"03"`, 1),
			is:   ErrWrongUnit,
			err:  "document is about another unit: the document is about province/03, this poller reports for province/19; a portal cannot speak for another unit",
		},
		{
			item: "invalid level",
			body: doc(strings.Replace(item, `"level": 4`, `"level": "mức độ 5"`, 1)),
			is:   ErrInvalidRows,
			err:  `1 invalid value in the procedures (row n is the n-th item): row 1, level "mức độ 5": 5 is out of range 1–4`,
		},
		{
			item: "invalid UTF-8",
			body: doc(strings.Replace(item, "Đăng ký", "\xa7\xa8ng k\xfd", 1)),
			is:   ErrMalformed,
			err:  "document is not a catalogue: invalid UTF-8 at byte offset 91",
		},
		{
			item: "duplicate rows",
			body: doc(item, item),
			is:   ErrInvalidRows,
			err:  `1 invalid value in the procedures (row n is the n-th item): row 2, code "1.000001": is already on row 1`,
		},
		{
			item: "duplicate rows: a field given twice",
			body: doc(strings.Replace(item, `"level": 4`, `"level": 4, "level": 1`, 1)),
			is:   ErrMalformed,
			err:  "document is not a catalogue: procedures[0].level is given twice (the second time at byte offset 175)",
		},
		{
			item: "half of a surrogate pair",
			body: doc(strings.Replace(item, "Đăng ký", `\udc00 Đăng ký`, 1)),
			is:   ErrMalformed,
			err:  `document is not a catalogue: procedures[0].name holds \udc00 at byte offset 96, half of a UTF-16 surrogate pair without its other half`,
		},
		{
			item: "a name that a spreadsheet runs as a formula, a sector with a bidirectional override",
			body: doc(strings.Replace(strings.Replace(item, "Đăng ký khai sinh", `@SUM(1+1)*cmd|' /C calc'!A0`, 1), "Hộ tịch", `Hộ tịch‮`, 1)),
			is:   ErrInvalidRows,
			err: `2 invalid values in the procedures (row n is the n-th item): row 1, name "@SUM(1+1)*cmd|' /C calc'!A0": starts with "@" followed by a formula, which a spreadsheet program runs when the text is exported: write the text without the leading "@"; ` +
				`row 1, sector "Hộ tịch\u202e": holds the invisible character U+202E (RIGHT-TO-LEFT OVERRIDE), which makes the text show in another order than it is written, at character 8: remove it`,
		},
		{
			item: "more procedures than a catalogue holds",
			body: doc(slices.Repeat([]string{item}, 10_001)...),
			is:   ErrMalformed,
			err:  "document is not a catalogue: it lists 10001 procedures, more than the 10000 a catalogue may hold (the largest province has about 2,000, the national database about 6,000 for all units)",
		},
		{
			item: "an empty document",
			body: "",
			is:   ErrMalformed,
			err:  "document is not a catalogue: empty body",
		},
		{
			item: "an empty catalogue",
			body: doc(),
			is:   ErrMalformed,
			err:  `document is not a catalogue: "procedures" is missing or empty`,
		},
		{
			item: "a snapshot claiming another unit",
			body: strings.Replace(doc(item), `"19"`, `"01"`, 1),
			is:   ErrWrongUnit,
			err:  "document is about another unit: the document is about province/01, this poller reports for province/19; a portal cannot speak for another unit",
		},
		{
			item: "a snapshot claiming no unit",
			body: `{"procedures": [` + item + `]}`,
			is:   ErrMalformed,
			err:  `document is not a catalogue: "unit" is missing`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.item, func(t *testing.T) {
			procs, err := decode([]byte(tt.body), thaiNguyen)
			if err == nil {
				t.Fatalf("decode accepted it: %+v", procs)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if err.Error() != tt.err {
				t.Errorf("error\n  %s\nwant\n  %s", err, tt.err)
			}
		})
	}
}

// FuzzDecode feeds decode any document a portal could send. It must not panic; what it refuses it refuses with one
// of the errors the poller tells apart, whose row errors name an item of the document and a column; what it accepts
// are procedures the event contract accepts. The seed corpus (testdata/fuzz/FuzzDecode) holds the README's document
// and the documents of the tests.
func FuzzDecode(f *testing.F) {
	thaiNguyen := units.Ref{Kind: units.Province, Code: "19"}
	f.Fuzz(func(t *testing.T, body []byte) {
		procs, err := decode(body, thaiNguyen)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrWrongUnit) && !errors.Is(err, ErrInvalidRows) {
				t.Fatalf("error %v is none of the poller's", err)
			}
			if re, ok := errors.AsType[*RowsError](err); ok {
				if len(re.Rows) == 0 {
					t.Fatal("a RowsError without rows")
				}
				for _, r := range re.Rows {
					if r.Line < 1 || r.Reason == "" || r.Column == "" {
						t.Fatalf("row error %+v names no item or column", r)
					}
				}
			}
			return
		}
		if len(procs) == 0 {
			t.Fatal("accepted a catalogue without procedures")
		}
		for _, p := range procs {
			d := &event.ProcedureRegisteredData{Unit: thaiNguyen, Procedure: p.Code, Name: p.Name, Sector: p.Sector,
				Eligible: p.Eligible, Level: p.Level, EffectiveAt: time.Date(2021, 9, 1, 2, 0, 0, 0, time.UTC)}
			if _, err := event.New(Source, d); err != nil {
				t.Fatalf("procedure %+v, accepted, breaks the contract: %v", p, err)
			}
		}
	})
}
