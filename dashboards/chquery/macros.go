package chquery

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// What happens to a target's rawSql before ClickHouse sees it, in two steps:
//
//  1. Grafana's frontend replaces dashboard variables ($var, ${var}, ${var:format}, [[var]]) and its own built-ins
//     ($__from, $__to, …). Names it does not know, such as the plugin's macros, stay as they are.
//  2. The plugin's backend expands its macros ($__timeFilter(c), $__fromTime, …), in the way of grafana-plugin-sdk-go's
//     sqlutil.Interpolate: from each `$__name` it scans forward for the first parenthesis; if that is an opening one,
//     everything up to the matching closing one is the argument list, split at every comma. So a macro without
//     arguments must not be followed by "(" before a ")": `$__toTime AND f(x)` would swallow " AND f(x)". Write such
//     macros as a function argument, `toDate($__toTime, 'Asia/Ho_Chi_Minh')`, or in parentheses. For the same reason
//     an argument cannot contain a comma.
//
// Expand does both, so that tests run a panel's SQL as Grafana would.

// Macro is one backend macro of the plugin that egovtrack's SQL may use.
type Macro struct {
	Name string // without the leading "$__"
	Args int    // how many arguments it takes
	// Expand returns the SQL for a request; args has Args elements.
	Expand func(r Request, args []string) string
}

// Macros lists the plugin's backend macros that egovtrack's SQL may use (see DOMAIN.md), by name. The plugin has
// more; they are left out on purpose: $__timeInterval expands to toStartOfInterval, which ClickHouse 18.16 lacks, the
// *_ms ones use DateTime64, which it lacks too, and $__timeFrom/$__timeTo/$__timeGroup were wrong before 4.19.
var Macros = map[string]Macro{
	"fromTime": {Name: "fromTime", Expand: func(r Request, _ []string) string { return dateTime(r.From) }},
	"toTime":   {Name: "toTime", Expand: func(r Request, _ []string) string { return dateTime(r.To) }},
	"timeFilter": {Name: "timeFilter", Args: 1, Expand: func(r Request, a []string) string {
		return fmt.Sprintf("%s >= %s AND %s <= %s", a[0], dateTime(r.From), a[0], dateTime(r.To))
	}},
	// The plugin formats the dates in its own process's zone, UTC in Grafana's images: the edges of a range are UTC
	// days, not Vietnamese ones. egovtrack's SQL therefore filters its Vietnamese `day` columns with
	// toDate($__fromTime, 'Asia/Ho_Chi_Minh') and toDate($__toTime, 'Asia/Ho_Chi_Minh') instead.
	"dateFilter": {Name: "dateFilter", Args: 1, Expand: func(r Request, a []string) string {
		return fmt.Sprintf("%s >= %s AND %s <= %s", a[0], date(r.From), a[0], date(r.To))
	}},
	"interval_s": {Name: "interval_s", Expand: func(r Request, _ []string) string {
		return strconv.Itoa(int(math.Max(r.Interval.Seconds(), 1)))
	}},
}

// FrontendMacros are macros that Grafana's frontend part of the plugin handles; egovtrack's SQL may use them, but
// Expand does not implement them yet.
var FrontendMacros = []string{"conditionalAll"}

// Builtins are the variables Grafana itself defines for every dashboard.
var Builtins = []string{
	"__from", "__to", "__interval", "__interval_ms", "__range", "__range_s", "__range_ms", "__rate_interval",
	"__dashboard", "__org", "__user", "__timezone",
}

func dateTime(t time.Time) string { return fmt.Sprintf("toDateTime(%d)", t.Unix()) }
func date(t time.Time) string     { return fmt.Sprintf("toDate('%s')", t.UTC().Format(time.DateOnly)) }

// Request is what Grafana sends with a query: the dashboard's time range, the panel's interval, and the current
// value of each dashboard variable (single values only).
type Request struct {
	From, To time.Time
	Interval time.Duration
	Vars     map[string]string
}

// Call is one occurrence of a backend macro in SQL, as the plugin's scanner sees it.
type Call struct {
	Name    string   // without "$__"
	Text    string   // what gets replaced, from "$__" to the closing parenthesis if any
	Args    []string // trimmed; nil when no parenthesis followed
	HasArgs bool
}

var macroStart = regexp.MustCompile(`\$__(\w+)`)

// Calls returns every `$__name` in sql with the text the plugin would take as its call and arguments. Names that are
// Grafana built-ins ($__from …) are skipped: the frontend replaces them first.
func Calls(sql string) []Call {
	var out []Call
	for _, m := range macroStart.FindAllStringSubmatchIndex(sql, -1) {
		name := sql[m[2]:m[3]]
		if slices.Contains(Builtins, "__"+name) {
			continue
		}
		c := Call{Name: name, Text: sql[m[0]:m[1]]}
		rest := sql[m[0]:]
		depth, argStart := 0, -1
	scan:
		for i, r := range rest {
			switch r {
			case '(':
				if argStart < 0 {
					argStart = i + 1
				}
				depth++
			case ')':
				if depth == 0 {
					break scan // a closing parenthesis first: the macro has no arguments
				}
				depth--
				if depth == 0 {
					c.Text = rest[:i+1]
					c.HasArgs = true
					for _, a := range strings.Split(rest[argStart:i], ",") {
						c.Args = append(c.Args, strings.TrimSpace(a))
					}
					break scan
				}
			}
		}
		out = append(out, c)
	}
	return out
}

// varRef matches Grafana's variable syntaxes: ${name}, ${name:format}, [[name]], [[name:format]] and $name.
var varRef = regexp.MustCompile(`\$\{(\w+)(?::([^}]+))?\}|\[\[(\w+)(?::(\w+))?\]\]|\$(\w+)`)

// VarRef is one use of a variable in a text.
type VarRef struct {
	Text, Name, Format string
}

// VarRefs returns the variables a text uses. A plain $__name that is not one of Builtins is a macro, not a variable.
func VarRefs(s string) []VarRef {
	var out []VarRef
	for _, m := range varRef.FindAllStringSubmatch(s, -1) {
		r := VarRef{Text: m[0]}
		switch {
		case m[1] != "":
			r.Name, r.Format = m[1], m[2]
		case m[3] != "":
			r.Name, r.Format = m[3], m[4]
		default:
			r.Name = m[5]
		}
		if m[5] != "" && strings.HasPrefix(r.Name, "__") && !slices.Contains(Builtins, r.Name) {
			continue // $__name that Grafana does not define: a macro, which the frontend leaves to the plugin's backend
		}
		out = append(out, r)
	}
	return out
}

// Expand returns sql as ClickHouse would receive it from the plugin for req. It fails on a variable that has no value
// in req (Grafana would leave it in the SQL, which would then fail in ClickHouse), on a format it does not know, on a
// macro that is not in Macros, and on a macro with the wrong number of arguments.
func Expand(sql string, req Request) (string, error) {
	var err error
	sql = varRef.ReplaceAllStringFunc(sql, func(ref string) string {
		refs := VarRefs(ref)
		if len(refs) == 0 {
			return ref // a macro, for the second step
		}
		v, e := req.value(refs[0])
		if e != nil && err == nil {
			err = e
		}
		return v
	})
	if err != nil {
		return "", err
	}
	// Each name once, in a fixed order: the plugin walks a map, so its order varies, which matters only for SQL that
	// nests macros in each other's arguments, which ours does not.
	for _, name := range slices.Sorted(maps.Keys(Macros)) {
		m := Macros[name]
		for _, c := range Calls(sql) {
			if c.Name != name {
				continue
			}
			if len(c.Args) != m.Args {
				return "", fmt.Errorf("macro $__%s: %d arguments in %q, want %d", name, len(c.Args), c.Text, m.Args)
			}
			sql = strings.ReplaceAll(sql, c.Text, m.Expand(req, c.Args))
		}
	}
	if left := Calls(sql); len(left) > 0 {
		return "", fmt.Errorf("macro $__%s: not one that egovtrack's SQL may use", left[0].Name)
	}
	return sql, nil
}

// value formats one variable as Grafana's frontend does for a single value.
func (req Request) value(r VarRef) (string, error) {
	var v string
	switch r.Name {
	case "__from":
		v = strconv.FormatInt(req.From.UnixMilli(), 10)
	case "__to":
		v = strconv.FormatInt(req.To.UnixMilli(), 10)
	case "__interval_ms":
		v = strconv.FormatInt(req.Interval.Milliseconds(), 10)
	default:
		var ok bool
		if v, ok = req.Vars[r.Name]; !ok {
			return "", fmt.Errorf("variable %s has no value", r.Text)
		}
	}
	switch r.Format {
	case "", "raw":
		return v, nil
	case "singlequote":
		return "'" + strings.ReplaceAll(v, "'", `\'`) + "'", nil
	case "sqlstring":
		return "'" + strings.ReplaceAll(v, "'", "''") + "'", nil
	case "doublequote":
		return `"` + strings.ReplaceAll(v, `"`, `\"`) + `"`, nil
	}
	return "", fmt.Errorf("variable %s: format %q is not supported here", r.Text, r.Format)
}
