package deploy_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/egovtrack/egovtrack/dashboards/provision"
)

// The folder compose mounts at /etc/grafana/provisioning/alerting, as `dashboards contacts` writes it from a contacts
// file: the committed rules and templates, byte for byte, and the contact points and policy; nothing Grafana would
// refuse to read (it reads every file there, and refuses any but .yaml, .yml and .json).
func TestGrafanaProvisionsTheAlerting(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "grafana-alerting")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	contactsFile := filepath.Join(repoRoot, "dashboards", "alert", "testdata", "contacts.txt")
	// Someone else's file: refused, not removed.
	foreign := filepath.Join(dir, "team-rules.yaml")
	if err := os.WriteFile(foreign, []byte("apiVersion: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := provision.WriteAlerting(contactsFile, dir); err == nil || !strings.Contains(err.Error(), "team-rules.yaml") {
		t.Errorf("a folder holding another's file: %v, want a refusal naming it", err)
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Fatalf("the other file is gone: %v", err)
	}
	if err := os.Remove(foreign); err != nil {
		t.Fatal(err)
	}
	// An old file of ours goes.
	if err := os.WriteFile(filepath.Join(dir, "egovtrack-old.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := provision.WriteAlerting(contactsFile, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Units) == 0 {
		t.Fatal("the fixture names no unit's focal point")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		if !strings.HasSuffix(e.Name(), ".json") || e.IsDir() {
			t.Errorf("%s in the alerting folder: Grafana refuses to start on it", e.Name())
		}
	}
	want := []string{provision.ContactsName, filepath.Base(provision.RulesFile), filepath.Base(provision.TemplatesFile)}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("the alerting folder holds %v, want %v (our old file removed)", names, want)
	}
	for _, f := range []string{provision.RulesFile, provision.TemplatesFile} {
		got, err := os.ReadFile(filepath.Join(dir, filepath.Base(f)))
		if err != nil {
			t.Fatal(err)
		}
		committed, err := os.ReadFile(filepath.Join("grafana", filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, committed) {
			t.Errorf("%s differs from the committed %s", filepath.Base(f), f)
		}
	}
	var contacts struct {
		APIVersion    int `json:"apiVersion"`
		ContactPoints []struct {
			Name      string `json:"name"`
			Receivers []struct {
				Type     string         `json:"type"`
				Settings map[string]any `json:"settings"`
			} `json:"receivers"`
		} `json:"contactPoints"`
		Policies []struct {
			Receiver string            `json:"receiver"`
			Routes   []json.RawMessage `json:"routes"`
		} `json:"policies"`
	}
	b, err := os.ReadFile(filepath.Join(dir, provision.ContactsName))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &contacts); err != nil {
		t.Fatal(err)
	}
	if contacts.APIVersion != 1 || len(contacts.Policies) != 1 || contacts.Policies[0].Receiver == "" || len(contacts.Policies[0].Routes) < 3 {
		t.Errorf("contacts file: apiVersion %d, %d policies: want one policy tree with its routes", contacts.APIVersion, len(contacts.Policies))
	}
	if len(contacts.ContactPoints) != 2+len(c.Units) {
		t.Errorf("%d contact points, want the office's, the operators' and %d units'", len(contacts.ContactPoints), len(c.Units))
	}
	for _, cp := range contacts.ContactPoints {
		if len(cp.Receivers) != 1 || cp.Receivers[0].Type != "email" || cp.Receivers[0].Settings["addresses"] == "" {
			t.Errorf("contact point %s: want one e-mail integration with addresses", cp.Name)
		}
	}
}
