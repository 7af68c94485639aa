package intake_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/egovtrack/egovtrack/collectors/intake"
	"github.com/egovtrack/egovtrack/internal/envdoc"
	"github.com/egovtrack/egovtrack/internal/units"
)

func TestParseTokens(t *testing.T) {
	h1, h2 := intake.HashToken(tokenThaiNguyen), intake.HashToken(tokenHaNoi)
	tokens, err := intake.ParseTokens(strings.NewReader(
		"# issued 2021-09-01\n\nprovince/19 " + h1 + "\n  province/01\t" + strings.ToUpper(h2) + "  \nprovince/19 " + intake.HashToken("a rotated token for Thái Nguyên, 32+ characters") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := tokens.Units(); len(got) != 2 || got[0] != thaiNguyen || got[1] != haNoi {
		t.Errorf("units %v, want [province/19 province/01]", got)
	}

	bad := []struct {
		name, file, say string
	}{
		{"unknown unit", "province/99 " + h1, `line 1: "province/99" is not a known unit`},
		{"a token pasted for its hash", "province/19 " + tokenThaiNguyen, "line 1: the second field is not a SHA-256"},
		{"short hash", "province/19 abcdef", "line 1: the second field is not a SHA-256"},
		{"one field", "\nprovince/19", "line 2: want \"kind/code sha256hex\""},
		{"one token for two units", "province/19 " + h1 + "\nprovince/01 " + h1, "line 2: the same token hash as line 1"},
	}
	for _, c := range bad {
		_, err := intake.ParseTokens(strings.NewReader(c.file))
		if err == nil || !strings.Contains(err.Error(), c.say) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.say)
		}
		if err != nil && strings.Contains(err.Error(), tokenThaiNguyen) {
			t.Errorf("%s: the error repeats the token: %v", c.name, err)
		}
	}
}

// hash-token prints the hash of the token on stdin, or the whole tokens-file line for a unit; what it prints is
// what ParseTokens reads.
func TestRunHashToken(t *testing.T) {
	var out bytes.Buffer
	if err := intake.RunHashToken(strings.NewReader(tokenThaiNguyen+"\n"), &out, nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out.String()); got != intake.HashToken(tokenThaiNguyen) || len(got) != 64 {
		t.Errorf("hash %q, want %s", got, intake.HashToken(tokenThaiNguyen))
	}
	out.Reset()
	if err := intake.RunHashToken(strings.NewReader(tokenThaiNguyen), &out, []string{"province/19"}); err != nil {
		t.Fatal(err)
	}
	tokens, err := intake.ParseTokens(&out)
	if err != nil || len(tokens.Units()) != 1 || tokens.Units()[0] != (units.Ref{Kind: units.Province, Code: "19"}) {
		t.Errorf("the printed line reads back as %v, %v; want province/19's token", tokens.Units(), err)
	}
	for _, c := range []struct {
		name, in string
		args     []string
		say      string
	}{
		{"short token", "secret\n", nil, "at least 32"},
		{"empty input", "", nil, "at least 32"},
		{"unknown unit", tokenThaiNguyen, []string{"province/99"}, "not a known unit"},
		{"too many arguments", tokenThaiNguyen, []string{"province/19", "x"}, "usage: collectors serve hash-token"},
	} {
		if err := intake.RunHashToken(strings.NewReader(c.in), &bytes.Buffer{}, c.args); err == nil || !strings.Contains(err.Error(), c.say) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.say)
		}
	}
}

// Every variable the API reads is in README.md's configuration table, with its default, under the prefix the
// command gives it.
func TestREADMEDocumentsConfiguration(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	type command struct {
		Serve intake.Config `envPrefix:"EGOV_SERVE_"`
	}
	for _, v := range envdoc.Missing(string(b), envdoc.Vars(command{})) {
		t.Errorf("README.md lacks the row | `%s` | `%s` | …", v.Name, v.Default)
	}
}

func TestDefaultConfigIsValid(t *testing.T) {
	cfg := intake.DefaultConfig()
	cfg.TokensFile = "tokens.txt"
	if err := cfg.Validate(); err != nil {
		t.Errorf("defaults with a tokens file: %v", err)
	}
	if err := (intake.Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "READ_TIMEOUT") {
		t.Errorf("zero config: %v, want every missing setting named", err)
	}
}

// LoadConfig reads EGOV_SERVE_* and refuses what Serve could not run with.
func TestLoadConfig(t *testing.T) {
	t.Setenv("EGOV_SERVE_TOKENS_FILE", "/etc/egovtrack/tokens.txt")
	t.Setenv("EGOV_SERVE_MAX_BODY", "2097152")
	cfg, err := intake.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TokensFile != "/etc/egovtrack/tokens.txt" || cfg.MaxBody != 2<<20 || cfg.Addr != "127.0.0.1:8080" {
		t.Errorf("read %+v", cfg)
	}
	t.Setenv("EGOV_SERVE_TOKENS_FILE", "")
	if _, err := intake.LoadConfig(); err == nil || !strings.Contains(err.Error(), "EGOV_SERVE_TOKENS_FILE is empty") {
		t.Errorf("without a tokens file: %v, want the variable named", err)
	}
}
