// Package units is the reference data of the reporting units: the ministries and ministerial-level agencies and the
// provinces and centrally-run cities that report the status of their online public services.
//
// The list lives in units.csv (the 2021 organisation: 22 ministries and agencies, 63 provinces with their official
// two-digit statistical codes). Nothing else in egovtrack hard-wires how many units there are, so a reorganisation
// (such as the 2025 merger into 34 provinces) is a change of this file alone.
package units

import (
	_ "embed"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
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
}

//go:embed units.csv
var unitsCSV string

// all is parsed once at start-up; a malformed embedded file is a build defect, so it panics.
var all = mustParse(strings.NewReader(unitsCSV))

// All returns every unit, provinces first in code order, then ministries, as listed in units.csv.
func All() []Unit {
	out := make([]Unit, len(all))
	copy(out, all)
	return out
}

// Lookup returns the unit with the given reference, or false when there is none.
func Lookup(r Ref) (Unit, bool) {
	for _, u := range all {
		if u.Ref == r {
			return u, true
		}
	}
	return Unit{}, false
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
	rd.FieldsPerRecord = 3
	rows, err := rd.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != "kind,code,name" {
		return nil, fmt.Errorf("header must be kind,code,name")
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
