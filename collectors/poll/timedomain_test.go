package poll_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/collectors/reporting"
)

// A portal's document holds no time: its events take effect when it is polled, by the poller's clock. A clock
// outside the time domain fails the poll with the bound it passes, and publishes nothing, where the events used to be
// published with that time (and 1900 stored as 2036).
func TestPollOnAClockOutsideTheTimeDomainPublishesNothing(t *testing.T) {
	t.Parallel()
	c := connect(t)
	p := newPortal(t)
	p.serve(document(`"v1"`, catalogueV1))
	clk := &clock{}
	poller := newPoller(t, config(p.URL), c, clk)
	cases := []struct {
		clock time.Time
		says  string
	}{
		{time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), "1900-01-01T00:00:00Z is before 2000-01-01T00:00:00+07:00, the earliest time egovtrack records"},
		{time.Time{}, "0001-01-01T00:00:00Z is before 2000-01-01T00:00:00+07:00, the earliest time egovtrack records"},
		{time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), "1969-12-31T00:00:00Z is before 2000-01-01T00:00:00+07:00, the earliest time egovtrack records"},
		{time.Date(2106, 2, 8, 0, 0, 0, 0, time.UTC), "2106-02-08T00:00:00Z is in the future: egovtrack records times up to 5 minutes from now"},
		{time.Date(2150, 1, 1, 0, 0, 0, 0, time.UTC), "2150-01-01T00:00:00Z is in the future: egovtrack records times up to 5 minutes from now"},
	}
	for _, tt := range cases {
		clk.set(tt.clock)
		out, err := poller.PollOnce(t.Context())
		if !errors.Is(err, reporting.ErrClock) || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("clock at %s: %+v, %v; want ErrClock saying %q", tt.clock, out, err, tt.says)
		}
	}
	if n := stored(t, c); n != 0 {
		t.Errorf("the stream holds %d events, want none", n)
	}
}
