package store

import (
	"encoding/hex"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/egovtrack/egovtrack/internal/units"
)

// OpenDossiers is how many dossiers the store remembers by default (Config.OpenDossiers): about 370 bytes each
// (TestOpenDossiersMemory), so 20,000 take ~7 MB. A dossier's facts come days apart and a batch names thousands of
// dossiers; reading each one's facts back from dossier_facts was the floor of the write path (~0.2 ms a dossier at 5
// million facts, growing with the table). Remembered, only dossiers not seen lately (mostly new receipts) are read
// back. Not more by default: under the projector's soft memory limit (110 MiB) a memory of 100,000 dossiers (35 MB)
// left the garbage collector running nearly all the time, and the projector process fell from 14,600 to 6,000
// dossier events/s (bench step h, 1 million events).
const OpenDossiers = 20_000

// openDossiers remembers, for recently written dossiers, what counting their next facts needs: of each kind the
// stored fact that counts (chosen), and the highest stream sequence of any stored fact of the dossier. It holds
// only what the tables hold: entries are written after a Write succeeded, and the dossiers of a Write that failed
// are forgotten, as the coverage folds are (the projector is the one writer of a unit's dossiers).
type openDossiers struct {
	cache   *lru.Cache[openKey, openDossier]
	pending map[openKey]openDossier // what the current Write will have stored, once it succeeds
}

// openKey names a dossier compactly: its unit's place in the reference list and the hash's bytes.
type openKey struct {
	unit uint16
	hash [32]byte
}

// unitOrdinals are the units' places in units.Every.
var unitOrdinals = func() map[units.Ref]uint16 {
	m := map[units.Ref]uint16{}
	for i, u := range units.Every() {
		m[u.Ref] = uint16(i)
	}
	return m
}()

// openDossier is what is remembered of a dossier.
type openDossier struct {
	procedure, channel string // its receipt's, when one is stored
	maxSeq             uint64
	facts              []openFact // the chosen ones
}

// openFact is a chosen fact in 32 bytes.
type openFact struct {
	at, due       int64 // Unix nanoseconds
	seq           uint64
	kind          uint8 // index in factKinds
	fee, flag, ok bool  // ok: on time, of feedback
}

var factKinds = []string{"received", "paid", "settled", "result_issued", "digitised", "withdrawn", "feedback_given"}

func kindIndex(kind string) uint8 {
	for i, k := range factKinds {
		if k == kind {
			return uint8(i)
		}
	}
	panic("store: unknown dossier fact " + kind)
}

func newOpenDossiers(size int) *openDossiers {
	if size <= 0 {
		return nil
	}
	c, err := lru.New[openKey, openDossier](size)
	if err != nil {
		panic(err) // only for a size ≤ 0
	}
	return &openDossiers{cache: c, pending: map[openKey]openDossier{}}
}

// keyOf is a dossier's key; false for a unit not in the reference list or a name that is not a SHA-256 in hex (the
// contract allows neither, but the store never fails on what the cache cannot hold: such a dossier is read back
// every time).
func keyOf(id dossierID) (openKey, bool) {
	var k openKey
	var ok bool
	if k.unit, ok = unitOrdinals[id.unit]; !ok || len(id.dossier) != 64 {
		return k, false
	}
	if _, err := hex.Decode(k.hash[:], []byte(id.dossier)); err != nil {
		return k, false
	}
	return k, true
}

// get returns the remembered stored facts of a dossier (the chosen ones) and its highest stored sequence.
func (o *openDossiers) get(id dossierID) ([]dossierFact, uint64, bool) {
	if o == nil {
		return nil, 0, false
	}
	k, ok := keyOf(id)
	if !ok {
		return nil, 0, false
	}
	e, ok := o.cache.Get(k)
	if !ok {
		return nil, 0, false
	}
	out := make([]dossierFact, len(e.facts))
	for i, f := range e.facts {
		out[i] = dossierFact{unit: id.unit, dossier: id.dossier, fact: factKinds[f.kind], at: time.Unix(0, f.at).UTC(),
			due: time.Unix(0, f.due).UTC(), fee: f.fee, flag: f.flag, onTime: f.ok, seq: f.seq}
		if f.kind == 0 {
			out[i].procedure, out[i].channel = e.procedure, e.channel
		}
	}
	return out, e.maxSeq, true
}

// stage notes what a dossier's stored facts will be once the current Write succeeds: fs, all of them or at least
// the chosen ones, and maxSeq the highest sequence of any.
func (o *openDossiers) stage(id dossierID, fs []dossierFact, maxSeq uint64, intern func(string) string) {
	if o == nil {
		return
	}
	k, ok := keyOf(id)
	if !ok {
		return
	}
	e := openDossier{maxSeq: maxSeq}
	for _, f := range chosen(fs) {
		e.facts = append(e.facts, openFact{at: f.at.UnixNano(), due: f.due.UnixNano(), seq: f.seq, kind: kindIndex(f.fact), fee: f.fee, flag: f.flag, ok: f.onTime})
		if f.fact == "received" {
			e.procedure, e.channel = intern(f.procedure), intern(f.channel)
		}
	}
	o.pending[k] = e
}

// commit remembers what the Write that succeeded stored.
func (o *openDossiers) commit() {
	if o == nil {
		return
	}
	for k, e := range o.pending {
		o.cache.Add(k, e)
	}
	clear(o.pending)
}

// forget drops what a failed Write staged, and every dossier its records name: the tables may hold part of their
// facts, which the next read of them finds.
func (o *openDossiers) forget(recs []Record) {
	if o == nil {
		return
	}
	clear(o.pending)
	for _, r := range recs {
		if f, ok := factOf(r.Data, r.Seq); ok {
			if k, ok := keyOf(dossierID{f.unit, f.dossier}); ok {
				o.cache.Remove(k)
			}
		}
	}
}
