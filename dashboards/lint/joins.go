package lint

import (
	"strings"
)

// UnaliasedJoins returns a message for each JOIN of sql that has a subquery or a table function without an alias on
// either side. ClickHouse refuses those since 20.3 (joined_subquery_requires_alias, on by default: Code 206,
// ALIAS_REQUIRED), so such a query runs on 18.16 and fails on every ClickHouse users deploy today. ARRAY JOIN is not
// a join of tables and is left alone.
func UnaliasedJoins(sql string) []string {
	toks := sqlTokens(sql)
	var out []string
	for i, tk := range toks {
		if !strings.EqualFold(tk, "JOIN") || i > 0 && strings.EqualFold(toks[i-1], "ARRAY") {
			continue
		}
		j := i - 1
		for j >= 0 && joinKinds[strings.ToUpper(toks[j])] {
			j--
		}
		if j >= 0 && toks[j] == ")" {
			out = append(out, "the subquery left of JOIN has no alias: ClickHouse 20.3 and later refuse it (ALIAS_REQUIRED); write (SELECT …) AS name")
		}
		k := i + 1
		if k < len(toks) && toks[k] != "(" && k+1 < len(toks) && toks[k+1] == "(" {
			k++ // a table function: name(…)
		}
		if k >= len(toks) || toks[k] != "(" {
			continue
		}
		end := matching(toks, k)
		if next := end + 1; next >= len(toks) || toks[next] == ")" || notAlias[strings.ToUpper(toks[next])] {
			out = append(out, "the subquery right of JOIN has no alias: ClickHouse 20.3 and later refuse it (ALIAS_REQUIRED); write (SELECT …) AS name")
		}
	}
	return out
}

// joinKinds are the words that may stand between a JOIN's left side and JOIN.
var joinKinds = map[string]bool{
	"ANY": true, "ALL": true, "ASOF": true, "SEMI": true, "ANTI": true, "LEFT": true, "RIGHT": true, "INNER": true,
	"FULL": true, "OUTER": true, "CROSS": true, "GLOBAL": true, "PASTE": true,
}

// notAlias are the words that may follow a joined table and are not its alias.
var notAlias = map[string]bool{
	"USING": true, "ON": true, "WHERE": true, "PREWHERE": true, "GROUP": true, "ORDER": true, "HAVING": true,
	"LIMIT": true, "SETTINGS": true, "FORMAT": true, "UNION": true, "FINAL": true, "SAMPLE": true, "ARRAY": true,
	"JOIN": true, ",": true, "ANY": true, "ALL": true, "LEFT": true, "RIGHT": true, "INNER": true, "FULL": true,
	"CROSS": true, "GLOBAL": true,
}

// matching returns the index of the parenthesis that closes the one at open, or the last index.
func matching(toks []string, open int) int {
	depth := 0
	for i := open; i < len(toks); i++ {
		switch toks[i] {
		case "(":
			depth++
		case ")":
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return len(toks) - 1
}

// sqlTokens splits sql into words, parentheses and other punctuation, leaving out comments and the contents of
// string literals (a literal becomes a token of two single quotes).
func sqlTokens(sql string) []string {
	var toks []string
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			end := strings.IndexByte(sql[i:], '\n')
			if end < 0 {
				return toks
			}
			i += end
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return toks
			}
			i += end + 4
		case c == '\'':
			i++
			for i < len(sql) && sql[i] != '\'' {
				if sql[i] == '\\' {
					i++
				}
				i++
			}
			i++
			toks = append(toks, "''")
		case c == '`':
			end := strings.IndexByte(sql[i+1:], '`')
			if end < 0 {
				return append(toks, sql[i:])
			}
			toks = append(toks, sql[i:i+end+2])
			i += end + 2
		case isWordByte(c):
			j := i
			for j < len(sql) && isWordByte(sql[j]) {
				j++
			}
			toks = append(toks, sql[i:j])
			i = j
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		default:
			toks = append(toks, string(c))
			i++
		}
	}
	return toks
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}
