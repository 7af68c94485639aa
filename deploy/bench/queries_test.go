package main

import (
	"testing"
	"time"
)

func TestGrafanaInterval(t *testing.T) {
	day := 24 * time.Hour
	for _, c := range []struct {
		span time.Duration // the time range, over 1,000 points
		want time.Duration
	}{
		{time.Minute, time.Second},
		{time.Hour, 5 * time.Second},
		{7 * day, 10 * time.Minute},
		{30 * day, 30 * time.Minute},
		{60 * day, time.Hour},
		{365 * day, 6 * time.Hour},
		{731 * day, 12 * time.Hour},
		{20 * 365 * day, 7 * day},
	} {
		if got := grafanaInterval(c.span / 1000); got != c.want {
			t.Errorf("grafanaInterval(%s / 1000) = %s, want %s", c.span, got, c.want)
		}
	}
}
