// Package units is the reference data of the reporting units: the ministries and ministerial-level agencies and the
// provinces and centrally-run cities that report the status of their online public services.
//
// The list lives in units.csv (the 2021 organisation: 22 ministries and agencies, 63 provinces with their official
// two-digit statistical codes), and later.csv holds the units that reorganisations made with a code of their own
// (the 2025 mergers' Bộ Nông nghiệp và Môi trường, Bộ Dân tộc và Tôn giáo). Which unit became which, and from when,
// is not reference data but events (gov.egov.unit.merged.v1): a code names a unit for the days it is valid, and a
// code kept by a merged unit (24 Bắc Ninh ← 24, 27) names the larger unit from the merger on.
package units

import (
	_ "embed"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Kind says whether a unit is a ministry-level body or a province.
type Kind string

const (
	Ministry Kind = "ministry"
	Province Kind = "province"
)

// Valid reports whether k is a known kind of unit.
func (k Kind) Valid() bool { return k == Ministry || k == Province }

// Ref identifies a unit: its kind and its code ("01" for Hà Nội, "BTTTT" for the Ministry of Information and
// Communications). Codes are unique within a kind.
type Ref struct {
	Kind Kind   `json:"kind"`
	Code string `json:"code"`
}

func (r Ref) String() string { return string(r.Kind) + "/" + r.Code }

// Unit is one reporting unit.
type Unit struct {
	Ref
	Name string // official Vietnamese name, with diacritics
	// Location is where a province sits on a map (its capital); ministries, all in Hà Nội, have none.
	Location *LatLon
	// Cadence is how often the unit is expected to report; a unit silent for longer is stale.
	Cadence time.Duration
}

// LatLon is a point in decimal degrees.
type LatLon struct {
	Lat, Lon float64
}

// header is units.csv's first line. cadence_days: weekly for provinces and ministries, which report their catalogue
// on the weekly rhythm of the 2021 campaign; fortnightly for the four ministerial-level agencies with few procedures.
const header = "kind,code,name,lat,lon,cadence_days"

//go:embed units.csv
var unitsCSV string

//go:embed later.csv
var laterCSV string

// all and later are parsed once at start-up; a malformed embedded file is a build defect, so it panics.
var (
	all   = mustParse(strings.NewReader(unitsCSV))
	later = mustParseLater(all, strings.NewReader(laterCSV))
)

// All returns the units of the 2021 organisation, provinces first in code order, then ministries, as listed in
// units.csv: the units the 2021 campaign tracked.
func All() []Unit {
	out := make([]Unit, len(all))
	copy(out, all)
	return out
}

// Later returns the units that reorganisations made with a code of their own, as listed in later.csv.
func Later() []Unit {
	out := make([]Unit, len(later))
	copy(out, later)
	return out
}

// Every returns every unit that ever had a code: All, then Later. What a unit may publish and which projector
// instance takes its events are decided over these.
func Every() []Unit { return append(All(), later...) }

// Lookup returns the unit with the given reference among Every, or false when there is none.
func Lookup(r Ref) (Unit, bool) {
	for _, us := range [][]Unit{all, later} {
		for _, u := range us {
			if u.Ref == r {
				return u, true
			}
		}
	}
	return Unit{}, false
}

// mustParseLater parses later.csv, whose codes must be new.
func mustParseLater(before []Unit, r io.Reader) []Unit {
	us := mustParse(r)
	for _, u := range us {
		for _, b := range before {
			if b.Ref == u.Ref {
				panic(fmt.Sprintf("units: later.csv: %s is already in units.csv: a code is never given to another unit", u.Ref))
			}
		}
	}
	return us
}

func mustParse(r io.Reader) []Unit {
	us, err := parse(r)
	if err != nil {
		panic(fmt.Sprintf("units: embedded units.csv: %v", err))
	}
	return us
}

func parse(r io.Reader) ([]Unit, error) {
	rd := csv.NewReader(r)
	rd.FieldsPerRecord = len(strings.Split(header, ","))
	rows, err := rd.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != header {
		return nil, fmt.Errorf("header must be %s", header)
	}
	seen := map[Ref]bool{}
	var us []Unit
	for i, row := range rows[1:] {
		u := Unit{Ref: Ref{Kind: Kind(row[0]), Code: row[1]}, Name: row[2]}
		switch {
		case !u.Kind.Valid():
			return nil, fmt.Errorf("row %d: unknown kind %q", i+2, row[0])
		case !validCode(u.Code):
			return nil, fmt.Errorf("row %d: code %q must be upper-case letters and digits", i+2, u.Code)
		case strings.TrimSpace(u.Name) == "":
			return nil, fmt.Errorf("row %d: empty name", i+2)
		case seen[u.Ref]:
			return nil, fmt.Errorf("row %d: duplicate unit %s", i+2, u.Ref)
		}
		loc, err := parseLocation(row[3], row[4])
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", i+2, err)
		}
		if u.Kind == Province && loc == nil {
			return nil, fmt.Errorf("row %d: province %s has no lat/lon", i+2, u.Code)
		}
		u.Location = loc
		days, err := strconv.Atoi(row[5])
		if err != nil || days < 1 {
			return nil, fmt.Errorf("row %d: cadence_days %q is not a whole number of days", i+2, row[5])
		}
		u.Cadence = time.Duration(days) * 24 * time.Hour
		seen[u.Ref] = true
		us = append(us, u)
	}
	return us, nil
}

// validCode keeps codes usable as a NATS subject token.
func validCode(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// vietnam bounds every location: a coordinate outside it is a typo.
var vietnam = struct{ minLat, maxLat, minLon, maxLon float64 }{8.0, 23.5, 102.0, 110.0}

func parseLocation(lat, lon string) (*LatLon, error) {
	if lat == "" && lon == "" {
		return nil, nil
	}
	la, err1 := strconv.ParseFloat(lat, 64)
	lo, err2 := strconv.ParseFloat(lon, 64)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("lat/lon %q,%q are not decimal degrees", lat, lon)
	}
	if la < vietnam.minLat || la > vietnam.maxLat || lo < vietnam.minLon || lo > vietnam.maxLon {
		return nil, fmt.Errorf("lat/lon %s,%s lie outside Vietnam", lat, lon)
	}
	return &LatLon{la, lo}, nil
}
