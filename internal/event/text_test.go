package event_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/egovtrack/egovtrack/internal/event"
)

// What a spreadsheet would run as a formula, and the invisible characters that make a text read as another, are
// refused; Vietnamese text that merely starts with a sign, or holds a call-like word inside, is not.
func TestCheckText(t *testing.T) {
	t.Parallel()
	refused := map[string]string{
		`=cmd|' /C calc'!A0`:             `starts with "=", which a spreadsheet program runs as a formula`,
		`=1+1`:                           `starts with "="`,
		` =HYPERLINK("http://x","a")`:    `starts with "="`,
		`+HYPERLINK("http://x","a")`:     `starts with "+" followed by a formula`,
		`-2+3+cmd|' /C calc'!A0`:         `starts with "-" followed by a formula`,
		`@SUM(1+1)*cmd|' /C calc'!A0`:    `starts with "@" followed by a formula`,
		`- =1+1`:                         `starts with "-" followed by a formula`,
		`+_xlfn.WEBSERVICE("http://x")`:  `starts with "+" followed by a formula`,
		"Đăng ký\x00khai sinh":           "holds a NUL character (U+0000), which many programs take for the end of the text, at character 8: remove it",
		"Đăng ký khai sinh\u202Eabc":     "holds the invisible character U+202E (RIGHT-TO-LEFT OVERRIDE), which makes the text show in another order than it is written, at character 18: remove it",
		"Hộ tịch\u2066":                  "U+2066 (LEFT-TO-RIGHT ISOLATE)",
		"\u200FHộ tịch":                  "U+200F (RIGHT-TO-LEFT MARK)",
		"Hộ\u061C tịch":                  "U+061C (ARABIC LETTER MARK)",
		"Chứng thực\u202A bản sao\u202C": "U+202A (LEFT-TO-RIGHT EMBEDDING)",
	}
	for s, want := range refused {
		err := event.CheckText(s)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckText(%q) = %v, want it to say %q", s, err, want)
		}
	}
	for _, s := range []string{
		"Đăng ký khai sinh", "-", "+", "@", "- ", "+ 1 thủ tục", "- Cấp giấy phép xây dựng (cấp lại)",
		"-Cấp phép(bản sao)", "+84 Điện thoại", "@ Trung tâm Phục vụ hành chính công", "Gộp vào 1.004228 (Quyết định 12/QĐ-UBND)",
		"Thủ tục = hồ sơ + lệ phí", "Hộ tịch | Chứng thực", "Cấp giấy phép lái xe hạng A1", "Tab\tand\nline break", "\u001f\u007f",
		"U+2028 \u2028 and U+200B \u200b", "",
	} {
		if err := event.CheckText(s); err != nil {
			t.Errorf("CheckText(%q) = %v, want nil", s, err)
		}
	}
}

// The contract refuses such texts in every event that carries one, made (New) or read (Decode), naming the field:
// whatever publishes them, the projector quarantines them.
func TestTextsAreRefusedInEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d     event.Data
		field string
	}{
		{registered(func(d *event.ProcedureRegisteredData) { d.Name = `=cmd|' /C calc'!A0` }), "data.name"},
		{registered(func(d *event.ProcedureRegisteredData) { d.Sector = "Hộ tịch\u202E" }), "data.sector"},
		{retired(func(d *event.ProcedureRetiredData) { d.Reason = "gộp\x00vào" }), "data.reason"},
	}
	for _, tc := range tests {
		_, err := contract.New("/test", tc.d)
		if fes, _ := err.(event.FieldErrors); !hasField(fes, tc.field, "") {
			t.Errorf("New(%+v) = %v, want a refusal of %s", tc.d, err, tc.field)
		}
		// The same event as another publisher would send it, its id derived as the contract says.
		raw, _ := json.Marshal(tc.d)
		env := event.Envelope{ID: "00000000-0000-5000-8000-000000000000", Source: "/test", SpecVersion: event.SpecVersion,
			Type: tc.d.EventType(), Subject: tc.d.Subject(), Time: tc.d.OccurredAt(), DataContentType: event.DataContentType, Data: raw}
		b, _ := json.Marshal(env)
		_, _, err = contract.Decode(b)
		if fes, _ := err.(event.FieldErrors); !hasField(fes, tc.field, "") {
			t.Errorf("Decode(%s) = %v, want a refusal of %s", b, err, tc.field)
		}
	}
}
