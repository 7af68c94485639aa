package coverage

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

var hanoi = units.Ref{Kind: units.Province, Code: "01"}

func vn(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, event.Vietnam)
	if err != nil {
		panic(err)
	}
	return t
}

func reg(p string, at string, eligible bool, level event.Level, seq uint64) Change {
	return Change{Unit: hanoi, Procedure: p, Kind: Registered, EffectiveAt: vn(at), Seq: seq, Eligible: eligible, Level: level}
}

func lvl(p string, at string, to event.Level, seq uint64) Change {
	return Change{Unit: hanoi, Procedure: p, Kind: LevelChanged, EffectiveAt: vn(at), Seq: seq, Level: to}
}

func retire(p string, at string, seq uint64) Change {
	return Change{Unit: hanoi, Procedure: p, Kind: Retired, EffectiveAt: vn(at), Seq: seq}
}

func TestDaily(t *testing.T) {
	tests := []struct {
		name    string
		changes []Change
		last    string
		// want is (procedures, eligible, level4) per day from the first day on.
		want [][3]int
	}{
		{
			name:    "registration and upgrade",
			changes: []Change{reg("1.000001", "2021-06-30 08:00", true, 3, 1), reg("1.000002", "2021-06-30 09:00", true, 4, 2), lvl("1.000001", "2021-07-02 10:00", 4, 3)},
			last:    "2021-07-02 00:00",
			want:    [][3]int{{2, 2, 1}, {2, 2, 1}, {2, 2, 2}},
		},
		{
			// 03:00 on 1 January in Vietnam is 20:00 on 31 December in UTC: it counts for 1 January.
			name:    "Vietnamese day boundary",
			changes: []Change{reg("1.000001", "2021-12-31 08:00", true, 3, 1), lvl("1.000001", "2022-01-01 03:00", 4, 2)},
			last:    "2022-01-01 00:00",
			want:    [][3]int{{1, 1, 0}, {1, 1, 1}},
		},
		{
			name:    "retired procedure leaves the denominator",
			changes: []Change{reg("1.000001", "2021-07-01 08:00", true, 4, 1), reg("1.000002", "2021-07-01 08:00", true, 3, 2), retire("1.000002", "2021-07-02 15:00", 3)},
			last:    "2021-07-02 00:00",
			want:    [][3]int{{2, 2, 1}, {1, 1, 1}},
		},
		{
			name:    "ineligible procedures count as procedures only",
			changes: []Change{reg("1.000001", "2021-07-01 08:00", false, 4, 1), reg("1.000002", "2021-07-01 08:00", true, 4, 2)},
			last:    "2021-07-01 00:00",
			want:    [][3]int{{2, 1, 1}},
		},
		{
			name:    "only the end of the day counts",
			changes: []Change{reg("1.000001", "2021-07-01 08:00", true, 3, 1), lvl("1.000001", "2021-07-01 09:00", 4, 2), lvl("1.000001", "2021-07-01 17:00", 3, 3)},
			last:    "2021-07-01 00:00",
			want:    [][3]int{{1, 1, 0}},
		},
		{
			name:    "same instant: stream sequence breaks the tie",
			changes: []Change{reg("1.000001", "2021-07-01 08:00", true, 3, 1), lvl("1.000001", "2021-07-02 09:00", 3, 9), lvl("1.000001", "2021-07-02 09:00", 4, 5)},
			last:    "2021-07-02 00:00",
			want:    [][3]int{{1, 1, 0}, {1, 1, 0}},
		},
		{
			name:    "series runs on to the last day",
			changes: []Change{reg("1.000001", "2021-07-01 08:00", true, 4, 1)},
			last:    "2021-07-04 00:00",
			want:    [][3]int{{1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Daily(tt.changes, vn(tt.last))[hanoi]
			if len(got) != len(tt.want) {
				t.Fatalf("got %d days, want %d: %+v", len(got), len(tt.want), got)
			}
			first := DayOf(tt.changes[0].EffectiveAt)
			for i, d := range got {
				if !d.Day.Equal(first.AddDate(0, 0, i)) {
					t.Errorf("day %d is %s, want %s", i, d.Day, first.AddDate(0, 0, i))
				}
				if g := [3]int{d.Procedures, d.Eligible, d.Level4}; g != tt.want[i] {
					t.Errorf("%s: got (procedures, eligible, level4) %v, want %v", d.Day.Format(event.DateLayout), g, tt.want[i])
				}
			}
		})
	}
}

// The same changes in any order, with some delivered twice, give the same coverage.
func TestDailyIgnoresOrderAndRedelivery(t *testing.T) {
	var cs []Change
	rng := rand.New(rand.NewPCG(1, 2))
	seq := uint64(0)
	for p := range 50 {
		code := "1." + string(rune('0'+p/10)) + "0000" + string(rune('0'+p%10))
		seq++
		level := event.Level(2 + rng.IntN(3))
		cs = append(cs, reg(code, "2021-07-01 08:00", rng.IntN(4) > 0, level, seq))
		at := vn("2021-07-01 09:00")
		for range rng.IntN(5) {
			at = at.Add(time.Duration(rng.IntN(72)) * time.Hour)
			seq++
			level = event.Level(1 + rng.IntN(4))
			cs = append(cs, Change{Unit: hanoi, Procedure: code, Kind: LevelChanged, EffectiveAt: at, Seq: seq, Level: level})
		}
	}
	last := vn("2021-07-30 00:00")
	want := Daily(cs, last)
	for i := range 20 {
		shuffled := slices.Clone(cs)
		for range len(cs) / 5 {
			shuffled = append(shuffled, cs[rng.IntN(len(cs))])
		}
		rng.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		if got := Daily(shuffled, last); !slices.Equal(got[hanoi], want[hanoi]) {
			t.Fatalf("shuffle %d: coverage differs from the ordered stream", i)
		}
	}
}
