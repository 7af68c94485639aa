// Package golden holds the -update flag of the dashboards tests.
//
// `go test ./dashboards/... -update` hands -update to every test binary under dashboards/, and a binary that does not
// define the flag fails. So every test package there imports this one, most of them only for that:
//
//	import _ "github.com/egovtrack/egovtrack/dashboards/internal/golden" // accepts -update
package golden

import "flag"

var update = flag.Bool("update", false, "rewrite the committed generated files (deploy/grafana) instead of comparing")

// Update reports whether the tests were run with -update.
func Update() bool { return *update }
