package dossiers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/egovtrack/egovtrack/collectors/sheet/sheettest"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// The child process that checks one file: the test binary itself, started with checkChildEnv set to the path.
const checkChildEnv = "EGOV_TEST_DOSSIERS_CHECK_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(checkChildEnv); path != "" {
		chk, err := check(context.Background(), path, units.Ref{Kind: units.Province, Code: "01"}, event.Contract{}, func(int) {})
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		res := childResult{Peak: sheettest.PeakRSS(), Heap: ms.HeapSys}
		if err != nil {
			res.Error = err.Error()
		} else {
			res.Rows, res.Events, res.Problems = chk.rows, chk.events, chk.problems
		}
		json.NewEncoder(os.Stdout).Encode(res)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type childResult struct {
	Rows, Events, Problems int
	Error                  string
	Peak                   int64  // peak resident memory (VmHWM)
	Heap                   uint64 // the most heap the Go runtime ever took from the system (HeapSys)
}

// exportRow is row i of a large province's month: every fact filled in.
func exportRow(i int) []any {
	day := 1 + i%28
	return []any{i + 1, fmt.Sprintf("000.00.01.H26-2507%02d-%07d", day, i), fmt.Sprintf("1.%06d", 1000+i%1500), "Trực tuyến",
		fmt.Sprintf("%02d/07/2025 08:30", day), fmt.Sprintf("%02d/08/2025", day), "50.000", fmt.Sprintf("%02d/07/2025 09:00", day), "Trực tuyến",
		fmt.Sprintf("%02d/07/2025 16:00", day), fmt.Sprintf("%02d/07/2025 17:00", day), "Bản điện tử"}
}

var largeHeader = []any{"STT", "Số hồ sơ", "Mã TTHC", "Hình thức nộp", "Ngày tiếp nhận", "Ngày hẹn trả", "Phí, lệ phí", "Ngày thanh toán",
	"Hình thức thanh toán", "Ngày có kết quả", "Ngày trả kết quả", "Hình thức trả kết quả"}

// Checking an export takes the memory of a row and a few bytes per dossier, not the file's: a month of the largest
// province as CSV (400,000 dossiers, 1.6 million events: a file larger than the bound) and as a workbook (60,000) are checked in a child process
// whose heap is measured.
func TestCheckingALargeExportTakesBoundedMemory(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "thang-7.csv")
	f, err := os.Create(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	line := func(cells []any) {
		for i, c := range cells {
			if i > 0 {
				w.WriteByte(';')
			}
			fmt.Fprint(w, c)
		}
		w.WriteString("\r\n")
	}
	line(largeHeader)
	const csvRows = 400_000
	for i := range csvRows {
		line(exportRow(i))
	}
	w.Flush()
	f.Close()

	xlsxPath := filepath.Join(dir, "thang-7.xlsx")
	const xlsxRows = 60_000
	{
		x := excelize.NewFile()
		sw, err := x.NewStreamWriter("Sheet1")
		if err != nil {
			t.Fatal(err)
		}
		sw.SetRow("A1", largeHeader)
		for i := range xlsxRows {
			cell, _ := excelize.CoordinatesToCellName(1, i+2)
			if err := sw.SetRow(cell, exportRow(i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := sw.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := x.SaveAs(xlsxPath); err != nil {
			t.Fatal(err)
		}
		x.Close()
	}

	// 64 MiB of heap: a row, 400,000 dossiers' 16 bytes (in a map) and the garbage collector's room, with room; less
	// than the CSV, so that holding the file fails. Heap, not resident memory: that also counts the binary's pages and
	// memory freed but not yet given back, and ranged from 53 to 76 MiB for the same check with the machine's load.
	const bound = 64 << 20
	for _, tc := range []struct {
		path string
		rows int
	}{{csvPath, csvRows}, {xlsxPath, xlsxRows}} {
		fi, _ := os.Stat(tc.path)
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		// A soft limit near what the check keeps live (18 MiB, the garbage collector's trace says): without it the heap
		// ran up to 63 MiB on a machine busy with other work, the collector falling behind. A check that kept the
		// file (68 MiB) would still pass the bound: the limit cannot free what is live.
		cmd.Env = append(os.Environ(), checkChildEnv+"="+tc.path, "GOMEMLIMIT=40MiB")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		runErr := cmd.Run()
		cancel()
		var res childResult
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
			t.Fatalf("%s: the child ended (%v) without a result: %v\n%s", tc.path, runErr, err, stderr.String())
		}
		t.Logf("%s (%d MiB): %d rows, %d events checked in %s, heap at most %d MiB, peak resident memory %d MiB",
			filepath.Base(tc.path), fi.Size()>>20, res.Rows, res.Events, time.Since(start).Round(time.Millisecond), res.Heap>>20, res.Peak>>20)
		if res.Error != "" || res.Problems != 0 || res.Rows != tc.rows || res.Events != 4*tc.rows {
			t.Errorf("%s: checked %d rows, %d events, %d problems (%s); want %d rows of 4 events, no problem", tc.path, res.Rows, res.Events, res.Problems, res.Error, tc.rows)
		}
		if res.Heap > bound {
			t.Errorf("%s: checking took %d MiB of heap, more than %d MiB", tc.path, res.Heap>>20, bound>>20)
		}
	}
}
