package brief

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
)

// Written is what Write wrote.
type Written struct {
	Figures   Figures
	HTML, PDF string
}

// Write computes the briefing for date (zero: the latest day with data up to today, whose silent units are then
// judged at its end) against since (zero: 7 days before it), and writes brief-<date>.html and, printed by chromium, brief-<date>.pdf into dir.
func Write(ctx context.Context, q Querier, date, since time.Time, lang, dir, chromium string, fonts Fonts) (Written, error) {
	latest, sinceGiven := date.IsZero(), !since.IsZero()
	if latest {
		date = time.Now()
	}
	if !sinceGiven {
		since = dayOf(date).AddDate(0, 0, -7)
	}
	f, err := Compute(ctx, q, date, since)
	if err != nil {
		return Written{}, err
	}
	if latest && !f.AsOf.IsZero() && !f.AsOf.Equal(f.Date) {
		// The latest day with data, compared with the day asked for, or a week before it.
		if !sinceGiven {
			since = f.AsOf.AddDate(0, 0, -7)
		}
		if f, err = Compute(ctx, q, f.AsOf, since); err != nil {
			return Written{}, err
		}
	}
	if f.AsOf.IsZero() {
		return Written{}, fmt.Errorf("no coverage in ClickHouse up to %s: nothing to brief on", f.Date.Format(time.DateOnly))
	}
	page, err := HTML(f, lang, fonts)
	if err != nil {
		return Written{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Written{}, err
	}
	name := "brief-" + f.Date.Format(time.DateOnly)
	w := Written{Figures: f, HTML: filepath.Join(dir, name+".html"), PDF: filepath.Join(dir, name+".pdf")}
	if err := os.WriteFile(w.HTML, page, 0o644); err != nil {
		return Written{}, err
	}
	if err := PDF(ctx, chromium, w.HTML, w.PDF); err != nil {
		return Written{}, err
	}
	return w, nil
}

// dayOf is the start of t's day in Vietnam.
func dayOf(t time.Time) time.Time {
	v := t.In(event.Vietnam)
	return time.Date(v.Year(), v.Month(), v.Day(), 0, 0, 0, 0, event.Vietnam)
}
