package main

import (
	"context"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/egovtrack/egovtrack/dashboards/board"
	"github.com/egovtrack/egovtrack/dashboards/chquery"
	"github.com/egovtrack/egovtrack/internal/chsql"
	"github.com/egovtrack/egovtrack/internal/scorecard"
)

// summary is what the demo tells the digital office, every figure read back from ClickHouse.
type summary struct {
	Days          []nationalDay // national coverage at the end of every day
	Units         int           // units with coverage on the last day
	UnitsFull     int           // of them at 100%
	Now           []unitNow     // today's units on the last day (as it is)
	AssistantLive int           // units whose virtual assistant is live
	Tables        []tableRows
	// Scores are Decision 766's scores for ScoredMonth (zero: no dossiers), best first, as the dashboard ranks them.
	ScoredMonth time.Time
	Scores      []unitScore
}

// unitScore is a unit's Decision 766 score for a month, as the dashboard "Bộ chỉ số 766" ranks it.
type unitScore struct {
	Ref, Name         string
	Scored            bool // false: no indicator had anything to divide by
	Score             float64
	Received, Settled uint64
}

type nationalDay struct {
	Day              time.Time
	Eligible, Level4 uint64
}

func (d nationalDay) share() float64 {
	if d.Eligible == 0 {
		return 0
	}
	return 100 * float64(d.Level4) / float64(d.Eligible)
}

type tableRows struct {
	Name string
	Rows uint64
}

// summarise reads the summary from ClickHouse; scoredMonth, when not zero, is the first day of the month to score.
func summarise(ctx context.Context, conn driver.Conn, scoredMonth time.Time) (summary, error) {
	s := summary{ScoredMonth: scoredMonth}
	rows, err := conn.Query(ctx, board.NationalByDaySQL)
	if err != nil {
		return s, fmt.Errorf("national coverage per day: %w", err)
	}
	for rows.Next() {
		var d nationalDay
		if err := rows.Scan(&d.Day, &d.Eligible, &d.Level4); err != nil {
			rows.Close()
			return s, fmt.Errorf("national coverage per day: %w", err)
		}
		s.Days = append(s.Days, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s, fmt.Errorf("national coverage per day: %w", err)
	}
	if len(s.Days) == 0 {
		return s, fmt.Errorf("coverage_daily is empty: the projector wrote no coverage")
	}
	rows, err = conn.Query(ctx, board.UnitsOnLastDaySQL)
	if err != nil {
		return s, fmt.Errorf("units on the last day: %w", err)
	}
	for rows.Next() {
		var u unitNow
		if err := rows.Scan(&u.Kind, &u.Code, &u.Name, &u.Eligible, &u.Level4); err != nil {
			rows.Close()
			return s, fmt.Errorf("units on the last day: %w", err)
		}
		s.Now = append(s.Now, u)
		if u.Eligible > 0 && u.Level4 == u.Eligible {
			s.UnitsFull++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s, fmt.Errorf("units on the last day: %w", err)
	}
	s.Units = len(s.Now)
	var live uint64
	if err := conn.QueryRow(ctx, chsql.DemoAssistantLive.SQL).Scan(&live); err != nil {
		return s, fmt.Errorf("units with the assistant live: %w", err)
	}
	s.AssistantLive = int(live)
	for _, t := range chsql.DemoTables {
		var n uint64
		if err := conn.QueryRow(ctx, chsql.CountRows(t, true).SQL).Scan(&n); err != nil {
			return s, fmt.Errorf("count %s: %w", t, err)
		}
		s.Tables = append(s.Tables, tableRows{t, n})
	}
	if !scoredMonth.IsZero() {
		var err error
		if s.Scores, err = scores(ctx, conn, scoredMonth); err != nil {
			return s, fmt.Errorf("Decision 766 scores of %s: %w", scoredMonth.Format("01/2006"), err)
		}
	}
	return s, nil
}

// scores runs the dashboard's ranking for one month, as Grafana would with that month as its time range.
func scores(ctx context.Context, conn driver.Conn, month time.Time) ([]unitScore, error) {
	sql, err := chquery.Expand(board.ScorecardSQL(scorecard.Decision766()), chquery.Request{
		From: month, To: month.AddDate(0, 1, 0).Add(-time.Second), Interval: 24 * time.Hour,
		Vars: map[string]string{board.DatasourceVar: board.DatasourceUID, board.MonthsVar: "1", board.HistoryVar: board.HistoryAsIs},
	})
	if err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, chsql.DemoScores(sql).SQL)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []unitScore
	for rows.Next() {
		var u unitScore
		if err := rows.Scan(&u.Ref, &u.Name, &u.Scored, &u.Score, &u.Received, &u.Settled); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// unitNow is one of today's units on the last day.
type unitNow struct {
	Kind, Code, Name string
	Eligible, Level4 uint64
}

func (u unitNow) share() float64 {
	if u.Eligible == 0 {
		return 0
	}
	return 100 * float64(u.Level4) / float64(u.Eligible)
}

func (s summary) first() nationalDay { return s.Days[0] }
func (s summary) last() nationalDay  { return s.Days[len(s.Days)-1] }

func (s summary) print(w io.Writer) {
	f, l := s.first(), s.last()
	fmt.Fprintf(w, "\n  National level-4 coverage of eligible procedures (target: 40%% → 100%% by 31/12/2021)\n")
	fmt.Fprintf(w, "    %-12s %10s %10s %9s\n", "day", "eligible", "level 4", "coverage")
	for i, d := range s.Days {
		// The first day, each month's last day and the last day.
		monthEnd := i+1 < len(s.Days) && s.Days[i+1].Day.Month() != d.Day.Month()
		if i == 0 || monthEnd || i == len(s.Days)-1 {
			fmt.Fprintf(w, "    %-12s %10d %10d %8.1f%%\n", d.Day.Format("02/01/2006"), d.Eligible, d.Level4, d.share())
		}
	}
	fmt.Fprintf(w, "\n  Coverage rose from %.1f%% on %s to %.1f%% on %s.\n", f.share(), f.Day.Format("02/01/2006"), l.share(), l.Day.Format("02/01/2006"))
	fmt.Fprintf(w, "  Units at 100%%: %d of %d. Units with the virtual assistant live: %d.\n", s.UnitsFull, s.Units, s.AssistantLive)
	if l.Day.Year() > 2021 {
		kinds := map[string]int{}
		for _, u := range s.Now {
			kinds[u.Kind]++
		}
		fmt.Fprintf(w, "\n  On %s: %d provinces and %d ministerial bodies (today's units, each with the units it was formed from):\n",
			l.Day.Format("02/01/2006"), kinds["province"], kinds["ministry"])
		fmt.Fprintf(w, "    %-4s %-28s %9s %9s %9s\n", "code", "province", "eligible", "level 4", "coverage")
		for _, u := range s.Now {
			if u.Kind == "province" {
				fmt.Fprintf(w, "    %-4s %-28s %9d %9d %8.1f%%\n", u.Code, u.Name, u.Eligible, u.Level4, u.share())
			}
		}
	}
	if len(s.Scores) > 0 {
		var received, settled uint64
		for _, u := range s.Scores {
			received, settled = received+u.Received, settled+u.Settled
		}
		fmt.Fprintf(w, "\n  Bộ chỉ số 766 (Decision 766's scorecard) for %s, from the dossiers: %d units, %d dossiers received, %d settled\n",
			s.ScoredMonth.Format("01/2006"), len(s.Scores), received, settled)
		cw, nw := len("code"), len("unit")
		for _, u := range s.Scores {
			cw, nw = max(cw, utf8.RuneCountInString(u.Ref)), max(nw, utf8.RuneCountInString(u.Name))
		}
		fmt.Fprintf(w, "    %-4s %-*s %-*s %6s %9s %8s\n", "rank", cw, "code", nw, "unit", "score", "received", "settled")
		for i, u := range s.Scores {
			if i >= 5 && i < len(s.Scores)-5 {
				if i == 5 {
					fmt.Fprintln(w, "    …")
				}
				continue
			}
			score := "—"
			if u.Scored {
				score = fmt.Sprintf("%.1f", u.Score)
			}
			fmt.Fprintf(w, "    %-4d %-*s %-*s %6s %9d %8d\n", i+1, cw, u.Ref, nw, u.Name, score, u.Received, u.Settled)
		}
	}
	fmt.Fprintf(w, "\n  Rows per table (after deduplication):\n")
	for _, t := range s.Tables {
		fmt.Fprintf(w, "    %-18s %8d\n", t.Name, t.Rows)
	}
}
