// Package scorecard holds Decision 766/QĐ-TTg's scorecard as data: its five groups, the indicators egovtrack can
// compute from dossier and catalogue events, their formulas (a numerator and a denominator, each a Measure), their
// full-marks thresholds and their points. The decision publishes the groups' points and only some indicators'
// (on-time settlement, 20 of group 2); the others are assumed, and say so (Weight). Change 766.json, not code, when
// the weights are confirmed.
//
// Scoring (the decision's rule): an indicator's points are min(1, ratio ÷ threshold) × its points; an indicator whose
// denominator is zero for a unit and period is not scored, and neither its points nor its maximum count. A unit's
// score is its points out of the points of the indicators scored, on 100.
package scorecard

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/egovtrack/egovtrack/internal/event/strictjson"
)

// Measure names a count over a unit and a period that an indicator divides.
type Measure string

// The measures: counts of dossiers from dossier_counts, and of procedures from the catalogue and the dossiers.
const (
	Received          Measure = "received"           // dossiers received
	ReceivedOnline    Measure = "received_online"    // of them, online
	ReceivedFee       Measure = "received_fee"       // of them, of a procedure with a fee
	PaidOnline        Measure = "paid_online"        // dossiers paid online
	Settled           Measure = "settled"            // dossiers settled
	SettledOnTime     Measure = "settled_on_time"    // of them, at or before the receipt's due time
	Results           Measure = "results"            // results issued
	ResultsElectronic Measure = "results_electronic" // of them, electronic
	Digitised         Measure = "digitised"          // dossiers digitised
	Feedback          Measure = "feedback"           // citizens' feedback given
	Satisfied         Measure = "satisfied"          // of it, satisfied
	FeedbackOnTime    Measure = "feedback_on_time"   // of it, saying the dossier was handled on time
	// Procedures is the unit's active procedures at the period's end; ProceduresOnline those of them at level 3 or
	// 4 (offered online, partly or fully); OnlineProceduresUsed those of them that received an online dossier in
	// the period.
	Procedures           Measure = "procedures"
	ProceduresOnline     Measure = "procedures_online"
	OnlineProceduresUsed Measure = "online_procedures_used"
	// FeeProcedures is the procedures that received a dossier with a fee in the period (the catalogue does not say
	// which procedures charge one); FeeProceduresPaidOnline those of them with a dossier paid online in it.
	FeeProcedures           Measure = "fee_procedures"
	FeeProceduresPaidOnline Measure = "fee_procedures_paid_online"
)

// Measures lists every measure.
var Measures = []Measure{Received, ReceivedOnline, ReceivedFee, PaidOnline, Settled, SettledOnTime, Results,
	ResultsElectronic, Digitised, Feedback, Satisfied, FeedbackOnTime, Procedures, ProceduresOnline,
	OnlineProceduresUsed, FeeProcedures, FeeProceduresPaidOnline}

// Group is one of the five groups of indicators.
type Group struct {
	Group  int    `json:"group"`
	Name   string `json:"name"`
	NameEn string `json:"name_en"`
	Points int    `json:"points"`
}

// Indicator is one indicator. A computed one divides Numerator by Denominator and earns full Points at Threshold
// (a share, 0 < Threshold ≤ 1); one not computed says why not.
type Indicator struct {
	ID          string  `json:"id"`
	Group       int     `json:"group"`
	Name        string  `json:"name"`
	NameEn      string  `json:"name_en"`
	Numerator   Measure `json:"numerator,omitempty"`
	Denominator Measure `json:"denominator,omitempty"`
	Threshold   float64 `json:"threshold,omitempty"`
	Points      int     `json:"points"`
	Weight      string  `json:"weight"` // "published" or "assumed"
	Computed    bool    `json:"computed"`
	WhyNot      string  `json:"why_not,omitempty"`
}

// Card is the whole scorecard.
type Card struct {
	Decision   string      `json:"decision"`
	Groups     []Group     `json:"groups"`
	Indicators []Indicator `json:"indicators"`
}

//go:embed 766.json
var card766 []byte

// Decision766 returns the scorecard of Decision 766 (766.json), checked.
func Decision766() Card {
	c, err := Parse(card766)
	if err != nil {
		panic(fmt.Sprintf("scorecard: 766.json: %v", err)) // embedded and tested: a build that breaks it fails its tests
	}
	return c
}

// Parse reads a scorecard in 766.json's form and checks it: fields it does not know, measures it does not know, a
// threshold outside (0, 1], groups whose indicators' points do not add up to the group's.
func Parse(b []byte) (Card, error) {
	var c Card
	if _, err := strictjson.Read(b); err != nil { // a key given twice, text that is not UTF-8
		return Card{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Card{}, err
	}
	groups := map[int]int{}
	for _, g := range c.Groups {
		groups[g.Group] = g.Points
	}
	sums := map[int]int{}
	seen := map[string]bool{}
	for _, in := range c.Indicators {
		where := fmt.Sprintf("indicator %q", in.ID)
		switch {
		case in.ID == "" || seen[in.ID]:
			return Card{}, fmt.Errorf("%s: id empty or repeated", where)
		case groups[in.Group] == 0:
			return Card{}, fmt.Errorf("%s: group %d is not among the groups", where, in.Group)
		case in.Points <= 0:
			return Card{}, fmt.Errorf("%s: points %d, want more than 0", where, in.Points)
		case in.Weight != "published" && in.Weight != "assumed":
			return Card{}, fmt.Errorf("%s: weight %q, want published or assumed", where, in.Weight)
		case in.Computed && (!slices.Contains(Measures, in.Numerator) || !slices.Contains(Measures, in.Denominator)):
			return Card{}, fmt.Errorf("%s: numerator %q or denominator %q is not a measure", where, in.Numerator, in.Denominator)
		case in.Computed && (in.Threshold <= 0 || in.Threshold > 1):
			return Card{}, fmt.Errorf("%s: threshold %v, want a share above 0, at most 1", where, in.Threshold)
		case !in.Computed && in.WhyNot == "":
			return Card{}, fmt.Errorf("%s: not computed, and why_not does not say why", where)
		}
		seen[in.ID] = true
		sums[in.Group] += in.Points
	}
	for g, p := range groups {
		if sums[g] != p {
			return Card{}, fmt.Errorf("group %d: its indicators' points add up to %d, want %d", g, sums[g], p)
		}
	}
	return c, nil
}

// Computed returns the indicators computed, in the card's order.
func (c Card) Computed() []Indicator {
	var out []Indicator
	for _, in := range c.Indicators {
		if in.Computed {
			out = append(out, in)
		}
	}
	return out
}
