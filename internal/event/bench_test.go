package event_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
)

// benchEvents are one encoded event of each example fact, as the projector reads them from the stream.
func benchEvents(b *testing.B) [][]byte {
	b.Helper()
	var out [][]byte
	for _, ex := range examples() {
		env, err := contract.New("/egovtrack/collectors/sheet", ex.fact(time.UTC))
		if err != nil {
			b.Fatalf("%s: %v", ex.name, err)
		}
		raw, err := json.Marshal(env)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, raw)
	}
	return out
}

// BenchmarkDecode is the projector's cost of reading one event: the example facts in turn.
func BenchmarkDecode(b *testing.B) {
	evs := benchEvents(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, _, err := contract.Decode(evs[i%len(evs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkEnvelopeDecode is the cost of validating an envelope already read, as the collectors check their own.
func BenchmarkEnvelopeDecode(b *testing.B) {
	var envs []event.Envelope
	for _, raw := range benchEvents(b) {
		var env event.Envelope
		if err := json.Unmarshal(raw, &env); err != nil {
			b.Fatal(err)
		}
		envs = append(envs, env)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := contract.DecodeEnvelope(envs[i%len(envs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkNew is the collectors' cost of making one event.
func BenchmarkNew(b *testing.B) {
	var facts []event.Data
	for _, ex := range examples() {
		facts = append(facts, ex.fact(time.UTC))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := contract.New("/egovtrack/collectors/sheet", facts[i%len(facts)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
