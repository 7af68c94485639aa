package sheet_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/egovtrack/egovtrack/collectors/reporting"
	"github.com/egovtrack/egovtrack/collectors/sheet"
	"github.com/egovtrack/egovtrack/internal/event"
)

// The templates in templates/ are generated here, so that the committed files can be rebuilt and reviewed as code:
//
//	go test ./collectors/sheet -run TestTemplates -update
var update = flag.Bool("update", false, "rewrite the templates in templates/ instead of comparing them")

var (
	headersVI = []string{"Mã thủ tục", "Tên thủ tục", "Lĩnh vực", "Đủ điều kiện mức 4", "Mức độ"}
	headersEN = []string{"code", "name", "sector", "eligible", "level"}
)

// example is one row of the templates: a real kind of procedure of a province, as an officer would fill it.
type example struct {
	code, name, sector string
	eligible           bool
	level              int
}

var examples = []example{
	{"1.001193", "Đăng ký khai sinh", "Hộ tịch", true, 4},
	{"1.009994", "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ", "Hoạt động xây dựng", true, 3},
	// Certifying a copy needs the original on the desk: not eligible for full online service.
	{"2.000815", "Chứng thực bản sao từ bản chính giấy tờ, văn bản do cơ quan có thẩm quyền của Việt Nam cấp hoặc chứng nhận", "Chứng thực", false, 2},
}

func (e example) cells(yes, no string) []string {
	eligible := no
	if e.eligible {
		eligible = yes
	}
	return []string{e.code, e.name, e.sector, eligible, strconv.Itoa(e.level)}
}

// templateCSV writes the headers and examples as Excel writes CSV: CRLF, and a byte order mark when asked, without
// which Excel on Windows reads UTF-8 as the local code page.
func templateCSV(t *testing.T, bom bool, headers []string, yes, no string) []byte {
	t.Helper()
	var b bytes.Buffer
	if bom {
		b.WriteString("\ufeff")
	}
	w := csv.NewWriter(&b)
	w.UseCRLF = true
	w.Write(headers)
	for _, e := range examples {
		w.Write(e.cells(yes, no))
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// templateXLSX builds the workbook officers fill: the catalogue sheet first, with the code column as text (so that
// 1.000120 keeps its zeros), drop-down lists for eligibility and level, a frozen header row; and a sheet of
// instructions in Vietnamese.
func templateXLSX(t *testing.T) []byte {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	f := excelize.NewFile()
	defer f.Close()
	const data, guide, lastRow = "Danh mục", "Hướng dẫn", "3000"
	must(f.SetSheetName("Sheet1", data))
	_, err := f.NewSheet(guide)
	must(err)
	must(f.SetDocProps(&excelize.DocProperties{
		Title: "Danh mục thủ tục hành chính", Creator: "egovtrack", Language: "vi-VN",
		Created: "2021-07-01T00:00:00Z", Modified: "2021-07-01T00:00:00Z",
	}))

	text, err := f.NewStyle(&excelize.Style{NumFmt: 49}) // "@": what is typed stays text
	must(err)
	head, err := f.NewStyle(&excelize.Style{
		Font:      &excelize.Font{Bold: true},
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}},
		Alignment: &excelize.Alignment{Vertical: "center", WrapText: true},
	})
	must(err)
	must(f.SetColStyle(data, "A", text))
	for col, width := range map[string]float64{"A": 14, "B": 70, "C": 26, "D": 20, "E": 10} {
		must(f.SetColWidth(data, col, col, width))
	}
	must(f.SetSheetRow(data, "A1", &headersVI))
	must(f.SetCellStyle(data, "A1", "E1", head))
	for i, e := range examples {
		c := e.cells("Có", "Không")
		row := []any{c[0], c[1], c[2], c[3], e.level}
		cell, err := excelize.CoordinatesToCellName(1, i+2)
		must(err)
		must(f.SetSheetRow(data, cell, &row))
	}
	must(f.SetPanes(data, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}))
	for _, v := range []struct {
		col, prompt string
		list        []string
	}{
		{"D", "Có: thủ tục đủ điều kiện cung cấp trực tuyến toàn trình (mức độ 4). Không: phải có mặt trực tiếp.", []string{"Có", "Không"}},
		{"E", "Mức độ hiện tại: 1, 2, 3 hoặc 4 (Một phần = 3, Toàn trình = 4).", []string{"1", "2", "3", "4", "Một phần", "Toàn trình"}},
	} {
		dv := excelize.NewDataValidation(true)
		dv.Sqref = v.col + "2:" + v.col + lastRow
		must(dv.SetDropList(v.list))
		dv.SetInput(headersVI[v.col[0]-'A'], v.prompt)
		dv.SetError(excelize.DataValidationErrorStyleWarning, headersVI[v.col[0]-'A'], "Giá trị không có trong danh sách.")
		must(f.AddDataValidation(data, dv))
	}

	// One column name per row: the instructions never read as a second catalogue header.
	rows := [][]any{
		{"Cột", "Cách điền"},
		{"Mã thủ tục", "Mã của thủ tục trong Cơ sở dữ liệu quốc gia về thủ tục hành chính, ví dụ 1.001193. Cột này định dạng văn bản để giữ các chữ số 0 ở cuối."},
		{"Tên thủ tục", "Tên thủ tục như đã công bố."},
		{"Lĩnh vực", "Lĩnh vực của thủ tục, ví dụ Hộ tịch."},
		{"Đủ điều kiện mức 4", "Có nếu thủ tục đủ điều kiện cung cấp dịch vụ công trực tuyến toàn trình (mức độ 4), Không nếu không."},
		{"Mức độ", "Mức độ dịch vụ công trực tuyến hiện tại: 1, 2, 3 hoặc 4; cũng chấp nhận Một phần (= 3) và Toàn trình (= 4)."},
		nil,
		{"Lưu ý", "Mỗi lần báo cáo, gửi TOÀN BỘ danh mục thủ tục của đơn vị, mỗi thủ tục một dòng: thủ tục không có trong tệp được coi là đã bãi bỏ."},
		{"", "Xóa các dòng ví dụ trước khi điền. Có thể thêm cột khác (STT, Ghi chú): các cột đó không được đọc."},
	}
	for i, r := range rows {
		if r == nil {
			continue
		}
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		must(err)
		must(f.SetSheetRow(guide, cell, &r))
	}
	must(f.SetCellStyle(guide, "A1", "B1", head))
	must(f.SetColWidth(guide, "A", "A", 22))
	must(f.SetColWidth(guide, "B", "B", 110))
	f.SetActiveSheet(0)

	b, err := f.WriteToBuffer()
	must(err)
	return b.Bytes()
}

// The committed templates are what the code above generates, and each reads back, with no row error, as the
// example procedures.
func TestTemplates(t *testing.T) {
	templates := []struct {
		file      string
		build     func(t *testing.T) []byte
		format    sheet.Format
		headerRow int
	}{
		{"danh-muc-thu-tuc.csv", func(t *testing.T) []byte { return templateCSV(t, true, headersVI, "Có", "Không") }, sheet.CSV, 1},
		{"catalogue-template.csv", func(t *testing.T) []byte { return templateCSV(t, false, headersEN, "yes", "no") }, sheet.CSV, 1},
		{"danh-muc-thu-tuc.xlsx", templateXLSX, sheet.XLSX, 1},
	}
	var want []reporting.Procedure
	for _, e := range examples {
		want = append(want, reporting.Procedure{Code: e.code, Name: e.name, Sector: e.sector, Eligible: e.eligible, Level: event.Level(e.level)})
	}
	for _, tc := range templates {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("templates", tc.file)
			got := tc.build(t)
			if again := tc.build(t); !bytes.Equal(got, again) {
				t.Fatalf("generating %s twice gives different bytes: the committed file could not be reproduced", tc.file)
			}
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			committed, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./collectors/sheet -run TestTemplates -update)", err)
			}
			if !bytes.Equal(committed, got) {
				t.Errorf("%s differs from what the test generates: run go test ./collectors/sheet -run TestTemplates -update", path)
			}

			tab, err := sheet.ReadFile(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			if tab.Format != tc.format || tab.HeaderRow != tc.headerRow || len(tab.Ignored) != 0 {
				t.Errorf("read as %s, header on row %d, ignored %q", tab.Format, tab.HeaderRow, tab.Ignored)
			}
			procs, errs := reporting.ParseRows(tab.Rows)
			if len(errs) > 0 {
				t.Fatalf("row errors: %v", errs)
			}
			if !reflect.DeepEqual(procs, want) {
				t.Errorf("procedures %+v,\nwant %+v", procs, want)
			}
		})
	}
}
