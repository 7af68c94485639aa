package store

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/units"
)

// What a remembered dossier costs, measured over 100,000 (each with a receipt and three other facts, as most have):
// the bytes OpenDossiers and EGOV_PROJECTOR_OPEN_DOSSIERS' documentation count on.
func TestOpenDossiersMemory(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const n = 100_000
	o := newOpenDossiers(n)
	u := units.Ref{Kind: units.Province, Code: "01"}
	at := time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC)
	intern := map[string]string{}
	in := func(s string) string {
		if v, ok := intern[s]; ok {
			return v
		}
		intern[s] = s
		return s
	}
	for i := range n + 1000 {
		id := dossierID{u, fmt.Sprintf("%064x", i)}
		fs := []dossierFact{
			{unit: u, dossier: id.dossier, fact: "received", at: at, procedure: fmt.Sprintf("1.%06d", i%500), channel: "online", due: at.Add(time.Hour), seq: uint64(4 * i)},
			{unit: u, dossier: id.dossier, fact: "paid", at: at, due: at, flag: true, seq: uint64(4*i + 1)},
			{unit: u, dossier: id.dossier, fact: "settled", at: at, due: at, seq: uint64(4*i + 2)},
			{unit: u, dossier: id.dossier, fact: "result_issued", at: at, due: at, seq: uint64(4*i + 3)},
		}
		o.stage(id, fs, uint64(4*i+3), in)
		if i%5000 == 0 {
			o.commit()
		}
	}
	o.commit()
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / float64(o.cache.Len())
	t.Logf("%d dossiers remembered: %.1f MB, %.0f bytes each", o.cache.Len(), float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), per)
	if o.cache.Len() != n {
		t.Errorf("remembers %d dossiers, want the bound %d", o.cache.Len(), n)
	}
	if per > 400 {
		t.Errorf("a remembered dossier takes %.0f bytes, more than the 400 the documentation counts on", per)
	}
	runtime.KeepAlive(o)
}
