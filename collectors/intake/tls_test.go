package intake

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a throwaway certificate for 127.0.0.1 and its key to dir, and returns their paths and the
// certificate, for a client to trust.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "egovtrack intake test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for path, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "PRIVATE KEY", Bytes: kb}} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile, cert
}

// With a certificate and key the API serves HTTPS, which a client trusting the certificate reaches, and answers
// plain HTTP on the same port with an error rather than serving it.
func TestServeOverTLS(t *testing.T) {
	cfg := DefaultConfig()
	var cert *x509.Certificate
	cfg.TLSCertFile, cfg.TLSKeyFile, cert = selfSigned(t, t.TempDir())
	tlsCfg, err := tlsConfig(cfg)
	if err != nil || tlsCfg == nil {
		t.Fatalf("tlsConfig: %v, %v", tlsCfg, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() {
		served <- serve(ctx, cfg, ln, tlsCfg, NewHandler(cfg, Tokens{}, nil, nil, nil, nil), slog.New(slog.DiscardHandler))
	}()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("HTTPS: status %d, TLS %v, body %s; want 200 over TLS 1.2+", resp.StatusCode, resp.TLS, body)
	}

	// A client that does not trust the certificate is refused by its own TLS stack: the server really presented it.
	if _, err := (&http.Client{Timeout: 10 * time.Second}).Get("https://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Error("a client without the certificate in its roots connected")
	}
	plain, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err == nil {
		b, _ := io.ReadAll(plain.Body)
		plain.Body.Close()
		if plain.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP served: %s", b)
		}
	}
}

// A certificate without its key, a key without its certificate, or files that are not a matching pair stop the
// start, naming the variables or the files, never their content.
func TestServeRefusesHalfATLSConfiguration(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := selfSigned(t, dir)
	otherCert, _, _ := selfSigned(t, t.TempDir())
	tokens := filepath.Join(dir, "tokens.txt")
	if err := os.WriteFile(tokens, []byte("province/19 "+HashToken(strings.Repeat("a", 64))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name       string
		cert, key  string
		say, never string
	}{
		{"a certificate without its key", certFile, "", "TLS_CERT_FILE and EGOV_SERVE_TLS_KEY_FILE must be set together", ""},
		{"a key without its certificate", "", keyFile, "TLS_CERT_FILE and EGOV_SERVE_TLS_KEY_FILE must be set together", ""},
		{"a key of another certificate", otherCert, keyFile, keyFile, "PRIVATE KEY"},
		{"a certificate file that is not there", filepath.Join(dir, "missing.pem"), keyFile, "missing.pem", ""},
	} {
		cfg := DefaultConfig()
		cfg.TokensFile, cfg.Addr = tokens, "127.0.0.1:0"
		cfg.TLSCertFile, cfg.TLSKeyFile = c.cert, c.key
		err := Serve(t.Context(), cfg, nil, slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), c.say) || c.never != "" && strings.Contains(err.Error(), c.never) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.say)
		}
	}
}

// A token's bucket refills at the configured rate: a refused request spends nothing, and once Retry-After has
// passed the next is let in.
func TestLimitersRefill(t *testing.T) {
	l := newLimiters(Config{Rate: 0.5, Burst: 2, EventRate: 1, EventBurst: 10}) // one request every 2 s after a burst of 2
	a, b := credential{hash: [32]byte{1}}, credential{hash: [32]byte{2}}
	t0 := time.Date(2021, 9, 1, 9, 0, 0, 0, time.UTC)
	for i := range 2 {
		if ok, _ := l.allow(a, t0); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.allow(a, t0)
	if ok || wait <= 0 || wait > 2*time.Second {
		t.Fatalf("past the burst: allowed %v, wait %v; want refused for up to 2s", ok, wait)
	}
	if ok, _ := l.allow(b, t0); !ok {
		t.Error("another token refused: buckets are shared")
	}
	if ok, again := l.allow(a, t0.Add(wait/2)); ok || again <= 0 {
		t.Errorf("half way through the wait: allowed %v, wait %v", ok, again)
	}
	if ok, _ := l.allow(a, t0.Add(wait)); !ok {
		t.Error("refused after waiting what it was told: the refusals spent tokens")
	}
	if got := tooMany(wait, Config{Rate: 0.5, Burst: 2}).retryAfter; got != "2" {
		t.Errorf("Retry-After %q for a wait of %v, want 2", got, wait)
	}
}
