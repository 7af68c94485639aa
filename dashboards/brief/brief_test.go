package brief_test

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/dashboards/brief"
	"github.com/egovtrack/egovtrack/dashboards/internal/campaigntest"
	"github.com/egovtrack/egovtrack/dashboards/internal/golden"
	"github.com/egovtrack/egovtrack/internal/enginetest"
	"github.com/egovtrack/egovtrack/internal/event"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

// engine is a Querier on one of the test engines, through its TSV.
type engine struct{ e enginetest.Engine }

func (q engine) Query(ctx context.Context, sql string) (brief.Table, error) {
	res, err := enginetest.Query(ctx, q.e, sql)
	if err != nil {
		return brief.Table{}, err
	}
	return brief.Table{Names: res.Names, Rows: res.Rows}, nil
}

// fullOn is the units at 100% on day, by reference: something eligible, all of it at level 4.
func fullOn(n campaigntest.Counts, day time.Time) map[string]bool {
	out := map[string]bool{}
	for u, days := range n.Units {
		if c, ok := days[day]; ok && c[0] > 0 && c[1] == c[0] {
			out[u.String()] = true
		}
	}
	return out
}

// briefDates are the days the briefing is checked on: the README's, one before any unit reached 100%, and one after
// the campaign's last change, when nothing changed in the week before.
func briefDates(t *testing.T, c *campaigntest.Campaign) [][2]time.Time {
	t.Helper()
	last := c.LastChangeDay()
	n := c.Counts(last)
	firstFull := time.Time{}
	for d := n.First; !d.After(last); d = d.AddDate(0, 0, 1) {
		if len(fullOn(n, d)) > 0 {
			firstFull = d
			break
		}
	}
	if firstFull.IsZero() || firstFull.Sub(n.First) < 10*24*time.Hour {
		t.Fatalf("the campaign has no unit at 100%% (%v), or one from its start: no date before any", firstFull)
	}
	readme := time.Date(2021, 12, 15, 0, 0, 0, 0, event.Vietnam)
	before := firstFull.AddDate(0, 0, -3)
	after := last.AddDate(0, 0, 10)
	return [][2]time.Time{{readme, readme.AddDate(0, 0, -7)}, {before, before.AddDate(0, 0, -7)}, {after, after.AddDate(0, 0, -7)}}
}

// The briefing's figures are those Go computes from the published events, on every date checked, and the same on
// ClickHouse 18.16 and 26.7.
func TestFiguresAreTheEvents(t *testing.T) {
	c := campaigntest.Load(t)
	e := c.Engines(t)
	last := c.LastChangeDay()
	for _, ds := range briefDates(t, c) {
		date, since := ds[0], ds[1]
		t.Run(date.Format(time.DateOnly), func(t *testing.T) {
			f, err := brief.Compute(t.Context(), engine{e.Server}, date, since)
			if err != nil {
				t.Fatal(err)
			}
			local, err := brief.Compute(t.Context(), engine{e.Local}, date, since)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := fmt.Sprintf("%+v", f), fmt.Sprintf("%+v", local); a != b {
				t.Errorf("ClickHouse 18.16 and 26.7 give different figures:\n%s\n%s", a, b)
			}
			// The command reads through the native protocol (brief.Conn): the same figures.
			native, err := brief.Compute(t.Context(), brief.Conn{Conn: c.Conn}, date, since)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := fmt.Sprintf("%+v", f), fmt.Sprintf("%+v", native); a != b {
				t.Errorf("over HTTP's TSV and over the native protocol, different figures:\n%s\n%s", a, b)
			}
			asOf, sinceDay := date, since
			if asOf.After(last) {
				asOf = last
			}
			if sinceDay.After(last) {
				sinceDay = last
			}
			n := c.Counts(asOf)
			share := func(d time.Time) float64 { return float64(100*n.Level4[d]) / float64(n.Eligible[d]) }
			if !f.AsOf.Equal(asOf) || f.Coverage != share(asOf) || f.Eligible != n.Eligible[asOf] || f.Level4 != n.Level4[asOf] {
				t.Errorf("as of %s: %d of %d, %g%%; the events say as of %s: %d of %d, %g%%", f.AsOf.Format(time.DateOnly), f.Level4,
					f.Eligible, f.Coverage, asOf.Format(time.DateOnly), n.Level4[asOf], n.Eligible[asOf], share(asOf))
			}
			if f.CoverageSince != share(sinceDay) {
				t.Errorf("coverage on %s: %g%%, the events say %g%%", since.Format(time.DateOnly), f.CoverageSince, share(sinceDay))
			}
			fullNow, fullThen := fullOn(n, asOf), fullOn(n, sinceDay)
			reached := map[string]bool{}
			for _, u := range f.Reached {
				reached[u.Ref] = true
			}
			wantReached := map[string]bool{}
			for r := range fullNow {
				if !fullThen[r] {
					wantReached[r] = true
				}
			}
			if f.Full != len(fullNow) || f.FullSince != len(fullThen) || !maps.Equal(reached, wantReached) {
				t.Errorf("at 100%%: %d, %d on %s, reached %v; the events say %d, %d, %v", f.Full, f.FullSince,
					since.Format(time.DateOnly), reached, len(fullNow), len(fullThen), wantReached)
			}
			silent := map[string]bool{}
			for _, u := range f.Silent {
				kind, code, _ := strings.Cut(u.Ref, "/")
				silent[kind+"/"+code+" "+u.Name] = true
			}
			if want := c.Silent(date.Add(24*time.Hour-time.Second), 0); !maps.Equal(silent, want) {
				t.Errorf("silent: %v; the events say %v", silent, want)
			}
			// And the page shows them: the coverage and the units at 100% as Go computed them, each silent unit by name.
			page, err := brief.HTML(f, "vi", brief.DefaultFonts)
			if err != nil {
				t.Fatal(err)
			}
			shown := []string{
				strings.Replace(fmt.Sprintf("<b>%.1f%%</b>", share(asOf)), ".", ",", 1),
				fmt.Sprintf("<b>%d</b>", len(fullNow)),
			}
			for k := range c.Silent(date.Add(24*time.Hour-time.Second), 0) {
				_, name, _ := strings.Cut(k, " ")
				shown = append(shown, html.EscapeString(name))
			}
			for _, w := range shown {
				if !bytes.Contains(page, []byte(w)) {
					t.Errorf("the page lacks %q", w)
				}
			}
			t.Logf("as of %s: %.2f%% (%.2f%% on %s), %d at 100%%, %d reached, %d behind, %d silent", f.AsOf.Format(time.DateOnly),
				f.Coverage, f.CoverageSince, since.Format(time.DateOnly), f.Full, len(f.Reached), f.Behind, len(f.Silent))
		})
	}
}

// remote is what makes a browser fetch something: a source, a link or a CSS url on the network.
var remote = regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|@import`)

// tool is the path of a command the browser test needs; it fails, never skips, without it.
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is missing: install Debian's %s (.ci/install-tools does)", name, pkg)
	}
	return p
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The briefing of 15 December 2021, rendered by a real browser (Debian's headless Chromium) and printed: two or three
// A4 pages, its fonts embedded (Vietnamese letters included), the headline figures and the units' names, with their
// diacritics, in the PDF's text; page 1 as a PNG for a person to look at (testdata/brief-page1.png, rewritten by
// -update, which the README shows).
func TestThePrintedBriefing(t *testing.T) {
	chromium := tool(t, "chromium", "chromium")
	for _, p := range []string{"pdfinfo", "pdffonts", "pdftotext", "pdftoppm"} {
		tool(t, p, "poppler-utils")
	}
	c := campaigntest.Load(t)
	e := c.Engines(t)
	date := time.Date(2021, 12, 15, 0, 0, 0, 0, event.Vietnam)
	f, err := brief.Compute(t.Context(), engine{e.Server}, date, date.AddDate(0, 0, -7))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Furthest) == 0 || len(f.Silent) == 0 {
		t.Fatalf("the briefing lists %d units behind and %d silent: nothing of the lists to check", len(f.Furthest), len(f.Silent))
	}
	dir := t.TempDir()
	htmlPath, pdfPath := filepath.Join(dir, "brief.html"), filepath.Join(dir, "brief.pdf")
	page, err := brief.HTML(f, "vi", brief.DefaultFonts)
	if err != nil {
		t.Fatal(err)
	}
	if loc := remote.FindIndex(page); loc != nil {
		t.Errorf("the page fetches %q from the network: it must hold everything it shows", page[loc[0]:loc[1]])
	}
	if err := os.WriteFile(htmlPath, page, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := brief.PDF(t.Context(), chromium, htmlPath, pdfPath); err != nil {
		t.Fatal(err)
	}

	info := run(t, "pdfinfo", pdfPath)
	pages := 0
	for _, line := range strings.Split(info, "\n") {
		if n, ok := strings.CutPrefix(line, "Pages:"); ok {
			pages, _ = strconv.Atoi(strings.TrimSpace(n))
		}
	}
	if pages < 2 || pages > 3 {
		t.Errorf("%d pages, want two or three", pages)
	}
	sizes := run(t, "pdfinfo", "-f", "1", "-l", strconv.Itoa(pages), pdfPath)
	if got := strings.Count(sizes, "(A4)"); got != pages {
		t.Errorf("%d of %d pages are A4:\n%s", got, pages, sizes)
	}
	fonts := run(t, "pdffonts", pdfPath)
	embedded := 0
	for _, line := range strings.Split(fonts, "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 5 && strings.Contains(fields[0], "DejaVu") {
			if !slices.Contains(fields, "yes") {
				t.Errorf("font not embedded: %s", line)
			}
			embedded++
		}
	}
	if embedded == 0 {
		t.Errorf("no DejaVu font in the PDF:\n%s", fonts)
	}
	text := run(t, "pdftotext", "-layout", pdfPath, "-")
	want := []string{
		"Báo cáo tiến độ dịch vụ công trực tuyến mức độ 4",
		strings.Replace(fmt.Sprintf("%.1f%%", f.Coverage), ".", ",", 1),
		fmt.Sprintf("%d / %d", f.OnTrack, f.Behind),
		f.Furthest[0].Name, f.Silent[0].Name,
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("the PDF's text lacks %q", w)
		}
	}
	png := filepath.Join(dir, "brief-page1")
	run(t, "pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", pdfPath, png)
	if golden.Update() {
		b, err := os.ReadFile(png + ".png")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "brief-page1.png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("page 1: %s.png (the README's: dashboards/brief/testdata/brief-page1.png, rewritten by -update)", png)
}

// The forecast is said in words in both languages: a day, reached, or why there is none.
func TestTheForecastInWords(t *testing.T) {
	for _, c := range []struct{ lang, forecast, want string }{
		{"vi", "reached", "đã đạt"},
		{"en", "reached", "reached"},
		{"en", "stalled", "not rising over the last 30 days"},
		{"vi", "2022-02-03", "03/02/2022"},
		{"en", "2022-02-03", "3 February 2022"},
	} {
		page, err := brief.HTML(brief.Figures{Forecast: c.forecast}, c.lang, brief.DefaultFonts)
		if err != nil {
			t.Fatalf("%s %s: %v", c.lang, c.forecast, err)
		}
		if !strings.Contains(string(page), c.want) {
			t.Errorf("%s: the forecast %q is not said as %q", c.lang, c.forecast, c.want)
		}
		if c.forecast == "reached" && strings.Contains(string(page), "<no value>") {
			t.Errorf("%s: a word is missing", c.lang)
		}
	}
}
