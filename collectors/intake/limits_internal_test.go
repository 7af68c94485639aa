package intake

import (
	"fmt"
	"testing"
	"time"
)

// A kind of refusal is logged for the first sampleFirst times in an interval; the next line logged, in a later
// interval, counts the ones left out.
func TestSampled(t *testing.T) {
	var s sampled
	t0 := time.Date(2021, 9, 1, 9, 0, 0, 0, time.UTC)
	var lines []int
	for i := range 100 {
		s.log(t0.Add(time.Duration(i)*time.Millisecond), func(n int) { lines = append(lines, n) })
	}
	if len(lines) != sampleFirst {
		t.Fatalf("%d lines in the first interval, want %d", len(lines), sampleFirst)
	}
	s.log(t0.Add(sampleInterval), func(n int) { lines = append(lines, n) })
	if got := lines[len(lines)-1]; len(lines) != sampleFirst+1 || got != 100-sampleFirst {
		t.Errorf("the next interval's first line counts %d left out, want %d", got, 100-sampleFirst)
	}
}

// Addresses are remembered up to maxAddresses: those whose bucket is full again are forgotten to make room, and while
// none is, new addresses share one bucket, so that a flood from many addresses takes bounded memory.
func TestAddressesAreForgotten(t *testing.T) {
	l := newLimiters(DefaultConfig())
	t0 := time.Date(2021, 9, 1, 9, 0, 0, 0, time.UTC)
	for i := range maxAddresses {
		l.allowUnknown(fmt.Sprintf("10.%d.%d.%d:1234", i>>16, i>>8&255, i&255), t0)
	}
	if len(l.addrs) != maxAddresses {
		t.Fatalf("%d addresses remembered, want %d", len(l.addrs), maxAddresses)
	}
	// None is full yet: a new address shares the bucket of those not remembered.
	for range unknownBurst {
		if ok, _ := l.allowUnknown("192.0.2.1:1234", t0); !ok {
			t.Fatal("the shared bucket refused within its burst")
		}
	}
	if ok, _ := l.allowUnknown("192.0.2.2:1234", t0); ok {
		t.Error("another new address was let in past the shared bucket's burst")
	}
	if len(l.addrs) != maxAddresses {
		t.Errorf("%d addresses remembered, want %d", len(l.addrs), maxAddresses)
	}
	// Once the buckets have refilled, the addresses are forgotten and a new one gets its own.
	later := t0.Add(time.Duration(float64(time.Second) / unknownRate))
	if ok, _ := l.allowUnknown("192.0.2.3:1234", later); !ok {
		t.Error("a new address refused once the others' buckets were full again")
	}
	if len(l.addrs) != 1 {
		t.Errorf("%d addresses remembered, want the new one alone", len(l.addrs))
	}
	// An IPv6 client is its /64.
	if a, b := clientPrefix("[2001:db8::1]:1"), clientPrefix("[2001:db8::ffff:1]:2"); a != b {
		t.Errorf("two addresses of one /64 are %v and %v", a, b)
	}
	if a, b := clientPrefix("[::ffff:192.0.2.1]:1"), clientPrefix("192.0.2.1:2"); a != b {
		t.Errorf("an IPv4 address and its IPv6 form are %v and %v", a, b)
	}
}
