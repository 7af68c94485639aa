// Package envdoc holds the README's configuration tables to the code: the environment variables a configuration
// struct reads, as caarlos0/env itself lists them (env.GetFieldParams), against the rows of a table.
package envdoc

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/caarlos0/env/v11"
)

// Var is one environment variable and its default.
type Var struct {
	Name, Default string
}

// Vars returns every variable cfg (a struct) reads, nested structs' prefixes applied, in field order: what
// env.GetFieldParams finds, the library env.Parse reads the variables with. It panics when cfg is not a struct.
func Vars(cfg any) []Var {
	ps, err := env.GetFieldParams(reflect.New(reflect.TypeOf(cfg)).Interface())
	if err != nil {
		panic(fmt.Sprintf("envdoc: the variables of %T: %v", cfg, err))
	}
	out := make([]Var, 0, len(ps))
	for _, p := range ps {
		out = append(out, Var{Name: p.Key, Default: p.DefaultValue})
	}
	return out
}

// Missing returns the variables that readme does not document in a table row naming the variable and its default,
// as "| `NAME` | `default` | …" (an empty default is written "(empty)" or as a description in words).
func Missing(readme string, vs []Var) []Var {
	var out []Var
	for _, v := range vs {
		row := "| `" + v.Name + "` | "
		i := strings.Index(readme, row)
		if i < 0 {
			out = append(out, v)
			continue
		}
		rest := readme[i+len(row):]
		if v.Default != "" && !strings.HasPrefix(rest, "`"+v.Default+"`") {
			out = append(out, v)
		}
	}
	return out
}
