package dossiers_test

import (
	"archive/zip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/egovtrack/egovtrack/collectors/sheet"
	"github.com/egovtrack/egovtrack/collectors/sheet/sheettest"
)

// rezip rewrites the workbook at path, replacing (or adding) the parts given.
func rezip(t *testing.T, path string, parts map[string]func(io.Writer)) string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := filepath.Join(t.TempDir(), "hostile.xlsx")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	done := map[string]bool{}
	for _, zf := range zr.File {
		w, err := zw.Create(zf.Name)
		if err != nil {
			t.Fatal(err)
		}
		if fn, ok := parts[zf.Name]; ok {
			fn(w)
			done[zf.Name] = true
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(w, rc)
		rc.Close()
	}
	for name, fn := range parts {
		if !done[name] {
			w, err := zw.Create(name)
			if err != nil {
				t.Fatal(err)
			}
			fn(w)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// vniHeader is a catalogue's header typed with a VNI- font and saved by Excel's plain "CSV (Comma delimited)", byte
// by byte ("Mã" is "Ma" and F5 for the tilde): an officer's file of the 1990s' fonts.
const vniHeader = "Ma\xf5 thu\xfb tu\xefc,Te\xe2n thu\xfb tu\xefc,L\xf3nh v\xf6\xefc,\xd1u\xfb \xf1ie\xe0u kie\xe4n m\xf6\xf9c 4,M\xf6\xf9c \xf1o\xe4\r\n"

// sheetWith is a worksheet holding the export's header on row 1 and then what rows writes.
func sheetWith(rows func(w io.Writer)) func(io.Writer) {
	return func(w io.Writer) {
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">`)
		for i, h := range exportHeader {
			cell, _ := excelize.CoordinatesToCellName(i+1, 1)
			io.WriteString(w, `<c r="`+cell+`" t="inlineStr"><is><t>`+h+`</t></is></c>`)
		}
		io.WriteString(w, `</row>`)
		rows(w)
		io.WriteString(w, `</sheetData></worksheet>`)
	}
}

// Files that are not exports, or built to exhaust the reader, are refused with what they are, before anything is
// published; the bounds are checked as the file is read (see the memory test for what reading takes).
func TestHostileFilesAreRefused(t *testing.T) {
	plain := xlsxOf(t, exportRows, "dd/mm/yyyy hh:mm")
	var hb strings.Builder
	w := csv.NewWriter(&hb)
	w.Write(exportHeader)
	w.Flush()
	header := hb.String()
	var valid strings.Builder // more than the 64 KiB the encoding is told from
	for i := range 2000 {
		fmt.Fprintf(&valid, "%d,000.00.19.H22-%d,1.001234,Đăng ký khai sinh,Trực tuyến,15/07/2025 08:30,22/07/2025,0\n", i, i)
	}
	cases := []struct {
		name string
		path string
		want string // in the error
		kind any    // the error's type, when it has one
	}{
		{"a CSV row of 2 MiB", write(t, "long.csv", []byte(header+strings.Repeat("x", 2<<20))), "has a row longer than 1 MiB", &sheet.LimitError{}},
		{"a quote never closed", write(t, "quote.csv", []byte(header+`1,"`+strings.Repeat("x\n", 1<<20))), "has a row longer than 1 MiB", &sheet.LimitError{}},
		{"an .xls", write(t, "old.xls", []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1 rest")), "Excel 97–2003 workbook", nil},
		{"UTF-16", write(t, "u16.csv", []byte("\xFF\xFEa\x00b\x00")), "UTF-16 text", nil},
		{"binary", write(t, "bin.csv", []byte("Số hồ sơ\x00\x01\x02")), "not text", nil},
		{"a header typed in a VNI font", write(t, "vni.csv", []byte(vniHeader)), "VNI", &sheet.FontEncodingError{}},
		{"UTF-8 that stops being so", write(t, "mixed.csv", []byte(header+valid.String()+"2,000.00.19.H22-x,1.001234,\xe0\xe1,Trực tuyến,15/07/2025 08:30,22/07/2025,0\n")), "row 2002, column D: not UTF-8", nil},
		{"a cell of 2 MiB in a workbook", rezip(t, plain, map[string]func(io.Writer){"xl/worksheets/sheet1.xml": sheetWith(func(w io.Writer) {
			io.WriteString(w, `<row r="2"><c r="B2" t="inlineStr"><is><t>`+strings.Repeat("x", 2<<20)+`</t></is></c></row>`)
		})}), "holds a tag or a text of more than 1 MiB", &sheet.LimitError{}},
		{"a value in column XFD", rezip(t, plain, map[string]func(io.Writer){"xl/worksheets/sheet1.xml": sheetWith(func(w io.Writer) {
			io.WriteString(w, `<row r="2"><c r="XFD2"><v>1</v></c></row>`)
		})}), "has a value beyond column IV (row 2)", &sheet.LimitError{}},
		{"80 MiB of zeros beside the sheet", rezip(t, plain, map[string]func(io.Writer){"xl/media/image1.png": func(w io.Writer) {
			w.Write(make([]byte, 80<<20))
		}}), "holds more than 64 MiB in parts other than its sheets", &sheet.LimitError{}},
		{"rows beyond Excel's last", write(t, "rows.csv", []byte(header+strings.Repeat("1,2\n", 1<<20+1))), "has more than 1,048,576 rows", &sheet.LimitError{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := connect(t)
			out, err := run(t, c, "--unit", "province/19", tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
			switch tc.kind.(type) {
			case *sheet.LimitError:
				if _, ok := errors.AsType[*sheet.LimitError](err); !ok {
					t.Errorf("err is %T, want a *sheet.LimitError", errors.Unwrap(err))
				}
			case *sheet.FontEncodingError:
				if _, ok := errors.AsType[*sheet.FontEncodingError](err); !ok {
					t.Errorf("err is %T, want a *sheet.FontEncodingError", errors.Unwrap(err))
				}
			}
			sheettest.Says(t, out, "REFUSED:", "nothing was published")
			if n := len(storedIDs(t, c)); n != 0 {
				t.Errorf("the stream holds %d events, want none", n)
			}
		})
	}
}
