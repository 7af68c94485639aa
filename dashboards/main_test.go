package main

import (
	"bytes"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/egovtrack/egovtrack/dashboards/internal/golden"
	"github.com/egovtrack/egovtrack/internal/envdoc"
)

// committed is where the generated files are committed, from this package's folder.
var committed = filepath.Join("..", "deploy", "grafana")

// generatedDirs are the folders under the output root that hold generated files only.
var generatedDirs = []string{"dashboards", "provisioning"}

// The committed dashboards and provisioning files must be what generate writes now, so that CI fails when the code
// and the files drift apart. `go test ./dashboards/... -update` rewrites them.
func TestCommittedFilesAreGenerated(t *testing.T) {
	if golden.Update() {
		t.Setenv("EGOV_DASHBOARDS_DIR", committed)
		if code := run([]string{"generate"}, io.Discard, quiet()); code != 0 {
			t.Fatalf("generate into %s: exit %d", committed, code)
		}
		return
	}
	dir := t.TempDir()
	t.Setenv("EGOV_DASHBOARDS_DIR", dir)
	if code := run([]string{"generate"}, io.Discard, quiet()); code != 0 {
		t.Fatalf("generate: exit %d", code)
	}
	got, want := readTree(t, dir), readTree(t, committed)
	for path, data := range got {
		switch old, ok := want[path]; {
		case !ok:
			t.Errorf("%s is generated but not committed", path)
		case !bytes.Equal(old, data):
			t.Errorf("%s differs from what generate writes now", path)
		}
	}
	for path := range want {
		if _, ok := got[path]; !ok {
			t.Errorf("%s is committed but no longer generated", path)
		}
	}
	if t.Failed() {
		t.Log("run `go run ./dashboards generate` from the repository root (or `go test ./dashboards/... -update`) and commit the result")
	}
}

// readTree reads every file of the generated folders under root, by slash path relative to root.
func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, d := range generatedDirs {
		err := filepath.WalkDir(filepath.Join(root, d), func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, p)
			out[filepath.ToSlash(rel)] = data
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no command", nil},
		{"unknown command", []string{"publish"}},
		{"extra argument", []string{"generate", "now"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := run(tt.args, &stderr, quiet()); code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.HasPrefix(stderr.String(), "usage: dashboards generate") {
				t.Errorf("stderr %q, want the usage", stderr.String())
			}
		})
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Every variable the command reads is in the README's configuration table, with its default.
func TestREADMEDocumentsConfiguration(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range envdoc.Missing(string(b), envdoc.Vars(Config{})) {
		t.Errorf("README.md lacks the row | `%s` | `%s` | …", v.Name, v.Default)
	}
}
