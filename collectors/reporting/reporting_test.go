package reporting_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/collectors/reporting"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
	"github.com/egovtrack/egovtrack/internal/units"
)

var thaiNguyen = units.Ref{Kind: units.Province, Code: "19"}

func proc(code, name string, eligible bool, level event.Level) reporting.Procedure {
	return reporting.Procedure{Code: code, Name: name, Sector: "Hộ tịch", Eligible: eligible, Level: level}
}

func entry(p reporting.Procedure, active bool) reporting.Entry {
	return reporting.Entry{Procedure: p, Active: active}
}

func TestDiff(t *testing.T) {
	at := time.Date(2021, 9, 1, 9, 0, 0, 0, event.Vietnam)
	a := proc("1.000001", "Đăng ký khai sinh", true, 3)
	b := proc("1.000002", "Đăng ký kết hôn", true, 4)
	c := proc("1.000003", "Đăng ký khai tử", false, 2)
	cur := reporting.Catalogue{Unit: thaiNguyen, Procedures: map[string]reporting.Entry{
		a.Code: entry(a, true), b.Code: entry(b, true), c.Code: entry(c, false),
	}}
	renamed := b
	renamed.Name = "Đăng ký kết hôn có yếu tố nước ngoài"
	upgraded := a
	upgraded.Level = 4
	tests := []struct {
		name     string
		reported []reporting.Procedure
		// want lists the codes per kind of change.
		added, updated, changed, retired, unchanged []string
		types                                       []event.Type
	}{
		{name: "same catalogue", reported: []reporting.Procedure{b, a}, unchanged: []string{a.Code, b.Code}},
		{name: "level change", reported: []reporting.Procedure{upgraded, b}, changed: []string{a.Code}, unchanged: []string{b.Code},
			types: []event.Type{event.LevelChanged}},
		{name: "renamed: registered again", reported: []reporting.Procedure{a, renamed}, updated: []string{b.Code}, unchanged: []string{a.Code},
			types: []event.Type{event.ProcedureRegistered}},
		{name: "missing: retired", reported: []reporting.Procedure{a}, retired: []string{b.Code}, unchanged: []string{a.Code},
			types: []event.Type{event.ProcedureRetired}},
		{name: "retired one back", reported: []reporting.Procedure{a, b, c}, added: []string{c.Code}, unchanged: []string{a.Code, b.Code},
			types: []event.Type{event.ProcedureRegistered}},
		{name: "new procedure", reported: []reporting.Procedure{a, b, proc("1.000004", "Cấp bản sao trích lục hộ tịch", true, 4)},
			added: []string{"1.000004"}, unchanged: []string{a.Code, b.Code}, types: []event.Type{event.ProcedureRegistered}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := reporting.Diff(cur, tt.reported, at)
			for _, c := range []struct {
				what      string
				got, want []string
			}{{"added", p.Added, tt.added}, {"updated", p.Updated, tt.updated}, {"changed", p.Changed, tt.changed},
				{"retired", p.Retired, tt.retired}, {"unchanged", p.Unchanged, tt.unchanged}} {
				if !slices.Equal(c.got, c.want) {
					t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
				}
			}
			var types []event.Type
			for _, d := range p.Events {
				types = append(types, d.EventType())
				if err := event.Validate(d); err != nil {
					t.Errorf("planned %s is invalid: %v", d.EventType(), err)
				}
			}
			if !slices.Equal(types, tt.types) {
				t.Errorf("events %v, want %v", types, tt.types)
			}
			if got := p.Counts(); got.Registered != len(tt.added)+len(tt.updated) || got.Unchanged != len(tt.unchanged) {
				t.Errorf("counts %+v do not match the plan", got)
			}
		})
	}
	if d := reporting.Diff(cur, []reporting.Procedure{upgraded, b}, at).Events[0].(*event.LevelChangedData); d.From != 3 || d.To != 4 {
		t.Errorf("level change from %d to %d, want 3 → 4", d.From, d.To)
	}
}

func TestDigestIgnoresRowOrder(t *testing.T) {
	a, b := proc("1.000001", "A", true, 3), proc("1.000002", "B", true, 4)
	if reporting.Digest([]reporting.Procedure{a, b}) != reporting.Digest([]reporting.Procedure{b, a}) {
		t.Error("the same catalogue in another order has another digest")
	}
	b2 := b
	b2.Level = 3
	if reporting.Digest([]reporting.Procedure{a, b}) == reporting.Digest([]reporting.Procedure{a, b2}) {
		t.Error("a changed level keeps the digest")
	}
}

func TestParseRows(t *testing.T) {
	rows := []reporting.Row{
		{Line: 2, Code: "1.000001", Name: " Đăng  ký khai sinh ", Sector: "Hộ tịch", Eligible: "Có", Level: "4"},
		{Line: 3, Code: "1.000002", Name: "Đăng ký kết hôn", Sector: "Hộ tịch", Eligible: "không", Level: "partial"},
		{Line: 4, Code: "1.00000", Name: "", Sector: "Hộ tịch", Eligible: "maybe", Level: "5"},
		{Line: 5, Code: "1.000001", Name: "Trùng", Sector: "Hộ tịch", Eligible: "x", Level: "Toàn trình"},
		{Line: 6, Code: "1.000003.000.00.00.h12", Name: "Mã có hậu tố", Sector: "Tư pháp", Eligible: "yes", Level: "mức 3"},
	}
	ps, errs := reporting.ParseRows(rows)
	want := []reporting.Procedure{
		{Code: "1.000001", Name: "Đăng ký khai sinh", Sector: "Hộ tịch", Eligible: true, Level: 4},
		{Code: "1.000002", Name: "Đăng ký kết hôn", Sector: "Hộ tịch", Eligible: false, Level: 3},
		{Code: "1.000003.000.00.00.H12", Name: "Mã có hậu tố", Sector: "Tư pháp", Eligible: true, Level: 3},
	}
	if !slices.Equal(ps, want) {
		t.Errorf("procedures = %+v, want %+v", ps, want)
	}
	wantErrs := []struct {
		line   int
		column string
	}{{4, reporting.ColCode}, {4, reporting.ColName}, {4, reporting.ColEligible}, {4, reporting.ColLevel}, {5, reporting.ColCode}}
	if len(errs) != len(wantErrs) {
		t.Fatalf("errors = %v, want %d", errs, len(wantErrs))
	}
	for i, w := range wantErrs {
		if errs[i].Line != w.line || errs[i].Column != w.column {
			t.Errorf("error %d is %v, want row %d column %s", i, errs[i], w.line, w.column)
		}
	}
}

// Submitting a catalogue and loading it back from the stream gives the catalogue; the same report again the same day
// publishes nothing; the next day it publishes the report alone.
func TestSubmitAndLoad(t *testing.T) {
	ctx := context.Background()
	conn, err := stream.Connect(ctx, streamtest.New(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	day := time.Date(2021, 9, 1, 9, 0, 0, 0, event.Vietnam)
	reported := []reporting.Procedure{proc("1.000001", "Đăng ký khai sinh", true, 3), proc("1.000002", "Đăng ký kết hôn", true, 4)}

	submit := func(at time.Time, ps []reporting.Procedure) reporting.Result {
		t.Helper()
		cur, err := reporting.Load(ctx, conn, thaiNguyen)
		if err != nil {
			t.Fatal(err)
		}
		res, err := reporting.Submit(ctx, conn, cur, reporting.Report{Source: "/test", Collector: "sheet", At: at, Procedures: ps, AllowRetireMost: true})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := submit(day, reported); res.Published.Stored != 3 || res.Repeat {
		t.Fatalf("first report: %+v, want 2 registrations and the report stored", res.Published)
	}
	cur, err := reporting.Load(ctx, conn, thaiNguyen)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range reported {
		if e := cur.Procedures[p.Code]; e.Procedure != p || !e.Active {
			t.Errorf("loaded %+v, want %+v active", e, p)
		}
	}
	if cur.LastReport == nil || cur.LastReport.Digest != reporting.Digest(reported) {
		t.Errorf("last report %+v does not carry the catalogue's digest", cur.LastReport)
	}
	if res := submit(day.Add(time.Hour), reported); !res.Repeat || res.Published.Stored != 0 {
		t.Errorf("same report the same day: %+v, want a repeat with nothing published", res)
	}
	if res := submit(day.AddDate(0, 0, 1), reported); res.Repeat || res.Published.Stored != 1 {
		t.Errorf("same report the next day: %+v, want the report alone", res.Published)
	}
	changed := slices.Clone(reported)
	changed[0].Level = 4
	if res := submit(day.AddDate(0, 0, 2), changed[:1]); res.Published.Stored != 3 {
		t.Errorf("a change and a retirement: %+v stored, want 2 events and the report", res.Published)
	}
	cur, _ = reporting.Load(ctx, conn, thaiNguyen)
	if e := cur.Procedures["1.000001"]; e.Level != 4 {
		t.Errorf("1.000001 at level %d after the change, want 4", e.Level)
	}
	if e := cur.Procedures["1.000002"]; e.Active {
		t.Error("1.000002 still active after it was left out")
	}
}

// A report that would retire most of the unit's procedures is refused unless allowed: it is far likelier a file with
// only the changed rows than a unit that stopped offering most of its services.
func TestSubmitRefusesRetiringMost(t *testing.T) {
	ctx := context.Background()
	conn, err := stream.Connect(ctx, streamtest.New(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	at := time.Date(2021, 9, 1, 9, 0, 0, 0, event.Vietnam)
	all := []reporting.Procedure{proc("1.000001", "A", true, 3), proc("1.000002", "B", true, 3), proc("1.000003", "C", true, 3)}
	report := func(ps []reporting.Procedure, allow bool) (reporting.Result, error) {
		cur, err := reporting.Load(ctx, conn, thaiNguyen)
		if err != nil {
			t.Fatal(err)
		}
		return reporting.Submit(ctx, conn, cur, reporting.Report{Source: "/test", Collector: "sheet", At: at, Procedures: ps, AllowRetireMost: allow})
	}
	if _, err := report(all, false); err != nil {
		t.Fatalf("first report: %v", err)
	}
	res, err := report(all[:1], false)
	if !errors.Is(err, reporting.ErrRetiresMost) || res.Published.Stored != 0 {
		t.Fatalf("retiring 2 of 3: err %v, %d stored; want ErrRetiresMost and nothing stored", err, res.Published.Stored)
	}
	if _, err := report(all[:2], false); err != nil {
		t.Errorf("retiring 1 of 3 (not most): %v", err)
	}
	if res, err := report(all[:1], true); err != nil || len(res.Plan.Retired) != 1 {
		t.Errorf("retiring most when allowed: %v, plan %+v", err, res.Plan)
	}
}

// Eligibility is read as officers write it, with or without diacritics; anything else, an empty cell included, is
// not an answer.
func TestParseEligible(t *testing.T) {
	for in, want := range map[string]bool{
		"Có": true, "CÓ": true, "co": true, "x": true, "X": true, "Yes": true, "1": true, "true": true,
		"Đủ điều kiện": true, "du dieu kien": true, "ĐỦ ĐIỀU KIỆN": true, "Du  dieu kien": true,
		"Không": false, "khong": false, "KHONG": false, "no": false, "0": false, "-": false,
		"Không đủ điều kiện": false, "khong du dieu kien": false,
	} {
		if got, ok := reporting.ParseEligible(in); !ok || got != want {
			t.Errorf("ParseEligible(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", " ", "có lẽ", "maybe", "2", "--", "đủ", "chưa"} {
		if got, ok := reporting.ParseEligible(in); ok {
			t.Errorf("ParseEligible(%q) = %v, want unknown", in, got)
		}
	}
}

// A cell far longer than any code, name or sector is refused on its row, before it could make an event larger than
// the contract allows.
func TestParseRowsRefusesOverlongCells(t *testing.T) {
	long := strings.Repeat("ạ", reporting.MaxTextLen+1)
	rows := []reporting.Row{
		{Line: 2, Code: "1.000001", Name: long, Sector: long, Eligible: "có", Level: "4"},
		{Line: 3, Code: "1.000002" + strings.Repeat(".A", 30), Name: "n", Sector: "s", Eligible: "có", Level: "4"},
		{Line: 4, Code: "1.000003", Name: strings.Repeat("ạ", reporting.MaxTextLen), Sector: "s", Eligible: "có", Level: "4"},
	}
	ps, errs := reporting.ParseRows(rows)
	want := []reporting.RowError{
		{Line: 2, Column: "name", Value: long, Reason: "is 1001 characters long, more than the 1000 a name may be"},
		{Line: 2, Column: "sector", Value: long, Reason: "is 1001 characters long, more than the 1000 a sector may be"},
		{Line: 3, Column: "code", Value: rows[1].Code, Reason: "is 68 characters long: not a procedure code of the national database, like 1.001234"},
	}
	if !slices.Equal(errs, want) {
		t.Errorf("errors\n  %v\nwant\n  %v", errs, want)
	}
	if len(ps) != 1 || ps[0].Code != "1.000003" {
		t.Errorf("procedures %+v, want 1.000003 alone", ps)
	}
}

// A name or a sector the event contract would refuse (a formula, a bidirectional control, NUL) is refused on its row,
// with the contract's reason; a name that only starts with a sign is a name.
func TestParseRowsRefusesHarmfulTexts(t *testing.T) {
	rows := []reporting.Row{
		{Line: 2, Code: "1.000001", Name: `=cmd|' /C calc'!A0`, Sector: "Hộ tịch", Eligible: "có", Level: "4"},
		{Line: 3, Code: "1.000002", Name: "Đăng ký kết hôn", Sector: "Hộ\u202Etịch", Eligible: "có", Level: "4"},
		{Line: 4, Code: "1.000003", Name: "Đăng ký\x00khai tử", Sector: "Hộ tịch", Eligible: "có", Level: "4"},
		{Line: 5, Code: "1.000004", Name: ` +HYPERLINK("http://x","Bấm vào đây")`, Sector: "Hộ tịch", Eligible: "có", Level: "4"},
		{Line: 6, Code: "1.000005", Name: "- Cấp giấy phép xây dựng (cấp lại)", Sector: "+ Xây dựng", Eligible: "có", Level: "4"},
	}
	ps, errs := reporting.ParseRows(rows)
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	want := []string{
		`row 2, name "=cmd|' /C calc'!A0": starts with "=", which a spreadsheet program runs as a formula when the text is exported: write the text without it`,
		`row 3, sector "Hộ\u202etịch": holds the invisible character U+202E (RIGHT-TO-LEFT OVERRIDE), which makes the text show in another order than it is written, at character 3: remove it`,
		`row 4, name "Đăng ký\x00khai tử": holds a NUL character (U+0000), which many programs take for the end of the text, at character 8: remove it`,
		`row 5, name " +HYPERLINK(\"http://x\",\"Bấm vào đây\")": starts with "+" followed by a formula, which a spreadsheet program runs when the text is exported: write the text without the leading "+"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors\n  %q\nwant\n  %q", got, want)
	}
	if len(ps) != 1 || ps[0].Code != "1.000005" {
		t.Errorf("procedures %+v, want 1.000005 alone", ps)
	}
}

// Submit refuses a report of more procedures than a catalogue may hold, before it publishes anything.
func TestSubmitRefusesMoreThanACatalogue(t *testing.T) {
	ps := make([]reporting.Procedure, reporting.MaxProcedures+1)
	for i := range ps {
		ps[i] = proc(fmt.Sprintf("1.%06d", i), "Thủ tục", true, 3)
	}
	res, err := reporting.Submit(context.Background(), nil, reporting.Catalogue{Unit: thaiNguyen, Procedures: map[string]reporting.Entry{}},
		reporting.Report{Source: "/test", Collector: "sheet", At: time.Date(2021, 9, 1, 9, 0, 0, 0, event.Vietnam), Procedures: ps})
	if !errors.Is(err, reporting.ErrTooLarge) || !strings.Contains(err.Error(), "it holds 10001 procedures, more than the 10000 a catalogue may hold") {
		t.Errorf("err = %v, want ErrTooLarge naming the figures", err)
	}
	if res.Published.Stored != 0 {
		t.Errorf("%d stored", res.Published.Stored)
	}
}
