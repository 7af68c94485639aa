package lint

import (
	"regexp"
	"slices"
	"strings"

	"github.com/egovtrack/egovtrack/dashboards/chquery"
)

// linkBuiltins are the variables Grafana fills in links and data links, besides chquery.Builtins: a data link's row
// (${__data.fields.name}), field, series and value, and the time range as URL parameters.
var linkBuiltins = []string{"__data", "__field", "__series", "__value", "__url_time_range", "__all_variables"}

// linkVar matches a variable in a URL: ${name}, ${name.path}, ${name:format}, [[name]], $name. Group 1 or 4 or 5 is
// the name, group 3 the format.
var linkVar = regexp.MustCompile(`\$\{([A-Za-z_]\w*)([^}:]*)(?::([^}]*))?\}|\[\[([A-Za-z_]\w*)(?::\w+)?\]\]|\$([A-Za-z_]\w*)`)

// dashboardPath is how Grafana addresses a dashboard: /d/<uid>, optionally followed by /<slug>.
var dashboardPath = regexp.MustCompile(`^/d/([^/?#]+)`)

// link checks a dashboard link or a data link: it has a title; the variables its URL uses are defined; and a link to
// /d/<uid> leads to one of the dashboards checked, passing it only variables (var-name=…, ${name:queryparam}) that
// dashboard defines. Links by tag ("dashboards") and to other places are not resolved.
func (c *checker) link(where string, l linkJSON) {
	if l.Title == "" {
		c.add(where, "no title")
	}
	if l.Type == "dashboards" {
		return
	}
	if l.URL == "" {
		c.add(where, "no URL")
		return
	}
	var passed []string // variables the URL hands to its target
	for _, m := range linkVar.FindAllStringSubmatch(l.URL, -1) {
		name := m[1] + m[4] + m[5]
		if !slices.Contains(c.vars, name) && !slices.Contains(chquery.Builtins, name) && !slices.Contains(linkBuiltins, name) {
			c.add(where, "variable %s is not defined", m[0])
		}
		if m[3] == "queryparam" {
			passed = append(passed, name)
		}
	}
	path, query, _ := strings.Cut(l.URL, "?")
	m := dashboardPath.FindStringSubmatch(path)
	if m == nil {
		return
	}
	uid := m[1]
	if strings.ContainsAny(uid, "$[") {
		c.add(where, "the target's uid %q is a variable: the link cannot be checked", uid)
		return
	}
	targetVars, ok := c.known[uid]
	if !ok {
		c.add(where, "leads to dashboard uid %q, which is not among the dashboards checked", uid)
		return
	}
	for _, param := range strings.Split(query, "&") {
		if name, ok := strings.CutPrefix(param, "var-"); ok {
			name, _, _ = strings.Cut(name, "=")
			passed = append(passed, name)
		}
	}
	for _, name := range passed {
		if !slices.Contains(targetVars, name) {
			c.add(where, "passes variable %q to dashboard %q, which has no such variable", name, uid)
		}
	}
}
