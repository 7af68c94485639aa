package poll_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/collectors/poll"
	"github.com/egovtrack/egovtrack/internal/envdoc"
	"github.com/egovtrack/egovtrack/internal/units"
)

var bttttRef = units.Ref{Kind: units.Ministry, Code: "BTTTT"}

// LoadConfig reads EGOV_POLL_*, fills the defaults and refuses what cannot work. Not parallel: it sets the process's
// environment.
func TestLoadConfig(t *testing.T) {
	defaults := poll.Config{
		URL: "https://dichvucong.thainguyen.gov.vn/catalogue.json", Unit: poll.UnitRef{Ref: thaiNguyen},
		Interval: 15 * time.Minute, Timeout: 30 * time.Second, MaxBody: 16 << 20,
		Retries: 4, Backoff: time.Second, MaxBackoff: time.Minute,
	}
	cases := []struct {
		name    string
		env     map[string]string
		want    poll.Config
		wantErr string
	}{
		{name: "defaults", want: defaults},
		{name: "everything set", env: map[string]string{
			"INTERVAL": "0", "TIMEOUT": "5s", "MAX_BODY": "1024", "RETRIES": "0", "BACKOFF": "10ms", "MAX_BACKOFF": "10ms",
			"TOKEN": "t", "UNIT": "ministry/BTTTT",
		}, want: poll.Config{
			URL: defaults.URL, Unit: poll.UnitRef{Ref: bttttRef}, Interval: 0, Timeout: 5 * time.Second, MaxBody: 1024,
			Retries: 0, Backoff: 10 * time.Millisecond, MaxBackoff: 10 * time.Millisecond, Token: "t",
		}},
		{name: "no URL", env: map[string]string{"URL": ""}, wantErr: "EGOV_POLL_URL"},
		{name: "not http", env: map[string]string{"URL": "ftp://portal/x"}, wantErr: "EGOV_POLL_URL: \"ftp://portal/x\" is not an http"},
		{name: "no unit", env: map[string]string{"UNIT": ""}, wantErr: "EGOV_POLL_UNIT"},
		{name: "unit without kind", env: map[string]string{"UNIT": "19"}, wantErr: `"19" is not kind/code`},
		{name: "unknown unit", env: map[string]string{"UNIT": "province/99"}, wantErr: "province/99 is not a known unit"},
		{name: "negative interval", env: map[string]string{"INTERVAL": "-1m"}, wantErr: "EGOV_POLL_INTERVAL"},
		{name: "no timeout", env: map[string]string{"TIMEOUT": "0s"}, wantErr: "EGOV_POLL_TIMEOUT"},
		{name: "max backoff below backoff", env: map[string]string{"BACKOFF": "2m"}, wantErr: "EGOV_POLL_MAX_BACKOFF"},
		{name: "token over plain http", env: map[string]string{"URL": "http://dichvucong.thainguyen.gov.vn/c.json", "TOKEN": "t"},
			wantErr: "EGOV_POLL_TOKEN: would be sent in clear"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range envdoc.Vars(prefixed{}) {
				t.Setenv(v.Name, "")
			}
			t.Setenv("EGOV_POLL_URL", defaults.URL)
			t.Setenv("EGOV_POLL_UNIT", "province/19")
			for k, v := range tc.env {
				t.Setenv(poll.EnvPrefix+k, v)
			}
			got, err := poll.LoadConfig()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("LoadConfig: %v, want an error saying %q", err, tc.wantErr)
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("LoadConfig: %v", err)
			}
			if got != tc.want {
				t.Errorf("LoadConfig:\n  %+v\nwant\n  %+v", got, tc.want)
			}
		})
	}
}

// A token is allowed over http to the machine itself (a tunnel, a test portal).
func TestTokenOverLoopbackHTTP(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"http://127.0.0.1:8080/c.json", "http://localhost/c.json", "http://[::1]/c.json"} {
		cfg := config(u)
		cfg.Token = "t"
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}

// prefixed is Config as the command embeds it, so that envdoc sees the variables' full names.
type prefixed struct {
	Poll poll.Config `envPrefix:"EGOV_POLL_"`
}

// Every variable is in this folder's README, with its default.
func TestREADMEDocumentsConfiguration(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	vars := envdoc.Vars(prefixed{})
	if len(vars) != 9 {
		t.Errorf("envdoc sees %d variables, want the 9 of Config: %v", len(vars), vars)
	}
	for _, v := range envdoc.Missing(string(b), vars) {
		t.Errorf("README.md lacks the row | `%s` | `%s` | …", v.Name, v.Default)
	}
}
