package event_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
)

func TestParseLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want event.Level
	}{
		{"1", 1},
		{"2", 2},
		{"3", 3},
		{"4", 4},
		{" 4 ", 4},
		{"04", 4},
		{"level 4", 4},
		{"Level 2", 2},
		{"  LEVEL   3 ", 3},
		{"Mức 4", 4},
		{"mức 1", 1},
		{"MỨC 3", 3},
		{"partial", 3},
		{"Partial", 3},
		{"partial online", 3},
		{"Partial  Online", 3},
		{"partial_online", 3},
		{"full", 4},
		{"FULL", 4},
		{" full online ", 4},
		{"full_online", 4},
		{"toàn trình", 4},
		{"Toàn Trình", 4},
		{"TOÀN TRÌNH", 4},
		{"toàn  trình", 4},
		{"trực tuyến toàn trình", 4},
		{"Trực tuyến toàn trình", 4},
		{"một phần", 3},
		{"Một phần", 3},
		{"trực tuyến một phần", 3},
		// Decree 43/2011's phrase, and words typed without a Vietnamese input method: the spreadsheet, the portal
		// and the intake API read them alike.
		{"Mức độ 4", 4},
		{"MỨC ĐỘ 2", 2},
		{"mức  độ 3", 3},
		{"muc do 4", 4},
		{"Muc 1", 1},
		{"toan trinh", 4},
		{"Toan Trinh", 4},
		{"truc tuyen toan trinh", 4},
		{"mot phan", 3},
		{"Truc tuyen mot phan", 3},
		{"to\u0061\u0300n tri\u0300nh", 4},
	}
	for _, tt := range tests {
		got, err := event.ParseLevel(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseLevel(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestParseLevelErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in string
		// msg is a part of the error that names the value.
		msg string
	}{
		{"5", "5 is out of range 1–4"},
		{"0", "0 is out of range 1–4"},
		{"-1", "-1 is out of range 1–4"},
		{"256", "256 is out of range 1–4"},
		{"260", "260 is out of range 1–4"}, // 260 would wrap round to level 4 in a uint8
		{"level 5", "5 is out of range 1–4"},
		{"mức 0", "0 is out of range 1–4"},
		{"abc", `"abc" is not a level`},
		{"", `"" is not a level`},
		{"   ", `"   " is not a level`},
		{"4.0", `"4.0" is not a level`},
		{"level", `"level" is not a level`},
		{"level four", `"level four" is not a level`},
		{"partially", `"partially" is not a level`},
		{"toàn", `"toàn" is not a level`},
		{"Mức độ 5", "5 is out of range 1–4"},
		{"muc do 0", "0 is out of range 1–4"},
		{"mức độ", `"mức độ" is not a level`},
		{"toan", `"toan" is not a level`},
		{"muc do muc 4", `"muc do muc 4" is not a level`},
	}
	for _, tt := range tests {
		got, err := event.ParseLevel(tt.in)
		if err == nil {
			t.Errorf("ParseLevel(%q) = %d, want an error", tt.in, got)
			continue
		}
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ParseLevel(%q) error = %q, want it to say %q", tt.in, err, tt.msg)
		}
	}
}

func TestLevelUnmarshalJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		json string
		want event.Level
		// msg, when set, is a part of the error that must be returned.
		msg string
	}{
		{json: `1`, want: 1},
		{json: `4`, want: 4},
		{json: `"4"`, want: 4},
		{json: `"level 3"`, want: 3},
		{json: `"Mức 4"`, want: 4},
		{json: `"partial"`, want: 3},
		{json: `"full"`, want: 4},
		{json: `"toàn trình"`, want: 4},
		{json: `"một phần"`, want: 3},
		{json: `" Full Online "`, want: 4},
		{json: `"Mức độ 2"`, want: 2},
		{json: `"toan trinh"`, want: 4},
		// Numbers out of range are kept for validation to name the field.
		{json: `7`, want: 7},
		{json: `0`, want: 0},
		{json: `null`, want: 0},
		{json: `"5"`, msg: "5 is out of range 1–4"},
		{json: `"0"`, msg: "0 is out of range 1–4"},
		{json: `"abc"`, msg: `"abc" is not a level`},
		{json: `""`, msg: `"" is not a level`},
		{json: `true`, msg: "got true"},
		{json: `3.5`, msg: "got 3.5"},
		{json: `[4]`, msg: "got [4]"},
	}
	for _, tt := range tests {
		var got event.Level
		err := json.Unmarshal([]byte(tt.json), &got)
		switch {
		case tt.msg == "" && err != nil:
			t.Errorf("unmarshal %s: %v", tt.json, err)
		case tt.msg == "" && got != tt.want:
			t.Errorf("unmarshal %s = %d, want %d", tt.json, got, tt.want)
		case tt.msg != "" && err == nil:
			t.Errorf("unmarshal %s = %d, want an error", tt.json, got)
		case tt.msg != "" && !strings.Contains(err.Error(), tt.msg):
			t.Errorf("unmarshal %s: error %q, want it to say %q", tt.json, err, tt.msg)
		}
	}
}

// Levels are written as numbers, whatever words they were read from.
func TestLevelMarshalsAsNumber(t *testing.T) {
	t.Parallel()
	var l event.Level
	if err := json.Unmarshal([]byte(`"toàn trình"`), &l); err != nil {
		t.Fatal(err)
	}
	if b, err := json.Marshal(l); err != nil || string(b) != "4" {
		t.Errorf("marshal = %s, %v; want 4", b, err)
	}
}

func TestLevelValid(t *testing.T) {
	t.Parallel()
	for l := event.Level(0); l < 10; l++ {
		if want := l >= 1 && l <= 4; l.Valid() != want {
			t.Errorf("Level(%d).Valid() = %v, want %v", l, l.Valid(), want)
		}
	}
	if event.FullOnline != 4 {
		t.Errorf("FullOnline = %d, want 4", event.FullOnline)
	}
}

func TestStageValid(t *testing.T) {
	t.Parallel()
	for _, s := range event.Stages {
		if !s.Valid() {
			t.Errorf("Stage(%q).Valid() = false", s)
		}
	}
	for _, s := range []event.Stage{"", "Live", "beta", "done"} {
		if s.Valid() {
			t.Errorf("Stage(%q).Valid() = true", s)
		}
	}
}

func TestDateOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		t    time.Time
		want event.Date
	}{
		{time.Date(2021, 12, 31, 20, 0, 0, 0, time.UTC), "2022-01-01"},
		{time.Date(2021, 12, 31, 16, 59, 59, 0, time.UTC), "2021-12-31"},
		{time.Date(2021, 12, 31, 17, 0, 0, 0, time.UTC), "2022-01-01"},
		{time.Date(2022, 1, 1, 3, 0, 0, 0, event.Vietnam), "2022-01-01"},
		{time.Date(2021, 12, 31, 23, 59, 0, 0, event.Vietnam), "2021-12-31"},
		// 20:00 in New York on 30 June is 07:00 on 1 July in Vietnam.
		{time.Date(2021, 6, 30, 20, 0, 0, 0, time.FixedZone("EDT", -4*60*60)), "2021-07-01"},
	}
	for _, tt := range tests {
		if got := event.DateOf(tt.t); got != tt.want {
			t.Errorf("DateOf(%s) = %s, want %s", tt.t.Format(time.RFC3339), got, tt.want)
		}
	}
}

func TestDateTime(t *testing.T) {
	t.Parallel()
	got, err := event.Date("2022-01-01").Time()
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2021, 12, 31, 17, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Date(2022-01-01).Time() = %s, want %s (midnight in Vietnam)", got, want)
	}
	if d := event.DateOf(got); d != "2022-01-01" {
		t.Errorf("DateOf(Time()) = %s, want the same day back", d)
	}
	if _, err := event.Date("2022-1-1").Time(); err == nil {
		t.Error(`Date("2022-1-1").Time() succeeded, want an error`)
	}
}
