package envdoc

import (
	"slices"
	"testing"
)

type inner struct {
	Addr string `env:"ADDR" envDefault:"127.0.0.1:9000"`
	Pass string `env:"PASSWORD"`
}

type outer struct {
	DB    inner `envPrefix:"EGOV_DB_"`
	Seed  int   `env:"EGOV_SEED,required" envDefault:"7"`
	plain int
}

func TestVars(t *testing.T) {
	got := Vars(outer{})
	want := []Var{{"EGOV_DB_ADDR", "127.0.0.1:9000"}, {"EGOV_DB_PASSWORD", ""}, {"EGOV_SEED", "7"}}
	if !slices.Equal(got, want) {
		t.Errorf("Vars = %v, want %v", got, want)
	}
}

func TestMissing(t *testing.T) {
	vs := []Var{{"EGOV_DB_ADDR", "127.0.0.1:9000"}, {"EGOV_DB_PASSWORD", ""}, {"EGOV_SEED", "7"}}
	tests := []struct {
		name, readme string
		want         []Var
	}{
		{"all documented", "| `EGOV_DB_ADDR` | `127.0.0.1:9000` | x |\n| `EGOV_DB_PASSWORD` | (empty) | y |\n| `EGOV_SEED` | `7` | z |", nil},
		{"wrong default", "| `EGOV_DB_ADDR` | `localhost` | x |\n| `EGOV_DB_PASSWORD` | (empty) | y |\n| `EGOV_SEED` | `7` | z |", vs[:1]},
		{"one missing", "| `EGOV_DB_ADDR` | `127.0.0.1:9000` | x |\n| `EGOV_SEED` | `7` | z |", vs[1:2]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Missing(tt.readme, vs); !slices.Equal(got, tt.want) {
				t.Errorf("Missing = %v, want %v", got, tt.want)
			}
		})
	}
}
