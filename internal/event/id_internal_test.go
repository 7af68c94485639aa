package event

import "testing"

// The type and the subject take part in the id apart from the data, and the separators keep one field from running
// into the next.
func TestDeriveIDSeparatesItsParts(t *testing.T) {
	t.Parallel()
	data := []byte(`{"unit":{"kind":"province","code":"19"}}`)
	base := deriveID(LevelChanged, "egov.province.19.proc.1_001234", data)
	if again := deriveID(LevelChanged, "egov.province.19.proc.1_001234", data); again != base {
		t.Fatalf("deriveID is not deterministic: %s then %s", base, again)
	}
	tests := []struct {
		name    string
		typ     Type
		subject string
		data    []byte
	}{
		{"other type", ProcedureRetired, "egov.province.19.proc.1_001234", data},
		{"other subject", LevelChanged, "egov.province.19.proc.1_001235", data},
		{"subject runs into the type", LevelChanged + "e", "gov.province.19.proc.1_001234", data},
		{"data runs into the subject", LevelChanged, "egov.province.19.proc.1_001234{", data[1:]},
	}
	for _, tt := range tests {
		if got := deriveID(tt.typ, tt.subject, tt.data); got == base {
			t.Errorf("%s: id %s is the same as the base fact's", tt.name, got)
		}
	}
}
