package sheet_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/egovtrack/egovtrack/collectors/reporting"
	"github.com/egovtrack/egovtrack/collectors/sheet"
	"github.com/egovtrack/egovtrack/collectors/sheet/sheettest"
)

// The bad-input list of issue 6, item by item, as `collectors sheet` meets it: every file below is refused with the
// message given (or read, and said how), and a refused file publishes nothing. The items a spreadsheet cannot hold
// are another entry point's: malformed JSON, an unknown event type or version and a future time are the event
// contract's and the intake API's (a sheet's events take effect when it is imported), and a snapshot claiming
// another unit is the intake API's and the poller's (a sheet names no unit: --unit does).
func TestBadInput(t *testing.T) {
	row := func(cells ...string) string { return strings.Join(cells, ",") + "\r\n" }
	header := row(headersVI...)
	csv := func(rows ...string) func(t *testing.T) string {
		return func(t *testing.T) string { return writeFile(t, "danh-muc.csv", header+strings.Join(rows, "")) }
	}
	raw := func(name string, b []byte) func(t *testing.T) string {
		return func(t *testing.T) string { return writeFile(t, name, string(b)) }
	}
	book := func(sheets ...xsheet) func(t *testing.T) string {
		return func(t *testing.T) string { return writeFile(t, "danh-muc.xlsx", string(xlsx(t, sheets...))) }
	}
	khaiSinh := []string{"1.001193", "Đăng ký khai sinh", "Hộ tịch", "Có", "4"}
	ketHon := []string{"1.001022", "Đăng ký kết hôn", "Hộ tịch", "Có", "3"}
	merged := catalogueSheet(khaiSinh, []string{"1.001022", "Đăng ký kết hôn", "", "Có", "3"})
	merged.merges = []string{"A1:E1", "C3:C4"}
	titleMerged := catalogueSheet(khaiSinh, ketHon)
	titleMerged.merges = []string{"A1:E1"}
	guide := xsheet{name: "Hướng dẫn", rows: xrow(1, "Cột", "Cách điền") + xrow(2, "Mức độ", "1, 2, 3 hoặc 4")}
	notText := "code,name,sector,eligible,level\r\n1.001193,Đăng ký\x00khai sinh,Hộ tịch,Có,4\r\n"

	tests := []struct {
		item string
		file func(t *testing.T) string
		unit string // --unit, province/19 when empty
		// read is the error of sheet.ReadFile, exactly; "" when the file is read.
		read string
		// rows are the row errors of reporting.ParseRows, exactly.
		rows []reporting.RowError
		// out are lines of what the officer reads (words, whatever the spaces between them).
		out []string
		// published: the file is accepted.
		published bool
	}{
		{
			item: "malformed file: a workbook that is not a zip archive",
			file: raw("danh-muc.xlsx", []byte("PK\x03\x04 cut short by a failed download")),
			read: "open the workbook: zip: not a valid zip file",
		},
		{
			item: "malformed file: not text at all",
			file: raw("danh-muc.csv", []byte(notText)),
			read: `the file is not text (line 2 holds the control character 0x00 at byte offset 53): save the catalogue as Excel Workbook (.xlsx) or "CSV UTF-8 (Comma delimited)"`,
		},
		{
			item: "wrong types: a word where có/không is expected",
			file: csv(row("1.001193", "Đăng ký khai sinh", "Hộ tịch", "có lẽ", "4")),
			rows: []reporting.RowError{{Line: 2, Column: "eligible", Value: "có lẽ", Reason: "is not one of có/không (yes/no)"}},
			out:  []string{`2 D Đủ điều kiện mức 4 "có lẽ" is not one of có/không (yes/no)`},
		},
		{
			item: "wrong types: a code typed into a number cell, which drops its last zero",
			file: book(catalogueSheet([]string{"<c><v>1.00012</v></c>", "Đăng ký khai sinh", "Hộ tịch", "Có", "4"})),
			rows: []reporting.RowError{{Line: 3, Column: "code", Value: "1.00012", Reason: "is not a procedure code of the national database, like 1.001234"}},
			out:  []string{`3 A Mã thủ tục "1.00012" is not a procedure code of the national database, like 1.001234`},
		},
		{
			item: "unknown unit",
			file: csv(row(khaiSinh...)),
			unit: "province/99",
			out:  []string{"collectors sheet: unknown unit province/99: not in the reference list of provinces and ministries"},
		},
		{
			item: "invalid level",
			file: csv(row("1.001193", "Đăng ký khai sinh", "Hộ tịch", "Có", "Mức độ 5"), row("1.001022", "Đăng ký kết hôn", "Hộ tịch", "Có", "cao")),
			rows: []reporting.RowError{
				{Line: 2, Column: "level", Value: "Mức độ 5", Reason: "5 is out of range 1–4"},
				{Line: 3, Column: "level", Value: "cao", Reason: `"cao" is not a level (1–4, partial or full)`},
			},
			out: []string{`2 E Mức độ "Mức độ 5" 5 is out of range 1–4`, `3 E Mức độ "cao" "cao" is not a level (1–4, partial or full)`},
		},
		{
			item: "oversized payload: a file larger than any catalogue",
			file: func(t *testing.T) string {
				path := filepath.Join(t.TempDir(), "danh-muc.csv")
				if err := os.WriteFile(path, []byte(header+strings.Repeat(row(khaiSinh...), 32<<20/40)), 0o600); err != nil {
					t.Fatal(err)
				}
				return path
			},
			read: "the file is larger than 32 MiB: not a catalogue of procedures (2,000 procedures take a few hundred kilobytes): check that it is the right file",
		},
		{
			item: "oversized payload: more procedures than a catalogue holds",
			file: func(t *testing.T) string {
				var b strings.Builder
				b.WriteString(header)
				for i := range reporting.MaxProcedures + 1 {
					b.WriteString(row(fmt.Sprintf("1.%06d", i), "Đăng ký khai sinh", "Hộ tịch", "Có", "4"))
				}
				return writeFile(t, "danh-muc.csv", b.String())
			},
			read: "the file has 10,001 rows of procedures under the header (row 1), more than the 10,000 a catalogue may hold (the largest province has about 2,000, the national database about 6,000 for all units): check that the file is one unit's catalogue, and that no rows were pasted twice",
		},
		{
			item: "oversized payload: a cell far longer than a name",
			file: csv(row("1.001193", strings.Repeat("Đăng ký khai sinh ", 60), "Hộ tịch", "Có", "4")),
			rows: []reporting.RowError{{Line: 2, Column: "name", Value: strings.Repeat("Đăng ký khai sinh ", 60), Reason: "is 1079 characters long, more than the 1000 a name may be"}},
			out:  []string{"2 B Tên thủ tục", "is 1079 characters long, more than the 1000 a name may be"},
		},
		{
			item: "formula injection: a name that runs as a formula (DDE) when exported to a spreadsheet",
			file: csv(row("1.001193", `=cmd|' /C calc'!A0`, "Hộ tịch", "Có", "4")),
			rows: []reporting.RowError{{Line: 2, Column: "name", Value: `=cmd|' /C calc'!A0`, Reason: `starts with "=", which a spreadsheet program runs as a formula when the text is exported: write the text without it`}},
			out:  []string{`2 B Tên thủ tục "=cmd|' /C calc'!A0" starts with "="`},
		},
		{
			item: "formula injection: a sector starting with + and a function call, in a workbook",
			file: book(catalogueSheet([]string{"1.001193", "Đăng ký khai sinh", `+HYPERLINK("http://x.example","Hộ tịch")`, "Có", "4"})),
			rows: []reporting.RowError{{Line: 3, Column: "sector", Value: `+HYPERLINK("http://x.example","Hộ tịch")`, Reason: `starts with "+" followed by a formula, which a spreadsheet program runs when the text is exported: write the text without the leading "+"`}},
			out:  []string{`3 C Lĩnh vực`, `starts with "+" followed by a formula`},
		},
		{
			item: "a bidirectional override in a name, which shows it in another order",
			file: csv(row("1.001193", "Đăng ký khai sinh‮abc", "Hộ tịch", "Có", "4")),
			rows: []reporting.RowError{{Line: 2, Column: "name", Value: "Đăng ký khai sinh‮abc", Reason: "holds the invisible character U+202E (RIGHT-TO-LEFT OVERRIDE), which makes the text show in another order than it is written, at character 18: remove it"}},
			out:  []string{"2 B Tên thủ tục", "holds the invisible character U+202E (RIGHT-TO-LEFT OVERRIDE)"},
		},
		{
			item: "NUL in a name, which a workbook writes _x0000_",
			file: book(catalogueSheet([]string{"1.001193", "Đăng ký_x0000_khai sinh", "Hộ tịch", "Có", "4"})),
			rows: []reporting.RowError{{Line: 3, Column: "name", Value: "Đăng ký\x00khai sinh", Reason: "holds a NUL character (U+0000), which many programs take for the end of the text, at character 8: remove it"}},
			out:  []string{"3 B Tên thủ tục", "holds a NUL character (U+0000)"},
		},
		{
			item:      "names that start with a dash or a plus, as lists in documents do, are names",
			file:      csv(row("1.001193", "- Đăng ký khai sinh (cấp lại)", "+ Hộ tịch", "Có", "4")),
			out:       []string{"added 1"},
			published: true,
		},
		{
			item:      "invalid UTF-8: Windows-1258, Excel's plain CSV on a Vietnamese Windows, is read and said so",
			file:      func(t *testing.T) string { return writeFile(t, "danh-muc.csv", string(windows1258(t, catalogueCSV))) },
			out:       []string{`Read as Windows-1258, the Vietnamese code page of Excel's "CSV (Comma delimited)": check the names, and next time save as "CSV UTF-8 (Comma delimited)".`, "added 3"},
			published: true,
		},
		{
			item: "invalid UTF-8 that reads as no Vietnamese in Windows-1258",
			file: raw("danh-muc.csv", []byte("M\xe3 th\xf9 t\xf2c,T\xean\r\n")),
			read: `line 1 reads "Mã thù tòc,Tên": the text reads as no Vietnamese in Unicode or in Windows-1258: it looks like a font encoding, TCVN3 (ABC) or VNI, and cannot be read reliably. ` + unikey("TCVN3 (ABC) or VNI"),
		},
		{
			item: "CSV with a missing header",
			file: raw("danh-muc.csv", []byte("Mã thủ tục,Tên thủ tục,Đủ điều kiện mức 4,Mức độ\r\n1.001193,Đăng ký khai sinh,Có,4\r\n")),
			read: `the header (row 1) lacks "Lĩnh vực" (sector); found "Mã thủ tục", "Tên thủ tục", "Đủ điều kiện mức 4", "Mức độ"; expected the template's headers Mã thủ tục, Tên thủ tục, Lĩnh vực, Đủ điều kiện mức 4, Mức độ (or in English code, name, sector, eligible, level)`,
		},
		{
			item: "CSV with a renamed header",
			file: raw("danh-muc.csv", []byte("Mã hồ sơ,Tên thủ tục,Lĩnh vực,Đủ điều kiện mức 4,Mức độ\r\n1.001193,Đăng ký khai sinh,Hộ tịch,Có,4\r\n")),
			read: `the header (row 1) lacks "Mã thủ tục" (code); found "Mã hồ sơ", "Tên thủ tục", "Lĩnh vực", "Đủ điều kiện mức 4", "Mức độ"; expected the template's headers Mã thủ tục, Tên thủ tục, Lĩnh vực, Đủ điều kiện mức 4, Mức độ (or in English code, name, sector, eligible, level)`,
		},
		{
			item: "CSV in a legacy Vietnamese encoding: TCVN3 (ABC)",
			file: raw("danh-muc.csv", []byte(catalogueTCVN3)),
			read: `line 1 reads "M· thñ tôc,Tªn thñ tôc,LÜnh vùc,§ñ ®iÒu kiÖn møc 4,Møc ®é": the text is in the TCVN3 (ABC) font encoding of the .Vn fonts (.VnTime, .VnArial), not Unicode, and cannot be read reliably. ` + unikey("TCVN3 (ABC)"),
		},
		{
			item: "CSV in a legacy Vietnamese encoding: VNI",
			file: raw("danh-muc.csv", []byte(catalogueVNI)),
			read: `line 1 reads "Maõ thuû tuïc,Teân thuû tuïc,Lónh vöïc,Ñuû ñieàu kieän möùc…": the text is in the VNI font encoding of the VNI- fonts (VNI-Times, VNI-Helve), not Unicode, and cannot be read reliably. ` + unikey("VNI"),
		},
		{
			item: "CSV in a legacy Vietnamese encoding: TCVN3 saved as CSV UTF-8",
			file: raw("danh-muc.csv", []byte(latin1(catalogueTCVN3))),
			read: `row 1 reads "M· thñ tôc, Tªn thñ tôc, LÜnh vùc, §ñ ®iÒu kiÖn møc 4, Møc …": the text is in the TCVN3 (ABC) font encoding of the .Vn fonts (.VnTime, .VnArial), not Unicode, and cannot be read reliably. ` + unikey("TCVN3 (ABC)"),
		},
		{
			item: "a workbook in a legacy Vietnamese encoding: VNI",
			file: book(xsheet{name: "Danh mục", rows: xrow(1, headersEN...) + xrow(2, "1.001193", latin1("\xd1a\xeang ky\xf9 khai sinh"), latin1("Ho\xe4 t\xf2ch"), "yes", "4")}),
			read: `sheet "Danh mục", row 2 reads "1.001193, Ñaêng kyù khai sinh, Hoä tòch, yes, 4": the text is in the VNI font encoding of the VNI- fonts (VNI-Times, VNI-Helve), not Unicode, and cannot be read reliably. ` + unikey("VNI"),
		},
		{
			item: "XLSX with merged cells in the catalogue",
			file: book(merged),
			read: `sheet "Danh mục": row 3: cells C3:C4 are merged; unmerge them and write the value in each row (a merged cell keeps its value in its first cell only)`,
		},
		{
			item:      "XLSX with a merged title above the header",
			file:      book(titleMerged),
			out:       []string{"added 2"},
			published: true,
		},
		{
			item:      "XLSX with formulas: the value Excel saved is read",
			file:      book(catalogueSheet([]string{"1.001193", "Đăng ký khai sinh", "Hộ tịch", formula(`IF(1=1,"Có","Không")`, "str", ptr("Có")), formula("2+2", "", ptr("4"))})),
			out:       []string{"added 1", "1.001193 level 4 Đăng ký khai sinh"},
			published: true,
		},
		{
			item: "XLSX with a formula saved without its value",
			file: book(catalogueSheet(khaiSinh, []string{"1.001022", "Đăng ký kết hôn", "Hộ tịch", "Có", formula("E3-1", "", nil)})),
			read: `sheet "Danh mục": row 4: cell E4 holds the formula "=E3-1" but no value: open the file in Excel and save it again (Excel saves the value of every formula), or replace the formulas by their values (Copy, then Paste Special → Values)`,
		},
		{
			item: "XLSX with a formula whose value is empty",
			file: book(catalogueSheet([]string{"1.001193", "Đăng ký khai sinh", formula(`IF(1=1,"","Hộ tịch")`, "str", ptr("")), "Có", "4"})),
			rows: []reporting.RowError{{Line: 3, Column: "sector", Value: "", Reason: "is empty"}},
			out:  []string{"3 C Lĩnh vực (empty) is empty"},
		},
		{
			item:      "XLSX with several sheets: the one with the header is read",
			file:      book(guide, catalogueSheet(khaiSinh)),
			out:       []string{`(sheet "Danh mục", header on row 2)`, "added 1"},
			published: true,
		},
		{
			item: "XLSX with several sheets: two catalogues",
			file: book(catalogueSheet(khaiSinh), xsheet{name: "Danh mục 2", rows: xrow(1, headersVI...) + xrow(2, ketHon...)}),
			read: `the sheets "Danh mục", "Danh mục 2" all have a catalogue header: put the whole catalogue on one sheet, or delete the others`,
		},
		{
			item: "XLSX with several sheets: none has the whole header",
			file: book(guide, xsheet{name: "Danh mục", rows: xrow(1, "Mã thủ tục", "Tên thủ tục") + xrow(2, "1.001193", "Đăng ký khai sinh")}),
			read: `the header (sheet "Danh mục", row 1) lacks "Lĩnh vực" (sector), "Đủ điều kiện mức 4" (eligible), "Mức độ" (level); found "Mã thủ tục", "Tên thủ tục"; expected the template's headers Mã thủ tục, Tên thủ tục, Lĩnh vực, Đủ điều kiện mức 4, Mức độ (or in English code, name, sector, eligible, level)`,
		},
		{
			item: "duplicate rows",
			file: csv(row(khaiSinh...), row(ketHon...), row("1.001193", "Đăng ký khai sinh (lần hai)", "Hộ tịch", "Có", "4")),
			rows: []reporting.RowError{{Line: 4, Column: "code", Value: "1.001193", Reason: "is already on row 2"}},
			out:  []string{`4 A Mã thủ tục "1.001193" is already on row 2`},
		},
		{
			item: "an empty file",
			file: raw("danh-muc.csv", nil),
			read: "the file is blank: no procedures",
			out:  []string{"the file is blank. The file is the whole catalogue of Thái Nguyên, so an empty one would retire every procedure of the unit: refused, nothing was published."},
		},
		{
			item: "an empty file: the header alone",
			file: csv(),
			out:  []string{"no procedure under the header (row 1). The file is the whole catalogue of Thái Nguyên, so an empty one would retire every procedure of the unit: refused, nothing was published."},
		},
		{
			item: "an empty workbook",
			file: book(xsheet{name: "Sheet1"}),
			read: "every sheet of the workbook is blank: no procedures",
		},
	}
	for _, tc := range tests {
		t.Run(tc.item, func(t *testing.T) {
			path := tc.file(t)
			tab, err := sheet.ReadFile(context.Background(), path)
			switch {
			case tc.read != "" && err == nil:
				t.Fatalf("read %+v, want the error %q", tab, tc.read)
			case tc.read != "" && err.Error() != tc.read:
				t.Errorf("error\n  %s\nwant\n  %s", err, tc.read)
			case tc.read == "" && err != nil:
				t.Fatalf("read: %v", err)
			case tc.read == "":
				if _, bad := reporting.ParseRows(tab.Rows); !slices.Equal(bad, tc.rows) {
					t.Errorf("row errors\n  %q\nwant\n  %q", bad, tc.rows)
				}
			}

			c := connect(t)
			if !tc.published {
				// A refused file must leave the unit's catalogue as it was.
				mustRun(t, c, july1, "--unit", "province/19", "testdata/snapshot-a.csv")
			}
			before := messages(t, c)
			unit := tc.unit
			if unit == "" {
				unit = "province/19"
			}
			out, err := run(t, c, july8, "--unit", unit, path)
			if tc.published {
				if err != nil {
					t.Fatalf("import: %v", err)
				}
			} else {
				if err == nil {
					t.Fatal("the file was imported")
				}
				if n := messages(t, c); n != before {
					t.Errorf("the stream holds %d messages, want %d: a refused file publishes nothing", n, before)
				}
			}
			if tc.read != "" && !errors.Is(err, sheet.ErrEmpty) {
				sheettest.Says(t, out, "REFUSED: "+path+", nothing was published for Thái Nguyên (province/19):", tc.read)
			}
			if len(tc.rows) > 0 {
				sheettest.Says(t, out, "REJECTED: "+path+", nothing was published for Thái Nguyên (province/19).")
			}
			sheettest.Says(t, out, tc.out...)
		})
	}
}

// unikey is what a refusal for a font encoding says to do.
func unikey(font string) string {
	return `Convert it to Unicode with Unikey: in Excel copy the cells, open Unikey's "Chuyển mã" (Ctrl+Shift+F6), convert the clipboard from ` +
		font + ` to Unicode, paste it back and give the cells a Unicode font such as Times New Roman. Then save the file as Excel Workbook (.xlsx) or "CSV UTF-8 (Comma delimited)" and import it again`
}
