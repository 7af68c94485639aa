package brief

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Fonts are the font files embedded in the page (regular, bold), so that it needs nothing from the network and
// every Vietnamese letter prints: Debian's fonts-dejavu-core by default.
type Fonts struct{ Regular, Bold string }

// DefaultFonts are Debian's DejaVu Sans.
var DefaultFonts = Fonts{
	Regular: "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
	Bold:    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
}

// words are the page's words in each language.
var words = map[string]map[string]string{
	"vi": {
		"title": "Báo cáo tiến độ dịch vụ công trực tuyến mức độ 4", "date": "Ngày", "coverage_short": "Tỷ lệ mức độ 4",
		"silent_count": "đơn vị chưa báo cáo đúng hạn", "asof": "Số liệu đến hết ngày",
		"since": "so với ngày", "coverage": "Tỷ lệ thủ tục đủ điều kiện đạt mức độ 4", "trajectory": "Lộ trình",
		"full": "Đơn vị đạt 100%", "ontrack": "Đúng lộ trình", "behind": "Chậm lộ trình", "silent": "Đơn vị chưa báo cáo đúng hạn",
		"reached": "Đạt 100% kể từ", "none": "Không có", "furthest": "Mười đơn vị chậm nhất so với lộ trình",
		"gap": "Chênh lệch (điểm %)", "unit": "Đơn vị", "days": "ngày", "never": "chưa từng báo cáo",
		"assistant": "Trợ lý ảo cho công chức, số đơn vị theo giai đoạn", "forecast": "Dự báo đạt 100%",
		"pace": "với tốc độ 30 ngày qua", "points_day": "điểm %/ngày", "method": "Cách tính",
		"method_text": "Tỷ lệ = thủ tục đủ điều kiện cung cấp toàn trình ở mức độ 4 / thủ tục đủ điều kiện, theo ngày giờ Việt Nam, từ các sự kiện đã ghi vào ClickHouse; cùng câu lệnh SQL với bảng điều khiển Grafana.",
		"reached_f":   "đã đạt", "no_history": "chưa đủ 30 ngày số liệu", "stalled": "không tăng trong 30 ngày qua",
		"overflow": "không tính được", "beyond": "sau hơn 10 năm",
		"not_started": "Chưa triển khai", "planned": "Kế hoạch", "pilot": "Thí điểm", "live": "Chính thức",
		"change": "thay đổi", "eligible": "thủ tục đủ điều kiện", "level4": "ở mức độ 4",
	},
	"en": {
		"title": "Level-4 online public services: progress briefing", "date": "Date", "coverage_short": "Level-4 coverage",
		"silent_count": "units have not reported on time", "asof": "Figures as of the end of",
		"since": "compared with", "coverage": "Eligible procedures at level 4", "trajectory": "Trajectory",
		"full": "Units at 100%", "ontrack": "On track", "behind": "Behind", "silent": "Units that have not reported on time",
		"reached": "Reached 100% since", "none": "None", "furthest": "The ten furthest behind their trajectory",
		"gap": "Gap (points)", "unit": "Unit", "days": "days", "never": "never reported",
		"assistant": "Virtual assistant for civil servants: units by stage", "forecast": "100% reached",
		"pace": "at the pace of the last 30 days", "points_day": "points a day", "method": "Method",
		"method_text": "Coverage = eligible procedures offered fully online (level 4) / eligible procedures, by Vietnamese day, from the events stored in ClickHouse; the same SQL as the Grafana dashboards.",
		"reached_f":   "reached", "no_history": "less than 30 days of data", "stalled": "not rising over the last 30 days",
		"overflow": "cannot be worked out", "beyond": "in more than ten years",
		"not_started": "Not started", "planned": "Planned", "pilot": "Pilot", "live": "Live",
		"change": "change", "eligible": "eligible procedures", "level4": "at level 4",
	},
}

// HTML is the briefing page of f in lang ("vi" or "en"): one file, its fonts, styles and charts inside, laid out for
// A4 paper.
func HTML(f Figures, lang string, fonts Fonts) ([]byte, error) {
	w, ok := words[lang]
	if !ok {
		return nil, fmt.Errorf("language %q: want vi or en", lang)
	}
	regular, err := fontData(fonts.Regular)
	if err != nil {
		return nil, err
	}
	bold, err := fontData(fonts.Bold)
	if err != nil {
		return nil, err
	}
	cov, err := coverageChart(f, w)
	if err != nil {
		return nil, err
	}
	stages, err := stagesChart(f, w)
	if err != nil {
		return nil, err
	}
	num := func(v float64, decimals int) string {
		if math.IsNaN(v) {
			return "—"
		}
		s := fmt.Sprintf("%.*f", decimals, v)
		if lang == "vi" {
			s = strings.Replace(s, ".", ",", 1)
		}
		return s
	}
	signed := func(v float64) string {
		if math.IsNaN(v) {
			return "—"
		}
		if v >= 0 {
			return "+" + num(v, 1)
		}
		return "−" + num(-v, 1)
	}
	day := func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		if lang == "vi" {
			return t.Format("02/01/2006")
		}
		return t.Format("2 January 2006")
	}
	forecast := func() string {
		if d, err := time.Parse(time.DateOnly, f.Forecast); err == nil {
			return day(d)
		}
		if f.Forecast == "reached" { // "reached" is also a heading's key: the forecast's word is reached_f
			return w["reached_f"]
		}
		if s, ok := w[f.Forecast]; ok {
			return s
		}
		return "—"
	}
	var b bytes.Buffer
	err = page.Execute(&b, map[string]any{
		"W": w, "Lang": lang, "F": f, "Regular": regular, "Bold": bold,
		"CoverageChart": template.HTML(cov), "StagesChart": template.HTML(stages),
		"Num": num, "Signed": signed, "Day": day, "Forecast": forecast(), "Change": f.Coverage - f.CoverageSince,
		"StageNames": func() []string { return StageOrder },
	})
	if err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func fontData(path string) (template.URL, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("font for the briefing (install fonts-dejavu-core, or name another): %w", err)
	}
	return template.URL("data:font/ttf;base64," + base64.StdEncoding.EncodeToString(b)), nil
}

// svg renders p at w×h as an SVG element for inline use (without its XML declaration).
func svg(p *plot.Plot, w, h vg.Length) (string, error) {
	wt, err := p.WriterTo(w, h, "svg")
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return "", err
	}
	s := b.String()
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	return s, nil
}

// coverageChart is national coverage and the trajectory per day, percent against days.
func coverageChart(f Figures, w map[string]string) (string, error) {
	p := plot.New()
	p.Y.Label.Text = "%"
	p.Y.Min, p.Y.Max = 0, 100
	p.X.Tick.Marker = dayTicks{}
	var cov, traj plotter.XYs
	for _, pt := range f.Series {
		x := float64(pt.Day.Unix())
		if !math.IsNaN(pt.Coverage) {
			cov = append(cov, plotter.XY{X: x, Y: pt.Coverage})
		}
		if !math.IsNaN(pt.Trajectory) {
			traj = append(traj, plotter.XY{X: x, Y: pt.Trajectory})
		}
	}
	if len(cov) > 0 {
		l, err := plotter.NewLine(cov)
		if err != nil {
			return "", err
		}
		l.Width = vg.Points(2)
		l.Color = blue
		p.Add(l)
		p.Legend.Add(w["coverage_short"], l)
	}
	if len(traj) > 0 {
		l, err := plotter.NewLine(traj)
		if err != nil {
			return "", err
		}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		l.Color = grey
		p.Add(l)
		p.Legend.Add(w["trajectory"], l)
	}
	p.Legend.Top, p.Legend.Left = false, false // bottom right: the lines rise to the top right
	p.Legend.XOffs, p.Legend.YOffs = -vg.Points(6), vg.Points(6)
	p.Add(plotter.NewGrid())
	return svg(p, 17*vg.Centimeter, 7*vg.Centimeter)
}

// stagesChart is how many units are at each stage of the virtual assistant.
func stagesChart(f Figures, w map[string]string) (string, error) {
	p := plot.New()
	values := make(plotter.Values, len(StageOrder))
	names := make([]string, len(StageOrder))
	for i, s := range StageOrder {
		values[i], names[i] = float64(f.Stages[s]), w[s]
	}
	bars, err := plotter.NewBarChart(values, vg.Centimeter)
	if err != nil {
		return "", err
	}
	bars.Color = blue
	bars.LineStyle.Width = 0
	p.Add(bars)
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.7, float64(len(StageOrder))-0.3 // room for the outer labels
	p.Y.Label.Text = w["unit"]
	p.Y.Min = 0
	p.Y.Tick.Marker = wholeTicks{}
	return svg(p, 17*vg.Centimeter, 5.5*vg.Centimeter)
}

// wholeTicks marks whole numbers: units are counted.
type wholeTicks struct{}

func (wholeTicks) Ticks(min, max float64) []plot.Tick {
	step := math.Max(1, math.Ceil((max-min)/5))
	var out []plot.Tick
	for v := math.Ceil(min); v <= max; v += step {
		out = append(out, plot.Tick{Value: v, Label: strconv.Itoa(int(v))})
	}
	return out
}

// dayTicks marks the first of each month.
type dayTicks struct{}

func (dayTicks) Ticks(min, max float64) []plot.Tick {
	var out []plot.Tick
	t := time.Unix(int64(min), 0).In(event.Vietnam)
	m := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, event.Vietnam)
	for ; float64(m.Unix()) <= max; m = m.AddDate(0, 1, 0) {
		if float64(m.Unix()) >= min {
			out = append(out, plot.Tick{Value: float64(m.Unix()), Label: m.Format("01/2006")})
		}
	}
	return out
}

// The charts' colours: the dashboards' blue for coverage, grey for the trajectory.
var (
	blue = color.RGBA{R: 0x1f, G: 0x60, B: 0xc4, A: 0xff}
	grey = color.RGBA{R: 0x6e, G: 0x6e, B: 0x6e, A: 0xff}
)
