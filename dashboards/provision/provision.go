// Package provision turns egovtrack's dashboards into the files Grafana provisions from: the dashboards as indented
// JSON, a datasource file for the ClickHouse plugin, a dashboards provider file and the alert rules. Everything it writes is generated;
// the lead commits the result under deploy/grafana, and a test fails when the committed files drift.
package provision

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/egovtrack/egovtrack/dashboards/alert"
	"github.com/egovtrack/egovtrack/dashboards/board"
	"github.com/egovtrack/egovtrack/dashboards/chquery"
)

// Where the files go, relative to the output root (deploy/grafana by default). Grafana's container is expected to
// mount root/provisioning at /etc/grafana/provisioning and root/dashboards at ContainerDashboardsDir.
const (
	DashboardsDir  = "dashboards"
	DatasourceFile = "provisioning/datasources/egov-clickhouse.yaml"
	ProviderFile   = "provisioning/dashboards/egovtrack.yaml"
	// RulesFile holds the alert rules (dashboards/alert), in Grafana's file provisioning form, and TemplatesFile the
	// templates their e-mails are written with.
	RulesFile     = "provisioning/alerting/egovtrack-rules.json"
	TemplatesFile = "provisioning/alerting/egovtrack-templates.json"
)

// ContainerDashboardsDir is where the provider file tells Grafana to read the dashboards, inside its container.
const ContainerDashboardsDir = "/var/lib/grafana/dashboards/egovtrack"

// Folder is the Grafana folder the dashboards appear in, by title and by uid: provisioning and push (see
// dashboards/push) put them in the same folder.
const (
	Folder    = "egovtrack"
	FolderUID = "egovtrack"
)

// File is one generated file, its path relative to the output root.
type File struct {
	Path string
	Data []byte
}

// Files returns every file that Write writes, dashboards first, in a fixed order.
func Files() ([]File, error) {
	dashboards, err := board.All()
	if err != nil {
		return nil, err
	}
	var out []File
	for _, d := range dashboards {
		if d.Uid == nil || *d.Uid == "" {
			return nil, errors.New("a dashboard has no uid")
		}
		data, err := MarshalDashboard(d)
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", *d.Uid, err)
		}
		out = append(out, File{Path: DashboardsDir + "/" + *d.Uid + ".json", Data: data})
	}
	for _, f := range []struct {
		path string
		tmpl *template.Template
	}{{DatasourceFile, datasourceYAML}, {ProviderFile, providerYAML}} {
		var b bytes.Buffer
		if err := f.tmpl.Execute(&b, yamlValues); err != nil {
			return nil, fmt.Errorf("%s: %w", f.path, err)
		}
		out = append(out, File{Path: f.path, Data: b.Bytes()})
	}
	rules, err := alert.Rules(alert.Defaults)
	if err != nil {
		return nil, err
	}
	data, err := marshalIndented(rules)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", RulesFile, err)
	}
	out = append(out, File{Path: RulesFile, Data: data})
	templates, err := alert.Templates()
	if err != nil {
		return nil, err
	}
	if data, err = marshalIndented(templates); err != nil {
		return nil, fmt.Errorf("%s: %w", TemplatesFile, err)
	}
	out = append(out, File{Path: TemplatesFile, Data: data})
	return out, nil
}

// ContactsName is the file name of the contact points and the notification policy in the alerting folder
// WriteAlerting writes.
const ContactsName = "egovtrack-contacts.json"

// WriteAlerting writes the folder Grafana's container mounts at /etc/grafana/provisioning/alerting: the rules and the
// templates (as generate writes them under deploy/grafana) and, from the contacts file in (alert.ReadContacts), the
// contact points and the notification policy (alert.Routing). It holds people's addresses, so it lives outside the
// repository (deploy/secrets/grafana-alerting), files mode 0600. An old egovtrack-*.json file in it is removed; any
// other file is refused, since Grafana would read it too and it is not ours to remove.
func WriteAlerting(in, dir string) (alert.Contacts, error) {
	f, err := os.Open(in)
	if err != nil {
		return alert.Contacts{}, fmt.Errorf("contacts: %w (write who the alerts go to there first: README, \"Alerts\")", err)
	}
	defer f.Close()
	c, err := alert.ReadContacts(f, in)
	if err != nil {
		return alert.Contacts{}, err
	}
	routing, err := alert.Routing(c)
	if err != nil {
		return alert.Contacts{}, err
	}
	contacts, err := marshalIndented(routing)
	if err != nil {
		return alert.Contacts{}, err
	}
	files, err := Files()
	if err != nil {
		return alert.Contacts{}, err
	}
	out := map[string][]byte{ContactsName: contacts}
	for _, f := range files {
		if f.Path == RulesFile || f.Path == TemplatesFile {
			out[path.Base(f.Path)] = f.Data
		}
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return alert.Contacts{}, fmt.Errorf("alerting: %w", err)
	}
	old, err := os.ReadDir(dir)
	if err != nil {
		return alert.Contacts{}, fmt.Errorf("alerting: %w", err)
	}
	for _, e := range old {
		name := e.Name()
		if _, ours := out[name]; ours {
			continue
		}
		// Grafana reads every file of the folder: an old file of ours goes; anything else is not ours to remove.
		if e.IsDir() || !strings.HasPrefix(name, "egovtrack-") || !strings.HasSuffix(name, ".json") {
			return alert.Contacts{}, fmt.Errorf("alerting: %s holds %s, which egovtrack did not write and Grafana would read too: "+
				"give EGOV_ALERT_PROVISIONING_DIR a folder of its own", dir, name)
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			return alert.Contacts{}, fmt.Errorf("alerting: %w", err)
		}
	}
	for name, data := range out {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return alert.Contacts{}, fmt.Errorf("alerting: %w", err)
		}
	}
	return c, nil
}

// MarshalDashboard is the JSON form of a dashboard as written to disk: indented by two spaces, with "<", ">" and "&"
// left as they are (the SQL is full of them), and a final newline.
func MarshalDashboard(d dashboard.Dashboard) ([]byte, error) { return marshalIndented(d) }

// marshalIndented is v's JSON as the files hold it: indented by two spaces, "<", ">" and "&" as they are, a final
// newline.
func marshalIndented(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, unescapeHTML(raw), "", "  "); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// unescapeHTML turns the \u003c, \u003e and \u0026 escapes of encoding/json back into "<", ">" and "&". The SDK's
// panels marshal themselves with json.Marshal, so Encoder.SetEscapeHTML(false) cannot prevent them. Other escapes,
// such as an escaped backslash followed by "u003c", are copied as they are.
func unescapeHTML(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 == len(b) {
			out = append(out, b[i])
			continue
		}
		if b[i+1] == 'u' && i+6 <= len(b) {
			switch string(b[i+2 : i+6]) {
			case "003c":
				out, i = append(out, '<'), i+5
				continue
			case "003e":
				out, i = append(out, '>'), i+5
				continue
			case "0026":
				out, i = append(out, '&'), i+5
				continue
			}
		}
		out, i = append(out, b[i], b[i+1]), i+1 // any other escape, kept whole
	}
	return out
}

// Write writes Files under root, creating folders as needed. JSON files in root/dashboards that it did not write are
// removed: that folder holds generated dashboards only, and a dashboard dropped from the code must leave Grafana.
func Write(root string) ([]File, error) {
	files, err := Files()
	if err != nil {
		return nil, err
	}
	written := map[string]bool{}
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, fmt.Errorf("write %s: %w", p, err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", p, err)
		}
		written[p] = true
	}
	stale, err := filepath.Glob(filepath.Join(root, DashboardsDir, "*.json"))
	if err != nil {
		return nil, err
	}
	for _, p := range stale {
		if written[p] {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove stale dashboard %s: %w", p, err)
		}
	}
	return files, nil
}

// yamlValues fill the provisioning templates. The ${…} placeholders stay in the files: Grafana replaces them from
// its own environment when it reads them, so no secret is ever written here.
var yamlValues = map[string]string{
	"Header":         "# Generated by `go run ./dashboards generate`: edit dashboards/provision, not this file.",
	"Type":           chquery.PluginType,
	"UID":            board.DatasourceUID,
	"Name":           board.DatasourceName,
	"Host":           "$EGOV_CLICKHOUSE_HOST",
	"Port":           "$EGOV_CLICKHOUSE_PORT",
	"User":           "$EGOV_GRAFANA_CLICKHOUSE_USER",
	"Password":       "$EGOV_GRAFANA_CLICKHOUSE_PASSWORD",
	"Database":       "egov",
	"Folder":         Folder,
	"FolderUID":      FolderUID,
	"DashboardsPath": ContainerDashboardsDir,
}

// funcs gives the templates q, which writes a YAML double-quoted scalar: Go's escapes are a subset of YAML's.
var funcs = template.FuncMap{"q": strconv.Quote}

var datasourceYAML = template.Must(template.New("datasource").Funcs(funcs).Parse(strings.TrimLeft(`
{{.Header}}
# The ClickHouse datasource every egovtrack dashboard starts on. Grafana fills the $EGOV_* placeholders from its
# environment: HOST and PORT of ClickHouse's native protocol (9000), and the read-only user Grafana reads as
# (deploy/clickhouse/users.d/egov-grafana.xml), not the projector's.
apiVersion: 1
datasources:
  - name: {{q .Name}}
    type: {{q .Type}}
    uid: {{q .UID}}
    isDefault: true
    editable: false
    jsonData:
      host: {{q .Host}}
      port: {{q .Port}}
      protocol: "native"
      username: {{q .User}}
      defaultDatabase: {{q .Database}}
      secure: false
    secureJsonData:
      password: {{q .Password}}
`, "\n")))

var providerYAML = template.Must(template.New("provider").Funcs(funcs).Parse(strings.TrimLeft(`
{{.Header}}
# egovtrack's dashboards, read from deploy/grafana/dashboards, which Grafana's container mounts at
# {{.DashboardsPath}}. They are generated from code, so Grafana may not change or delete them:
# edit dashboards/board and regenerate instead.
apiVersion: 1
providers:
  - name: "egovtrack"
    orgId: 1
    folder: {{q .Folder}}
    folderUid: {{q .FolderUID}}
    type: "file"
    disableDeletion: true
    allowUiUpdates: false
    updateIntervalSeconds: 30
    options:
      path: {{q .DashboardsPath}}
      foldersFromFilesStructure: false
`, "\n")))
