package board_test

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/collectors/simulate"
	"github.com/egovtrack/egovtrack/dashboards/board"
	"github.com/egovtrack/egovtrack/dashboards/chquery"
	"github.com/egovtrack/egovtrack/dashboards/internal/campaigntest"
	"github.com/egovtrack/egovtrack/internal/enginetest"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/scorecard"
	"github.com/egovtrack/egovtrack/internal/scorecard/scorecardtest"
	"github.com/egovtrack/egovtrack/internal/units"
)

// referenceEvents are the campaign's events as the scorecard's reference reads them.
func referenceEvents(c *campaigntest.Campaign) []scorecardtest.Event {
	out := make([]scorecardtest.Event, len(c.Events))
	for i, ev := range c.Events {
		out[i] = scorecardtest.Event{ID: ev.Env.ID, Data: ev.Data, Seq: ev.Seq}
	}
	return out
}

// dossierCampaign is the campaign of 2021 for four units, with their dossiers from July to December (every 40th
// dossier event published a second time, past JetStream's duplicate window).
func dossierCampaign(t *testing.T) *campaigntest.Campaign {
	t.Helper()
	o := simulate.Campaign2021(campaigntest.Seed)
	all := units.All()
	o.Units = []units.Unit{all[0], all[30], all[len(all)-5], all[len(all)-12]} // two provinces, two ministries
	envs, err := simulate.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := simulate.CatalogueOf(envs)
	if err != nil {
		t.Fatal(err)
	}
	var again []event.Envelope
	n := 0
	for d, err := range simulate.Dossiers(simulate.DossierOptions{Seed: campaigntest.Seed, Procedures: cat, PerDay: 10,
		Start: time.Date(2021, 7, 1, 0, 0, 0, 0, event.Vietnam), End: time.Date(2022, 1, 1, 0, 0, 0, 0, event.Vietnam)}) {
		if err != nil {
			t.Fatal(err)
		}
		env, err := event.New(simulate.Source, d)
		if err != nil {
			t.Fatal(err)
		}
		envs = append(envs, env)
		if n++; n%40 == 0 {
			again = append(again, env)
		}
	}
	if n < 10_000 {
		t.Fatalf("%d dossier events: too few to score", n)
	}
	// A fee dossier received at the end of November and paid online in December, of a procedure with no other
	// dossier: in December alone its procedure is paid online without a fee receipt, and 3.5 must not count it.
	u, id := o.Units[0].Ref, strings.Repeat("ef", 32)
	for _, d := range []event.Data{
		&event.DossierReceivedData{Unit: u, Procedure: "9.999001", Dossier: id, Channel: event.ChannelOnline, Fee: true,
			ReceivedAt: time.Date(2021, 11, 29, 9, 0, 0, 0, event.Vietnam), DueAt: time.Date(2021, 12, 6, 17, 0, 0, 0, event.Vietnam)},
		&event.DossierPaidData{Unit: u, Dossier: id, Online: true, PaidAt: time.Date(2021, 12, 2, 10, 0, 0, 0, event.Vietnam)},
	} {
		env, err := event.New(simulate.Source, d)
		if err != nil {
			t.Fatal(err)
		}
		envs = append(envs, env)
	}
	return campaigntest.Project(t, envs, again)
}

// tsvNumber reads a number of an engine's TSV answer; NULL is NaN.
func tsvNumber(t *testing.T, s string) float64 {
	t.Helper()
	if s == `\N` {
		return math.NaN()
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return f
}

func ratFloat(r *big.Rat) float64 { f, _ := r.Float64(); return f }

// near says whether an engine's figure equals the reference's to 1e-9 (relative), NULL standing for "none".
func near(got float64, want *big.Rat) bool {
	if want == nil {
		return math.IsNaN(got)
	}
	w := ratFloat(want)
	return math.Abs(got-w) <= 1e-9*math.Max(1, math.Abs(w))
}

// Every indicator of the Decision 766 scorecard, every group's points and every unit's score, on both engines, for
// periods of 1, 3, 6 months and a quarter ending mid-month, equal a computation from the events with exact fractions:
// over the campaign of four units with six months of dossiers, some published twice.
func TestScorecardEqualsTheEvents(t *testing.T) {
	c := dossierCampaign(t)
	e := c.Engines(t)
	card := scorecard.Decision766()
	ctx := context.Background()
	checked := 0
	for _, p := range []struct {
		months int
		to     time.Time
	}{
		{1, time.Date(2021, 12, 31, 23, 59, 59, 0, event.Vietnam)},
		{3, time.Date(2021, 12, 31, 23, 59, 59, 0, event.Vietnam)},
		{6, time.Date(2021, 12, 31, 23, 59, 59, 0, event.Vietnam)},
		{3, time.Date(2021, 10, 15, 12, 0, 0, 0, event.Vietnam)}, // the catalogue mid-month, dossiers of whole months
	} {
		v := p.to.In(event.Vietnam)
		last := time.Date(v.Year(), v.Month(), 1, 0, 0, 0, 0, event.Vietnam)
		first := last.AddDate(0, 1-p.months, 0)
		ref := scorecardtest.Reference(referenceEvents(c), first, last, p.to)
		req := chquery.Request{From: first, To: p.to, Interval: 24 * time.Hour, Vars: map[string]string{
			board.DatasourceVar: board.DatasourceUID, board.MonthsVar: strconv.Itoa(p.months), board.HistoryVar: board.HistoryAsIs}}
		name := fmt.Sprintf("%d months to %s", p.months, p.to.Format(time.DateOnly))
		t.Run(name, func(t *testing.T) {
			sql := expand(t, board.ScorecardSQL(card), req)
			for _, eng := range []enginetest.Engine{e.Server, e.Local} {
				res, err := enginetest.Query(ctx, eng, sql)
				if err != nil {
					t.Fatalf("%s: %v", eng.Name(), err)
				}
				col := map[string]int{}
				for i, n := range res.Names {
					col[n] = i
				}
				if len(res.Rows) != len(ref) {
					t.Errorf("%s: %d units, want %d", eng.Name(), len(res.Rows), len(ref))
				}
				prev := math.Inf(1)
				for _, row := range res.Rows {
					kind, code, _ := strings.Cut(row[col["ref"]], "/")
					u := units.Ref{Kind: units.Kind(kind), Code: code}
					mu, ok := ref[u]
					if !ok {
						t.Errorf("%s: %s is listed, the reference has nothing of it", eng.Name(), u)
					}
					per, earned, possible := scorecardtest.Score(card, mu)
					score := scorecardtest.Percent(card, mu)
					got := tsvNumber(t, row[col["score"]])
					if !near(got, score) {
						t.Errorf("%s: %s: score %v, want %v", eng.Name(), u, got, score.FloatString(6))
					}
					if !math.IsNaN(got) {
						if got > prev+1e-9 {
							t.Errorf("%s: %s's score %v comes after %v: not best first", eng.Name(), u, got, prev)
						}
						prev = got
					}
					if g := tsvNumber(t, row[col["earned"]]); !near(g, earned) || !near(tsvNumber(t, row[col["possible"]]), possible) {
						t.Errorf("%s: %s: %v points of %s, want %s of %s", eng.Name(), u, g, row[col["possible"]], earned.FloatString(6), possible.FloatString(0))
					}
					groups := map[int]*big.Rat{}
					for _, in := range card.Computed() {
						ratioCol := board.IndicatorColumn(in)
						var want *big.Rat
						if d := mu[in.Denominator]; d > 0 {
							want = big.NewRat(100*mu[in.Numerator], d)
						}
						if g := tsvNumber(t, row[col[ratioCol]]); !near(g, want) {
							t.Errorf("%s: %s: indicator %s = %v, want %v (%d / %d)", eng.Name(), u, in.ID, g, want, mu[in.Numerator], mu[in.Denominator])
						}
						if pts := per[in.ID]; pts != nil {
							if groups[in.Group] == nil {
								groups[in.Group] = new(big.Rat)
							}
							groups[in.Group].Add(groups[in.Group], pts)
						}
						checked++
					}
					for _, g := range []int{2, 3, 4, 5} {
						if got := tsvNumber(t, row[col[fmt.Sprintf("g%d", g)]]); !near(got, groups[g]) {
							t.Errorf("%s: %s: group %d = %v, want %v", eng.Name(), u, g, got, groups[g])
						}
					}
				}
			}
			// The unit's indicators, for each unit: the same figures in rows.
			for u, mu := range ref {
				req.Vars[board.UnitVar] = u.String()
				sql := expand(t, board.UnitIndicatorsSQL(card), req)
				per, _, _ := scorecardtest.Score(card, mu)
				for _, eng := range []enginetest.Engine{e.Server, e.Local} {
					res, err := enginetest.Query(ctx, eng, sql)
					if err != nil {
						t.Fatalf("%s: %v", eng.Name(), err)
					}
					if len(res.Rows) != len(card.Computed()) {
						t.Fatalf("%s: %s: %d indicators, want %d", eng.Name(), u, len(res.Rows), len(card.Computed()))
					}
					for i, in := range card.Computed() {
						row := res.Rows[i]
						if row[0] != in.ID || row[3] != strconv.FormatInt(mu[in.Numerator], 10) || row[4] != strconv.FormatInt(mu[in.Denominator], 10) {
							t.Errorf("%s: %s: row %v, want %s with %d / %d", eng.Name(), u, row, in.ID, mu[in.Numerator], mu[in.Denominator])
						}
						if got := tsvNumber(t, row[7]); !near(got, per[in.ID]) {
							t.Errorf("%s: %s: indicator %s earns %v, want %v", eng.Name(), u, in.ID, got, per[in.ID])
						}
					}
				}
			}
		})
	}
	// The periods must exercise the scoring: dossiers in every unit, full marks and partial marks both met.
	if checked == 0 {
		t.Fatal("nothing checked")
	}
	full, partial := 0, 0
	for u, mu := range scorecardtest.Reference(referenceEvents(c), time.Date(2021, 7, 1, 0, 0, 0, 0, event.Vietnam), time.Date(2021, 12, 1, 0, 0, 0, 0, event.Vietnam), time.Date(2021, 12, 31, 0, 0, 0, 0, event.Vietnam)) {
		if mu[scorecard.Received] == 0 || mu[scorecard.Feedback] == 0 || mu[scorecard.FeeProcedures] == 0 {
			t.Errorf("%s: %v: the fixture leaves an indicator unscored", u, mu)
		}
		per, _, _ := scorecardtest.Score(card, mu)
		for _, in := range card.Computed() {
			if p := per[in.ID]; p != nil && p.Cmp(big.NewRat(int64(in.Points), 1)) == 0 {
				full++
			} else if p != nil && p.Sign() > 0 {
				partial++
			}
		}
	}
	if full == 0 || partial == 0 {
		t.Errorf("%d indicators at full marks, %d partly: want both", full, partial)
	}
}

func scorecardColumns() []string {
	cols := []string{"ref", "name", "kind", "score", "earned", "possible", "g2", "g3", "g4", "g5"}
	for _, in := range scorecard.Decision766().Computed() {
		cols = append(cols, board.IndicatorColumn(in))
	}
	return append(cols, "received", "settled")
}

// campaignPeriod is the scorecard's reference for a window of the campaign, at the three months the panels are run
// with.
func campaignPeriod(x checkContext) map[units.Ref]scorecardtest.Measures {
	v := x.w.to.In(event.Vietnam)
	last := time.Date(v.Year(), v.Month(), 1, 0, 0, 0, 0, event.Vietnam)
	return scorecardtest.Reference(referenceEvents(x.c), last.AddDate(0, -2, 0), last, x.w.to)
}

func scorecardRanking(t *testing.T, got result, x checkContext) {
	ref := campaignPeriod(x)
	card := scorecard.Decision766()
	if len(got.rows) != len(ref) {
		t.Errorf("%d units, want %d", len(got.rows), len(ref))
	}
	for _, row := range got.rows {
		kind, code, _ := strings.Cut(row[0].(string), "/")
		u := units.Ref{Kind: units.Kind(kind), Code: code}
		want := scorecardtest.Percent(card, ref[u])
		score, _ := row[3].(float64)
		if row[3] == nil {
			score = math.NaN()
		}
		if !near(score, want) {
			t.Errorf("%s: score %v, want %v", u, row[3], want)
		}
	}
}

func scorecardUnit(t *testing.T, got result, x checkContext) {
	mu := campaignPeriod(x)[x.unit]
	card := scorecard.Decision766()
	per, _, _ := scorecardtest.Score(card, mu)
	if len(got.rows) != len(card.Computed()) && mu != nil {
		t.Fatalf("%d indicators, want %d", len(got.rows), len(card.Computed()))
	}
	for i, row := range got.rows {
		in := card.Computed()[i]
		earned, _ := row[7].(float64)
		if row[7] == nil {
			earned = math.NaN()
		}
		if row[0] != in.ID || row[3] != float64(mu[in.Numerator]) || row[4] != float64(mu[in.Denominator]) || !near(earned, per[in.ID]) {
			t.Errorf("%v, want %s: %d / %d earning %v", row, in.ID, mu[in.Numerator], mu[in.Denominator], per[in.ID])
		}
	}
}
