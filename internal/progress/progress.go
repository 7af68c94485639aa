// Package progress shows how far a long run has got: a bar when a person watches a terminal, a log line every few
// seconds otherwise (CI, a service's journal), so that neither is flooded nor left wondering.
package progress

import (
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Every is how often a log line reports progress when there is no terminal.
const Every = 5 * time.Second

// Reporter reports progress towards a total.
type Reporter struct {
	what  string
	total int
	bar   *progressbar.ProgressBar
	log   *slog.Logger
	last  time.Time
	began time.Time
}

// New starts reporting progress of what towards total. It draws a bar on out when out is a terminal, and logs
// otherwise.
func New(what string, total int, out io.Writer, log *slog.Logger) *Reporter {
	r := &Reporter{what: what, total: total, log: log, last: time.Now(), began: time.Now()}
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		r.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(out),
			progressbar.OptionSetDescription(what),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("events"),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	return r
}

// Set reports that done of the total are done.
func (r *Reporter) Set(done int) {
	if r.bar != nil {
		_ = r.bar.Set(done)
		return
	}
	if time.Since(r.last) >= Every {
		r.last = time.Now()
		r.log.Info(r.what, "done", done, "of", r.total)
	}
}

// Done ends the report.
func (r *Reporter) Done() {
	if r.bar != nil {
		_ = r.bar.Finish()
	}
}
