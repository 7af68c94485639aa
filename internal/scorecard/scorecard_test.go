package scorecard_test

import (
	"strings"
	"testing"

	"github.com/egovtrack/egovtrack/internal/scorecard"
)

// The shipped card adds up (each group's indicators to the group's points, the groups to 100) and names only known
// measures; a card that does not is refused, naming the indicator or group.
func TestCardIsChecked(t *testing.T) {
	c := scorecard.Decision766()
	total := 0
	for _, g := range c.Groups {
		total += g.Points
	}
	if total != 100 || len(c.Groups) != 5 || len(c.Computed()) == 0 {
		t.Fatalf("%d groups worth %d points, %d indicators computed", len(c.Groups), total, len(c.Computed()))
	}
	const good = `{"groups": [{"group": 2, "name": "g", "points": 20}], "indicators": [
		{"id": "2.1", "group": 2, "name": "n", "numerator": "settled_on_time", "denominator": "settled", "threshold": 1, "points": 20, "weight": "published", "computed": true}]}`
	if _, err := scorecard.Parse([]byte(good)); err != nil {
		t.Fatalf("a good card is refused: %v", err)
	}
	for _, tc := range []struct{ name, from, to, want string }{
		{"unknown field", `"weight": "published"`, `"weight": "published", "colour": "red"`, "colour"},
		{"unknown measure", `"settled_on_time"`, `"settled_in_time"`, `"2.1"`},
		{"threshold above 1", `"threshold": 1`, `"threshold": 80`, "threshold 80"},
		{"threshold zero", `"threshold": 1`, `"threshold": 0`, "threshold 0"},
		{"points not adding up", `"points": 20, "weight"`, `"points": 18, "weight"`, "group 2"},
		{"weight neither published nor assumed", `"weight": "published"`, `"weight": "guessed"`, "guessed"},
		{"not computed without a reason", `"computed": true`, `"computed": false`, "why_not"},
		{"a key twice", `"points": 20, "weight"`, `"points": 20, "points": 20, "weight"`, "points"},
		{"group unknown", `"group": 2, "name": "n"`, `"group": 3, "name": "n"`, "group 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(good, tc.from, tc.to, 1)
			if bad == good {
				t.Fatal("the case changes nothing")
			}
			_, err := scorecard.Parse([]byte(bad))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one naming %s", err, tc.want)
			}
		})
	}
}
