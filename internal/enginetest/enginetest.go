// Package enginetest runs the same SQL on the two ClickHouse engines egovtrack is tested on and compares their
// answers: Debian's clickhouse-server 18.16, a real server reached over its HTTP interface (internal/chdb/chdbtest
// starts it), and ClickHouse 26.7 in this process through chDB (libchdb.so, which `make test` installs and
// CHDB_LIB_PATH names). Users run 24.x to 26.x; a statement that runs on both, with the same answer, runs there.
//
// It is for tests only: it loads libchdb.so, a 566 MB library no production binary may carry (a test in this
// package holds the commands to that). A test binary that imports it fails at start when libchdb.so is missing,
// with the loader's message; it is never skipped.
package enginetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Engine runs SQL in one database of one ClickHouse.
type Engine interface {
	// Name says which engine it is, for messages: "ClickHouse 18.16" or "ClickHouse 26.7".
	Name() string
	// Run runs one statement and returns its output in the given format ("TSV", "TSVWithNamesAndTypes"); a statement
	// without a result returns nothing.
	Run(ctx context.Context, sql, format string) ([]byte, error)
}

// Result is a statement's answer: its columns' names and types, and its rows, each value as ClickHouse writes it in
// TSV (NULL as \N).
type Result struct {
	Names, Types []string
	Rows         [][]string
}

// Query runs sql on e and parses its answer.
func Query(ctx context.Context, e Engine, sql string) (Result, error) {
	out, err := e.Run(ctx, sql, "TSVWithNamesAndTypes")
	if err != nil {
		return Result{}, err
	}
	return ParseTSVWithNamesAndTypes(out)
}

// Exec runs a statement that returns nothing.
func Exec(ctx context.Context, e Engine, sql string) error {
	_, err := e.Run(ctx, sql, "TSV")
	return err
}

// ParseTSVWithNamesAndTypes reads ClickHouse's TSVWithNamesAndTypes: a line of names, a line of types, a line per
// row, fields separated by tabs and escaped with backslashes.
func ParseTSVWithNamesAndTypes(b []byte) (Result, error) {
	var r Result
	if len(b) == 0 {
		return r, nil // a statement without a result
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) < 2 {
		return r, fmt.Errorf("TSVWithNamesAndTypes: %d lines, want at least the names and the types", len(lines))
	}
	r.Names, r.Types = fields(lines[0]), fields(lines[1])
	if len(r.Names) != len(r.Types) {
		return r, fmt.Errorf("TSVWithNamesAndTypes: %d names, %d types", len(r.Names), len(r.Types))
	}
	for i, line := range lines[2:] {
		row := fields(line)
		if len(row) != len(r.Names) {
			return r, fmt.Errorf("TSVWithNamesAndTypes: row %d has %d fields, want %d", i+1, len(row), len(r.Names))
		}
		r.Rows = append(r.Rows, row)
	}
	return r, nil
}

// fields splits a TSV line and unescapes each field; \N stays \N, so that NULL differs from the string "\N".
func fields(line string) []string {
	parts := strings.Split(line, "\t")
	for i, p := range parts {
		if p == `\N` || !strings.Contains(p, `\`) {
			continue
		}
		var b strings.Builder
		for j := 0; j < len(p); j++ {
			if p[j] != '\\' || j+1 == len(p) {
				b.WriteByte(p[j])
				continue
			}
			j++
			switch p[j] {
			case 't':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case '0':
				b.WriteByte(0)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			default: // \\ \' and anything else: the character itself
				b.WriteByte(p[j])
			}
		}
		parts[i] = b.String()
	}
	return parts
}

// floatTolerance is how far apart two engines' floating-point answers may be, relatively: a sum of floats in another
// order differs in its last bits. Every figure egovtrack shows is rounded far above this.
const floatTolerance = 1e-9

// Diff says how b differs from a, or "" when they are the same answer: the same column names and types, the same
// number of rows, and the same values, floating-point ones within floatTolerance. ordered compares rows in order;
// otherwise as multisets (a statement without ORDER BY returns its rows in any order).
func Diff(a, b Result, ordered bool) string {
	var d []string
	if !slices.Equal(a.Names, b.Names) {
		d = append(d, fmt.Sprintf("columns %q ≠ %q", a.Names, b.Names))
	}
	if !slices.Equal(a.Types, b.Types) {
		d = append(d, fmt.Sprintf("types %q ≠ %q", a.Types, b.Types))
	}
	if len(d) > 0 {
		return strings.Join(d, "; ")
	}
	if len(a.Rows) != len(b.Rows) {
		return fmt.Sprintf("%d rows ≠ %d rows (first: %q ≠ %q)", len(a.Rows), len(b.Rows), first(a.Rows), first(b.Rows))
	}
	ar, br := a.Rows, b.Rows
	if !ordered {
		ar, br = sorted(ar), sorted(br)
	}
	for i := range ar {
		for j := range ar[i] {
			if !sameValue(a.Types[j], ar[i][j], br[i][j]) {
				return fmt.Sprintf("row %d, column %s (%s): %q ≠ %q\n  row: %q\n  row: %q", i+1, a.Names[j], a.Types[j], ar[i][j], br[i][j], ar[i], br[i])
			}
		}
	}
	return ""
}

func first(rows [][]string) []string {
	if len(rows) == 0 {
		return nil
	}
	return rows[0]
}

func sorted(rows [][]string) [][]string {
	out := slices.Clone(rows)
	slices.SortFunc(out, func(x, y []string) int { return slices.Compare(x, y) })
	return out
}

func sameValue(typ, x, y string) bool {
	if x == y {
		return true
	}
	if !strings.Contains(typ, "Float") {
		return false
	}
	fx, errx := strconv.ParseFloat(x, 64)
	fy, erry := strconv.ParseFloat(y, 64)
	if errx != nil || erry != nil {
		return false
	}
	return math.Abs(fx-fy) <= floatTolerance*math.Max(math.Abs(fx), math.Abs(fy))
}

// Server is a ClickHouse server's database, reached over HTTP.
type Server struct {
	// Addr is the server's HTTP address, "127.0.0.1:8123".
	Addr           string
	Database       string
	User, Password string
	// Version names it in messages, "18.16".
	Version string
}

// Name implements Engine.
func (s Server) Name() string { return "ClickHouse " + s.Version }

// Run implements Engine.
func (s Server) Run(ctx context.Context, sql, format string) ([]byte, error) {
	q := url.Values{"database": {s.Database}, "default_format": {format}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.Addr+"/?"+q.Encode(), strings.NewReader(sql))
	if err != nil {
		return nil, err
	}
	if s.User != "" {
		req.SetBasicAuth(s.User, s.Password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: read the answer: %w", s.Name(), err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", s.Name(), bytes.TrimSpace(body))
	}
	return body, nil
}

// Bind writes args into sql's ? placeholders as ClickHouse literals, as clickhouse-go binds them on the client, so
// that a statement with arguments runs where nothing binds them (HTTP, chDB): strings quoted and escaped, string
// slices as arrays, integers as they are. A ? inside a string literal of sql would be taken too: egovtrack's
// statements have none.
func Bind(sql string, args ...any) (string, error) {
	var b strings.Builder
	n := 0
	for i := 0; i < len(sql); i++ {
		if sql[i] != '?' {
			b.WriteByte(sql[i])
			continue
		}
		if n == len(args) {
			return "", fmt.Errorf("bind: more placeholders than the %d arguments", len(args))
		}
		lit, err := literal(args[n])
		if err != nil {
			return "", fmt.Errorf("bind argument %d: %w", n+1, err)
		}
		b.WriteString(lit)
		n++
	}
	if n != len(args) {
		return "", fmt.Errorf("bind: %d placeholders, %d arguments", n, len(args))
	}
	return b.String(), nil
}

var quoteEscaper = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

func literal(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return "'" + quoteEscaper.Replace(v) + "'", nil
	case []string:
		parts := make([]string, len(v))
		for i, s := range v {
			parts[i], _ = literal(s)
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(v), nil
	}
	return "", fmt.Errorf("cannot write %T as a literal", v)
}

// Ordered reports whether sql orders its rows: ORDER BY outside any parentheses. Without it, rows come in any order,
// and two engines' answers compare as multisets.
func Ordered(sql string) bool {
	depth := 0
	upper := strings.ToUpper(sql)
	for i := 0; i < len(upper); i++ {
		switch c := upper[i]; {
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == '\'':
			for i++; i < len(upper) && upper[i] != '\''; i++ {
				if upper[i] == '\\' {
					i++
				}
			}
		case depth == 0 && strings.HasPrefix(upper[i:], "ORDER BY"):
			return true
		}
	}
	return false
}
