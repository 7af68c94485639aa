package main

import (
	"os"
	"testing"

	"github.com/egovtrack/egovtrack/internal/envdoc"
)

// Every variable the command reads is in the README's configuration table, with its default.
func TestREADMEDocumentsConfiguration(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range envdoc.Missing(string(b), envdoc.Vars(config{})) {
		t.Errorf("README.md lacks the row | `%s` | `%s` | …", v.Name, v.Default)
	}
}
