package alert

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/alerting"
)

// TemplatesFile is the alerting provisioning file of notification templates.
type TemplatesFile struct {
	APIVersion int        `json:"apiVersion"`
	Templates  []Template `json:"templates"`
}

// Template is a notification template as Grafana provisions it from a file.
type Template struct {
	OrgID int64 `json:"orgId"`
	alerting.NotificationTemplate
}

// The templates every contact point's e-mail is written with (see Routing).
const (
	SubjectTemplate = "egov.subject"
	MessageTemplate = "egov.message"
)

// templateText defines SubjectTemplate and MessageTemplate, in Grafana's notification template language (Go's
// text/template over the notification's data): a subject that says what fires and how many, and a message with each
// alert's summary and description, in Vietnamese and English as the rules write them, and the link to its dashboard.
const templateText = `{{ define "` + SubjectTemplate + `" }}[egovtrack] {{ if gt (len .Alerts.Firing) 0 }}{{ len .Alerts.Firing }} cảnh báo / alert(s): {{ .CommonLabels.alertname }}{{ else }}Đã hết cảnh báo / resolved: {{ .CommonLabels.alertname }}{{ end }}{{ end }}
{{ define "` + MessageTemplate + `" }}{{ range .Alerts.Firing }}• {{ .Annotations.summary }}
  {{ .Annotations.description }}
{{ if .Annotations.dashboard_url }}  Xem / see: {{ $.ExternalURL }}{{ .Annotations.dashboard_url }}
{{ end }}
{{ end }}{{ range .Alerts.Resolved }}✓ Đã hết / resolved: {{ if .Labels.unit_name }}{{ .Labels.unit_name }}: {{ end }}{{ .Labels.alertname }}
{{ end }}Quy tắc cảnh báo của egovtrack; tạm dừng cho một đơn vị bằng Silence trong Grafana. / egovtrack's alert rules; silence them for a unit in Grafana.{{ end }}
`

// Templates returns the notification templates.
func Templates() (TemplatesFile, error) {
	t, err := alerting.NewNotificationTemplateBuilder().Name("egovtrack").Template(templateText).Build()
	if err != nil {
		return TemplatesFile{}, fmt.Errorf("notification template: %w", err)
	}
	return TemplatesFile{APIVersion: 1, Templates: []Template{{OrgID: 1, NotificationTemplate: t}}}, nil
}
