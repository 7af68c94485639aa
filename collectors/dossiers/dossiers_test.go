package dossiers_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/egovtrack/egovtrack/collectors/dossiers"
	"github.com/egovtrack/egovtrack/collectors/sheet/sheettest"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
	"github.com/egovtrack/egovtrack/internal/units"
)

var thaiNguyen = units.Ref{Kind: units.Province, Code: "19"}

// now is when the tests import: after every date of the fixtures.
var now = time.Date(2025, 8, 1, 9, 0, 0, 0, event.Vietnam)

func connect(t *testing.T) *stream.Conn {
	t.Helper()
	c, err := stream.Connect(context.Background(), streamtest.New(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// run is `collectors dossiers ARGS`; it returns what the officer reads.
func run(t *testing.T, c *stream.Conn, args ...string) (string, error) {
	t.Helper()
	cmd, err := dossiers.ParseArgs(args, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("arguments %v: %v", args, err)
	}
	var out bytes.Buffer
	err = cmd.Run(context.Background(), dossiers.Options{Publisher: c, Stdout: &out, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }})
	t.Logf("collectors dossiers %s\n%s", strings.Join(args, " "), out.String())
	return out.String(), err
}

// storedIDs are the ids of the events the stream holds, sorted.
func storedIDs(t *testing.T, c *stream.Conn) []string {
	t.Helper()
	var ids []string
	err := c.Read(context.Background(), event.SubjectRoot+".>", func(_ uint64, b []byte) error {
		env, _, err := event.Decode(b)
		if err != nil {
			return err
		}
		ids = append(ids, env.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	return ids
}

// utc is a time written in UTC by hand: the reference for the Vietnamese times of the files (UTC+7).
func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// The export of the tests, as the one-stop shop writes it: titles above the header, columns the import does not
// read (STT, the procedure's name, a note), dates with and without a time, day first, amounts for the fee.
var exportHeader = []string{"STT", "Số hồ sơ", "Mã TTHC", "Tên thủ tục", "Hình thức nộp", "Ngày tiếp nhận", "Ngày hẹn trả",
	"Phí, lệ phí", "Ngày thanh toán", "Hình thức thanh toán", "Ngày có kết quả", "Ngày trả kết quả", "Hình thức trả kết quả",
	"Ngày số hóa", "Ngày rút hồ sơ", "Ghi chú"}

var exportRows = [][]string{
	// The contract's example (internal/event/README.md): its receipt's id is the one the README gives.
	{"1", "000.00.19.H22-250715-0001", "1.001234", "Đăng ký khai sinh", "Trực tuyến", "15/07/2025 08:30", "22/07/2025 17:00",
		"50.000", "", "", "18/07/2025 16:45", "19/07/2025 09:00", "Bản điện tử", "15/07/2025 10:00", "", ""},
	{"2", "000.00.19.H22-250715-0002", "1.000894", "Cấp Phiếu lý lịch tư pháp", "Trực tiếp", "15/07/2025 14:05:30", "22/07/2025",
		"200000", "15/07/2025 14:10", "Tiền mặt", "23/07/2025 08:00", "23/07/2025 10:00", "Bản giấy", "", "", "trễ hạn"},
	{"3", "000.00.19.H22-250716-0003", "2.000001", "Đăng ký kết hôn", "Bưu chính", "2025-07-16 09:00", "2025-07-26 17:00",
		"Có", "16/07/2025 09:05", "Trực tuyến", "", "", "", "", "20/07/2025 11:00", ""},
}

// expected are the facts of exportRows, written out by hand in UTC.
func expected(t *testing.T) []string {
	t.Helper()
	d1 := "fe7be5e79ed7d772f07290b72721f7d77591b85da399e1898c59a5f8f8243107" // sha256sum of the number, as the README gives it
	d2 := dossiers.HashNumber("000.00.19.H22-250715-0002")
	d3 := dossiers.HashNumber(" 000.00.19.H22-250716-0003 ")
	u := thaiNguyen
	facts := []event.Data{
		&event.DossierReceivedData{Unit: u, Procedure: "1.001234", Dossier: d1, Channel: event.ChannelOnline, Fee: true, ReceivedAt: utc("2025-07-15T01:30:00Z"), DueAt: utc("2025-07-22T10:00:00Z")},
		&event.DossierSettledData{Unit: u, Dossier: d1, SettledAt: utc("2025-07-18T09:45:00Z")},
		&event.DossierResultIssuedData{Unit: u, Dossier: d1, Electronic: true, IssuedAt: utc("2025-07-19T02:00:00Z")},
		&event.DossierDigitisedData{Unit: u, Dossier: d1, DigitisedAt: utc("2025-07-15T03:00:00Z")},
		// A due day without a time is due by its last second.
		&event.DossierReceivedData{Unit: u, Procedure: "1.000894", Dossier: d2, Channel: event.ChannelInPerson, Fee: true, ReceivedAt: utc("2025-07-15T07:05:30Z"), DueAt: utc("2025-07-22T16:59:59Z")},
		&event.DossierPaidData{Unit: u, Dossier: d2, Online: false, PaidAt: utc("2025-07-15T07:10:00Z")},
		&event.DossierSettledData{Unit: u, Dossier: d2, SettledAt: utc("2025-07-23T01:00:00Z")},
		&event.DossierResultIssuedData{Unit: u, Dossier: d2, Electronic: false, IssuedAt: utc("2025-07-23T03:00:00Z")},
		&event.DossierReceivedData{Unit: u, Procedure: "2.000001", Dossier: d3, Channel: event.ChannelPost, Fee: true, ReceivedAt: utc("2025-07-16T02:00:00Z"), DueAt: utc("2025-07-26T10:00:00Z")},
		&event.DossierPaidData{Unit: u, Dossier: d3, Online: true, PaidAt: utc("2025-07-16T02:05:00Z")},
		&event.DossierWithdrawnData{Unit: u, Dossier: d3, WithdrawnAt: utc("2025-07-20T04:00:00Z")},
	}
	var ids []string
	for _, d := range facts {
		env, err := event.New("/test", d)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, env.ID)
	}
	if ids[0] != "bdfb5af0-433a-5826-b5bf-5c8b5e9bf258" {
		t.Fatalf("the reference's first receipt has the id %s, not the README's", ids[0])
	}
	slices.Sort(ids)
	return ids
}

// csvOf writes the export as Excel writes CSV: titles, a blank line, the header, the rows; a cell holding the
// separator quoted.
func csvOf(sep rune, rows [][]string) string {
	var b strings.Builder
	b.WriteString("DANH SÁCH HỒ SƠ TIẾP NHẬN THÁNG 7/2025\r\nĐơn vị: UBND tỉnh Thái Nguyên\r\n\r\n")
	w := csv.NewWriter(&b)
	w.Comma, w.UseCRLF = sep, true
	w.WriteAll(append([][]string{exportHeader}, rows...))
	return b.String()
}

func write(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// xlsxOf writes the export as a workbook the way Excel keeps it: dates as dates (Excel's serial days, shown in the
// format given), codes and numbers as text, the fee as a number.
func xlsxOf(t *testing.T, rows [][]string, dateFormat string) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	sh := f.GetSheetName(0)
	style, err := f.NewStyle(&excelize.Style{CustomNumFmt: &dateFormat})
	if err != nil {
		t.Fatal(err)
	}
	f.SetCellValue(sh, "A1", "DANH SÁCH HỒ SƠ TIẾP NHẬN THÁNG 7/2025")
	for i, h := range exportHeader {
		cell, _ := excelize.CoordinatesToCellName(i+1, 3)
		f.SetCellValue(sh, cell, h)
	}
	for r, row := range rows {
		for i, v := range row {
			cell, _ := excelize.CoordinatesToCellName(i+1, r+4)
			if v == "" {
				continue
			}
			if tm, err := time.ParseInLocation("02/01/2006 15:04", v, time.UTC); err == nil && strings.HasPrefix(exportHeader[i], "Ngày") {
				f.SetCellValue(sh, cell, tm) // excelize stores a time's wall clock as Excel's serial day
				f.SetCellStyle(sh, cell, cell, style)
				continue
			}
			if exportHeader[i] == "Phí, lệ phí" && v == "200000" {
				f.SetCellValue(sh, cell, 200000)
				continue
			}
			f.SetCellStr(sh, cell, v)
		}
	}
	p := filepath.Join(t.TempDir(), "ho-so.xlsx")
	if err := f.SaveAs(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// An export's rows become exactly the facts written out by hand, from CSV UTF-8 with semicolons, CSV in Windows-1258
// with commas, and XLSX with real dates shown month first (as an English Excel shows them): the same ids. Importing
// any of them again publishes nothing.
func TestImportPublishesTheRowsFacts(t *testing.T) {
	want := expected(t)
	w1258, err := sheettest.Windows1258(csvOf(',', exportRows))
	if err != nil {
		t.Fatal(err)
	}
	files := []struct{ name, path, encoding string }{
		{"CSV UTF-8 with a BOM, semicolons", write(t, "ho-so.csv", []byte("\ufeff"+csvOf(';', exportRows))), ""},
		{"CSV Windows-1258, commas", write(t, "ho-so-1258.csv", []byte(w1258)), "Read as Windows-1258"},
		{"XLSX, dates month first", xlsxOf(t, exportRows, "mm/dd/yyyy hh:mm"), ""},
	}
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			c := connect(t)
			out, err := run(t, c, "--unit", "province/19", f.path)
			if err != nil {
				t.Fatal(err)
			}
			sheettest.Says(t, out, "Thái Nguyên (province/19): 3 dossiers", "received 3", "paid 2", "settled 2", "results issued 2",
				"digitised 1", "withdrawn 1", "Published 11 events.", "Columns not read: STT, Tên thủ tục, Ghi chú")
			if f.encoding != "" {
				sheettest.Says(t, out, f.encoding)
			}
			if got := storedIDs(t, c); !slices.Equal(got, want) {
				t.Errorf("the stream holds\n%v\nwant the facts written out by hand\n%v", got, want)
			}
			out, err = run(t, c, "--unit", "province/19", f.path)
			if err != nil {
				t.Fatal(err)
			}
			sheettest.Says(t, out, "Nothing new: the stream already held all 11 events")
			if got := storedIDs(t, c); len(got) != len(want) {
				t.Errorf("after a second import the stream holds %d events, want %d", len(got), len(want))
			}
		})
	}
}

// A dossier listed again exactly (an export that pages overlap) is published once; listed again with other values
// it rejects the file.
func TestADossierListedTwice(t *testing.T) {
	c := connect(t)
	rows := append(slices.Clone(exportRows), exportRows[1])
	out, err := run(t, c, "--unit", "province/19", write(t, "twice.csv", []byte(csvOf(',', rows))))
	if err != nil {
		t.Fatal(err)
	}
	sheettest.Says(t, out, "1 row repeated an earlier row of the same dossier exactly", "Published 11 events.")

	changed := slices.Clone(exportRows[1])
	changed[10] = "24/07/2025 08:00" // another settlement
	rows = append(slices.Clone(exportRows), changed)
	out, err = run(t, c, "--unit", "province/19", write(t, "conflict.csv", []byte(csvOf(',', rows))))
	if !errors.Is(err, dossiers.ErrRejected) {
		t.Fatalf("err = %v, want ErrRejected", err)
	}
	sheettest.Says(t, out, `8 B Số hồ sơ "000.00.19.H22-250715-0002" is already on row 6, with other values`)
}

// Every bad value is named by row, column, value and reason, and nothing is published.
func TestBadRowsRejectTheFile(t *testing.T) {
	bad := func(col int, v string) []string {
		r := slices.Clone(exportRows[0])
		r[1] = "000.00.19.H22-250715-9" + v // a dossier of its own
		r[col] = v
		return r
	}
	rows := [][]string{
		exportRows[1],
		bad(2, "1.00123"),             // a code that lost its last zero
		bad(4, "Fax"),                 // no such channel
		bad(5, "31/06/2025 08:00"),    // no such day
		bad(6, "14/07/2025 08:00"),    // due before received
		bad(5, "07/15/2025 08:30"),    // month first
		bad(7, "có lẽ"),               // neither yes/no nor an amount ("miễn phí" is no fee)
		bad(10, "15/09/2025 08:00"),   // settled after now
		bad(11, "19/07/2025 9:00:61"), // no such time
		bad(1, ""),                    // no number
		bad(8, "16/07/2025 10:00"),    // paid, without saying how
		bad(12, "email"),              // a result in no known form
		bad(5, "45123"),               // a bare number in a CSV is Excel's serial day: 2023-07-16, before due
	}
	rows[len(rows)-1][6] = "01/01/2023"
	// 40,300 characters, beyond Excel's 32,767 a cell: in a column not read, then in one read.
	long := strings.Repeat("Ghi chú dài. ", 3100)
	for i, col := range []int{15, 4} {
		r := slices.Clone(exportRows[0])
		r[1], r[col] = fmt.Sprintf("000.00.19.H22-250715-990%d", i), long
		rows = append(rows, r)
	}
	c := connect(t)
	out, err := run(t, c, "--unit", "province/19", write(t, "bad.csv", []byte(csvOf(',', rows))))
	if !errors.Is(err, dossiers.ErrRejected) {
		t.Fatalf("err = %v, want ErrRejected", err)
	}
	sheettest.Says(t, out,
		"REJECTED: ", "nothing was published for Thái Nguyên (province/19)",
		`6 C Mã TTHC "1.00123" is not a procedure code of the national database`,
		`7 E Hình thức nộp "Fax" is not one of Trực tuyến, Trực tiếp, Bưu chính`,
		`8 F Ngày tiếp nhận "31/06/2025 08:00" has no such day`,
		`9 G Ngày hẹn trả "14/07/2025 08:00" must be after received_at`,
		`10 F Ngày tiếp nhận "07/15/2025 08:30" has no such day: 07/15/2025 (day first, then month)`,
		`11 H Phí, lệ phí "có lẽ" is neither có/không nor an amount in đồng`,
		`12 K Ngày có kết quả "15/09/2025 08:00"`,
		`13 L Ngày trả kết quả "19/07/2025 9:00:61" has the time`,
		`14 B Số hồ sơ (empty) is empty`,
		`15 J Hình thức thanh toán (empty) is empty`,
		`16 M Hình thức trả kết quả "email" is not có/không, Bản điện tử or Bản giấy`,
		`17 G Ngày hẹn trả "01/01/2023" must be after received_at`,
		// Cut to whole letters in the message, however long the cell.
		`18 P "Ghi chú dài. Ghi chú dài. Ghi chú dài. Ghi chú dài. Ghi chú…" holds more than 32,767 characters, more than a cell may`,
		`19 E Hình thức nộp "Ghi chú dài. Ghi chú dài. Ghi chú dài. Ghi chú dài. Ghi chú…" holds more than 32,767 characters`,
	)
	if !utf8.ValidString(out) {
		t.Error("the report is not valid UTF-8: a value was cut inside a letter")
	}
	if n := len(storedIDs(t, c)); n != 0 {
		t.Errorf("the stream holds %d events after a rejected file, want none", n)
	}
}

// A header that lacks a column the events need is refused before any row is read, naming what is missing.
func TestHeaderErrors(t *testing.T) {
	cases := []struct {
		name   string
		header []string
		want   string
	}{
		{"no fee column", []string{"Số hồ sơ", "Mã thủ tục", "Hình thức nộp", "Ngày tiếp nhận", "Ngày hẹn trả"}, `the header (row 4) lacks "Có phí"`},
		{"a payment's date without its form", []string{"Số hồ sơ", "Mã thủ tục", "Hình thức nộp", "Ngày tiếp nhận", "Ngày hẹn trả", "Có phí", "Ngày thanh toán"},
			`lacks "Thanh toán trực tuyến (read with Ngày thanh toán)"`},
		{"a column twice", []string{"Số hồ sơ", "Mã hồ sơ", "Mã thủ tục", "Hình thức nộp", "Ngày tiếp nhận", "Ngày hẹn trả", "Có phí"}, `gives "Số hồ sơ" more than once`},
		{"not an export", []string{"Mã thủ tục", "Tên thủ tục", "Lĩnh vực", "Mức độ"}, `no header row found among the first 10 rows (the first is row 1); found "DANH SÁCH"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := connect(t)
			body := "DANH SÁCH\n\n\n" + strings.Join(tc.header, ",") + "\n" + strings.Repeat("x,", len(tc.header)) + "\n"
			out, err := run(t, c, "--unit", "province/19", write(t, "h.csv", []byte(body)))
			if _, ok := errors.AsType[*dossiers.HeaderError](err); !ok {
				t.Fatalf("err = %v, want a *HeaderError", err)
			}
			sheettest.Says(t, out, "REFUSED:", tc.want)
		})
	}
}

// The README's example output is what importing its example file prints.
func TestReadmeExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)```text\n(.*?)```").FindSubmatch(readme)
	if block == nil {
		t.Fatal("README.md has no ```text block")
	}
	c := connect(t)
	out, err := run(t, c, "--unit", "province/19", "testdata/ho-so-thang-7.csv")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ReplaceAll(out, "testdata/", ""); got != string(block[1]) {
		t.Errorf("importing testdata/ho-so-thang-7.csv prints\n%s\nthe README shows\n%s", got, block[1])
	}
}
