package main

import (
	"os"
	"testing"

	"github.com/egovtrack/egovtrack/collectors/intake"
	"github.com/egovtrack/egovtrack/collectors/poll"
	"github.com/egovtrack/egovtrack/internal/envdoc"
)

// Every variable the command reads is in the README's configuration table, with its default.
func TestREADMEDocumentsConfiguration(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	all := struct {
		Main  config
		Poll  poll.Config   `envPrefix:"EGOV_POLL_"`
		Serve intake.Config `envPrefix:"EGOV_SERVE_"`
	}{}
	for _, v := range envdoc.Missing(string(b), envdoc.Vars(all)) {
		t.Errorf("README.md lacks the row | `%s` | `%s` | …", v.Name, v.Default)
	}
}
