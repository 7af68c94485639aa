// Package layout holds tests of the tree's shape: which way imports go, and that the README's "What is where" names
// every folder a newcomer meets.
package layout

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/egovtrack/egovtrack/"

// commands are the trees that hold programs: internal/ serves them and never imports them, tests included.
var commands = []string{"collectors", "projector", "dashboards", "deploy"}

type pkg struct {
	ImportPath, Dir                    string
	Imports, TestImports, XTestImports []string
}

func list(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", "list", "-json", module+"...")
	cmd.Dir = root(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var ps []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	if len(ps) < 20 {
		t.Fatalf("go list found %d packages: not the module", len(ps))
	}
	return ps
}

func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("the module root: %v", err)
	}
	return dir
}

// upward returns the imports of p that reach into a command tree.
func upward(p pkg) []string {
	var out []string
	for _, imps := range [][]string{p.Imports, p.TestImports, p.XTestImports} {
		for _, imp := range imps {
			for _, c := range commands {
				if imp == module+c || strings.HasPrefix(imp, module+c+"/") {
					out = append(out, imp)
				}
			}
		}
	}
	return out
}

func TestInternalImportsNoCommand(t *testing.T) {
	n := 0
	for _, p := range list(t) {
		if !strings.HasPrefix(p.ImportPath, module+"internal/") {
			continue
		}
		n++
		if up := upward(p); len(up) > 0 {
			t.Errorf("%s imports %s: internal/ serves the commands and must not depend on them", p.ImportPath, strings.Join(up, ", "))
		}
	}
	if n < 10 {
		t.Fatalf("only %d packages under internal/: the listing is wrong", n)
	}
}

// The check itself: a package that imports a command is caught.
func TestUpwardIsCaught(t *testing.T) {
	for _, tc := range []struct {
		p    pkg
		want int
	}{
		{pkg{Imports: []string{module + "projector/store"}}, 1},
		{pkg{XTestImports: []string{module + "collectors/simulate"}}, 1},
		{pkg{TestImports: []string{module + "deploy"}}, 1},
		{pkg{Imports: []string{module + "internal/event", module + "projectors/x"}}, 0},
	} {
		if got := len(upward(tc.p)); got != tc.want {
			t.Errorf("upward(%v) = %d imports, want %d", tc.p, got, tc.want)
		}
	}
}

// Every package's folder is named in the README's "What is where" table: by its own row, or within the row of a
// folder above it (`projector/` names `store/`).
func TestReadmeNamesEveryFolder(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "## What is where")
	if i < 0 {
		t.Fatal(`README.md has no "## What is where"`)
	}
	table := readme[i:]
	if j := strings.Index(table[3:], "\n## "); j >= 0 {
		table = table[:j+3]
	}
	rows := map[string]string{} // a row's first cell, without backquotes, to the row
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 {
			continue
		}
		rows[strings.Trim(strings.TrimSpace(cells[1]), "`")] = line
	}
	for _, p := range list(t) {
		rel := strings.TrimPrefix(p.ImportPath, module)
		if p.ImportPath+"/" == module {
			continue
		}
		if !named(rel, rows) {
			t.Errorf("README.md's \"What is where\" does not name %s", rel)
		}
	}
}

// named reports whether rel has a row, or an ancestor's row names the rest of its path or its last folder.
func named(rel string, rows map[string]string) bool {
	parts := strings.Split(rel, "/")
	for k := len(parts); k >= 1; k-- {
		head := strings.Join(parts[:k], "/")
		for _, key := range []string{head, head + "/"} {
			row, ok := rows[key]
			if !ok {
				continue
			}
			if k == len(parts) {
				return true
			}
			// The rest of the path, or (for a folder within a named one) its last folder.
			for _, name := range []string{strings.Join(parts[k:], "/"), parts[len(parts)-1]} {
				if strings.Contains(row, "`"+name+"/`") || strings.Contains(row, "`"+name+"`") {
					return true
				}
			}
		}
	}
	return false
}
