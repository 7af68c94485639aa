package sheet

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"
)

// CellsError lists the cells of a workbook's catalogue that cannot be read as they are: merged cells, and formulas
// saved without their value.
//
// A merged cell keeps its value in its first cell: the rows under it are empty. Filling the value down would guess
// what the officer meant, which for a sector merged over a group of procedures is right, but for a code, a name or a
// level merged by mistake is a wrong fact published under the unit's name; so a merge that reaches below the header
// into a catalogue column is refused, and unmerging takes a minute. Merged titles above the header are fine.
//
// A formula is read as the value Excel computed and saved with it. Programs other than Excel may save a formula
// without its value, which no reader can know without computing it: such a cell is refused too.
type CellsError struct {
	Sheet    string
	Problems []CellProblem // in row order
}

// CellProblem is one range of cells that cannot be read.
type CellProblem struct {
	Row    int    // the first row of the range
	Cells  string // "B5:B7", or one cell "E9"
	Reason string // what is wrong and what to do, after the cells
}

// shownCells is how many problems the error's text lists; they are usually one mistake repeated down a column.
const shownCells = 5

func (e *CellsError) Error() string {
	parts := make([]string, 0, shownCells+1)
	for i, p := range e.Problems {
		if i == shownCells {
			parts = append(parts, fmt.Sprintf("and %d more", len(e.Problems)-shownCells))
			break
		}
		noun := "cell"
		if strings.Contains(p.Cells, ":") {
			noun = "cells"
		}
		parts = append(parts, fmt.Sprintf("row %d: %s %s %s", p.Row, noun, p.Cells, p.Reason))
	}
	return fmt.Sprintf("sheet %q: %s", e.Sheet, strings.Join(parts, "; "))
}

const (
	mergedReason  = "are merged; unmerge them and write the value in each row (a merged cell keeps its value in its first cell only)"
	formulaReason = "holds %s but no value: open the file in Excel and save it again (Excel saves the value of every formula), or replace the formulas by their values (Copy, then Paste Special → Values)"
)

// checkCells refuses merged cells and formulas without a value in the catalogue's columns below the header of the
// worksheet t was read from, as inspectWorkbook found them in it (nil: none).
func checkCells(t Table, scan *sheetScan) error {
	if scan == nil {
		return nil
	}
	catalogueColumn := func(c1, c2 int) bool { // 0-based indices, as Column.Index
		for _, c := range t.Columns {
			if c.Index >= c1 && c.Index <= c2 {
				return true
			}
		}
		return false
	}
	var problems []CellProblem
	for _, ref := range scan.merges {
		first, last, _ := strings.Cut(ref, ":")
		c1, r1, err1 := excelize.CellNameToCoordinates(strings.ReplaceAll(first, "$", ""))
		c2, r2, err2 := excelize.CellNameToCoordinates(strings.ReplaceAll(cmp.Or(last, first), "$", ""))
		if err1 != nil || err2 != nil {
			return fmt.Errorf("sheet %q: merged cells %q: not a range of cells", t.Sheet, ref)
		}
		if max(r1, r2) <= t.HeaderRow || !catalogueColumn(min(c1, c2)-1, max(c1, c2)-1) {
			continue
		}
		problems = append(problems, CellProblem{Row: min(r1, r2), Cells: ref, Reason: mergedReason})
	}
	for _, h := range scan.hollow {
		if h.row <= t.HeaderRow || !catalogueColumn(h.col-1, h.col-1) {
			continue
		}
		ref, err := excelize.CoordinatesToCellName(h.col, h.row)
		if err != nil {
			continue
		}
		reason := fmt.Sprintf(formulaReason, "the formula "+strconv.Quote("="+h.formula))
		if h.formula == "" {
			reason = fmt.Sprintf(formulaReason, "a formula shared with another cell")
		}
		problems = append(problems, CellProblem{Row: h.row, Cells: ref, Reason: reason})
	}
	if len(problems) == 0 {
		return nil
	}
	slices.SortStableFunc(problems, func(a, b CellProblem) int { return cmp.Compare(a.Row, b.Row) })
	return &CellsError{Sheet: t.Sheet, Problems: problems}
}
