package main

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/egovtrack/egovtrack/dashboards/board"
	"github.com/egovtrack/egovtrack/dashboards/internal/golden"
	"github.com/egovtrack/egovtrack/dashboards/provision"
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
		{"push with an argument", []string{"push", "http://grafana"}},
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

// push posts every generated dashboard, as generate writes it, to Grafana's API, into the provisioned folder, with
// the token as a bearer token that no log line shows.
func TestPushCommand(t *testing.T) {
	const token = "glsa_0123456789abcdef"
	type request struct {
		Method, Path, Auth string
		Body               map[string]any
	}
	var (
		mu       sync.Mutex
		requests []request
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		req := request{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization")}
		if r.Body != nil && r.Method == http.MethodPost {
			if err := json.NewDecoder(r.Body).Decode(&req.Body); err != nil {
				t.Errorf("%s %s: %v", r.Method, r.URL.Path, err)
			}
		}
		requests = append(requests, req)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet:
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"message":"folder not found"}`)
		case r.URL.Path == "/api/folders":
			_, _ = io.WriteString(w, `{"uid":"egovtrack","title":"egovtrack"}`)
		default:
			uid, _ := req.Body["dashboard"].(map[string]any)["uid"].(string)
			_, _ = io.WriteString(w, `{"status":"success","uid":"`+uid+`","url":"/d/`+uid+`/x","version":1}`)
		}
	}))
	t.Cleanup(srv.Close)
	t.Setenv("EGOV_GRAFANA_URL", srv.URL)
	t.Setenv("EGOV_GRAFANA_TOKEN", token)

	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if code := run([]string{"push"}, io.Discard, log); code != 0 {
		t.Fatalf("push: exit %d\n%s", code, logs.String())
	}
	if strings.Contains(logs.String(), token) {
		t.Errorf("the token is in the log:\n%s", logs.String())
	}

	files, err := provision.Files()
	if err != nil {
		t.Fatal(err)
	}
	generated := map[string]any{}
	for _, f := range files {
		if uid, ok := strings.CutPrefix(f.Path, provision.DashboardsDir+"/"); ok {
			var d any
			if err := json.Unmarshal(f.Data, &d); err != nil {
				t.Fatal(err)
			}
			generated[strings.TrimSuffix(uid, ".json")] = d
		}
	}
	if len(requests) != 2+len(board.Titles) {
		t.Fatalf("%d requests, want the folder's two and one per dashboard: %+v", len(requests), requests)
	}
	if r := requests[0]; r.Method != http.MethodGet || r.Path != "/api/folders/"+provision.FolderUID {
		t.Errorf("first request %s %s, want the folder looked up", r.Method, r.Path)
	}
	if r := requests[1]; r.Path != "/api/folders" || r.Body["uid"] != provision.FolderUID || r.Body["title"] != provision.Folder {
		t.Errorf("second request %s %s %v, want the folder created", r.Method, r.Path, r.Body)
	}
	for i, r := range requests {
		if r.Auth != "Bearer "+token {
			t.Errorf("request %d: Authorization %q", i, r.Auth)
		}
	}
	for i, want := range board.Titles {
		r := requests[2+i]
		if r.Method != http.MethodPost || r.Path != "/api/dashboards/db" {
			t.Errorf("request %s %s, want POST /api/dashboards/db", r.Method, r.Path)
			continue
		}
		if r.Body["folderUid"] != provision.FolderUID || r.Body["overwrite"] != true {
			t.Errorf("%s: folderUid %v, overwrite %v", want.UID, r.Body["folderUid"], r.Body["overwrite"])
		}
		if !reflect.DeepEqual(r.Body["dashboard"], generated[want.UID]) {
			t.Errorf("%s: the dashboard posted is not the one generate writes", want.UID)
		}
	}
}

func TestPushNeedsURLAndToken(t *testing.T) {
	t.Setenv("EGOV_GRAFANA_URL", "")
	t.Setenv("EGOV_GRAFANA_TOKEN", "")
	var logs bytes.Buffer
	if code := run([]string{"push"}, io.Discard, slog.New(slog.NewTextHandler(&logs, nil))); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{"EGOV_GRAFANA_URL is empty", "EGOV_GRAFANA_TOKEN is empty"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log does not say %q:\n%s", want, logs.String())
		}
	}
}

// generate writes under an existing directory only: from the wrong working directory, the relative default would
// otherwise make a tree of its own that nothing reads, and log that it wrote it.
func TestGenerateNeedsItsDirectory(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "deploy", "grafana")
	t.Setenv("EGOV_DASHBOARDS_DIR", missing)
	var logs bytes.Buffer
	if code := run([]string{"generate"}, io.Discard, slog.New(slog.NewTextHandler(&logs, nil))); code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, logs.String())
	}
	if !strings.Contains(logs.String(), "EGOV_DASHBOARDS_DIR must be an existing directory") || strings.Contains(logs.String(), "msg=wrote") {
		t.Errorf("the log does not refuse, or says it wrote:\n%s", logs.String())
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("%s was made", missing)
	}
}

// push counts a dashboard as pushed only when Grafana's answer says it saved it: a 200 from something else at the
// URL (a proxy's login page, an empty answer, another dashboard's) fails the command, and nothing says "pushed".
func TestPushFailsUnlessGrafanaSavedIt(t *testing.T) {
	tests := []struct {
		name, contentType, folder, dashboard string
	}{
		{"a proxy's login page", "text/html", "<html><form>Đăng nhập</form></html>", "<html><form>Đăng nhập</form></html>"},
		{"an empty answer", "application/json", `{}`, `{}`},
		{"another dashboard saved", "application/json", `{"uid":"egovtrack"}`, `{"status":"success","uid":"other","version":1}`},
		{"not a success", "application/json", `{"uid":"egovtrack"}`, `{"status":"queued","uid":"egov-national","version":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				if strings.HasPrefix(r.URL.Path, "/api/folders") {
					io.WriteString(w, tt.folder)
					return
				}
				io.WriteString(w, tt.dashboard)
			}))
			t.Cleanup(srv.Close)
			t.Setenv("EGOV_GRAFANA_URL", srv.URL)
			t.Setenv("EGOV_GRAFANA_TOKEN", "glsa_0123456789abcdef")
			var logs bytes.Buffer
			if code := run([]string{"push"}, io.Discard, slog.New(slog.NewTextHandler(&logs, nil))); code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if strings.Contains(logs.String(), `msg="dashboards pushed"`) || strings.Contains(logs.String(), "msg=pushed") {
				t.Errorf("the log says something was pushed:\n%s", logs.String())
			}
		})
	}
}
