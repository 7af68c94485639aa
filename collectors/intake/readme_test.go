package intake_test

import (
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// The curl examples of README.md work, in the order a developer would try them, on a stream that knows the
// procedure the first example changes.
func TestREADMEExamples(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	a := newAPI(t)
	seed := &event.ProcedureRegisteredData{Unit: units.Ref{Kind: units.Province, Code: "19"}, Procedure: "1.001234",
		Name: "Cấp giấy phép xây dựng", Sector: "Xây dựng", Eligible: true, Level: 3,
		EffectiveAt: time.Date(2021, 9, 1, 8, 0, 0, 0, event.Vietnam)}
	if r := a.send(http.MethodPost, eventsPath, short(seed)); r.status != http.StatusAccepted {
		t.Fatalf("seed: status %d, body %s", r.status, r.body)
	}
	a.clock.set(time.Date(2021, 10, 1, 10, 0, 0, 0, event.Vietnam))

	curl := regexp.MustCompile(`(?s)curl -sS -X (\w+) "\$EGOV(/[^"]+)".*?-d '(.*?)'`)
	examples := curl.FindAllStringSubmatch(string(b), -1)
	if len(examples) < 3 {
		t.Fatalf("found %d curl examples with a body in README.md, want at least 3", len(examples))
	}
	for _, ex := range examples {
		method, path, body := ex[1], ex[2], ex[3]
		r := a.do(method, path, tokenThaiNguyen, "application/json", strings.NewReader(body))
		if r.status != http.StatusAccepted && r.status != http.StatusOK {
			t.Errorf("README example %s %s: status %d, body %s", method, path, r.status, r.body)
			continue
		}
		t.Logf("%s %s: %d %s", method, path, r.status, r.body)
	}
}
