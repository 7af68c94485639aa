package chsql_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/egovtrack/egovtrack/internal/chsql"
)

func TestQuoteIdent(t *testing.T) {
	tests := map[string]string{
		"egov":        "`egov`",
		"egov-test":   "`egov-test`",
		"we`ird":      "`we\\`ird`",
		`back\slash`:  "`back\\\\slash`",
		"t_test_0001": "`t_test_0001`",
	}
	for in, want := range tests {
		if got := chsql.QuoteIdent(in); got != want {
			t.Errorf("QuoteIdent(%q) = %q, want %q", in, got, want)
		}
	}
}

// A rebuild counts each table as the dashboards read it: FINAL where rows are replaced, merged first where summed.
func TestCountRowsOf(t *testing.T) {
	for engine, want := range map[string][]string{
		"ReplacingMergeTree":           {"SELECT count() FROM `t` FINAL"},
		"ReplicatedReplacingMergeTree": {"SELECT count() FROM `t` FINAL"},
		"SharedReplacingMergeTree":     {"SELECT count() FROM `t` FINAL"},
		"AggregatingMergeTree":         {"SELECT count() FROM `t` FINAL"},
		"SummingMergeTree":             {"OPTIMIZE TABLE `t` FINAL", "SELECT count() FROM `t`"},
		"ReplicatedSummingMergeTree":   {"OPTIMIZE TABLE `t` FINAL", "SELECT count() FROM `t`"},
		"MergeTree":                    {"SELECT count() FROM `t`"},
		"ReplicatedMergeTree":          {"SELECT count() FROM `t`"},
		"Log":                          {"SELECT count() FROM `t`"},
		"MaterializedView":             nil,
		"View":                         nil,
	} {
		var got []string
		for _, st := range chsql.CountRowsOf("t", engine) {
			got = append(got, st.SQL)
		}
		if !slices.Equal(got, want) {
			t.Errorf("CountRowsOf(t, %q) = %q, want %q", engine, got, want)
		}
	}
}

// Every statement is named, and named once: the test that runs them on both engines finds each by its name.
func TestStatementsAreNamedOnce(t *testing.T) {
	seen := map[string]string{}
	for _, s := range chsql.All([]string{"events", "coverage_daily"}) {
		if s.Name == "" || s.SQL == "" {
			t.Errorf("statement %q has no name or no SQL", s.Name+s.SQL)
		}
		if other, ok := seen[s.Name]; ok {
			t.Errorf("two statements named %q:\n%s\n%s", s.Name, other, s.SQL)
		}
		seen[s.Name] = s.SQL
	}
}

// sqlLiteral is a Go string that starts like a ClickHouse statement.
var sqlLiteral = regexp.MustCompile(`^\s*((SELECT|INSERT|CREATE|DROP|ALTER|OPTIMIZE|TRUNCATE|RENAME|EXCHANGE|SYSTEM|SHOW|DESCRIBE|EXISTS|KILL|ATTACH|DETACH)\s|WITH\s+\S+\s+AS\b)`)

// allowedSQL are the places besides this package where SQL is written, each a place of its own that a test runs on
// both engines: the migrations and their cluster form, the dashboards' panels and the alert rules (whose tests
// evaluate them on both, dashboards/alert). The benchmark (make bench) is
// not shipped, and measures 18.16 only. The tests' own packages (…test/, such as enginetest) are not shipped either.
var allowedSQL = []string{"internal/chsql/", "projector/migrations/", "dashboards/board/", "dashboards/alert/", "deploy/bench/"}

// TestNoSQLElsewhere holds every statement egovtrack sends to one of the places the engines test enumerates: a SQL
// string written anywhere else in the shipped code would run on one engine only in the tests, or on none.
func TestNoSQLElsewhere(t *testing.T) {
	root := filepath.Join("..", "..")
	found := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && rel != "." || d.Name() == "testdata" || d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		allowed := strings.Contains(rel, "test/")
		for _, a := range allowedSQL {
			allowed = allowed || strings.HasPrefix(rel, a)
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil || !sqlLiteral.MatchString(s) {
				return true
			}
			found++
			if !allowed {
				t.Errorf("%s: SQL outside internal/chsql: %.60q", rel, s)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 20 {
		t.Fatalf("found only %d SQL strings in the tree: the scan is not looking where the SQL is", found)
	}
}
