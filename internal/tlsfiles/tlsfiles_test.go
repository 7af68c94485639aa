package tlsfiles_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/egovtrack/egovtrack/internal/tlsfiles"
)

// No file: the system's authorities, no certificate, TLS 1.2 at least. A file that is missing or wrong is refused
// with the connection's name and the file's, not its content. (The files working is tested where they are used:
// internal/stream's TestTLS, internal/chdb's TestTLSVerifiesTheServer, collectors/intake's TestServeOverTLS.)
func TestConfigSaysWhichFileIsWrong(t *testing.T) {
	c, err := tlsfiles.Config("NATS", tlsfiles.Files{})
	if err != nil || c.RootCAs != nil || c.Certificates != nil || c.MinVersion != tls.VersionTLS12 {
		t.Fatalf("no files: %+v, %v; want TLS 1.2 with the system's authorities", c, err)
	}
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not-pem.pem")
	if err := os.WriteFile(notPEM, []byte("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	for name, c := range map[string]struct {
		files tlsfiles.Files
		say   []string
	}{
		"a missing CA file":       {tlsfiles.Files{CA: missing}, []string{"clickhouse TLS CA file", "missing.pem"}},
		"a CA file without a PEM": {tlsfiles.Files{CA: notPEM}, []string{"clickhouse TLS CA file", "not-pem.pem: no PEM certificate in it"}},
		"a missing certificate":   {tlsfiles.Files{Cert: missing, Key: notPEM}, []string{"clickhouse TLS certificate", "missing.pem and key", "not-pem.pem"}},
		"a key that is not one":   {tlsfiles.Files{Cert: notPEM, Key: notPEM}, []string{"clickhouse TLS certificate"}},
	} {
		_, err := tlsfiles.Config("clickhouse", c.files)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		for _, s := range c.say {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: %v, want it to say %q", name, err, s)
			}
		}
		if strings.Contains(err.Error(), "c2VjcmV0") {
			t.Errorf("%s: the error shows the file's content: %v", name, err)
		}
	}
}
