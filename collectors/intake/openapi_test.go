package intake

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// Every route the handler registers is described in openapi.yaml, and openapi.yaml describes no other; every route
// in the table is really served (it answers something other than 404 or 405).
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	b, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	described := operations(string(b))
	if len(described) == 0 {
		t.Fatal("found no operations under paths: in openapi.yaml")
	}
	h := NewHandler(DefaultConfig(), Tokens{}, nil, nil, nil, nil)
	served := map[string]bool{}
	for _, rt := range (&handler{}).routes() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		op := method + " " + path
		served[op] = true
		if !described[op] {
			t.Errorf("the handler serves %s, which openapi.yaml does not describe", op)
		}
		// The path with its parameters filled in, sent without a token: any answer but "no such route" will do.
		url := strings.NewReplacer("{kind}", "province", "{code}", "19").Replace(path)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, url, nil))
		if rec.Code == http.StatusNotFound || rec.Code == http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d, the route is not registered", method, url, rec.Code)
		}
	}
	for op := range described {
		if !served[op] {
			t.Errorf("openapi.yaml describes %s, which the handler does not serve", op)
		}
	}
}

// operations reads the operations ("POST /v1/…") of an OpenAPI document's paths object. It relies on the layout of
// openapi.yaml (two spaces a level, paths at the top level), which keeps the test free of a YAML library.
func operations(doc string) map[string]bool {
	methods := map[string]bool{"get": true, "put": true, "post": true, "delete": true, "patch": true, "head": true, "options": true}
	ops := map[string]bool{}
	inPaths, path := false, ""
	for _, line := range strings.Split(doc, "\n") {
		text := strings.TrimRight(line, " \r")
		trimmed := strings.TrimSpace(text)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		indent := len(text) - len(strings.TrimLeft(text, " "))
		key, isKey := strings.CutSuffix(trimmed, ":")
		switch {
		case indent == 0:
			inPaths = trimmed == "paths:"
		case !inPaths || !isKey:
		case indent == 2:
			path = strings.Trim(key, `"'`)
		case indent == 4 && methods[key]:
			ops[strings.ToUpper(key)+" "+path] = true
		}
	}
	return ops
}
