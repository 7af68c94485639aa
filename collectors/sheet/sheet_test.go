package sheet_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/collectors/reporting"
	"github.com/egovtrack/egovtrack/collectors/sheet"
	"github.com/egovtrack/egovtrack/collectors/sheet/sheettest"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
	"github.com/egovtrack/egovtrack/internal/units"
)

var thaiNguyen = units.Ref{Kind: units.Province, Code: "19"}

// Days of the campaign, in Vietnam.
var (
	july1 = time.Date(2021, 7, 1, 9, 0, 0, 0, event.Vietnam)
	july8 = time.Date(2021, 7, 8, 15, 30, 0, 0, event.Vietnam)
)

// connect starts a real embedded NATS JetStream server for the test and connects to it.
func connect(t *testing.T) *stream.Conn {
	t.Helper()
	c, err := stream.Connect(context.Background(), streamtest.New(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// messages is how many messages the stream holds.
func messages(t *testing.T, c *stream.Conn) uint64 {
	t.Helper()
	s, err := c.Stream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// run is `collectors sheet ARGS` at the given time; it returns what the officer reads.
func run(t *testing.T, c *stream.Conn, at time.Time, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := sheet.Run(context.Background(), args, c, c, &out, slog.New(slog.DiscardHandler), func() time.Time { return at })
	t.Logf("collectors sheet %s\n%s", strings.Join(args, " "), out.String())
	return out.String(), err
}

func mustRun(t *testing.T, c *stream.Conn, at time.Time, args ...string) string {
	t.Helper()
	out, err := run(t, c, at, args...)
	if err != nil {
		t.Fatalf("collectors sheet %s: %v", strings.Join(args, " "), err)
	}
	return out
}

type stored struct {
	Type      event.Type
	Procedure string
	ID        string
}

// read returns the events stored from sequence from on, in stream order.
func read(t *testing.T, c *stream.Conn, from uint64) []stored {
	t.Helper()
	var out []stored
	err := c.Read(context.Background(), event.SubjectRoot+".>", func(seq uint64, b []byte) error {
		if seq < from {
			return nil
		}
		env, d, err := event.Decode(b)
		if err != nil {
			return err
		}
		s := stored{Type: env.Type, ID: env.ID}
		switch d := d.(type) {
		case *event.ProcedureRegisteredData:
			s.Procedure = d.Procedure
		case *event.LevelChangedData:
			s.Procedure = d.Procedure
		case *event.ProcedureRetiredData:
			s.Procedure = d.Procedure
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func load(t *testing.T, c *stream.Conn) reporting.Catalogue {
	t.Helper()
	cat, err := reporting.Load(context.Background(), c, thaiNguyen)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// Importing the same snapshot twice publishes nothing the second time, from CSV and from XLSX alike; a new day's
// import of it publishes the report alone.
func TestImportTwicePublishesNothingNew(t *testing.T) {
	for _, format := range []string{"csv", "xlsx"} {
		t.Run(format, func(t *testing.T) {
			c := connect(t)
			file := "testdata/snapshot-a.csv"
			if format == "xlsx" {
				file = csvAsXLSX(t, file)
			}
			out := mustRun(t, c, july1, "--unit", "province/19", file)
			sheettest.Says(t, out, "Thái Nguyên (province/19): 5 procedures", "added 5", "1.001193 level 4 Đăng ký khai sinh", "unchanged 0",
				"Published 6 events: 5 changes and the report of this import.", "Columns not read: STT, Ghi chú")
			if n := messages(t, c); n != 6 {
				t.Fatalf("after the first import the stream holds %d messages, want 6 (5 registrations, 1 report)", n)
			}

			out = mustRun(t, c, july1.Add(2*time.Hour), "--unit", "province/19", file)
			sheettest.Says(t, out, "Nothing new: the same catalogue was already reported today (at 09:00). Nothing was published.")
			if n := messages(t, c); n != 6 {
				t.Errorf("after the same import again the stream holds %d messages, want still 6", n)
			}

			out = mustRun(t, c, july8, "--unit", "province/19", file)
			sheettest.Says(t, out, "unchanged 5", "No procedure changed since the last report.")
			if got := read(t, c, 7); len(got) != 1 || got[0].Type != event.ReportSubmitted {
				t.Errorf("a new day's import stored %+v, want one report", got)
			}
		})
	}
}

// A snapshot that adds, changes the level of, renames and drops procedures produces exactly those events.
func TestImportPublishesTheDifferences(t *testing.T) {
	c := connect(t)
	mustRun(t, c, july1, "--unit", "province/19", "testdata/snapshot-a.csv")
	before := messages(t, c)

	out := mustRun(t, c, july8, "testdata/snapshot-b.csv", "--unit", "province/19") // flags after the file too
	sheettest.Says(t, out,
		"added 1", "1.004227 level 4 Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam",
		"updated 1", "1.009994 name Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ tại đô thị",
		"changed 1", "1.001022 level 3 → 4 Đăng ký kết hôn",
		"retired 1", "2.001157 Cấp giấy phép kinh doanh karaoke",
		"unchanged 2",
		"Published 5 events: 4 changes and the report of this import.")

	want := []stored{
		{Type: event.LevelChanged, Procedure: "1.001022"},
		{Type: event.ProcedureRegistered, Procedure: "1.004227"},
		{Type: event.ProcedureRegistered, Procedure: "1.009994"},
		{Type: event.ProcedureRetired, Procedure: "2.001157"},
		{Type: event.ReportSubmitted},
	}
	got := read(t, c, before+1)
	for i := range got {
		got[i].ID = ""
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stored %+v,\nwant %+v", got, want)
	}
	if n := messages(t, c); n != before+uint64(len(want)) {
		t.Errorf("the stream holds %d messages, want %d", n, before+uint64(len(want)))
	}

	cat := load(t, c)
	check := func(code string, active bool, level event.Level, name string) {
		t.Helper()
		e, ok := cat.Procedures[code]
		if !ok || e.Active != active || e.Level != level || e.Name != name {
			t.Errorf("%s read back as %+v, want active %v, level %d, %q", code, e, active, level, name)
		}
	}
	check("1.001193", true, 4, "Đăng ký khai sinh")
	check("1.001022", true, 4, "Đăng ký kết hôn")
	check("1.009994", true, 3, "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ tại đô thị")
	check("2.000815", true, 2, "Chứng thực bản sao từ bản chính giấy tờ, văn bản do cơ quan có thẩm quyền của Việt Nam cấp")
	check("1.004227", true, 4, "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam")
	check("2.001157", false, 3, "Cấp giấy phép kinh doanh karaoke")
	rep := cat.LastReport
	if rep == nil || rep.Collector != sheet.Collector || !rep.ReportedAt.Equal(july8) ||
		rep.Counts != (event.ReportCounts{Registered: 2, Changed: 1, Retired: 1, Unchanged: 2}) {
		t.Errorf("last report %+v", rep)
	}
}

// A file with bad rows is rejected as a whole: every problem is listed with its row, column, value and reason, and
// nothing is published.
func TestBadFileIsRejected(t *testing.T) {
	c := connect(t)
	mustRun(t, c, july1, "--unit", "province/19", "testdata/snapshot-a.csv")
	before := messages(t, c)

	out, err := run(t, c, july8, "--unit", "province/19", "testdata/bad.csv")
	if !errors.Is(err, sheet.ErrRejected) {
		t.Fatalf("err = %v, want ErrRejected", err)
	}
	sheettest.Says(t, out,
		"REJECTED: testdata/bad.csv, nothing was published for Thái Nguyên (province/19).",
		"5 problems on 3 of the 6 rows (header on row 1):",
		"ROW COLUMN VALUE REASON",
		`3 A Mã thủ tục "1.00102" is not a procedure code of the national database, like 1.001234`,
		`5 B Tên thủ tục (empty) is empty`,
		`5 D Đủ điều kiện mức 4 "có lẽ" is not one of có/không (yes/no)`,
		`5 E Mức độ "5" 5 is out of range 1–4`,
		`7 A Mã thủ tục "1.001193" is already on row 2`,
		"add --skip-invalid")
	if strings.Contains(out, "\n8 ") {
		t.Errorf("row 8 (level \"Mức độ 3\") is valid but was reported")
	}
	if n := messages(t, c); n != before {
		t.Errorf("the stream holds %d messages, want %d: nothing published", n, before)
	}
}

// With --skip-invalid the valid rows are published and the others listed. A skipped row's procedure is kept as the
// stream knows it rather than retired; a row without a usable code cannot be, and the officer is warned.
func TestSkipInvalidPublishesTheValidRows(t *testing.T) {
	tests := []struct {
		name   string
		first  string // imported before bad.csv, if any
		events []stored
		says   []string
	}{
		{
			name: "first report",
			events: []stored{
				{Type: event.ProcedureRegistered, Procedure: "1.001193"},
				{Type: event.ProcedureRegistered, Procedure: "2.000815"},
				{Type: event.ProcedureRegistered, Procedure: "2.001157"},
				{Type: event.ReportSubmitted},
			},
			says: []string{"added 3", "SKIPPED, not published: 3 rows with 5 problems:", `5 E Mức độ "5" 5 is out of range 1–4`},
		},
		{
			name:  "after a full report",
			first: "testdata/snapshot-a.csv",
			events: []stored{
				{Type: event.ProcedureRegistered, Procedure: "2.000815"}, // its name is shorter in bad.csv
				{Type: event.ProcedureRetired, Procedure: "1.001022"},    // its row's code is malformed
				{Type: event.ReportSubmitted},
			},
			says: []string{"updated 1", "retired 1", "unchanged 3",
				"Kept as the stream knows them, because their rows were skipped (1):", "1.009994 Cấp giấy phép xây dựng mới",
				"WARNING: 1 skipped row without a valid procedure code."},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := connect(t)
			if tc.first != "" {
				mustRun(t, c, july1, "--unit", "province/19", tc.first)
			}
			before := messages(t, c)
			out := mustRun(t, c, july8, "--unit", "province/19", "--skip-invalid", "testdata/bad.csv")
			sheettest.Says(t, out, tc.says...)
			got := read(t, c, before+1)
			for i := range got {
				got[i].ID = ""
			}
			if !reflect.DeepEqual(got, tc.events) {
				t.Errorf("stored %+v,\nwant %+v", got, tc.events)
			}
			if e := load(t, c).Procedures["1.009994"]; tc.first != "" && (!e.Active || e.Level != 3) {
				t.Errorf("1.009994, whose row was skipped, is %+v; want it kept active at level 3", e)
			}
		})
	}
}

// An XLSX gives what the CSV with the same content gives: the same rows, the same events (same ids), and importing
// one after the other is a repeat.
func TestXLSXGivesWhatCSVGives(t *testing.T) {
	csvPath := "testdata/snapshot-b.csv"
	xlsxPath := csvAsXLSX(t, csvPath)
	ctx := context.Background()
	fromCSV, err := sheet.ReadFile(ctx, csvPath)
	if err != nil {
		t.Fatal(err)
	}
	fromXLSX, err := sheet.ReadFile(ctx, xlsxPath)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromCSV.Rows, fromXLSX.Rows) || !reflect.DeepEqual(fromCSV.Columns, fromXLSX.Columns) {
		t.Errorf("rows differ:\nCSV  %+v\nXLSX %+v", fromCSV.Rows, fromXLSX.Rows)
	}

	ids := func(file string) []stored {
		c := connect(t)
		mustRun(t, c, july1, "--unit", "province/19", "testdata/snapshot-a.csv")
		mustRun(t, c, july8, "--unit", "province/19", file)
		return read(t, c, 1)
	}
	if a, b := ids(csvPath), ids(xlsxPath); !reflect.DeepEqual(a, b) {
		t.Errorf("events differ:\nCSV  %+v\nXLSX %+v", a, b)
	}

	c := connect(t)
	mustRun(t, c, july8, "--unit", "province/19", csvPath)
	n := messages(t, c)
	out := mustRun(t, c, july8.Add(time.Minute), "--unit", "province/19", xlsxPath)
	sheettest.Says(t, out, "Nothing new")
	if messages(t, c) != n {
		t.Errorf("the XLSX after the CSV published something")
	}
}

// A file without procedures would retire the whole catalogue: it is refused.
func TestEmptyFileIsRefused(t *testing.T) {
	tests := []struct {
		name string
		path string
		args []string
	}{
		{"header only", "testdata/header-only.csv", nil},
		{"blank file", writeFile(t, "blank.csv", "\ufeff\r\n\r\n"), nil},
		{"blank workbook", writeXLSX(t, "blank.xlsx", worksheet{"Sheet1", nil}), nil},
		{"every row invalid, skipped", writeFile(t, "invalid.csv", "code,name,sector,eligible,level\n1.1,x,y,z,9\n"), []string{"--skip-invalid"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := connect(t)
			mustRun(t, c, july1, "--unit", "province/19", "testdata/snapshot-a.csv")
			before := messages(t, c)
			out, err := run(t, c, july8, append(append([]string{"--unit", "province/19"}, tc.args...), tc.path)...)
			if !errors.Is(err, sheet.ErrEmpty) {
				t.Errorf("err = %v, want ErrEmpty", err)
			}
			sheettest.Says(t, out, "an empty one would retire every procedure of the unit: refused, nothing was published.")
			if n := messages(t, c); n != before {
				t.Errorf("the stream holds %d messages, want %d", n, before)
			}
			if cat := load(t, c); !cat.Procedures["1.001193"].Active {
				t.Errorf("a procedure was retired")
			}
		})
	}
}

// A file that cannot be read as a catalogue is refused with the reason, and nothing is published.
func TestUnreadableFileIsRefused(t *testing.T) {
	tests := []struct {
		name, path, says string
	}{
		{"unknown headers", "testdata/wrong-header.csv", `the header (row 1) lacks "Lĩnh vực" (sector), "Đủ điều kiện mức 4" (eligible); found "Mã thủ tục"`},
		{"a code page that is not Vietnamese", writeFile(t, "ansi.csv", "M\xe3 th\xf9 t\xf2c\n"), `save the file as Excel Workbook (.xlsx) or "CSV UTF-8 (Comma delimited)"`},
		{"no such file", "testdata/no-such-file.xlsx", "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := connect(t)
			out, err := run(t, c, july1, "--unit", "province/19", tc.path)
			if err == nil {
				t.Fatal("imported")
			}
			sheettest.Says(t, out, "REFUSED: "+tc.path+", nothing was published for Thái Nguyên (province/19):", tc.says)
			if n := messages(t, c); n != 0 {
				t.Errorf("the stream holds %d messages", n)
			}
		})
	}
}

// Arguments the import cannot run with are refused before anything is read or published, naming what is wrong.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		says string
	}{
		{"unknown province", []string{"--unit", "province/99", "testdata/snapshot-a.csv"}, "unknown unit province/99"},
		{"unknown ministry", []string{"--unit", "ministry/BXYZ", "testdata/snapshot-a.csv"}, "unknown unit ministry/BXYZ"},
		{"one-digit province code", []string{"--unit", "province/1", "testdata/snapshot-a.csv"}, "province/01?"},
		{"unknown kind", []string{"--unit", "district/19", "testdata/snapshot-a.csv"}, `kind "district" is neither province nor ministry`},
		{"no kind", []string{"--unit", "19", "testdata/snapshot-a.csv"}, "want kind/code"},
		{"no unit", []string{"testdata/snapshot-a.csv"}, "--unit is required"},
		{"no file", []string{"--unit", "province/19"}, "the catalogue file is missing"},
		{"two files", []string{"--unit", "province/19", "testdata/snapshot-a.csv", "testdata/snapshot-b.csv"}, "one file at a time"},
		{"unknown flag", []string{"--unit", "province/19", "--dry-run", "testdata/snapshot-a.csv"}, "flag provided but not defined: -dry-run"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := connect(t)
			out, err := run(t, c, july1, tc.args...)
			if !errors.Is(err, sheet.ErrUsage) {
				t.Fatalf("err = %v, want ErrUsage", err)
			}
			if !strings.Contains(err.Error(), tc.says) || !strings.Contains(out, tc.says) {
				t.Errorf("err %q and output do not both say %q", err, tc.says)
			}
			sheettest.Says(t, out, "usage: collectors sheet --unit KIND/CODE [--skip-invalid] [--allow-retire-most] FILE")
			if n := messages(t, c); n != 0 {
				t.Errorf("the stream holds %d messages", n)
			}
		})
	}

	if _, err := run(t, connect(t), july1, "-h"); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: err = %v, want flag.ErrHelp", err)
	}
	// Units are matched in the reference list's case.
	if c, err := sheet.ParseArgs([]string{"--unit", "Ministry/btttt", "f.csv"}, &bytes.Buffer{}); err != nil || c.Unit != (units.Ref{Kind: units.Ministry, Code: "BTTTT"}) {
		t.Errorf("ministry/btttt: %+v, %v", c, err)
	}
}

// More than listMax codes of one kind are cut with a count.
func TestLongListsAreCut(t *testing.T) {
	var b strings.Builder
	b.WriteString("code,name,sector,eligible,level\n")
	for i := range 25 {
		b.WriteString("1.0010" + string(rune('1'+i/10)) + string(rune('0'+i%10)) + ",Thủ tục " + string(rune('A'+i)) + ",Hộ tịch,yes,3\n")
	}
	c := connect(t)
	out := mustRun(t, c, july1, "--unit", "province/19", writeFile(t, "many.csv", b.String()))
	sheettest.Says(t, out, "added 25", "… and 5 more")
	if lines := strings.Count(out, "level 3"); lines != 20 {
		t.Errorf("%d codes listed, want 20", lines)
	}
	if !slices.Contains(strings.Fields(out), "1.001029") {
		t.Errorf("the 20th code is not listed")
	}
}

// A rejected file's report lists its first 100 problems and counts the rest: a file of the wrong kind has a problem on
// every row, and the officer corrects from the top. Nothing is published.
func TestRejectionReportIsCut(t *testing.T) {
	var b strings.Builder
	b.WriteString("code,name,sector,eligible,level\n")
	for i := range 3000 {
		fmt.Fprintf(&b, "1.%06d,Thủ tục %d,Hộ tịch,có lẽ,5\n", i, i) // two problems a row
	}
	c := connect(t)
	out, err := run(t, c, july1, "--unit", "province/19", writeFile(t, "wrong.csv", b.String()))
	if !errors.Is(err, sheet.ErrRejected) {
		t.Fatalf("err = %v, want ErrRejected", err)
	}
	sheettest.Says(t, out, "6000 problems on 3000 of the 3000 rows",
		"… and 5900 more problems, on 2950 rows from row 52 on: correct the rows above first, then import again to see the rest")
	if n := strings.Count(out, "\n"); n > 120 {
		t.Errorf("the report has %d lines, want about 100", n)
	}
	if n := messages(t, c); n != 0 {
		t.Errorf("the stream holds %d messages, want none", n)
	}
}

// heldAlready is a stream that already holds the first n events of the next publish, as after a run that stored them
// and then failed: the publish then stores the rest and finds those n duplicates.
type heldAlready struct {
	*stream.Conn
	n int
}

func (h heldAlready) Publish(ctx context.Context, envs []event.Envelope, progress func(int)) (stream.Result, error) {
	if _, err := h.Conn.Publish(ctx, envs[:h.n], nil); err != nil {
		return stream.Result{}, err
	}
	return h.Conn.Publish(ctx, envs, progress)
}

// "Published" counts only what this run stored: events the stream already held are said apart, not counted.
func TestPublishedCountsOnlyWhatThisRunStored(t *testing.T) {
	c := connect(t)
	cmd, err := sheet.ParseArgs([]string{"--unit", "province/19", "testdata/snapshot-a.csv"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := cmd.Run(context.Background(), heldAlready{c, 2}, c, &out, slog.New(slog.DiscardHandler), func() time.Time { return july1 }); err != nil {
		t.Fatalf("import: %v\n%s", err, out.String())
	}
	sheettest.Says(t, out.String(), "Published 4 events; the stream already held the other 2, from an earlier run of this import: all 5 changes and the report of this import are in the stream.")
	if strings.Contains(out.String(), "Published 6") {
		t.Errorf("the events the stream already held are counted as published:\n%s", out.String())
	}
	if n := messages(t, c); n != 6 {
		t.Errorf("the stream holds %d messages, want 6", n)
	}
}
