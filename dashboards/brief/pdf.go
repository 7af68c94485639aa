package brief

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// PDF prints the page htmlPath to pdfPath with headless Chromium, on the paper the page's @page rule asks for (A4),
// without the browser's header and footer. It runs in a profile of its own, removed after.
func PDF(ctx context.Context, chromium, htmlPath, pdfPath string) error {
	abs, err := filepath.Abs(htmlPath)
	if err != nil {
		return err
	}
	profile, err := os.MkdirTemp("", "egov-brief-chromium-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(profile)
	// A PDF left by an earlier run must not pass for this one's.
	if err := os.Remove(pdfPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	// --no-sandbox: Chromium refuses to run as root with its sandbox, and the page is our own file.
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--user-data-dir="+profile, "--no-pdf-header-footer", "--print-to-pdf="+pdfPath, "file://"+abs)
	cmd.WaitDelay = 5 * time.Second // Chromium's children may hold the output open after it is killed
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("print the briefing with %s (install Debian's chromium): %w: %s", chromium, err, bytes.TrimSpace(out))
	}
	if fi, err := os.Stat(pdfPath); err != nil || fi.Size() == 0 {
		return fmt.Errorf("%s wrote no PDF at %s: %s", chromium, pdfPath, bytes.TrimSpace(out))
	}
	return nil
}

// Conn is a Querier on a ClickHouse connection: each value written as TSV writes it.
type Conn struct{ driver.Conn }

// Query runs sql and reads every row.
func (c Conn) Query(ctx context.Context, sql string) (Table, error) {
	rows, err := c.Conn.Query(ctx, sql)
	if err != nil {
		return Table{}, err
	}
	defer rows.Close()
	t := Table{Names: rows.Columns()}
	types := rows.ColumnTypes()
	for rows.Next() {
		vals := make([]any, len(types))
		for i, ct := range types {
			vals[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(vals...); err != nil {
			return Table{}, err
		}
		r := make([]string, len(vals))
		for i, v := range vals {
			r[i] = tsv(reflect.ValueOf(v).Elem(), types[i].DatabaseTypeName())
		}
		t.Rows = append(t.Rows, r)
	}
	return t, rows.Err()
}

// tsv writes v as ClickHouse's TSV format would.
func tsv(v reflect.Value, dbType string) string {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return `\N`
		}
		v = v.Elem()
	}
	switch x := v.Interface().(type) {
	case time.Time:
		if dbType == "Date" || dbType == "Nullable(Date)" || dbType == "Date32" {
			return x.Format(time.DateOnly)
		}
		return x.Format(time.DateTime)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case string:
		return x
	}
	return fmt.Sprint(v.Interface())
}
