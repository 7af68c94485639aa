package simulate

import (
	"container/heap"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"iter"
	"math"
	"math/rand/v2"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// DossierOptions shape a simulation of the dossiers (hồ sơ) units receive and settle, for Decision 766's scorecard.
type DossierOptions struct {
	Seed uint64
	// Procedures are each unit's procedures that receive dossiers (codes of its catalogue: CatalogueOf).
	Procedures map[units.Ref][]string
	Start, End time.Time // Vietnamese days: receipts from Start, every fact before End
	// PerDay is a unit's mean receipts on a working day.
	PerDay float64
}

// CatalogueOf returns the procedures each unit registers in envs.
func CatalogueOf(envs []event.Envelope) (map[units.Ref][]string, error) {
	ds := make([]event.Data, 0, len(envs))
	for _, env := range envs {
		if env.Type != event.ProcedureRegistered {
			continue
		}
		d, err := env.Decode()
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	return proceduresOf(ds), nil
}

// proceduresOf returns the procedures each unit registers in ds.
func proceduresOf(ds []event.Data) map[units.Ref][]string {
	out := map[units.Ref][]string{}
	for _, d := range ds {
		if r, ok := d.(*event.ProcedureRegisteredData); ok {
			out[r.Unit] = append(out[r.Unit], r.Procedure)
		}
	}
	return out
}

// Dossiers yields the dossier events of o in order of their time, holding only the dossiers still open: receipts on
// working days (few on Saturdays, almost none on Sundays and public holidays, Tết included), at office hours in
// person and at any hour online; the share online rising from about 15% in 2021 to about 75% by 2025; a fee on a
// third of the procedures; due in 1 to 15 days by procedure; late dossiers concentrated in a quarter of the
// procedures; payments, results (electronic more often online and later), digitisation rising over time,
// withdrawals and feedback. The same options give the same events.
func Dossiers(o DossierOptions) iter.Seq2[event.Data, error] {
	return func(yield func(event.Data, error) bool) {
		if err := checkSpan(o.Start, o.End); err != nil {
			yield(nil, err)
			return
		}
		if !o.End.After(o.Start) || o.PerDay <= 0 {
			yield(nil, fmt.Errorf("dossier simulation needs end after start and a rate above 0"))
			return
		}
		rng := rand.New(rand.NewPCG(o.Seed, 0x766))
		refs := make([]units.Ref, 0, len(o.Procedures))
		for _, u := range units.Every() {
			if len(o.Procedures[u.Ref]) > 0 {
				refs = append(refs, u.Ref)
			}
		}
		pending := &factHeap{}
		n := 0
		for day := o.Start; day.Before(o.End); day = day.AddDate(0, 0, 1) {
			next := day.AddDate(0, 0, 1)
			for pending.Len() > 0 && (*pending)[0].OccurredAt().Before(day) {
				if !yield(heap.Pop(pending).(event.Data), nil) {
					return
				}
			}
			// The day's receipts, in time order among the facts due that day.
			rate := o.PerDay * dayWeight(day)
			for _, u := range refs {
				procs := o.Procedures[u]
				for range poisson(rng, rate) {
					n++
					for _, d := range dossierFacts(rng, o.Seed, n, u, procs, day) {
						if d.OccurredAt().Before(o.End) {
							heap.Push(pending, d)
						}
					}
				}
			}
			for pending.Len() > 0 && (*pending)[0].OccurredAt().Before(next) {
				if !yield(heap.Pop(pending).(event.Data), nil) {
					return
				}
			}
		}
		for pending.Len() > 0 {
			if !yield(heap.Pop(pending).(event.Data), nil) {
				return
			}
		}
	}
}

// dossierFacts is one dossier's life, received on day.
func dossierFacts(rng *rand.Rand, seed uint64, n int, u units.Ref, procs []string, day time.Time) []event.Data {
	// Popular procedures take most dossiers: a Zipf-like pick.
	proc := procs[min(len(procs)-1, int(math.Floor(math.Pow(rng.Float64(), 2.5)*float64(len(procs)))))]
	h := procHash(u, proc)
	years := day.Sub(time.Date(2021, 1, 1, 0, 0, 0, 0, event.Vietnam)).Hours() / 24 / 365
	online := clamp(0.15+0.15*years, 0.15, 0.75)
	ch := event.ChannelInPerson
	at := day.Add(7*time.Hour + 30*time.Minute + time.Duration(rng.IntN(9*60))*time.Minute) // office hours
	switch r := rng.Float64(); {
	case r < online:
		ch = event.ChannelOnline
		at = day.Add(time.Duration(rng.IntN(24*60)) * time.Minute)
	case r < online+0.03:
		ch = event.ChannelPost
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "simulated dossier %d/%d", seed, n))
	id := hex.EncodeToString(sum[:])
	fee := h%3 == 0
	days := 1 + int(h>>8%15)
	due := at.Add(time.Duration(days) * 24 * time.Hour * 7 / 5) // working days, roughly
	out := []event.Data{&event.DossierReceivedData{Unit: u, Procedure: proc, Dossier: id, Channel: ch, Fee: fee, ReceivedAt: at, DueAt: due}}
	if fee && rng.Float64() < 0.9 {
		paidOnline := rng.Float64() < map[bool]float64{true: 0.85, false: 0.15}[ch == event.ChannelOnline]
		out = append(out, &event.DossierPaidData{Unit: u, Dossier: id, Online: paidOnline, PaidAt: at.Add(time.Duration(1+rng.IntN(180)) * time.Minute)})
	}
	if rng.Float64() < clamp(0.3+0.15*years, 0.3, 0.9) {
		out = append(out, &event.DossierDigitisedData{Unit: u, Dossier: id, DigitisedAt: at.Add(time.Duration(10+rng.IntN(240)) * time.Minute)})
	}
	if rng.Float64() < 0.02 {
		return append(out, &event.DossierWithdrawnData{Unit: u, Dossier: id, WithdrawnAt: at.Add(time.Duration(1+rng.IntN(48)) * time.Hour)})
	}
	lateShare := 0.02
	if h>>16%4 == 0 {
		lateShare = 0.3 // a quarter of the procedures take most of the late dossiers
	}
	var settled time.Time
	if rng.Float64() < lateShare {
		settled = due.Add(time.Duration(1+rng.IntN(10*24)) * time.Hour)
	} else {
		settled = at.Add(time.Duration(float64(due.Sub(at)) * (0.2 + 0.8*rng.Float64())))
	}
	out = append(out, &event.DossierSettledData{Unit: u, Dossier: id, SettledAt: settled})
	electronic := rng.Float64() < clamp(map[bool]float64{true: 0.5, false: 0.2}[ch == event.ChannelOnline]+0.12*years, 0, 0.95)
	out = append(out, &event.DossierResultIssuedData{Unit: u, Dossier: id, Electronic: electronic, IssuedAt: settled.Add(time.Duration(1+rng.IntN(120)) * time.Minute)})
	if rng.Float64() < 0.15 {
		late := settled.After(due)
		satisfied := rng.Float64() < map[bool]float64{true: 0.55, false: 0.93}[late]
		out = append(out, &event.DossierFeedbackGivenData{Unit: u, Dossier: id, Satisfied: satisfied,
			HandledOnTime: !late && rng.Float64() < 0.97, GivenAt: settled.Add(time.Duration(2+rng.IntN(72)) * time.Hour)})
	}
	return out
}

func procHash(u units.Ref, proc string) uint64 {
	f := fnv.New64a()
	fmt.Fprintf(f, "%s/%s/%s", u.Kind, u.Code, proc)
	return f.Sum64()
}

// dayWeight is how busy a day is: working days 1, Saturdays a quarter, Sundays and public holidays almost nothing.
func dayWeight(day time.Time) float64 {
	if holiday(day) || day.Weekday() == time.Sunday {
		return 0.02
	}
	if day.Weekday() == time.Saturday {
		return 0.25
	}
	return 1
}

// tet is the public Tết holiday of each year (the days off of the lunar new year, as announced).
var tet = map[int][2]string{
	2021: {"2021-02-10", "2021-02-16"}, 2022: {"2022-01-29", "2022-02-06"}, 2023: {"2023-01-20", "2023-01-26"},
	2024: {"2024-02-08", "2024-02-14"}, 2025: {"2025-01-25", "2025-02-02"}, 2026: {"2026-02-14", "2026-02-22"},
}

// holiday says whether day is a public holiday: 1 January, Tết, 30 April, 1 May and 2 September (the Hùng Kings'
// day, lunar and one day long, is left out).
func holiday(day time.Time) bool {
	md := day.Format("01-02")
	if md == "01-01" || md == "04-30" || md == "05-01" || md == "09-02" {
		return true
	}
	if t, ok := tet[day.Year()]; ok {
		s := day.Format(event.DateLayout)
		return s >= t[0] && s <= t[1]
	}
	return false
}

// poisson draws a Poisson count of mean m (Knuth's method for small means, a rounded normal for large ones).
func poisson(rng *rand.Rand, m float64) int {
	if m > 30 {
		return max(0, int(math.Round(m+math.Sqrt(m)*rng.NormFloat64())))
	}
	l, k, p := math.Exp(-m), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// factHeap orders pending facts by their time.
type factHeap []event.Data

func (h factHeap) Len() int           { return len(h) }
func (h factHeap) Less(i, j int) bool { return h[i].OccurredAt().Before(h[j].OccurredAt()) }
func (h factHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *factHeap) Push(x any)        { *h = append(*h, x.(event.Data)) }
func (h *factHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
