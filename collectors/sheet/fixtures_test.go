package sheet_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"

	"github.com/egovtrack/egovtrack/collectors/sheet/sheettest"
)

// catalogueCSV is a small catalogue in UTF-8, as the officer sees it in Excel.
const catalogueCSV = "Mã thủ tục,Tên thủ tục,Lĩnh vực,Đủ điều kiện mức 4,Mức độ\r\n" +
	"1.001193,Đăng ký khai sinh,Hộ tịch,Có,4\r\n" +
	"1.001022,Đăng ký kết hôn,Hộ tịch,Có,Một phần\r\n" +
	"2.000815,Chứng thực bản sao từ bản chính giấy tờ,Chứng thực,Không,2\r\n"

// windows1258 is sheettest.Windows1258, failing the test for a letter the code page cannot write.
func windows1258(t *testing.T, s string) []byte {
	t.Helper()
	b, err := sheettest.Windows1258(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The same catalogue typed with the font encodings of the 1990s, byte by byte: TCVN3 (ABC, the .Vn fonts) gives
// each Vietnamese letter one byte ("Đăng" is A7 A8 "ng"); VNI (the VNI- fonts) writes the letter without its marks
// and then a byte for the marks ("Đăng" is D1 "a" EA "ng").
const (
	catalogueTCVN3 = "M\xb7 th\xf1 t\xf4c,T\xaan th\xf1 t\xf4c,L\xdcnh v\xf9c,\xa7\xf1 \xaei\xd2u ki\xd6n m\xf8c 4,M\xf8c \xae\xe9\r\n" +
		"1.001193,\xa7\xa8ng k\xfd khai sinh,H\xe9 t\xdech,C\xe3,4\r\n"
	catalogueVNI = "Ma\xf5 thu\xfb tu\xefc,Te\xe2n thu\xfb tu\xefc,L\xf3nh v\xf6\xefc,\xd1u\xfb \xf1ie\xe0u kie\xe4n m\xf6\xf9c 4,M\xf6\xf9c \xf1o\xe4\r\n" +
		"1.001193,\xd1a\xeang ky\xf9 khai sinh,Ho\xe4 t\xf2ch,Co\xf9,4\r\n"
)

// latin1 is text in a font encoding as Excel keeps it in a workbook, or writes it as CSV UTF-8: each byte is the
// Latin-1 letter the font draws as a Vietnamese one.
func latin1(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteRune(charmap.Windows1252.DecodeByte(s[i]))
	}
	return b.String()
}

// xsheet is one worksheet of a workbook written by hand, as Excel writes it: rows is the XML inside <sheetData>,
// merges the references of merged cells.
type xsheet struct {
	name   string
	rows   string
	merges []string
}

// xrow writes a row of cells from column A: a cell is a string, or a cell's XML already (starting with "<c").
func xrow(n int, cells ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<row r="%d">`, n)
	for i, c := range cells {
		ref := fmt.Sprintf("%c%d", 'A'+i, n)
		switch {
		case c == "":
		case strings.HasPrefix(c, "<c"):
			b.WriteString(strings.Replace(c, "<c", `<c r="`+ref+`"`, 1))
		default:
			var esc bytes.Buffer
			if err := xml.EscapeText(&esc, []byte(c)); err != nil {
				panic(err)
			}
			fmt.Fprintf(&b, `<c r="%s" t="inlineStr"><is><t>%s</t></is></c>`, ref, esc.String())
		}
	}
	b.WriteString("</row>")
	return b.String()
}

// formula is a cell holding a formula and, unless value is nil, the value Excel computed; typ is the cell's t
// attribute ("str" for a string result, "" for a number).
func formula(f, typ string, value *string) string {
	c := "<c"
	if typ != "" {
		c += ` t="` + typ + `"`
	}
	c += "><f>" + f + "</f>"
	if value != nil {
		c += "<v>" + *value + "</v>"
	}
	return c + "</c>"
}

func ptr(s string) *string { return &s }

// xlsx writes a workbook of the sheets, with no styles and no shared strings: the least Excel opens.
func xlsx(t testing.TB, sheets ...xsheet) []byte {
	t.Helper()
	b := book{method: zip.Store}
	for _, s := range sheets {
		var merges string
		if len(s.merges) > 0 {
			merges = fmt.Sprintf(`<mergeCells count="%d">`, len(s.merges))
			for _, m := range s.merges {
				merges += `<mergeCell ref="` + m + `"/>`
			}
			merges += "</mergeCells>"
		}
		b.sheets = append(b.sheets, bookSheet{s.name, text("<sheetData>" + s.rows + "</sheetData>" + merges)})
	}
	var buf bytes.Buffer
	b.write(t, &buf)
	return buf.Bytes()
}

// book is a workbook written part by part, so that a test can make parts far larger than it holds in memory.
type book struct {
	sheets []bookSheet
	// sst writes the items (<si>) of the shared strings, styles what <styleSheet> holds; nil leaves the part out.
	sst, styles func(w io.Writer)
	// extra are more files of the archive.
	extra  []part
	method uint16 // zip.Store or zip.Deflate
}

// bookSheet is a worksheet: its name, and what <worksheet> holds (<sheetData>, then <mergeCells> …).
type bookSheet struct {
	name  string
	write func(w io.Writer)
}

// part is one file of a workbook's zip archive.
type part struct {
	name  string
	write func(w io.Writer)
}

func text(s string) func(io.Writer) { return func(w io.Writer) { io.WriteString(w, s) } }

const xmlDecl = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`

// spreadsheetML writes a part whose root element is root, in SpreadsheetML's namespace, holding what content writes.
func spreadsheetML(root string, content func(io.Writer)) func(io.Writer) {
	return func(w io.Writer) {
		io.WriteString(w, xmlDecl+`<`+root+` xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">`)
		content(w)
		io.WriteString(w, `</`+root+`>`)
	}
}

func (b book) write(t testing.TB, out io.Writer) {
	t.Helper()
	z := zip.NewWriter(out)
	add := func(p part) {
		w, err := z.CreateHeader(&zip.FileHeader{Name: p.name, Method: b.method})
		if err != nil {
			t.Fatal(err)
		}
		bw := bufio.NewWriter(w)
		p.write(bw)
		if err := bw.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	var overrides, entries, rels strings.Builder
	for i, s := range b.sheets {
		n := i + 1
		fmt.Fprintf(&overrides, `<Override PartName="/xl/worksheets/sheet%d.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>`, n)
		fmt.Fprintf(&entries, `<sheet name="%s" sheetId="%d" r:id="rId%d"/>`, s.name, n, n)
		fmt.Fprintf(&rels, `<Relationship Id="rId%d" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet%d.xml"/>`, n, n)
		add(part{fmt.Sprintf("xl/worksheets/sheet%d.xml", n), spreadsheetML("worksheet", s.write)})
	}
	// The workbook's other parts, when the test gives their content: the shared texts and the styles.
	for _, p := range []struct {
		write             func(io.Writer)
		name, root, rel   string
		contentType, rtyp string
	}{
		{b.sst, "sharedStrings.xml", "sst", "rIdS", "sharedStrings+xml", "sharedStrings"},
		{b.styles, "styles.xml", "styleSheet", "rIdT", "styles+xml", "styles"},
	} {
		if p.write == nil {
			continue
		}
		fmt.Fprintf(&overrides, `<Override PartName="/xl/%s" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.%s"/>`, p.name, p.contentType)
		fmt.Fprintf(&rels, `<Relationship Id="%s" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/%s" Target="%s"/>`, p.rel, p.rtyp, p.name)
		add(part{"xl/" + p.name, spreadsheetML(p.root, p.write)})
	}
	add(part{"[Content_Types].xml", text(xmlDecl +
		`<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
		`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
		`<Default Extension="xml" ContentType="application/xml"/>` +
		`<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>` +
		overrides.String() + `</Types>`)})
	add(part{"_rels/.rels", text(xmlDecl +
		`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
		`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>` +
		`</Relationships>`)})
	add(part{"xl/workbook.xml", text(xmlDecl +
		`<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">` +
		`<sheets>` + entries.String() + `</sheets></workbook>`)})
	add(part{"xl/_rels/workbook.xml.rels", text(xmlDecl +
		`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` + rels.String() + `</Relationships>`)})
	for _, p := range b.extra {
		add(p)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
}

// catalogueSheet is a worksheet "Danh mục" with a title on row 1, the header on row 2 and the rows given from row 3.
func catalogueSheet(rows ...[]string) xsheet {
	s := xsheet{name: "Danh mục"}
	s.rows = xrow(1, "DANH MỤC THỦ TỤC HÀNH CHÍNH") + xrow(2, headersVI...)
	for i, r := range rows {
		s.rows += xrow(i+3, r...)
	}
	return s
}
