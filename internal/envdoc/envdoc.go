// Package envdoc lists the environment variables a configuration struct reads (caarlos0/env tags), so that tests can
// hold the README's configuration table to the code.
package envdoc

import (
	"reflect"
	"strings"
)

// Var is one environment variable and its default.
type Var struct {
	Name, Default string
}

// Vars returns every variable cfg (a struct) reads, nested structs' prefixes applied, in field order.
func Vars(cfg any) []Var {
	return vars(reflect.TypeOf(cfg), "")
}

func vars(t reflect.Type, prefix string) []Var {
	var out []Var
	for i := range t.NumField() {
		f := t.Field(i)
		if p, ok := f.Tag.Lookup("envPrefix"); ok && f.Type.Kind() == reflect.Struct {
			out = append(out, vars(f.Type, prefix+p)...)
			continue
		}
		name, ok := f.Tag.Lookup("env")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(name, ",")
		out = append(out, Var{Name: prefix + name, Default: f.Tag.Get("envDefault")})
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
