package event

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Level is the online service level of a procedure on the scale of Decree 43/2011: 1 information, 2 downloadable
// forms, 3 submit online, 4 submit, pay and receive the result online. Decree 42/2022's "partial online" is stored
// as 3 and "full online" (toàn trình) as 4.
type Level uint8

const (
	MinLevel Level = 1
	MaxLevel Level = 4
	// FullOnline is the level the 2021 target counts.
	FullOnline Level = 4
)

// Valid reports whether l is on the scale.
func (l Level) Valid() bool { return l >= MinLevel && l <= MaxLevel }

// levelWords maps the words the contract accepts for a level (see the definition "level" in common.v1.json, which
// lists them too) to the scale; keys are lower case.
var levelWords = map[string]Level{
	"partial": 3, "partial online": 3, "partial_online": 3, "một phần": 3, "trực tuyến một phần": 3,
	"full": 4, "full online": 4, "full_online": 4, "toàn trình": 4, "trực tuyến toàn trình": 4,
}

// foldedLevelWords are levelWords without diacritics ("toan trinh"), as officers type them on a keyboard without a
// Vietnamese input method.
var foldedLevelWords = func() map[string]Level {
	m := make(map[string]Level, len(levelWords))
	for w, l := range levelWords {
		m[withoutDiacritics(w)] = l
	}
	return m
}()

// levelPrefixes come before a number: English, and Decree 43/2011's "mức độ" (level) and its short form "mức", here
// without diacritics.
var levelPrefixes = []string{"level ", "muc do ", "muc "}

// ParseLevel reads a level as people write it: 1–4, "level 4", "mức 4", "mức độ 4" (the phrase of Decree 43/2011), or
// Decree 42/2022's words "partial" and "full" (in Vietnamese "một phần", "toàn trình", also "trực tuyến …"). Case,
// runs of spaces, the Unicode form and diacritics do not matter: "TOÀN TRÌNH", "Toan trinh" and "muc do 4" are read
// too. Every collector reads levels with it, so that a spreadsheet, a portal and the intake API accept the same.
func ParseLevel(s string) (Level, error) {
	// NFC: a spreadsheet may write "toàn trình" with decomposed letters.
	w := strings.ToLower(strings.Join(strings.Fields(norm.NFC.String(s)), " "))
	if l, ok := levelWords[w]; ok {
		return l, nil
	}
	w = withoutDiacritics(w)
	if l, ok := foldedLevelWords[w]; ok {
		return l, nil
	}
	for _, p := range levelPrefixes {
		if rest, ok := strings.CutPrefix(w, p); ok {
			w = rest
			break
		}
	}
	n, err := strconv.Atoi(w)
	if err != nil {
		return 0, fmt.Errorf("%q is not a level (1–4, partial or full)", s)
	}
	if l := Level(n); n >= 0 && n <= 255 && l.Valid() {
		return l, nil
	}
	return 0, fmt.Errorf("%d is out of range 1–4", n)
}

// withoutDiacritics writes lower-case s without its diacritics, đ as d: "mức độ" → "muc do".
func withoutDiacritics(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case r == 'đ' || r == 'Đ':
			b.WriteByte('d')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// UnmarshalJSON accepts a whole number (4, or 4.0, as JSON Schema's integer does) or any word ParseLevel knows.
// Numbers out of range are kept, so that validation can name the field. Events are checked against the schema
// before they are decoded, and the schema is stricter about words (see the definition "level" in common.v1.json).
func (l *Level) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err == nil && f == math.Trunc(f) {
		n := 0
		if f >= 0 && f <= 255 {
			n = int(f)
		}
		*l = Level(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("level must be a number 1–4 or a word (partial, full), got %s", b)
	}
	v, err := ParseLevel(s)
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// Stage is how far a unit's virtual assistant for civil servants has got.
type Stage string

const (
	StageNotStarted Stage = "not_started"
	StagePlanned    Stage = "planned"
	StagePilot      Stage = "pilot"
	StageLive       Stage = "live"
)

// Stages lists the stages in rollout order.
var Stages = []Stage{StageNotStarted, StagePlanned, StagePilot, StageLive}

// Valid reports whether s is a known stage.
func (s Stage) Valid() bool {
	for _, v := range Stages {
		if s == v {
			return true
		}
	}
	return false
}

// Date is a calendar day, written "2006-01-02".
type Date string

// DateLayout is how a Date is written.
const DateLayout = "2006-01-02"

// DateOf returns the Vietnamese day of t.
func DateOf(t time.Time) Date { return Date(t.In(Vietnam).Format(DateLayout)) }

// Time returns the start of the day in Vietnam.
func (d Date) Time() (time.Time, error) { return time.ParseInLocation(DateLayout, string(d), Vietnam) }

// Vietnam is Asia/Ho_Chi_Minh: UTC+7 all year. Days, deadlines and coverage are counted in Vietnamese days. The
// fixed zone avoids depending on the machine's tz database.
var Vietnam = time.FixedZone("Asia/Ho_Chi_Minh", 7*60*60)
