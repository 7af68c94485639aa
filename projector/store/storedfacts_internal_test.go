package store

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/units"
)

// However many facts of a dossier are read, and in whatever order, the store keeps one a kind: the earliest by time,
// then by stream order (as chosen picks among all of them), and the highest sequence of any.
func TestStoredFactsKeepOneAKind(t *testing.T) {
	u := units.Ref{Kind: units.Province, Code: "01"}
	at := time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(7, 66))
	kinds := []string{"received", "paid", "settled"}
	var all []dossierFact
	for i := range 20_000 {
		f := dossierFact{unit: u, dossier: "d", fact: kinds[rng.IntN(len(kinds))], at: at.Add(time.Duration(rng.IntN(50)) * time.Second), seq: uint64(rng.IntN(1_000_000) + 1)}
		all = append(all, f)
		if i%7 == 0 {
			all = append(all, f) // read twice: written twice
		}
	}
	var st storedFacts
	var maxSeq uint64
	for _, f := range all {
		st.add(f)
		maxSeq = max(maxSeq, f.seq)
	}
	if len(st.chosen) != len(kinds) {
		t.Fatalf("%d facts kept of %d read, want one a kind: %d", len(st.chosen), len(all), len(kinds))
	}
	want := chosen(all)
	for _, f := range st.chosen {
		if w := want[f.fact]; w.seq != f.seq || !w.at.Equal(f.at) {
			t.Errorf("%s: kept the fact at %s (sequence %d), want %s (%d)", f.fact, f.at, f.seq, w.at, w.seq)
		}
	}
	if st.maxSeq != maxSeq {
		t.Errorf("highest sequence %d, want %d", st.maxSeq, maxSeq)
	}
}
