package consumer

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/natsauth"
	"github.com/egovtrack/egovtrack/internal/units"
)

// Partition is the share of the stream one projector instance takes when several run at once: the units whose
// stable hash, modulo Count, is Index-1, each consumed through a durable consumer of its own, filtered on those units'
// subjects. The store keeps per-unit state and recomputes a unit from its stored changes, which is only right when
// one instance writes each unit; partitioning by unit gives every unit exactly one writer without any coordination.
//
// The zero Partition is the whole stream: one instance, unfiltered, under the configured durable name.
type Partition struct {
	Index, Count int // 1 ≤ Index ≤ Count
}

// ParsePartition reads "k/n" (the k-th of n partitions, counted from 1); "" is the whole stream.
func ParsePartition(s string) (Partition, error) {
	if s == "" {
		return Partition{}, nil
	}
	k, n, ok := strings.Cut(s, "/")
	index, err1 := strconv.Atoi(strings.TrimSpace(k))
	count, err2 := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err1 != nil || err2 != nil {
		return Partition{}, fmt.Errorf("EGOV_PROJECTOR_PARTITION is %q, want k/n such as 2/3", s)
	}
	if count < 1 || index < 1 || index > count {
		return Partition{}, fmt.Errorf("EGOV_PROJECTOR_PARTITION is %q, want 1 ≤ k ≤ n", s)
	}
	if count > natsauth.MaxPartitions {
		// Only these durables are reserved for the projector: with more, a unit could take one's name first.
		return Partition{}, fmt.Errorf("EGOV_PROJECTOR_PARTITION is %q: at most %d instances share the stream", s, natsauth.MaxPartitions)
	}
	if count == 1 {
		return Partition{}, nil // one partition of one is the whole stream, under the plain durable name
	}
	return Partition{Index: index, Count: count}, nil
}

// Whole reports whether the partition is the whole stream.
func (p Partition) Whole() bool { return p.Count <= 1 }

// String is the "k/n" form ParsePartition reads, or "all".
func (p Partition) String() string {
	if p.Whole() {
		return "all"
	}
	return fmt.Sprintf("%d/%d", p.Index, p.Count)
}

// unitHash is FNV-1a of "kind/code". It must never change: a unit moving to another partition would have two
// writers for as long as old and new instances overlap, and its events would be read again under another durable.
func unitHash(u units.Ref) uint64 {
	h := fnv.New64a()
	h.Write([]byte(u.String()))
	return h.Sum64()
}

// Owns reports whether the partition takes the unit's events.
func (p Partition) Owns(u units.Ref) bool {
	return p.Whole() || unitHash(u)%uint64(p.Count) == uint64(p.Index-1)
}

// OwnsFilter is Owns for a store that shares the units with other projector instances, nil for the whole stream:
// with nil, the store knows it is the only writer (store.Config.Owns).
func (p Partition) OwnsFilter() func(units.Ref) bool {
	if p.Whole() {
		return nil
	}
	return p.Owns
}

// Durable is the consumer name of the partition: base itself for the whole stream, base-k-of-n otherwise, so that
// each partition remembers its own position and a change of n starts fresh consumers rather than reusing ones
// filtered differently.
func (p Partition) Durable(base string) string {
	return natsauth.PartitionDurable(base, p.Index, p.Count)
}

// Subjects are the consumer's filter subjects: nil (everything) for the whole stream, otherwise the subjects of the
// partition's units, and for the first partition the national ones (the national targets) too.
//
// Messages on any other subject (a unit missing from internal/units, a malformed subject) are consumed by no
// partition, where one instance would have quarantined them: the authorisation model lets credentials publish on
// their own units' subjects only, so only an unauthenticated development server can receive them.
func (p Partition) Subjects() []string {
	if p.Whole() {
		return nil
	}
	var out []string
	if p.Index == 1 {
		out = append(out, event.SubjectRoot+".national.>")
	}
	for _, u := range units.Every() {
		if p.Owns(u.Ref) {
			out = append(out, event.UnitPrefix(u.Ref))
		}
	}
	return out
}
