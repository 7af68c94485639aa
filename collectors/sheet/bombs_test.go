package sheet_test

import (
	"archive/zip"
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// bomb is a small file that makes a careless reader take gigabytes of memory: the ones of issue 13, and their
// cousins. file writes it and returns its path; want is what its refusal says.
type bomb struct {
	name string
	file func(t *testing.T) string
	want string
}

// The header row of a catalogue, as cells of a worksheet: every bomb has one, so that it reaches as far into the
// reader as a catalogue would.
func headerCells(row int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<row r="%d">`, row)
	for i, h := range headersVI {
		fmt.Fprintf(&b, `<c r="%c%d" t="inlineStr"><is><t>%s</t></is></c>`, 'A'+i, row, h)
	}
	b.WriteString(`</row>`)
	return b.String()
}

// procedureCells is row n of a catalogue, its cells without references, as some programs write them.
func procedureCells(n int) string {
	return fmt.Sprintf(`<row r="%d"><c t="inlineStr"><is><t>1.%06d</t></is></c><c t="inlineStr"><is><t>Thủ tục %d</t></is></c>`+
		`<c t="inlineStr"><is><t>Hộ tịch</t></is></c><c t="inlineStr"><is><t>Có</t></is></c><c><v>4</v></c></row>`, n, n%1000000, n)
}

// writeBook writes b, deflated, in the test's directory.
func writeBook(t *testing.T, name string, b book) string {
	t.Helper()
	b.method = zip.Deflate
	return writeText(t, name, func(w io.Writer) { b.write(t, w) })
}

// writeText writes a file of the test's directory with write.
func writeText(t *testing.T, name string, write func(w io.Writer)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	write(w)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return path
}

func repeat(w io.Writer, n int, s string) {
	for range n {
		io.WriteString(w, s)
	}
}

// sheetOf is one worksheet "Danh mục" holding the header on row 1 and then what rows writes.
func sheetOf(rows func(w io.Writer)) []bookSheet {
	return []bookSheet{{"Danh mục", func(w io.Writer) {
		io.WriteString(w, "<sheetData>"+headerCells(1))
		rows(w)
		io.WriteString(w, "</sheetData>")
	}}}
}

// sharedTexts is what sst writes: n shared texts, each the letter a.
func sharedTexts(n int) func(io.Writer) {
	return func(w io.Writer) { repeat(w, n, `<si><t>a</t></si>`) }
}

// oneCellRow is a row with one cell that shows the shared text i.
func oneCellRow(row, i int) string {
	return fmt.Sprintf(`<row r="%d"><c r="B%d" t="s"><v>%d</v></c></row>`, row, row, i)
}

// mergedRanges is a catalogue of one procedure and n merged ranges, one a row, right of the catalogue.
func mergedRanges(n int) func(t *testing.T) string {
	return func(t *testing.T) string {
		return writeBook(t, "merges.xlsx", book{sheets: []bookSheet{{"Danh mục", func(w io.Writer) {
			io.WriteString(w, "<sheetData>"+headerCells(1)+procedureCells(2)+"</sheetData><mergeCells>")
			for r := range n {
				fmt.Fprintf(w, `<mergeCell ref="G%d:H%d"/>`, r+3, r+3)
			}
			io.WriteString(w, "</mergeCells>")
		}}}})
	}
}

var xlsxBombs = []bomb{
	{
		name: "one cell in column XFD on 1,000 rows (issue 13: 4.1 GB)",
		file: func(t *testing.T) string {
			return writeBook(t, "xfd.xlsx", book{sheets: sheetOf(func(w io.Writer) {
				for r := 2; r <= 1001; r++ {
					fmt.Fprintf(w, `<row r="%d"><c r="XFD%d" t="inlineStr"><is><t>x</t></is></c></row>`, r, r)
				}
			})})
		},
		want: `sheet "Danh mục" has a value in column XFD (row 2), beyond the 256 columns (A to IV) a catalogue may use`,
	},
	{
		name: "a million rows of procedures (issue 13: out of memory in GetMergeCells)",
		file: func(t *testing.T) string {
			return writeBook(t, "million.xlsx", book{sheets: sheetOf(func(w io.Writer) {
				for r := 2; r <= 1_000_001; r++ {
					io.WriteString(w, procedureCells(r))
				}
			})})
		},
		want: "the workbook unzips to more than 32 MiB",
	},
	{
		name: "25,000 rows of procedures",
		file: func(t *testing.T) string {
			return writeBook(t, "rows.xlsx", book{sheets: sheetOf(func(w io.Writer) {
				for r := 2; r <= 25_000; r++ {
					fmt.Fprintf(w, `<row r="%d"><c r="A%d"><v>%d</v></c></row>`, r, r, r)
				}
			})})
		},
		want: `sheet "Danh mục" has values down to row 20,001 or further, beyond the 20,000 rows a catalogue may take`,
	},
	{
		name: "4,000 rows of 255 columns",
		file: func(t *testing.T) string {
			return writeBook(t, "cells.xlsx", book{sheets: sheetOf(func(w io.Writer) {
				for r := 2; r <= 4001; r++ {
					fmt.Fprintf(w, `<row r="%d">`, r)
					repeat(w, 255, `<c><v>1</v></c>`)
					io.WriteString(w, `</row>`)
				}
			})})
		},
		want: "the workbook holds values over more than 1,000,000 cells",
	},
	{
		name: "two million shared texts (issue 13: out of memory)",
		file: func(t *testing.T) string {
			return writeBook(t, "sst-many.xlsx", book{sst: sharedTexts(2_000_000), sheets: sheetOf(func(w io.Writer) {
				io.WriteString(w, oneCellRow(2, 1_999_999))
			})})
		},
		want: "the workbook unzips to more than 32 MiB",
	},
	{
		name: "300,000 shared texts",
		file: func(t *testing.T) string {
			return writeBook(t, "sst-elements.xlsx", book{sst: sharedTexts(300_000), sheets: sheetOf(func(w io.Writer) {
				io.WriteString(w, oneCellRow(2, 299_999))
			})})
		},
		want: "the workbook holds more than 250,000 XML elements in its shared texts, styles and other parts read whole (the workbook's table of shared texts passed it)",
	},
	{
		name: "one shared text of 200 MB",
		file: func(t *testing.T) string {
			return writeBook(t, "sst-long.xlsx", book{
				sst: func(w io.Writer) {
					io.WriteString(w, `<si><t>`)
					repeat(w, 200_000, strings.Repeat("a", 1000))
					io.WriteString(w, `</t></si>`)
				},
				sheets: sheetOf(func(w io.Writer) { io.WriteString(w, oneCellRow(2, 0)) }),
			})
		},
		want: "the workbook unzips to more than 32 MiB",
	},
	{
		name: "one shared text of 2 MB",
		file: func(t *testing.T) string {
			return writeBook(t, "sst-token.xlsx", book{
				sst:    text(`<si><t>` + strings.Repeat("a", 2<<20) + `</t></si>`),
				sheets: sheetOf(func(w io.Writer) { io.WriteString(w, oneCellRow(2, 0)) }),
			})
		},
		want: "the workbook's table of shared texts holds a tag or a text of more than 1 MiB",
	},
	{
		name: "one shared text of 40,000 letters in rich text runs",
		file: func(t *testing.T) string {
			return writeBook(t, "sst-runs.xlsx", book{
				sst:    text(`<si>` + strings.Repeat(`<r><t>`+strings.Repeat("a", 1000)+`</t></r>`, 40) + `</si>`),
				sheets: sheetOf(func(w io.Writer) { io.WriteString(w, oneCellRow(2, 0)) }),
			})
		},
		want: "the workbook's table of shared texts holds a text of 40,000 characters (text 1), more than the 32,767 a cell may hold",
	},
	{
		name: "one shared text of 32,000 letters in rich text, in 100,000 cells",
		file: func(t *testing.T) string {
			return writeBook(t, "sst-copied.xlsx", book{
				sst: text(`<si><r><t>` + strings.Repeat("a", 16000) + `</t></r><r><t>` + strings.Repeat("b", 16000) + `</t></r></si>`),
				sheets: sheetOf(func(w io.Writer) {
					for r := 2; r <= 20_001; r++ {
						fmt.Fprintf(w, `<row r="%d">`, r)
						for c := range 5 {
							fmt.Fprintf(w, `<c r="%c%d" t="s"><v>0</v></c>`, 'A'+c, r)
						}
						io.WriteString(w, `</row>`)
					}
				}),
			})
		},
		want: "the workbook holds more than 16 MiB of text in its cells",
	},
	{
		name: "a million merged ranges",
		file: mergedRanges(1_000_000),
		want: "the workbook unzips to more than 32 MiB",
	},
	{
		name: "30,000 merged ranges",
		file: mergedRanges(30_000),
		want: "the workbook has more than 20,000 ranges of merged cells",
	},
	{
		name: "a million styles",
		file: func(t *testing.T) string {
			return writeBook(t, "styles.xlsx", book{
				styles: func(w io.Writer) {
					io.WriteString(w, `<cellXfs>`)
					repeat(w, 1_000_000, `<xf numFmtId="0"/>`)
					io.WriteString(w, `</cellXfs>`)
				},
				sheets: sheetOf(func(w io.Writer) { io.WriteString(w, procedureCells(2)) }),
			})
		},
		want: "the workbook holds more than 250,000 XML elements in its shared texts, styles and other parts read whole (the workbook's part xl/styles.xml passed it)",
	},
	{
		name: "a number format of a megabyte, parsed for every cell",
		file: func(t *testing.T) string {
			return writeBook(t, "numfmt.xlsx", book{
				styles: text(`<numFmts count="1"><numFmt numFmtId="164" formatCode="` + strings.Repeat("0", 1000_000) + `"/></numFmts>` +
					`<cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="164" applyNumberFormat="1"/></cellXfs>`),
				sheets: sheetOf(func(w io.Writer) {
					for r := 2; r <= 10_001; r++ {
						fmt.Fprintf(w, `<row r="%d"><c r="A%d" s="1"><v>1</v></c></row>`, r, r)
					}
				}),
			})
		},
		want: "the workbook's styles hold a number format of 1,000,000 characters, more than the 255 Excel allows",
	},
	{
		name: "elements nested ten million deep",
		file: func(t *testing.T) string {
			return writeBook(t, "deep.xlsx", book{sheets: []bookSheet{{"Danh mục", func(w io.Writer) {
				io.WriteString(w, "<sheetData>"+headerCells(1)+"</sheetData>")
				repeat(w, 10_000_000, "<x>")
			}}}})
		},
		want: `sheet "Danh mục" nests XML elements more than 64 deep`,
	},
	{
		name: "a cell with 300,000 attributes",
		file: func(t *testing.T) string {
			return writeBook(t, "attributes.xlsx", book{sheets: sheetOf(func(w io.Writer) {
				io.WriteString(w, `<row r="2"><c r="A2"`)
				for i := range 300_000 {
					fmt.Fprintf(w, ` a%d=""`, i)
				}
				io.WriteString(w, `/></row>`)
			})})
		},
		want: `sheet "Danh mục" holds a tag or a text of more than 1 MiB`,
	},
	{
		name: "a zip of 300,000 files",
		file: func(t *testing.T) string {
			b := book{sheets: sheetOf(func(w io.Writer) { io.WriteString(w, procedureCells(2)) })}
			for i := range 300_000 {
				b.extra = append(b.extra, part{strconv.Itoa(i), text("")})
			}
			return writeBook(t, "entries.xlsx", b)
		},
		want: "the workbook is an archive of 300,005 files or more, more than the 10,000 a workbook holds",
	},
}

// csvRows writes a CSV catalogue of n procedures with Vietnamese names.
func csvRows(n int) func(w io.Writer) {
	return func(w io.Writer) {
		io.WriteString(w, strings.Join(headersVI, ",")+"\r\n")
		for i := range n {
			fmt.Fprintf(w, "1.%06d,Cấp giấy phép xây dựng số %d,Hoạt động xây dựng,Có,4\r\n", i, i)
		}
	}
}

// repeated is a text file of head, then n times chunk.
func repeated(name, head string, n int, chunk string) func(t *testing.T) string {
	return func(t *testing.T) string {
		return writeText(t, name, func(w io.Writer) {
			io.WriteString(w, head)
			repeat(w, n, chunk)
		})
	}
}

var csvBombs = []bomb{
	{
		name: "a CSV of 30 MB: 363,861 procedures (issue 13: all published)",
		file: func(t *testing.T) string { return writeText(t, "big.csv", csvRows(363_861)) },
		want: "the file has 363,863 lines and 1,455,448 commas: up to 1,819,311 cells, more than the 1,000,000 a catalogue may take",
	},
	{
		name: "a CSV of 25,000 procedures",
		file: func(t *testing.T) string { return writeText(t, "rows.csv", csvRows(25_000)) },
		want: "the file has more than 20,000 rows with values (row 20,001 is one more)",
	},
	{
		name: "a CSV of 12,000 procedures",
		file: func(t *testing.T) string { return writeText(t, "procedures.csv", csvRows(12_000)) },
		want: "the file has 12,000 rows of procedures under the header (row 1), more than the 10,000 a catalogue may hold",
	},
	{
		name: "a line of 100 MB without a line break",
		file: repeated("line.csv", "", 100_000, strings.Repeat("a", 1000)),
		want: "the file is larger than 32 MiB",
	},
	{
		name: "a line of 31 MB of commas",
		file: repeated("commas.csv", strings.Join(headersVI, ",")+"\r\n", 31_000, strings.Repeat(",", 1000)),
		want: "the file has 2 lines and 31,000,004 commas: up to 31,000,006 cells",
	},
	{
		name: "one record of a million quoted line breaks",
		file: repeated("quoted.csv", strings.Join(headersVI, ",")+"\r\n", 1_000_000, "\"\n\","),
		want: "the file has 1,000,002 lines and 1,000,004 commas: up to 2,000,006 cells",
	},
	{
		name: "a value in column 300",
		file: func(t *testing.T) string {
			return writeText(t, "wide.csv", func(w io.Writer) {
				io.WriteString(w, strings.Join(headersVI, ",")+"\r\n1.001193,Đăng ký khai sinh,Hộ tịch,Có,4"+strings.Repeat(",", 295)+"x\r\n")
			})
		},
		want: "the file has a value beyond column 256 (row 2)",
	},
	{
		name: "30 million line breaks in Windows-1258",
		file: repeated("lines.csv", "M\xe3 th\xf9 t\xf5c\r\n", 30_000, strings.Repeat("\n", 1000)),
		want: "the file has 30,000,002 lines, more than the 1,048,576 rows a spreadsheet has",
	},
	{
		name: "31 MB of Windows-1258 letters, 63 MB in UTF-8",
		file: repeated("legacy.csv", "M\xe3 th\xf9 t\xf5c\r\n", 31_000, strings.Repeat("\xe3", 1000)),
		want: "the file takes 59 MiB as UTF-8, more than the 32 MiB a catalogue's file may take",
	},
}

// Every bomb is refused, saying why, before the reader's memory passes memoryBound.
func TestBombsAreRefusedInBoundedMemory(t *testing.T) {
	for _, b := range append(xlsxBombs, csvBombs...) {
		t.Run(b.name, func(t *testing.T) {
			path := b.file(t)
			if fi, err := os.Stat(path); err == nil {
				t.Logf("%s: %d bytes", filepath.Base(path), fi.Size())
			}
			res, _ := readBounded(t, path)
			if res.Read {
				t.Fatalf("read as a table of %d rows, want a refusal", res.Rows)
			}
			if !strings.Contains(res.Error, b.want) {
				t.Errorf("refused with\n\t%.1000s\nwant it to say\n\t%s", res.Error, b.want)
			}
		})
	}
}

// Parts of the names of real procedures, to make catalogues as large as a unit's.
var (
	actions = []string{"Cấp", "Cấp lại", "Cấp đổi", "Gia hạn", "Điều chỉnh", "Thu hồi", "Đăng ký", "Thẩm định", "Phê duyệt", "Công nhận"}
	objects = []string{"giấy phép xây dựng", "giấy chứng nhận quyền sử dụng đất", "giấy phép kinh doanh vận tải bằng xe ô tô",
		"chứng chỉ hành nghề dược", "giấy phép lao động cho người lao động nước ngoài", "giấy chứng nhận đủ điều kiện an toàn thực phẩm",
		"giấy phép hoạt động khám bệnh, chữa bệnh", "giấy chứng nhận đăng ký hộ kinh doanh", "giấy phép khai thác nước mặt", "bản sao trích lục hộ tịch"}
	qualifiers = []string{"", " đối với nhà ở riêng lẻ", " cho tổ chức", " (cấp huyện)", " cấp xã", " trên địa bàn tỉnh", " theo yêu cầu"}
	sectors    = []string{"Hộ tịch", "Hoạt động xây dựng", "Đất đai", "Đường bộ", "Dược phẩm", "Việc làm", "An toàn thực phẩm", "Khám bệnh, chữa bệnh", "Tài nguyên nước", "Thành lập và hoạt động của hộ kinh doanh"}
	levels     = []string{"2", "3", "4", "Toàn trình", "Một phần"}
)

// catalogueRows is a catalogue of n procedures as an officer fills the template, with the STT and Ghi chú columns
// Vietnamese catalogues carry and a title above the header: row i is the procedure's number, name and so on.
func catalogueRows(n int) [][]string {
	rows := [][]string{
		{"DANH MỤC THỦ TỤC HÀNH CHÍNH THUỘC THẨM QUYỀN GIẢI QUYẾT CỦA ỦY BAN NHÂN DÂN TỈNH THÁI NGUYÊN"},
		append(append([]string{"STT"}, headersVI...), "Ghi chú"),
	}
	for i := range n {
		name := actions[i%len(actions)] + " " + objects[i/len(actions)%len(objects)] + qualifiers[i%len(qualifiers)]
		eligible := "Có"
		if i%5 == 0 {
			eligible = "Không"
		}
		note := ""
		if i%7 == 0 {
			note = "Quyết định số 1234/QĐ-UBND ngày 15/6/2021"
		}
		rows = append(rows, []string{strconv.Itoa(i + 1), fmt.Sprintf("%d.%06d", 1+i%2, i), name, sectors[i%len(sectors)], eligible, levels[i%len(levels)], note})
	}
	return rows
}

func catalogueXLSXFile(t *testing.T, n int) string {
	t.Helper()
	var rows [][]any
	for _, r := range catalogueRows(n) {
		row := make([]any, len(r))
		for i, c := range r {
			row[i] = c
		}
		rows = append(rows, row)
	}
	return writeXLSX(t, "danh-muc.xlsx", worksheet{"Danh mục", rows}, worksheet{"Hướng dẫn", [][]any{{"Cột", "Cách điền"}, {"Mức độ", "1, 2, 3, 4, Một phần hoặc Toàn trình"}}})
}

func catalogueCSVFile(t *testing.T, n int) string {
	t.Helper()
	return writeText(t, "danh-muc.csv", func(w io.Writer) {
		io.WriteString(w, "\uFEFF")
		for _, r := range catalogueRows(n) {
			for i, c := range r {
				if i > 0 {
					io.WriteString(w, ",")
				}
				if strings.ContainsAny(c, ",\"") {
					c = `"` + strings.ReplaceAll(c, `"`, `""`) + `"`
				}
				io.WriteString(w, c)
			}
			io.WriteString(w, "\r\n")
		}
	})
}

// richTextXLSX is a catalogue of n procedures whose names and sectors are shared texts in rich text, as Excel keeps
// text pasted from Word: each name two runs, each run its font (about 15 XML elements a name).
func richTextXLSX(t *testing.T, n int) string {
	t.Helper()
	const font = `<rPr><sz val="12"/><color theme="1"/><rFont val="Times New Roman"/><family val="1"/></rPr>`
	rows := catalogueRows(n)[1:] // from the header
	return writeBook(t, "rich.xlsx", book{
		sst: func(w io.Writer) {
			for _, r := range rows[1:] {
				action, rest, _ := strings.Cut(r[2], " ")
				fmt.Fprintf(w, `<si><r><rPr><b/><sz val="12"/><rFont val="Times New Roman"/><family val="1"/></rPr><t>%s</t></r><r>%s<t xml:space="preserve"> %s</t></r></si>`, action, font, rest)
				fmt.Fprintf(w, `<si><r>%s<t>%s</t></r></si>`, font, r[3])
			}
		},
		sheets: []bookSheet{{"Danh mục", func(w io.Writer) {
			io.WriteString(w, "<sheetData>"+headerCells(1))
			for i, r := range rows[1:] {
				fmt.Fprintf(w, `<row r="%d"><c r="A%d" t="inlineStr"><is><t>%s</t></is></c><c r="B%d" t="s"><v>%d</v></c><c r="C%d" t="s"><v>%d</v></c>`+
					`<c r="D%d" t="inlineStr"><is><t>%s</t></is></c><c r="E%d" t="inlineStr"><is><t>%s</t></is></c></row>`,
					i+2, i+2, r[1], i+2, 2*i, i+2, 2*i+1, i+2, r[4], i+2, r[5])
			}
			io.WriteString(w, "</sheetData>")
		}}},
	})
}

// Catalogues as large as a unit's may be are read, whole and valid, within the same memory bound as the bombs: the
// templates, 2,000 procedures (the largest provinces' catalogues) and 10,000 (the most a catalogue may hold), and a
// catalogue formatted far below its last row.
func TestLargeCataloguesAreReadInBoundedMemory(t *testing.T) {
	tests := []struct {
		name string
		file func(t *testing.T) string
		rows int
	}{
		{"the XLSX template", func(*testing.T) string { return "templates/danh-muc-thu-tuc.xlsx" }, 3},
		{"the CSV template", func(*testing.T) string { return "templates/danh-muc-thu-tuc.csv" }, 3},
		{"2,000 procedures, XLSX", func(t *testing.T) string { return catalogueXLSXFile(t, 2000) }, 2000},
		{"2,000 procedures, CSV UTF-8", func(t *testing.T) string { return catalogueCSVFile(t, 2000) }, 2000},
		{"2,000 procedures, names in rich text as pasted from Word", func(t *testing.T) string { return richTextXLSX(t, 2000) }, 2000},
		{"10,000 procedures, XLSX", func(t *testing.T) string { return catalogueXLSXFile(t, 10_000) }, 10_000},
		{"10,000 procedures, CSV UTF-8", func(t *testing.T) string { return catalogueCSVFile(t, 10_000) }, 10_000},
		{"2 procedures and a million empty formatted cells below", func(t *testing.T) string {
			return writeBook(t, "formatted.xlsx", book{sheets: sheetOf(func(w io.Writer) {
				io.WriteString(w, procedureCells(2)+procedureCells(3))
				for r := 4; r <= 100_003; r++ {
					fmt.Fprintf(w, `<row r="%d">`, r)
					for c := range 10 {
						fmt.Fprintf(w, `<c r="%c%d" s="1"/>`, 'A'+c, r)
					}
					io.WriteString(w, `</row>`)
				}
			})})
		}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.file(t)
			res, _ := readBounded(t, path)
			if !res.Read || res.Rows != tc.rows {
				t.Fatalf("read %v with %d rows (%s), want %d rows", res.Read, res.Rows, res.Error, tc.rows)
			}
		})
	}
}
