package sheet_test

import (
	"errors"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/collectors/reporting"
	"github.com/egovtrack/egovtrack/collectors/sheet/sheettest"
)

// A spreadsheet holds no time: its events take effect when it is imported, by this computer's clock. A clock outside
// the time domain (reset to 1970 by a flat battery, set a century off) is refused before anything is published, with
// the bound it passes and what to do, where the events used to be published with that time (and 1900 stored as 2036).
func TestImportOnAClockOutsideTheTimeDomainPublishesNothing(t *testing.T) {
	c := connect(t)
	cases := []struct {
		clock time.Time
		says  string
	}{
		{time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), "1900-01-01T00:00:00Z is before 2000-01-01T00:00:00+07:00, the earliest time egovtrack records."},
		{time.Time{}, "0001-01-01T00:00:00Z is before 2000-01-01T00:00:00+07:00, the earliest time egovtrack records."},
		{time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), "1969-12-31T00:00:00Z is before 2000-01-01T00:00:00+07:00, the earliest time egovtrack records."},
		{time.Date(2106, 2, 8, 0, 0, 0, 0, time.UTC), "2106-02-08T00:00:00Z is in the future: egovtrack records times up to 5 minutes from now."},
		{time.Date(2150, 1, 1, 0, 0, 0, 0, time.UTC), "2150-01-01T00:00:00Z is in the future: egovtrack records times up to 5 minutes from now."},
	}
	for _, tt := range cases {
		out, err := run(t, c, tt.clock, "--unit", "province/19", "testdata/snapshot-a.csv")
		if !errors.Is(err, reporting.ErrClock) {
			t.Errorf("clock at %s: err = %v, want ErrClock", tt.clock, err)
		}
		sheettest.Says(t, out,
			"REFUSED: testdata/snapshot-a.csv, nothing was published for Thái Nguyên (province/19).",
			"the clock of this computer is outside the times egovtrack records: "+tt.says,
			"Set this computer's date and time, and import again.")
	}
	if n := messages(t, c); n != 0 {
		t.Errorf("the stream holds %d messages, want none", n)
	}
}
