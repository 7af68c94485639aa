package sheet_test

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/xuri/excelize/v2"
)

// worksheet is one sheet of a workbook built for a test: rows from row 1, nil rows left blank.
type worksheet struct {
	name string
	rows [][]any
}

// writeXLSX builds a workbook in the test's directory and returns its path.
func writeXLSX(t *testing.T, name string, sheets ...worksheet) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, s := range sheets {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", s.name); err != nil {
				t.Fatal(err)
			}
		} else if _, err := f.NewSheet(s.name); err != nil {
			t.Fatal(err)
		}
		for r, row := range s.rows {
			if row == nil {
				continue
			}
			cell, err := excelize.CoordinatesToCellName(1, r+1)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.SetSheetRow(s.name, cell, &row); err != nil {
				t.Fatal(err)
			}
		}
	}
	path := filepath.Join(t.TempDir(), name)
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// csvAsXLSX writes a CSV fixture as a workbook the way Excel stores what an officer types: whole numbers (STT,
// levels) as numbers, everything else as text. Codes like 1.001193 stay text, as in the template's text column.
func csvAsXLSX(t *testing.T, csvPath string) string {
	t.Helper()
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	rows := make([][]any, len(recs))
	for i, rec := range recs {
		for _, v := range rec {
			if n, err := strconv.Atoi(v); err == nil {
				rows[i] = append(rows[i], n)
			} else {
				rows[i] = append(rows[i], v)
			}
		}
	}
	base := filepath.Base(csvPath)
	return writeXLSX(t, base[:len(base)-len(filepath.Ext(base))]+".xlsx", worksheet{"Danh mục", rows})
}
