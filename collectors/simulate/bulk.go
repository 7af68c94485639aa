package simulate

import (
	"fmt"
	"iter"
	"math/rand/v2"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// BulkOptions shape a bulk run: many events fast, for benchmarks and load, rather than a realistic campaign.
type BulkOptions struct {
	Seed   uint64
	Events int // how many events in all
	// ProceduresPerUnit caps each unit's catalogue; a national-scale run has about 2,000 per unit.
	ProceduresPerUnit int
	Start, End        time.Time // the events' effective times spread evenly over [Start, End)
}

// Bulk yields exactly o.Events valid events without holding them in memory: first every unit's catalogue (as many
// procedures as fit in half the events, up to ProceduresPerUnit), then level changes of random procedures, each
// from the level the procedure is at, in order of effective time. The same options yield the same events.
func Bulk(o BulkOptions) iter.Seq2[event.Envelope, error] {
	return func(yield func(event.Envelope, error) bool) {
		us := units.All()
		if err := checkSpan(o.Start, o.End); err != nil {
			yield(event.Envelope{}, err)
			return
		}
		if o.Events <= 0 || !o.End.After(o.Start) {
			yield(event.Envelope{}, fmt.Errorf("bulk simulation needs events > 0 and end after start"))
			return
		}
		per := min(max(o.ProceduresPerUnit, 1), max(1, o.Events/2/len(us)))
		rng := rand.New(rand.NewPCG(o.Seed, 0xb01c))
		step := o.End.Sub(o.Start) / time.Duration(o.Events)
		levels := make([][]event.Level, len(us))
		cat := provinceCatalogue()
		emit := func(i int, d event.Data) bool {
			env, err := event.New(Source, d)
			if err != nil {
				yield(event.Envelope{}, fmt.Errorf("bulk event %d: %w", i, err))
				return false
			}
			return yield(env, nil)
		}
		code := func(p int) string { return fmt.Sprintf("1.%06d", p+1) }
		i := 0
		for p := 0; p < per && i < o.Events; p++ {
			for u := range us {
				if i == o.Events {
					break
				}
				lvl := event.Level(3 + rng.IntN(2))
				levels[u] = append(levels[u], lvl)
				c := cat[p%len(cat)]
				d := &event.ProcedureRegisteredData{Unit: us[u].Ref, Procedure: code(p), Name: c.name, Sector: c.sector,
					Eligible: true, Level: lvl, EffectiveAt: o.Start.Add(time.Duration(i) * step)}
				if !emit(i, d) {
					return
				}
				i++
			}
		}
		for ; i < o.Events; i++ {
			u := rng.IntN(len(us))
			p := rng.IntN(len(levels[u]))
			from := levels[u][p]
			to := 7 - from // 3 ↔ 4
			levels[u][p] = to
			d := &event.LevelChangedData{Unit: us[u].Ref, Procedure: code(p), From: from, To: to, EffectiveAt: o.Start.Add(time.Duration(i) * step)}
			if !emit(i, d) {
				return
			}
		}
	}
}
