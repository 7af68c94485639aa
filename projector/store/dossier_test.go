package store_test

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
	"github.com/egovtrack/egovtrack/projector/store"
)

// dossierStream makes a seeded stream of dossier events over three months: receipts near Vietnamese midnight and
// month ends, facts published before their receipt, a second settlement of some dossiers, withdrawals, and events
// published twice. Stream sequences are 1, 2, ….
func dossierStream(t *testing.T, seed uint64, dossiers int) []store.Record {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 766))
	us := []units.Ref{{Kind: units.Province, Code: "01"}, {Kind: units.Province, Code: "79"}, {Kind: units.Ministry, Code: "BTC"}}
	procs := []string{"1.000001", "1.000002", "2.000003", "2.000004"}
	channels := []event.Channel{event.ChannelOnline, event.ChannelInPerson, event.ChannelPost}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, event.Vietnam)
	var ds []event.Data
	for i := range dossiers {
		u := us[rng.IntN(len(us))]
		sum := sha256.Sum256(fmt.Appendf(nil, "%d/%d", seed, i))
		id := hex.EncodeToString(sum[:])
		// Half the receipts within an hour of a Vietnamese midnight, a day's edge; all within Jan–Mar 2025.
		at := start.Add(time.Duration(rng.IntN(88)) * 24 * time.Hour)
		if rng.IntN(2) == 0 {
			at = at.Add(time.Duration(rng.IntN(120)-60) * time.Minute)
		} else {
			at = at.Add(time.Duration(rng.IntN(24*60)) * time.Minute)
		}
		due := at.Add(time.Duration(1+rng.IntN(10)) * 24 * time.Hour)
		fee := rng.IntN(3) == 0
		ds = append(ds, &event.DossierReceivedData{Unit: u, Procedure: procs[rng.IntN(len(procs))], Dossier: id,
			Channel: channels[rng.IntN(len(channels))], Fee: fee, ReceivedAt: at, DueAt: due})
		if fee && rng.IntN(4) > 0 {
			ds = append(ds, &event.DossierPaidData{Unit: u, Dossier: id, Online: rng.IntN(2) == 0, PaidAt: at.Add(time.Hour)})
		}
		if rng.IntN(8) == 0 {
			ds = append(ds, &event.DossierWithdrawnData{Unit: u, Dossier: id, WithdrawnAt: at.Add(2 * time.Hour)})
			continue
		}
		if rng.IntN(6) == 0 {
			continue // still open
		}
		settled := due.Add(time.Duration(rng.IntN(48*60)-40*60) * time.Minute) // around the due time, either side
		if settled.Before(at) {
			settled = at.Add(time.Minute)
		}
		ds = append(ds, &event.DossierSettledData{Unit: u, Dossier: id, SettledAt: settled})
		if rng.IntN(10) == 0 { // settled again later: the first in the stream counts
			ds = append(ds, &event.DossierSettledData{Unit: u, Dossier: id, SettledAt: settled.Add(49 * time.Hour)})
		}
		ds = append(ds, &event.DossierResultIssuedData{Unit: u, Dossier: id, Electronic: rng.IntN(3) > 0, IssuedAt: settled.Add(time.Minute)})
		if rng.IntN(2) == 0 {
			ds = append(ds, &event.DossierDigitisedData{Unit: u, Dossier: id, DigitisedAt: at.Add(30 * time.Minute)})
		}
		if rng.IntN(3) == 0 {
			ds = append(ds, &event.DossierFeedbackGivenData{Unit: u, Dossier: id, Satisfied: rng.IntN(4) > 0,
				HandledOnTime: rng.IntN(3) > 0, GivenAt: settled.Add(26 * time.Hour)})
		}
	}
	// Mostly in time order, as collectors send them; one event in five swapped with one up to 40 places later, so
	// that facts come before their receipt.
	slices.SortStableFunc(ds, func(a, b event.Data) int { return a.OccurredAt().Compare(b.OccurredAt()) })
	for i := range ds {
		if j := i + 1 + rng.IntN(40); j < len(ds) && rng.IntN(5) == 0 {
			ds[i], ds[j] = ds[j], ds[i]
		}
	}
	var recs []store.Record
	for _, d := range ds {
		env, err := event.New("/test/dossiers", d)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, store.Record{Env: env, Data: d, Seq: uint64(len(recs) + 1), ReceivedAt: d.OccurredAt()})
		if rng.IntN(25) == 0 { // published twice: the stream holds it at two sequences
			recs = append(recs, store.Record{Env: env, Data: d, Seq: uint64(len(recs) + 1), ReceivedAt: d.OccurredAt()})
		}
	}
	return recs
}

// countRow is one row of dossier_counts as the test compares them: the key and the counts, as text.
type countRow struct{ key, counts string }

// referenceCounts folds the stream into dossier_counts' rows by another road than the store's: one pass in stream
// order over the events themselves, each dossier's state in a struct, the periods as formatted dates.
func referenceCounts(recs []store.Record) map[string]string {
	type dossier struct {
		unit                       units.Ref
		procedure, channel         string
		fee                        bool
		received, due              time.Time
		paid, settled, result, dig event.Data
		withdrawn, feedback        event.Data
	}
	seen := map[string]bool{}
	byID := map[string]*dossier{}
	var order []string
	firsts := map[string][]event.Data{} // facts before their receipt, in stream order
	for _, r := range recs {
		if seen[r.Env.ID] {
			continue
		}
		seen[r.Env.ID] = true
		id, _ := event.DossierOf(r.Data)
		u, _ := event.UnitOf(r.Data)
		key := string(u.Kind) + "/" + u.Code + "/" + id
		if rd, ok := r.Data.(*event.DossierReceivedData); ok {
			if byID[key] == nil {
				order = append(order, key)
			}
			if byID[key] == nil || rd.ReceivedAt.Unix() < byID[key].received.Unix() {
				byID[key] = &dossier{unit: u, procedure: rd.Procedure, channel: string(rd.Channel), fee: rd.Fee, received: rd.ReceivedAt, due: rd.DueAt}
			}
			continue
		}
		firsts[key] = append(firsts[key], r.Data)
	}
	// Of each kind, the earliest by its own time counts, to the second; equal times, the first in the stream (a
	// stable sort).
	for _, fs := range firsts {
		slices.SortStableFunc(fs, func(a, b event.Data) int { return cmp.Compare(a.OccurredAt().Unix(), b.OccurredAt().Unix()) })
	}
	type sums struct {
		received, online, fee, paid, paidOnline, settled, onTime int
		seconds                                                  int64
		results, electronic, digitised, withdrawn                int
		feedback, satisfied, fbOnTime                            int
	}
	totals := map[string]*sums{}
	// The unit rows' sets of procedures: online receipts, fee receipts, online payments, by unit row.
	sets := map[string]*[3]map[string]bool{}
	inSet := func(d *dossier, at time.Time, i int) {
		k := fmt.Sprintf("unit %s/%s %s  ", d.unit.Kind, d.unit.Code, at.In(event.Vietnam).Format("2006-01")+"-01")
		if sets[k] == nil {
			sets[k] = &[3]map[string]bool{{}, {}, {}}
		}
		sets[k][i][d.procedure] = true
	}
	add := func(d *dossier, at time.Time, f func(*sums)) {
		v := at.In(event.Vietnam)
		for _, k := range []string{
			fmt.Sprintf("day %s/%s %s  %s", d.unit.Kind, d.unit.Code, v.Format("2006-01-02"), d.channel),
			fmt.Sprintf("month %s/%s %s %s ", d.unit.Kind, d.unit.Code, v.Format("2006-01")+"-01", d.procedure),
			fmt.Sprintf("unit %s/%s %s  ", d.unit.Kind, d.unit.Code, v.Format("2006-01")+"-01"),
		} {
			if totals[k] == nil {
				totals[k] = &sums{}
			}
			f(totals[k])
		}
	}
	b := func(x bool) int {
		if x {
			return 1
		}
		return 0
	}
	for _, key := range order {
		d := byID[key]
		add(d, d.received, func(s *sums) { s.received++; s.online += b(d.channel == "online"); s.fee += b(d.fee) })
		if d.channel == "online" {
			inSet(d, d.received, 0)
		}
		if d.fee {
			inSet(d, d.received, 1)
		}
		counted := map[event.Type]bool{}
		for _, f := range firsts[key] {
			if counted[f.EventType()] {
				continue
			}
			counted[f.EventType()] = true
			switch f := f.(type) {
			case *event.DossierPaidData:
				add(d, f.PaidAt, func(s *sums) { s.paid++; s.paidOnline += b(f.Online) })
				if f.Online {
					inSet(d, f.PaidAt, 2)
				}
			case *event.DossierSettledData:
				add(d, f.SettledAt, func(s *sums) {
					s.settled++
					s.onTime += b(f.SettledAt.Unix() <= d.due.Unix())
					s.seconds += max(0, f.SettledAt.Unix()-d.received.Unix())
				})
			case *event.DossierResultIssuedData:
				add(d, f.IssuedAt, func(s *sums) { s.results++; s.electronic += b(f.Electronic) })
			case *event.DossierDigitisedData:
				add(d, f.DigitisedAt, func(s *sums) { s.digitised++ })
			case *event.DossierWithdrawnData:
				add(d, f.WithdrawnAt, func(s *sums) { s.withdrawn++ })
			case *event.DossierFeedbackGivenData:
				add(d, f.GivenAt, func(s *sums) { s.feedback++; s.satisfied += b(f.Satisfied); s.fbOnTime += b(f.HandledOnTime) })
			}
		}
	}
	out := map[string]string{}
	for k, s := range totals {
		out[k] = fmt.Sprint(s.received, s.online, s.fee, s.paid, s.paidOnline, s.settled, s.onTime, s.seconds, s.results,
			s.electronic, s.digitised, s.withdrawn, s.feedback, s.satisfied, s.fbOnTime)
		if p := sets[k]; p != nil {
			for _, set := range p {
				out[k] += " [" + strings.Join(slices.Sorted(maps.Keys(set)), " ") + "]"
			}
		}
	}
	return out
}

// storedCounts reads dossier_counts as referenceCounts writes it.
func storedCounts(t *testing.T, conn driver.Conn) map[string]string {
	t.Helper()
	rows, err := conn.Query(t.Context(), `SELECT concat(toString(grain), ' ', unit_kind, '/', unit_code, ' ', toString(period), ' ', procedure, ' ', channel),
    concat(arrayStringConcat([toString(received), toString(received_online), toString(received_fee), toString(paid), toString(paid_online), toString(settled),
        toString(settled_on_time), toString(settle_seconds), toString(results), toString(results_electronic),
        toString(digitised), toString(withdrawn), toString(feedback), toString(satisfied), toString(feedback_on_time)], ' '),
    if(grain = 'unit' AND length(procedures_online) + length(procedures_fee) + length(procedures_paid_online) > 0,
        concat(' [', arrayStringConcat(procedures_online, ' '), '] [', arrayStringConcat(procedures_fee, ' '), '] [', arrayStringConcat(procedures_paid_online, ' '), ']'), ''))
FROM dossier_counts FINAL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func diffCounts(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	bad := 0
	for k, w := range want {
		if got[k] != w {
			if bad++; bad <= 8 {
				t.Errorf("%s: %s: stored %q, want %q", what, k, got[k], w)
			}
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok && g != "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0" { // a row emptied by a fact dated earlier
			if bad++; bad <= 8 {
				t.Errorf("%s: %s: stored %q, want no row", what, k, g)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d rows differ", what, bad, len(want))
	}
}

// The dossier counts equal a fold of the events however the stream reaches the store: in batches of any size,
// batches killed after their counts and before the raw log (so delivered again, cut differently), batches delivered
// out of order, events published twice, facts before their receipt, a dossier settled twice. Replaying the stream
// changes no count, and a rebuild into an empty database, batched otherwise, gives the same.
//
// The store remembers recent dossiers' facts between batches: each seed runs with the default memory, with none
// (every dossier read back), and with room for 5 dossiers (most forgotten between their facts).
func TestDossierCountsEqualAFoldOfTheEvents(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		for _, open := range []int{0, -1, 5} {
			t.Run(fmt.Sprintf("seed %d, open dossiers %d", seed, open), func(t *testing.T) { dossierCountsOf(t, seed, open) })
		}
	}
}

func dossierCountsOf(t *testing.T, seed uint64, open int) {
	recs := dossierStream(t, seed, 600)
	want := referenceCounts(recs)
	killCounts, killLog := false, false
	s, conn := openStoreWith(t, store.Config{OpenDossiers: open, BeforeCounts: killed(&killCounts, "before the counts"), BeforeRawLog: killed(&killLog, "before the raw log")})
	rng := rand.New(rand.NewPCG(seed, 2))
	kills, swaps := 0, 0
	for i := 0; i < len(recs); {
		n := 1 + rng.IntN(80)
		batch := recs[i:min(i+n, len(recs))]
		if rng.IntN(5) == 0 {
			// Killed after its facts, before or after its counts, before the raw log.
			kill := []*bool{&killCounts, &killLog}[rng.IntN(2)]
			*kill = true
			if err := s.Write(t.Context(), batch, nil); err == nil {
				t.Fatal("the killed write succeeded")
			}
			*kill = false
			kills++
			batch = batch[:(len(batch)+1)/2] // delivered again in a smaller batch; the rest comes with the next
		} else if next := recs[min(i+n, len(recs)):min(i+2*n, len(recs))]; len(next) > 0 && rng.IntN(3) == 0 {
			// Out of order: the next batch first (a NATS server before 2.14 redelivers after the ack wait).
			if err := s.Write(t.Context(), next, nil); err != nil {
				t.Fatal(err)
			}
			swaps++
		}
		if err := s.Write(t.Context(), batch, nil); err != nil {
			t.Fatal(err)
		}
		i += len(batch)
	}
	if kills == 0 || swaps == 0 {
		t.Fatalf("kills %d, swaps %d: the seed exercises neither path, the test proves little", kills, swaps)
	}
	var physical uint64
	if err := conn.QueryRow(t.Context(), "SELECT count() FROM dossier_counts").Scan(&physical); err != nil {
		t.Fatal(err)
	}
	got := storedCounts(t, conn)
	read, remembered := s.DossierLookups()
	t.Logf("%d events, %d batches killed, %d out of order: %d rows of counts, %d before FINAL; dossiers of batches read back %d, remembered %d",
		len(recs), kills, swaps, len(got), physical, read, remembered)
	if (open >= 0) != (remembered > 0) {
		t.Errorf("with room for %d open dossiers, %d of the batches' dossiers were remembered", open, remembered)
	}
	diffCounts(t, "projected", got, want)

	for _, n := range []int{len(recs), 7} { // replayed whole, then in small batches
		for i := 0; i < len(recs); i += n {
			if err := s.Write(t.Context(), recs[i:min(i+n, len(recs))], nil); err != nil {
				t.Fatal(err)
			}
		}
		diffCounts(t, fmt.Sprintf("replayed in batches of %d", n), storedCounts(t, conn), want)
	}

	rebuilt, conn2 := openStore(t)
	for i := 0; i < len(recs); i += 250 {
		if err := rebuilt.Write(t.Context(), recs[i:min(i+250, len(recs))], nil); err != nil {
			t.Fatal(err)
		}
	}
	diffCounts(t, "rebuilt", storedCounts(t, conn2), want)
}

// Each way a dossier's facts can reach the store in an awkward order, written out: the counts still equal the fold.
func TestDossierCountsInAwkwardOrders(t *testing.T) {
	u := units.Ref{Kind: units.Province, Code: "01"}
	at := time.Date(2025, 3, 31, 23, 30, 0, 0, event.Vietnam) // half an hour before April in Vietnam
	id := strings.Repeat("cd", 32)
	received := &event.DossierReceivedData{Unit: u, Procedure: "1.000001", Dossier: id, Channel: event.ChannelOnline, Fee: true, ReceivedAt: at, DueAt: at.Add(48 * time.Hour)}
	paid := &event.DossierPaidData{Unit: u, Dossier: id, Online: true, PaidAt: at.Add(time.Hour)}
	settledLate := &event.DossierSettledData{Unit: u, Dossier: id, SettledAt: at.Add(72 * time.Hour)}
	settledOnTime := &event.DossierSettledData{Unit: u, Dossier: id, SettledAt: at.Add(24 * time.Hour)} // a correction, dated earlier
	digitised := &event.DossierDigitisedData{Unit: u, Dossier: id, DigitisedAt: at.Add(10 * time.Minute)}
	// Settled half a second past the due time: on time, as times count to the second (dossier_facts' precision).
	settledWithinTheSecond := &event.DossierSettledData{Unit: u, Dossier: id, SettledAt: at.Add(48*time.Hour + 500*time.Millisecond)}
	// A payment a sender repeated 300 times, a minute apart, then one dated before them all: the store holds one fact
	// a kind of a dossier, and the correction has the month counted again from all 300.
	repeated := []event.Data{received}
	var repeats []int
	for i := range 300 {
		repeated = append(repeated, &event.DossierPaidData{Unit: u, Dossier: id, Online: i%2 == 0, PaidAt: at.Add(time.Duration(60+i) * time.Minute)})
		repeats = append(repeats, i+1)
	}
	repeated = append(repeated, &event.DossierPaidData{Unit: u, Dossier: id, Online: false, PaidAt: at.Add(30 * time.Minute)})
	type step struct {
		batch []int // indexes into the stream
		kill  string
	}
	for _, tc := range []struct {
		name   string
		stream []event.Data
		steps  []step
	}{
		{"paid before its receipt, killed before the counts, delivered again in halves",
			[]event.Data{paid, received, digitised}, []step{{[]int{0, 1, 2}, "counts"}, {[]int{0}, ""}, {[]int{1, 2}, ""}}},
		{"killed after the counts, delivered again in halves",
			[]event.Data{received, paid, digitised}, []step{{[]int{0, 1, 2}, "raw log"}, {[]int{0}, ""}, {[]int{1, 2}, ""}}},
		{"a settlement dated earlier, later in the stream",
			[]event.Data{received, settledLate, settledOnTime}, []step{{[]int{0, 1}, ""}, {[]int{2}, ""}}},
		{"batches out of order",
			[]event.Data{received, settledOnTime, settledLate, paid}, []step{{[]int{2, 3}, ""}, {[]int{0, 1}, ""}}},
		{"settled within the due time's second, in a batch after the receipt's",
			[]event.Data{received, settledWithinTheSecond}, []step{{[]int{0}, ""}, {[]int{1}, ""}}},
		{"a payment repeated 300 times, in two batches, then one dated before them",
			repeated, []step{{[]int{0}, ""}, {repeats[:150], ""}, {repeats[150:], ""}, {[]int{301}, ""}}},
		{"the receipt last, after everything",
			[]event.Data{paid, settledLate, digitised, received}, []step{{[]int{0}, ""}, {[]int{1, 2}, ""}, {[]int{3}, ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var recs []store.Record
			for i, d := range tc.stream {
				env, err := event.New("/test/dossiers", d)
				if err != nil {
					t.Fatal(err)
				}
				recs = append(recs, store.Record{Env: env, Data: d, Seq: uint64(i + 1), ReceivedAt: at})
			}
			killCounts, killLog := false, false
			s, conn := openStoreWith(t, store.Config{BeforeCounts: killed(&killCounts, "before the counts"), BeforeRawLog: killed(&killLog, "before the raw log")})
			for _, st := range tc.steps {
				var batch []store.Record
				for _, i := range st.batch {
					batch = append(batch, recs[i])
				}
				kill := map[string]*bool{"counts": &killCounts, "raw log": &killLog}[st.kill]
				if kill != nil {
					*kill = true
				}
				err := s.Write(t.Context(), batch, nil)
				if kill != nil {
					*kill = false
					if err == nil {
						t.Fatal("the killed write succeeded")
					}
				} else if err != nil {
					t.Fatal(err)
				}
			}
			diffCounts(t, "stored", storedCounts(t, conn), referenceCounts(recs))
		})
	}
}
