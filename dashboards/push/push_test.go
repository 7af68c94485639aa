package push_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/egovtrack/egovtrack/dashboards/internal/golden" // accepts -update
	"github.com/egovtrack/egovtrack/dashboards/push"
)

const token = "glsa_s3cr3t-t0ken"

// grafana is a fake Grafana HTTP API that checks every request the way Grafana would refuse it, and records them.
type grafana struct {
	t           *testing.T
	mu          sync.Mutex
	folders     map[string]string // uid → title
	saved       []saved
	refuseSaves int // answer 412 from this save on (1-based); 0 never
	requests    []string
}

type saved struct {
	UID       string
	Dashboard map[string]any
	FolderUID string
	Overwrite bool
}

func newGrafana(t *testing.T) (*grafana, *httptest.Server) {
	g := &grafana{t: t, folders: map[string]string{}}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return g, srv
}

func (g *grafana) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.requests = append(g.requests, r.Method+" "+r.URL.Path)
	if r.Header.Get("Authorization") != "Bearer "+token {
		g.t.Errorf("%s %s: Authorization %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
		answer(w, http.StatusUnauthorized, map[string]any{"message": "invalid API key"})
		return
	}
	if r.Method == http.MethodPost && r.Header.Get("Content-Type") != "application/json" {
		g.t.Errorf("%s %s: Content-Type %q", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
	}
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/folders/"):
		uid := strings.TrimPrefix(r.URL.Path, "/api/folders/")
		if title, ok := g.folders[uid]; ok {
			answer(w, http.StatusOK, map[string]any{"uid": uid, "title": title})
			return
		}
		answer(w, http.StatusNotFound, map[string]any{"message": "folder not found"})
	case r.Method == http.MethodPost && r.URL.Path == "/api/folders":
		var f struct{ UID, Title string }
		if err := strictDecode(r.Body, &f); err != nil || f.UID == "" || f.Title == "" {
			g.t.Errorf("POST /api/folders: %v, %+v", err, f)
			answer(w, http.StatusBadRequest, map[string]any{"message": "bad folder"})
			return
		}
		g.folders[f.UID] = f.Title
		answer(w, http.StatusOK, map[string]any{"uid": f.UID, "title": f.Title})
	case r.Method == http.MethodPost && r.URL.Path == "/api/dashboards/db":
		var body struct {
			Dashboard map[string]any `json:"dashboard"`
			FolderUID string         `json:"folderUid"`
			Overwrite bool           `json:"overwrite"`
			Message   string         `json:"message"`
		}
		if err := strictDecode(r.Body, &body); err != nil {
			g.t.Errorf("POST /api/dashboards/db: %v", err)
			answer(w, http.StatusBadRequest, map[string]any{"message": "bad request"})
			return
		}
		if _, ok := g.folders[body.FolderUID]; !ok {
			answer(w, http.StatusBadRequest, map[string]any{"message": "folder not found"})
			return
		}
		uid, _ := body.Dashboard["uid"].(string)
		if g.refuseSaves > 0 && len(g.saved)+1 >= g.refuseSaves {
			answer(w, http.StatusPreconditionFailed, map[string]any{
				"message": "The dashboard has been changed by someone else", "status": "version-mismatch"})
			return
		}
		g.saved = append(g.saved, saved{UID: uid, Dashboard: body.Dashboard, FolderUID: body.FolderUID, Overwrite: body.Overwrite})
		answer(w, http.StatusOK, map[string]any{
			"id": len(g.saved), "uid": uid, "url": "/d/" + uid + "/slug", "status": "success", "version": 3})
	default:
		g.t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		answer(w, http.StatusNotFound, map[string]any{"message": "not found"})
	}
}

func strictDecode(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func answer(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

var dashboards = []push.Dashboard{
	{UID: "egov-a", JSON: []byte(`{"uid": "egov-a", "title": "A", "panels": []}`)},
	{UID: "egov-b", JSON: []byte(`{"uid": "egov-b", "title": "B", "panels": []}`)},
}

var folder = push.Folder{UID: "egovtrack", Title: "egovtrack"}

func client(t *testing.T, url string, log io.Writer) *push.Client {
	t.Helper()
	c, err := push.New(push.Config{URL: url, Token: token, Timeout: 5 * time.Second},
		slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPushCreatesTheFolderAndPostsEveryDashboard(t *testing.T) {
	g, srv := newGrafana(t)
	var log bytes.Buffer
	results, err := client(t, srv.URL+"/", &log).Push(context.Background(), folder, dashboards)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"GET /api/folders/egovtrack", "POST /api/folders", "POST /api/dashboards/db", "POST /api/dashboards/db"}
	if fmt.Sprint(g.requests) != fmt.Sprint(want) {
		t.Errorf("requests %v, want %v", g.requests, want)
	}
	if g.folders["egovtrack"] != "egovtrack" {
		t.Errorf("folders %v", g.folders)
	}
	if len(g.saved) != 2 || len(results) != 2 {
		t.Fatalf("saved %d, results %d, want 2", len(g.saved), len(results))
	}
	for i, s := range g.saved {
		if s.UID != dashboards[i].UID || s.FolderUID != "egovtrack" || !s.Overwrite || s.Dashboard["title"] == nil {
			t.Errorf("saved %+v, want %s in egovtrack, overwriting", s, dashboards[i].UID)
		}
		if results[i] != (push.Result{UID: dashboards[i].UID, URL: "/d/" + dashboards[i].UID + "/slug", Version: 3}) {
			t.Errorf("result %+v", results[i])
		}
	}
	if strings.Contains(log.String(), token) {
		t.Errorf("the token is in the log:\n%s", log.String())
	}
}

func TestPushKeepsAnExistingFolder(t *testing.T) {
	g, srv := newGrafana(t)
	g.folders["egovtrack"] = "egovtrack"
	if _, err := client(t, srv.URL, io.Discard).Push(context.Background(), folder, dashboards[:1]); err != nil {
		t.Fatal(err)
	}
	want := []string{"GET /api/folders/egovtrack", "POST /api/dashboards/db"}
	if fmt.Sprint(g.requests) != fmt.Sprint(want) {
		t.Errorf("requests %v, want %v", g.requests, want)
	}
}

// A Grafana under a sub-path keeps it.
func TestPushUnderASubPath(t *testing.T) {
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		if strings.Contains(r.URL.Path, "/api/folders/") {
			answer(w, http.StatusOK, map[string]any{"uid": folder.UID})
			return
		}
		answer(w, http.StatusOK, map[string]any{"uid": "egov-a", "status": "success", "version": 1})
	}))
	t.Cleanup(srv.Close)
	if _, err := client(t, srv.URL+"/grafana", io.Discard).Push(context.Background(), folder, dashboards[:1]); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(paths) != "[/grafana/api/folders/egovtrack /grafana/api/dashboards/db]" {
		t.Errorf("paths %v", paths)
	}
}

func TestPushStopsWhenGrafanaRefuses(t *testing.T) {
	g, srv := newGrafana(t)
	g.refuseSaves = 2
	results, err := client(t, srv.URL, io.Discard).Push(context.Background(), folder, dashboards)
	var gerr *push.Error
	if !errors.As(err, &gerr) || gerr.Status != http.StatusPreconditionFailed ||
		gerr.Message != "The dashboard has been changed by someone else" {
		t.Fatalf("error %v, want Grafana's 412 and its message", err)
	}
	if !strings.Contains(err.Error(), "egov-b") || strings.Contains(err.Error(), token) {
		t.Errorf("error %q: want the dashboard named and no token", err)
	}
	if len(results) != 1 || results[0].UID != "egov-a" {
		t.Errorf("results %+v, want the first dashboard only", results)
	}
}

func TestPushWithAWrongToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer(w, http.StatusUnauthorized, map[string]any{"message": "invalid API key"})
	}))
	t.Cleanup(srv.Close)
	_, err := client(t, srv.URL, io.Discard).Push(context.Background(), folder, dashboards)
	var gerr *push.Error
	if !errors.As(err, &gerr) || gerr.Status != http.StatusUnauthorized || !strings.Contains(err.Error(), "invalid API key") {
		t.Fatalf("error %v, want Grafana's 401", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  push.Config
		want string // in the error; "" for valid
	}{
		{"https", push.Config{URL: "https://grafana.example.gov.vn", Token: token, Timeout: time.Second}, ""},
		{"http to loopback", push.Config{URL: "http://127.0.0.1:3000", Token: token, Timeout: time.Second}, ""},
		{"http to localhost", push.Config{URL: "http://localhost:3000", Token: token, Timeout: time.Second}, ""},
		{"no URL", push.Config{Token: token, Timeout: time.Second}, "EGOV_GRAFANA_URL is empty"},
		{"not http", push.Config{URL: "ftp://grafana", Token: token, Timeout: time.Second}, "want http:// or https://"},
		{"no host", push.Config{URL: "grafana:3000", Token: token, Timeout: time.Second}, "EGOV_GRAFANA_URL"},
		{"token in clear", push.Config{URL: "http://grafana.example.gov.vn", Token: token, Timeout: time.Second}, "in clear"},
		{"no token", push.Config{URL: "https://grafana.example.gov.vn", Timeout: time.Second}, "EGOV_GRAFANA_TOKEN is empty"},
		{"no timeout", push.Config{URL: "https://grafana.example.gov.vn", Token: token}, "EGOV_GRAFANA_TIMEOUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error about %q", err, tt.want)
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}

// The token shows nowhere: not in a log line of the configuration, not when the configuration is printed.
func TestTokenIsRedacted(t *testing.T) {
	cfg := push.Config{URL: "https://admin:pw@grafana.example.gov.vn", Token: token, Timeout: time.Second}
	var log bytes.Buffer
	slog.New(slog.NewTextHandler(&log, nil)).Info("config", "grafana", cfg)
	for _, s := range []string{log.String(), fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg.Token)} {
		if strings.Contains(s, token) || strings.Contains(s, "pw@") {
			t.Errorf("a secret shows: %s", s)
		}
	}
	if !strings.Contains(log.String(), "grafana.example.gov.vn") {
		t.Errorf("the log does not say where: %s", log.String())
	}
}
