package main

import "testing"

func TestStatement(t *testing.T) {
	for q, want := range map[string]string{
		"SELECT id FROM events WHERE id IN (toUUID('9057f56a'),toUUID('19032da4'),toUUID('b'))": "SELECT id FROM events WHERE id IN (toUUID(?), …)",
		"INSERT INTO events (id, type)": "INSERT INTO events (batch)",
		"SELECT unit_kind, unit_code, max(day) FROM coverage_daily GROUP BY unit_kind, unit_code":            "SELECT unit_kind, unit_code, max(day) FROM coverage_daily",
		"SELECT a FROM t FINAL WHERE (unit_kind = ? AND unit_code = ?) OR (unit_kind = ? AND unit_code = ?)": "SELECT a FROM t FINAL WHERE (unit_kind = ? AND unit_code = ?)",
	} {
		if got := statement(q); got != want {
			t.Errorf("statement(%q) = %q, want %q", q, got, want)
		}
	}
}
