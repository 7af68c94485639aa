package main

import (
	"math"
	"testing"
)

// A figure equal to its bound meets it, either way: 50,000,000 events written meet "≥ 50,000,000" (a run printed
// MISSED for it when "at least" was taken as "more than").
func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		v, bound float64
		atMost   bool
		want     string
	}{
		{50_000_000, 50_000_000, false, met},
		{49_999_999, 50_000_000, false, missed},
		{50_000_001, 50_000_000, false, met},
		{300, 300, true, met},
		{300.1, 300, true, missed},
		{299, 300, true, met},
		{math.NaN(), 300, true, missed},
		{math.NaN(), 300, false, missed},
	} {
		if got := status(tc.v, tc.bound, tc.atMost); got != tc.want {
			t.Errorf("status(%v, %v, at most %v) = %s, want %s", tc.v, tc.bound, tc.atMost, got, tc.want)
		}
	}
}
