package sheet_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"

	"github.com/egovtrack/egovtrack/collectors/reporting"
	"github.com/egovtrack/egovtrack/collectors/sheet"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var khaiSinh = reporting.Procedure{Code: "1.001193", Name: "Đăng ký khai sinh", Sector: "Hộ tịch", Eligible: true, Level: 4}

// Headers are found in Vietnamese or English, whatever the case, diacritics, Unicode form, byte order mark,
// separator, column order, remarks in parentheses and title rows above them.
func TestReadFindsTheHeader(t *testing.T) {
	const vi = "Mã thủ tục,Tên thủ tục,Lĩnh vực,Đủ điều kiện mức 4,Mức độ\n1.001193,Đăng ký khai sinh,Hộ tịch,Có,4\n"
	tests := []struct {
		name      string
		content   string
		headerRow int
		line      int // the data row's number
		ignored   []string
	}{
		{"vietnamese", vi, 1, 2, nil},
		{"without diacritics, upper case", "MA THU TUC,TEN THU TUC,LINH VUC,DU DIEU KIEN MUC 4,MUC DO\n1.001193,Đăng ký khai sinh,Hộ tịch,Co,4\n", 1, 2, nil},
		{"decomposed (NFD)", norm.NFD.String(vi), 1, 2, nil},
		{"english", "code,name,sector,eligible,level\n1.001193,Đăng ký khai sinh,Hộ tịch,yes,4\n", 1, 2, nil},
		{"english capitalised", "Code,Name,Sector,Eligible,Level\n1.001193,Đăng ký khai sinh,Hộ tịch,TRUE,full\n", 1, 2, nil},
		{"byte order mark", "\ufeff" + vi, 1, 2, nil},
		{"semicolons, commas inside names", "Mã thủ tục;Tên thủ tục;Lĩnh vực;Đủ điều kiện mức 4;Mức độ\r\n1.001193;Đăng ký khai sinh;Hộ tịch;Có;4\r\n", 1, 2, nil},
		{"tabs", "Mã thủ tục\tTên thủ tục\tLĩnh vực\tĐủ điều kiện mức 4\tMức độ\n1.001193\tĐăng ký khai sinh\tHộ tịch\tCó\t4\n", 1, 2, nil},
		{"Toàn trình and other aliases", "Mã TTHC,Tên TTHC,Lĩnh vực,Toàn trình,Mức độ DVC\n1.001193,Đăng ký khai sinh,Hộ tịch,x,Mức độ 4\n", 1, 2, nil},
		{"another order, extra columns", "Mức độ,STT,Lĩnh vực,Tên thủ tục,Mã thủ tục,Đủ điều kiện mức 4,Ghi chú\n4,1,Hộ tịch,Đăng ký khai sinh,1.001193,có,\n", 1, 2, []string{"STT", "Ghi chú"}},
		{"titles above, remarks in parentheses", "DANH MỤC THỦ TỤC HÀNH CHÍNH,,,,,\nTỉnh Thái Nguyên,,,,,\n,,,,,\nSTT,Mã thủ tục (*),Tên thủ tục (*),Lĩnh vực,Đủ điều kiện mức 4 (Có/Không),Mức độ (1-4)\n1,1.001193,Đăng ký khai sinh,Hộ tịch,Có,4\n", 4, 5, []string{"STT"}},
		{"semicolons with Excel's empty trailing cells", "DANH MỤC;;;;\nMã thủ tục;Tên thủ tục;Lĩnh vực;Đủ điều kiện mức 4;Mức độ\n;;;;\n1.001193;Đăng ký khai sinh;Hộ tịch;Có;4\n;;;;\n", 2, 4, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab, err := sheet.ReadFile(context.Background(), writeFile(t, "danh-muc.csv", tc.content))
			if err != nil {
				t.Fatal(err)
			}
			if tab.Format != sheet.CSV || tab.HeaderRow != tc.headerRow {
				t.Errorf("format %s, header row %d; want CSV, %d", tab.Format, tab.HeaderRow, tc.headerRow)
			}
			if !reflect.DeepEqual(tab.Ignored, tc.ignored) {
				t.Errorf("columns not read: %q, want %q", tab.Ignored, tc.ignored)
			}
			if len(tab.Rows) != 1 || tab.Rows[0].Line != tc.line {
				t.Fatalf("rows %+v, want one on row %d", tab.Rows, tc.line)
			}
			procs, errs := reporting.ParseRows(tab.Rows)
			if len(errs) > 0 {
				t.Fatalf("row errors: %v", errs)
			}
			if !reflect.DeepEqual(procs, []reporting.Procedure{khaiSinh}) {
				t.Errorf("procedures %+v, want %+v", procs, khaiSinh)
			}
		})
	}
}

// A header that lacks a column, or gives one twice, is refused with what is missing and what was found.
func TestReadRefusesAnUnknownHeader(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		missing []string
		twice   []string
		says    []string
	}{
		{"misspelt and unknown headers", "testdata/wrong-header.csv", []string{"sector", "eligible"}, nil,
			[]string{`lacks "Lĩnh vực" (sector), "Đủ điều kiện mức 4" (eligible)`, `found "Mã thủ tục", "Tên thủ tục", "Linh vuc thu tuc hanh chinh", "Trạng thái", "Mức độ"`, "row 1"}},
		{"a column twice", writeFile(t, "twice.csv", "Mã thủ tục,code,Tên thủ tục,Lĩnh vực,Đủ điều kiện mức 4,Mức độ\n"), nil, []string{"code"},
			[]string{`gives "Mã thủ tục" (code) more than once`}},
		{"no header at all", writeFile(t, "none.csv", "\n\nthủ tục,mức,x\n1.001193,4,y\n"), []string{"code", "name", "sector", "eligible", "level"}, nil,
			[]string{"no header row found: row 3", `found "thủ tục", "mức", "x"`, "Mã thủ tục, Tên thủ tục, Lĩnh vực, Đủ điều kiện mức 4, Mức độ", "code, name, sector, eligible, level"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sheet.ReadFile(context.Background(), tc.path)
			var he *sheet.HeaderError
			if !errors.As(err, &he) {
				t.Fatalf("err = %v, want a *HeaderError", err)
			}
			if !reflect.DeepEqual(he.Missing, tc.missing) || !reflect.DeepEqual(he.Twice, tc.twice) {
				t.Errorf("missing %q, twice %q; want %q, %q", he.Missing, he.Twice, tc.missing, tc.twice)
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
}

// Files that are not a CSV or an XLSX are refused with what to do instead (TestBadInput has the rest).
func TestReadRefusesOtherFormats(t *testing.T) {
	tests := []struct {
		name, content, says string
	}{
		{"single-byte text that is no Vietnamese in Windows-1258", "M\xe3 th\xf9 t\xf2c,T\xean\n", "reads as no Vietnamese in Unicode or in Windows-1258"},
		{"UTF-16 text", "\xff\xfeM\x00", "UTF-16"},
		{"Excel 97-2003", "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", ".xls"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sheet.ReadFile(context.Background(), writeFile(t, "f", tc.content))
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("err = %v, want one saying %q", err, tc.says)
			}
		})
	}
}

// Row numbers are the ones Excel shows: blank lines count, line breaks inside a quoted cell (Alt+Enter) do not.
func TestCSVRowNumbers(t *testing.T) {
	content := "Mã thủ tục,Tên thủ tục,Lĩnh vực,Đủ điều kiện mức 4,Mức độ\r\n" +
		"1.001193,\"Đăng ký\r\nkhai sinh\",Hộ tịch,Có,4\r\n" +
		"\r\n" +
		"1.001022,\"Đăng ký\nkết\nhôn\",Hộ tịch,Có,3\r\n" +
		"1.004227,Cấp Phiếu lý lịch tư pháp,Lý lịch tư pháp,Có,4" // no line break at the end
	tab, err := sheet.ReadFile(context.Background(), writeFile(t, "f.csv", content))
	if err != nil {
		t.Fatal(err)
	}
	var lines []int
	for _, r := range tab.Rows {
		lines = append(lines, r.Line)
	}
	if want := []int{2, 4, 5}; !reflect.DeepEqual(lines, want) {
		t.Errorf("row numbers %v, want %v", lines, want)
	}
	procs, errs := reporting.ParseRows(tab.Rows)
	if len(errs) > 0 || procs[0].Name != "Đăng ký khai sinh" || procs[1].Name != "Đăng ký kết hôn" {
		t.Errorf("procedures %+v, errors %v", procs, errs)
	}
}

// In a workbook, the sheet with the header is read (an instructions sheet is not), with Excel's row numbers.
func TestXLSXSheetAndRowNumbers(t *testing.T) {
	header := []any{"STT", "Mã thủ tục", "Tên thủ tục", "Lĩnh vực", "Đủ điều kiện mức 4", "Mức độ"}
	guide := worksheet{"Hướng dẫn", [][]any{{"Cột", "Cách điền"}, {"Mã thủ tục", "mã trong Cơ sở dữ liệu quốc gia"}, {"Mức độ", "1, 2, 3 hoặc 4"}}}
	catalogueSheet := worksheet{"Danh mục", [][]any{
		{"DANH MỤC THỦ TỤC HÀNH CHÍNH TỈNH THÁI NGUYÊN"},
		nil,
		header,
		{1, "1.001193", "Đăng ký khai sinh", "Hộ tịch", "Có", 4},
		{2},
		{3, "1.001022", "Đăng ký kết hôn", "Hộ tịch", true, 3},
		{4},
	}}
	path := writeXLSX(t, "danh-muc.xlsx", guide, catalogueSheet)
	tab, err := sheet.ReadFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if tab.Format != sheet.XLSX || tab.Sheet != "Danh mục" || tab.HeaderRow != 3 {
		t.Errorf("read %s sheet %q, header row %d; want XLSX, Danh mục, 3", tab.Format, tab.Sheet, tab.HeaderRow)
	}
	if len(tab.Rows) != 2 || tab.Rows[0].Line != 4 || tab.Rows[1].Line != 6 {
		t.Fatalf("rows %+v, want rows 4 and 6", tab.Rows)
	}
	procs, errs := reporting.ParseRows(tab.Rows)
	if len(errs) > 0 || len(procs) != 2 || procs[0] != khaiSinh || !procs[1].Eligible || procs[1].Level != 3 {
		t.Errorf("procedures %+v, errors %v", procs, errs)
	}

	// Two sheets with a catalogue: reading one would retire the other's procedures.
	two := writeXLSX(t, "two.xlsx", catalogueSheet, worksheet{"Danh mục 2", [][]any{header}})
	if _, err := sheet.ReadFile(context.Background(), two); err == nil || !strings.Contains(err.Error(), `"Danh mục", "Danh mục 2"`) {
		t.Errorf("two catalogue sheets: err = %v", err)
	}
}

// The spellings officers use are read (by reporting.ParseRows and event.ParseLevel, as every collector reads them);
// wrong values keep what the officer wrote.
func TestParseVietnameseSpellings(t *testing.T) {
	row := func(eligible, level string) reporting.Row {
		return reporting.Row{Line: 2, Code: "1.001193", Name: "Đăng ký khai sinh", Sector: "Hộ tịch", Eligible: eligible, Level: level}
	}
	tests := []struct {
		eligible, level string
		want            reporting.Procedure
		bad             *reporting.RowError
	}{
		{"Có", "Mức độ 4", khaiSinh, nil},
		{"co", "muc do 4", khaiSinh, nil},
		{"Đủ điều kiện", "Toan trinh", khaiSinh, nil},
		{"Khong du dieu kien", "MỨC ĐỘ 2", reporting.Procedure{Code: "1.001193", Name: "Đăng ký khai sinh", Sector: "Hộ tịch", Level: 2}, nil},
		{"khong", "Mot phan", reporting.Procedure{Code: "1.001193", Name: "Đăng ký khai sinh", Sector: "Hộ tịch", Level: 3}, nil},
		{"Có", "Mức độ 5", reporting.Procedure{}, &reporting.RowError{Line: 2, Column: reporting.ColLevel, Value: "Mức độ 5"}},
		{"", "4", reporting.Procedure{}, &reporting.RowError{Line: 2, Column: reporting.ColEligible, Value: ""}},
	}
	for _, tc := range tests {
		t.Run(tc.eligible+"/"+tc.level, func(t *testing.T) {
			procs, errs := reporting.ParseRows([]reporting.Row{row(tc.eligible, tc.level)})
			if tc.bad == nil {
				if len(errs) > 0 || len(procs) != 1 || procs[0] != tc.want {
					t.Errorf("got %+v, %v; want %+v", procs, errs, tc.want)
				}
				return
			}
			if len(errs) != 1 || errs[0].Line != tc.bad.Line || errs[0].Column != tc.bad.Column || errs[0].Value != tc.bad.Value {
				t.Errorf("errors %+v, want one on %s with value %q", errs, tc.bad.Column, tc.bad.Value)
			}
		})
	}
}

// Vietnamese is read as written, in UTF-8 and in Windows-1258 alike, whatever its names hold: abbreviations with Đ,
// loanwords, vowels that look like VNI's marks, punctuation and symbols. None of it is taken for a font encoding.
func TestReadVietnameseInEveryEncoding(t *testing.T) {
	names := []string{
		"Đăng ký khai sinh, kết hôn; cấp Phiếu lý lịch tư pháp",
		"Theo Nghị định 42/2022/NĐ-CP và Quyết định số 15/QĐ-UBND của HĐND tỉnh",
		"Hoà giải, khoá sổ, thuở trước, khuỷu tay, quý, người, ngõ, võ thuật, Việt Nam",
		"Mẫu «01» – “Tờ khai” … phí 50.000₫, 30°C, 1×2",
		"Cấp giấy phép kinh doanh karaoke qua ứng dụng VNeID",
		"Chứng thực bản sao từ bản chính giấy tờ, văn bản do cơ quan có thẩm quyền của Việt Nam cấp hoặc chứng nhận",
	}
	var b strings.Builder
	b.WriteString("Mã thủ tục,Tên thủ tục,Lĩnh vực,Đủ điều kiện mức 4,Mức độ\r\n")
	for i, n := range names {
		fmt.Fprintf(&b, "1.00100%d,\"%s\",Hộ tịch,Không,Toàn trình\r\n", i, strings.ReplaceAll(n, `"`, `""`))
	}
	for _, enc := range []struct {
		name string
		file []byte
		want sheet.Encoding
	}{
		{"UTF-8", []byte(b.String()), sheet.UTF8},
		{"UTF-8, decomposed", []byte(norm.NFD.String(b.String())), sheet.UTF8},
		{"Windows-1258", windows1258(t, b.String()), sheet.Windows1258},
	} {
		t.Run(enc.name, func(t *testing.T) {
			tab, err := sheet.Read(context.Background(), bytes.NewReader(enc.file))
			if err != nil {
				t.Fatal(err)
			}
			if tab.Encoding != enc.want {
				t.Errorf("read as %s, want %s", tab.Encoding, enc.want)
			}
			procs, bad := reporting.ParseRows(tab.Rows)
			if len(bad) > 0 || len(procs) != len(names) {
				t.Fatalf("%d procedures, errors %v", len(procs), bad)
			}
			for i, p := range procs {
				if p.Name != names[i] {
					t.Errorf("name %q, want %q", p.Name, names[i])
				}
			}
		})
	}
}
