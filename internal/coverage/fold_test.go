package coverage

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// history is a unit's changes in the order they take effect: registrations, level changes, retirements and
// re-registrations, several on some days and none on others, some at the same instant.
func history(seed uint64) []Change {
	rng := rand.New(rand.NewPCG(seed, 7))
	at := vn("2021-07-01 08:00")
	var cs []Change
	registered := map[string]bool{}
	for seq := uint64(1); seq <= 120; seq++ {
		if rng.IntN(4) > 0 {
			at = at.Add(time.Duration(rng.IntN(30)) * time.Hour)
		}
		code := fmt.Sprintf("1.%06d", 1+rng.IntN(12))
		switch {
		case !registered[code] || rng.IntN(15) == 0:
			registered[code] = true
			cs = append(cs, Change{Unit: hanoi, Procedure: code, Kind: Registered, EffectiveAt: at, Seq: seq, Eligible: rng.IntN(4) > 0, Level: event.Level(2 + rng.IntN(3))})
		case rng.IntN(10) == 0:
			cs = append(cs, retire(code, "2021-07-01 08:00", seq))
			cs[len(cs)-1].EffectiveAt = at
		default:
			cs = append(cs, Change{Unit: hanoi, Procedure: code, Kind: LevelChanged, EffectiveAt: at, Seq: seq, Level: event.Level(1 + rng.IntN(4))})
		}
	}
	return cs
}

// A fold seeded with the first changes of a unit and extended with the others, in batches, gives the days Daily
// gives for them all, whatever the split.
func TestFoldExtendedAgreesWithDaily(t *testing.T) {
	cs := history(3)
	last := DayOf(cs[len(cs)-1].EffectiveAt).AddDate(0, 0, 5)
	want := Daily(cs, last)[hanoi]
	for _, size := range []int{1, 2, 7, len(cs)} {
		for k := 1; k < len(cs); k++ {
			t.Run(fmt.Sprintf("seed %d, batches of %d", k, size), func(t *testing.T) {
				seed := cs[:k]
				got := map[time.Time]Day{}
				for _, d := range Daily(seed, time.Time{})[hanoi] {
					got[d.Day] = d
				}
				stored := DayOf(seed[k-1].EffectiveAt)               // the last day written
				f := NewFold(hanoi, slices.Concat(seed, seed[:k/2])) // repeats change nothing
				for rest := cs[k:]; len(rest) > 0; {
					n := min(size, len(rest))
					batch := slices.Clone(rest[:n])
					rest = rest[n:]
					upTo := DayOf(batch[n-1].EffectiveAt)
					if len(rest) == 0 {
						upTo = last
					}
					// As the store does: from the batch's first day, or the day after the last one written.
					from := DayOf(batch[0].EffectiveAt)
					if after := stored.AddDate(0, 0, 1); after.Before(from) {
						from = after
					}
					slices.Reverse(batch) // the order within a batch does not matter
					days, ok := f.Extend(batch, from, upTo)
					if !ok {
						t.Fatalf("a batch after the fold was refused")
					}
					for _, d := range days {
						got[d.Day] = d
					}
					stored = days[len(days)-1].Day
				}
				if len(got) != len(want) {
					t.Fatalf("got %d days, want %d", len(got), len(want))
				}
				for _, w := range want {
					if g := got[w.Day]; g != w {
						t.Fatalf("%s: got %+v, want %+v", w.Day.Format(event.DateLayout), g, w)
					}
				}
			})
		}
	}
}

// Extend refuses what it cannot add to the fold, and the fold stays as it was.
func TestFoldExtendRefuses(t *testing.T) {
	cs := history(4)
	k := len(cs) / 2
	lastDay := DayOf(cs[k-1].EffectiveAt)
	next := DayOf(cs[k].EffectiveAt)
	other := cs[k]
	other.Unit = units.Ref{Kind: units.Province, Code: "79"}
	tests := []struct {
		name  string
		batch []Change
		from  time.Time
	}{
		{"nothing", nil, next},
		{"a late change", []Change{cs[k], cs[k-3]}, DayOf(cs[k-3].EffectiveAt)},
		{"a repeat of the last change folded", []Change{cs[k-1], cs[k]}, lastDay},
		{"another unit's change", []Change{other}, next},
		{"from before the last change folded", []Change{cs[k]}, lastDay.AddDate(0, 0, -1)},
		{"from after the first change", []Change{cs[k]}, next.AddDate(0, 0, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFold(hanoi, cs[:k])
			if _, ok := f.Extend(tt.batch, tt.from, next); ok {
				t.Fatal("Extend accepted it")
			}
			if want := NewFold(hanoi, cs[:k]); f.last != want.last || f.now != want.now || !maps.Equal(f.states, want.states) {
				t.Errorf("the refused batch changed the fold")
			}
			// And the fold still takes the changes that do follow.
			from := next
			if after := lastDay.AddDate(0, 0, 1); after.Before(from) {
				from = after
			}
			days, ok := f.Extend(cs[k:], from, next)
			want := Daily(cs, time.Time{})[hanoi]
			if !ok || days[len(days)-1] != want[len(want)-1] {
				t.Errorf("after the refusal, Extend gives %v (%v), want it to end on %+v", days, ok, want[len(want)-1])
			}
		})
	}
}

func TestNewFoldOfNoChangeIsNil(t *testing.T) {
	if f := NewFold(hanoi, []Change{{Unit: units.Ref{Kind: units.Province, Code: "79"}}}); f != nil {
		t.Errorf("NewFold of another unit's changes is %+v, want nil", f)
	}
}
