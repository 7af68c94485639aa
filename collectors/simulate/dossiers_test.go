package simulate_test

import (
	"slices"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/collectors/simulate"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// The simulated dossiers are valid events in time order with the shapes the scorecard is about: weekdays busy,
// Sundays and Tết quiet, the share online rising from year to year, late dossiers concentrated in a few procedures.
func TestDossierShapes(t *testing.T) {
	u := units.Ref{Kind: units.Province, Code: "01"}
	var procs []string
	for i := range 40 {
		procs = append(procs, "1.00"+string(rune('1'+i/10))+string(rune('0'+i%10))+"00")
	}
	o := simulate.DossierOptions{Seed: 7, Procedures: map[units.Ref][]string{u: procs}, PerDay: 60,
		Start: time.Date(2021, 1, 1, 0, 0, 0, 0, event.Vietnam), End: time.Date(2024, 1, 1, 0, 0, 0, 0, event.Vietnam)}
	var last time.Time
	byWeekday := map[time.Weekday]int{}
	tet, received := 0, 0
	online := map[int][2]int{} // year: online, all
	settled, late := map[string]int{}, map[string]int{}
	receipts := map[string]*event.DossierReceivedData{}
	for d, err := range simulate.Dossiers(o) {
		if err != nil {
			t.Fatal(err)
		}
		if _, err := event.New(simulate.Source, d); err != nil {
			t.Fatalf("not a valid event: %v", err)
		}
		if d.OccurredAt().Before(last) {
			t.Fatalf("%s at %s comes after %s", d.EventType(), d.OccurredAt(), last)
		}
		last = d.OccurredAt()
		switch d := d.(type) {
		case *event.DossierReceivedData:
			received++
			receipts[d.Dossier] = d
			day := d.ReceivedAt.In(event.Vietnam)
			byWeekday[day.Weekday()]++
			if s := day.Format(event.DateLayout); s >= "2022-01-29" && s <= "2022-02-06" {
				tet++
			}
			c := online[day.Year()]
			c[1]++
			if d.Channel == event.ChannelOnline {
				c[0]++
			}
			online[day.Year()] = c
		case *event.DossierSettledData:
			r := receipts[d.Dossier]
			settled[r.Procedure]++
			if d.SettledAt.After(r.DueAt) {
				late[r.Procedure]++
			}
		}
	}
	if !last.Before(o.End) || received < 40_000 {
		t.Fatalf("%d receipts, the last fact at %s", received, last)
	}
	if byWeekday[time.Sunday]*20 > byWeekday[time.Wednesday] || byWeekday[time.Saturday]*2 > byWeekday[time.Wednesday] {
		t.Errorf("receipts by weekday %v: Sundays and Saturdays should be quiet", byWeekday)
	}
	if tet > 20 {
		t.Errorf("%d receipts during Tết 2022", tet)
	}
	share := func(y int) float64 { return float64(online[y][0]) / float64(online[y][1]) }
	if !(share(2021) < share(2022) && share(2022) < share(2023)) || share(2021) > 0.3 || share(2023) < 0.4 {
		t.Errorf("online share by year: %.2f, %.2f, %.2f: want rising from under 30%% to over 40%%", share(2021), share(2022), share(2023))
	}
	// The quarter of procedures with the most late dossiers hold most of them.
	var lates []int
	total := 0
	for p := range settled {
		lates = append(lates, late[p])
		total += late[p]
	}
	slices.Sort(lates)
	slices.Reverse(lates)
	top := 0
	for _, n := range lates[:len(lates)/4] {
		top += n
	}
	if total == 0 || float64(top) < 0.7*float64(total) {
		t.Errorf("the top quarter of procedures hold %d of %d late dossiers: want most", top, total)
	}
}
