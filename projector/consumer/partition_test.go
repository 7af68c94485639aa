package consumer

import (
	"fmt"
	"slices"
	"testing"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

func TestParsePartition(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Partition
	}{
		{"", Partition{}},
		{"1/1", Partition{}},
		{"2/3", Partition{Index: 2, Count: 3}},
		{" 1 / 2 ", Partition{Index: 1, Count: 2}},
		{"16/16", Partition{Index: 16, Count: 16}},
	} {
		got, err := ParsePartition(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParsePartition(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"2", "0/3", "4/3", "1/0", "-1/2", "a/b", "1/2/3", "1/17"} {
		if p, err := ParsePartition(bad); err == nil {
			t.Errorf("ParsePartition(%q) = %v, want an error", bad, p)
		}
	}
}

// Every unit is in exactly one partition, whatever the number of partitions, and the national subjects in the first.
func TestEveryUnitInExactlyOnePartition(t *testing.T) {
	all := units.All()
	for n := 1; n <= 7; n++ {
		owners := map[units.Ref]int{}
		subjects := map[string]int{}
		var durables []string
		for k := 1; k <= n; k++ {
			p, err := ParsePartition(fmt.Sprintf("%d/%d", k, n))
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range all {
				if p.Owns(u.Ref) {
					owners[u.Ref]++
				}
			}
			for _, s := range p.Subjects() {
				subjects[s]++
			}
			durables = append(durables, p.Durable("projector"))
		}
		for _, u := range all {
			if owners[u.Ref] != 1 {
				t.Errorf("n=%d: %s is owned by %d partitions", n, u.Ref, owners[u.Ref])
			}
			if n > 1 && subjects[event.UnitPrefix(u.Ref)] != 1 {
				t.Errorf("n=%d: %s is filtered by %d partitions", n, event.UnitPrefix(u.Ref), subjects[event.UnitPrefix(u.Ref)])
			}
		}
		if n > 1 && subjects[event.SubjectRoot+".national.>"] != 1 {
			t.Errorf("n=%d: the national subjects are filtered by %d partitions", n, subjects[event.SubjectRoot+".national.>"])
		}
		slices.Sort(durables)
		if len(slices.Compact(durables)) != n {
			t.Errorf("n=%d: durable names %v are not distinct", n, durables)
		}
	}
}

// A unit's partition depends on the unit alone, never on the order or the number of the units listed: adding a unit
// to the reference data must not move the others. The pinned assignments catch a change of the hash, which would
// give units two writers during a rolling upgrade.
func TestPartitionIsStable(t *testing.T) {
	p := Partition{Index: 1, Count: 3}
	for _, u := range units.All() {
		if p.Owns(u.Ref) != p.Owns(units.Ref{Kind: u.Kind, Code: u.Code}) {
			t.Fatalf("%s: ownership differs between two equal refs", u.Ref)
		}
	}
	// Which of 3 partitions owns a few units, computed once from FNV-1a and kept.
	pinned := map[units.Ref]int{
		{Kind: units.Province, Code: "01"}:    2,
		{Kind: units.Province, Code: "79"}:    1,
		{Kind: units.Ministry, Code: "BTTTT"}: 1,
	}
	for ref, want := range pinned {
		for k := 1; k <= 3; k++ {
			if got := (Partition{Index: k, Count: 3}).Owns(ref); got != (k == want) {
				t.Errorf("partition %d/3 owns %s: %t, want %t", k, ref, got, k == want)
			}
		}
	}
}

// A store of the whole stream gets no filter (it is the only writer, and needs not ask who moved the latest day); a
// partition's store gets the partition's own.
func TestOwnsFilter(t *testing.T) {
	if (Partition{}).OwnsFilter() != nil || (Partition{Index: 1, Count: 1}).OwnsFilter() != nil {
		t.Error("the whole stream has a filter")
	}
	p := Partition{Index: 2, Count: 3}
	f := p.OwnsFilter()
	if f == nil {
		t.Fatal("a partition has no filter")
	}
	for _, u := range units.All() {
		if f(u.Ref) != p.Owns(u.Ref) {
			t.Errorf("%s: the filter says %v, the partition %v", u.Ref, f(u.Ref), p.Owns(u.Ref))
		}
	}
}
