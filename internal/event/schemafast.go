package event

import (
	"encoding/json"
	"strconv"
)

// schemaAccepts reports whether the envelope and data schemas certainly accept doc, an event as strictjson reads it,
// by Go checks of the same rules: a few microseconds, against the tens the JSON Schema validator takes. It answers
// true only for what the schemas accept; for anything else — every refusal, and the rare forms it does not try to
// judge (a source that is not a plain path, an upper-case id, a leap second, a target) — it answers false, and Decode
// asks the schemas, which word the errors. So the schemas stay the one statement of the contract, and Decode accepts
// and refuses exactly what they do: FuzzSchemaAccepts holds schemaAccepts to them on every input, and
// TestSchemaAcceptsEveryExample holds it to accept the examples of every type but targets.
func schemaAccepts(doc map[string]any) bool {
	if len(doc) != 8 {
		return false // the envelope wants its eight attributes, and no other
	}
	id, _ := doc["id"].(string)
	source, _ := doc["source"].(string)
	spec, _ := doc["specversion"].(string)
	typ, _ := doc["type"].(string)
	subject, _ := doc["subject"].(string)
	at, _ := doc["time"].(string)
	dct, _ := doc["datacontenttype"].(string)
	data, _ := doc["data"].(map[string]any)
	if !isLowerUUID(id) || !isPlainPath(source) || spec != "1.0" || !isSubject(subject) || !isTime(at) ||
		dct != DataContentType || data == nil {
		return false
	}
	switch Type(typ) {
	case ProcedureRegistered:
		return only(data, 7, "unit", "procedure", "name", "sector", "eligible", "level", "effective_at") &&
			isUnit(data["unit"]) && isProcedure(data["procedure"]) && isText(data["name"]) && isText(data["sector"]) &&
			isBool(data["eligible"]) && isLevel(data["level"]) && isTimeValue(data["effective_at"])
	case LevelChanged:
		return only(data, 5, "unit", "procedure", "from", "to", "effective_at") &&
			isUnit(data["unit"]) && isProcedure(data["procedure"]) && isLevel(data["from"]) && isLevel(data["to"]) &&
			isTimeValue(data["effective_at"])
	case ProcedureRetired:
		n := 3
		if r, ok := data["reason"]; ok {
			if !isText(r) {
				return false
			}
			n++
		}
		return only(data, n, "unit", "procedure", "effective_at", "reason") &&
			isUnit(data["unit"]) && isProcedure(data["procedure"]) && isTimeValue(data["effective_at"])
	case AssistantStageChanged:
		n := 3
		if u, ok := data["users"]; ok {
			if !isCount(u) {
				return false
			}
			n++
		}
		stage, _ := data["stage"].(string)
		return only(data, n, "unit", "stage", "effective_at", "users") && isUnit(data["unit"]) &&
			(stage == "not_started" || stage == "planned" || stage == "pilot" || stage == "live") &&
			isTimeValue(data["effective_at"])
	case ReportSubmitted:
		n := 4
		if d, ok := data["digest"]; ok {
			s, _ := d.(string)
			if len(s) != 64 || !all(s, isLowerHex) {
				return false
			}
			n++
		}
		counts, _ := data["counts"].(map[string]any)
		collector, _ := data["collector"].(string)
		return only(data, n, "unit", "collector", "reported_at", "counts", "digest") && isUnit(data["unit"]) &&
			collector != "" && collector[0] >= 'a' && collector[0] <= 'z' && all(collector, isCollectorByte) &&
			isTimeValue(data["reported_at"]) && counts != nil &&
			only(counts, 4, "registered", "changed", "retired", "unchanged") &&
			isCount(counts["registered"]) && isCount(counts["changed"]) && isCount(counts["retired"]) && isCount(counts["unchanged"])
	case DossierReceived:
		channel, _ := data["channel"].(string)
		return only(data, 7, "unit", "procedure", "dossier", "channel", "fee", "received_at", "due_at") &&
			isUnit(data["unit"]) && isProcedure(data["procedure"]) && isDossier(data["dossier"]) &&
			(channel == "online" || channel == "in_person" || channel == "post") && isBool(data["fee"]) &&
			isTimeValue(data["received_at"]) && isTimeValue(data["due_at"])
	case DossierPaid:
		return dossierFact(data, "paid_at", "online")
	case DossierSettled:
		return dossierFact(data, "settled_at")
	case DossierResultIssued:
		return dossierFact(data, "issued_at", "electronic")
	case DossierDigitised:
		return dossierFact(data, "digitised_at")
	case DossierWithdrawn:
		return dossierFact(data, "withdrawn_at")
	case DossierFeedbackGiven:
		return dossierFact(data, "given_at", "satisfied", "handled_on_time")
	}
	return false // a target or a reorganisation (rare: the schemas judge them), or a type the schemas refuse
}

// dossierFact is a dossier event of unit, dossier, the time field at and the boolean fields flags, and nothing else.
func dossierFact(data map[string]any, at string, flags ...string) bool {
	if !only(data, 3+len(flags), append([]string{"unit", "dossier", at}, flags...)...) ||
		!isUnit(data["unit"]) || !isDossier(data["dossier"]) || !isTimeValue(data[at]) {
		return false
	}
	for _, f := range flags {
		if !isBool(data[f]) {
			return false
		}
	}
	return true
}

// isDossier is the dossier hash: 64 lower-case hex digits.
func isDossier(v any) bool {
	s, ok := v.(string)
	return ok && len(s) == 64 && all(s, isLowerHex)
}

// only reports whether obj has n members, each one of names.
func only(obj map[string]any, n int, names ...string) bool {
	if len(obj) != n {
		return false
	}
	found := 0
	for _, k := range names {
		if _, ok := obj[k]; ok {
			found++
		}
	}
	return found == n
}

func all(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool         { return c >= '0' && c <= '9' }
func isUpperAlnum(c byte) bool    { return isDigit(c) || c >= 'A' && c <= 'Z' }
func isLowerHex(c byte) bool      { return isDigit(c) || c >= 'a' && c <= 'f' }
func isCollectorByte(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'z' || c == '_' || c == '-' }
func isSubjectByte(c byte) bool {
	return isDigit(c) || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_' || c == '-'
}

// isLowerUUID: the form egovtrack writes, 8-4-4-4-12 lower-case hex digits (format uuid accepts upper case too).
func isLowerUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isLowerHex(s[i]) {
				return false
			}
		}
	}
	return true
}

// isPlainPath: an absolute path of letters, digits and / . _ - (such as /egovtrack/collectors/sheet), which is a
// URI reference; other URI references are the schema's to judge.
func isPlainPath(s string) bool {
	return len(s) > 1 && s[0] == '/' && all(s, func(c byte) bool { return isSubjectByte(c) || c == '/' || c == '.' })
}

// isSubject: ^egov(\.[0-9A-Za-z_-]+)+$.
func isSubject(s string) bool {
	if len(s) < 6 || s[:5] != "egov." {
		return false
	}
	prev := byte('.')
	for i := 5; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if prev == '.' {
				return false
			}
		} else if !isSubjectByte(c) {
			return false
		}
		prev = c
	}
	return prev != '.'
}

// isTime: common.v1.json's time, pattern and format date-time: a real day (year 1000 on), hours to 23, minutes and
// seconds to 59 (a leap second is the schema's to judge), an offset to ±23:59.
func isTime(s string) bool {
	n := len(s)
	if n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return false
	}
	for _, i := range []int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18} {
		if !isDigit(s[i]) {
			return false
		}
	}
	num := func(i, j int) int { v, _ := strconv.Atoi(s[i:j]); return v }
	if !isDay(num(0, 4), num(5, 7), num(8, 10)) || num(11, 13) > 23 || num(14, 16) > 59 || num(17, 19) > 59 {
		return false
	}
	rest := s[19:]
	if rest[0] == '.' {
		k := 1
		for k < len(rest) && isDigit(rest[k]) {
			k++
		}
		if k == 1 || k > 10 {
			return false
		}
		rest = rest[k:]
	}
	switch {
	case rest == "Z":
		return true
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' &&
		isDigit(rest[1]) && isDigit(rest[2]) && isDigit(rest[4]) && isDigit(rest[5]):
		h, _ := strconv.Atoi(rest[1:3])
		m, _ := strconv.Atoi(rest[4:6])
		return h <= 23 && m <= 59
	}
	return false
}

func isDay(y, m, d int) bool {
	if y < 1000 || m < 1 || m > 12 || d < 1 {
		return false
	}
	days := [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m-1]
	if m == 2 && y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		days = 29
	}
	return d <= days
}

func isTimeValue(v any) bool { s, ok := v.(string); return ok && isTime(s) }

func isBool(v any) bool { _, ok := v.(bool); return ok }

// isUnit: common.v1.json's unit, {"kind": "ministry"|"province", "code": ^[0-9A-Z]+$}.
func isUnit(v any) bool {
	u, _ := v.(map[string]any)
	kind, _ := u["kind"].(string)
	code, _ := u["code"].(string)
	return len(u) == 2 && (kind == "ministry" || kind == "province") && code != "" && all(code, isUpperAlnum)
}

// isProcedure: ^[0-9]\.[0-9]{6}(\.[0-9A-Z]+)*$.
func isProcedure(v any) bool {
	s, _ := v.(string)
	if len(s) < 8 || !isDigit(s[0]) || s[1] != '.' || !all(s[2:8], isDigit) {
		return false
	}
	rest := s[8:]
	for rest != "" {
		if rest[0] != '.' {
			return false
		}
		k := 1
		for k < len(rest) && isUpperAlnum(rest[k]) {
			k++
		}
		if k == 1 {
			return false
		}
		rest = rest[k:]
	}
	return true
}

// schemaLevelWords is the string enum of common.v1.json's level.
var schemaLevelWords = map[string]bool{}

func init() {
	for _, w := range []string{"1", "2", "3", "4", "level 1", "level 2", "level 3", "level 4", "mức 1", "mức 2", "mức 3", "mức 4",
		"partial", "partial online", "partial_online", "một phần", "trực tuyến một phần",
		"full", "full online", "full_online", "toàn trình", "trực tuyến toàn trình"} {
		schemaLevelWords[w] = true
	}
}

// isLevel: an integer 1 to 4 written as one digit, or one of the words.
func isLevel(v any) bool {
	switch v := v.(type) {
	case json.Number:
		return len(v) == 1 && v[0] >= '1' && v[0] <= '4'
	case string:
		return schemaLevelWords[v]
	}
	return false
}

// isCount: an integer 0 to 4294967295 written in digits alone (5.0 and 5e0 are the schema's to judge).
func isCount(v any) bool {
	n, ok := v.(json.Number)
	if !ok || n == "" || len(n) > 10 || !all(string(n), isDigit) || (len(n) > 1 && n[0] == '0') {
		return false
	}
	u, err := strconv.ParseUint(string(n), 10, 64)
	return err == nil && u <= 4294967295
}

// isText: common.v1.json's text, a string with a character that is neither white space (\s) nor one of the pattern's
// Unicode spaces.
func isText(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	for _, r := range s {
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\f' || r == '\r' || r == '\v' || r == 0x85 || r == 0xa0 ||
			r == 0x1680 || r >= 0x2000 && r <= 0x200a || r == 0x2028 || r == 0x2029 || r == 0x202f || r == 0x205f ||
			r == 0x3000 || r == 0xfeff:
		default:
			return true
		}
	}
	return false
}
