package healthcheck

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestURL(t *testing.T) {
	tests := []struct {
		addr, want, wantErr string
	}{
		{addr: "0.0.0.0:8080", want: "http://127.0.0.1:8080/healthz"},
		{addr: ":9464", want: "http://127.0.0.1:9464/healthz"},
		{addr: "[::]:9464", want: "http://127.0.0.1:9464/healthz"},
		{addr: "127.0.0.1:9464", want: "http://127.0.0.1:9464/healthz"},
		{addr: "[::1]:9464", want: "http://[::1]:9464/healthz"},
		{addr: "projector:9464", want: "http://projector:9464/healthz"},
		{addr: "9464", wantErr: "missing port"},
		{addr: "127.0.0.1:0", wantErr: "no fixed port"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			got, err := URL(tt.addr, "/healthz")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("URL(%q) = %q, %v; want an error containing %q", tt.addr, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("URL(%q) = %q, %v; want %q", tt.addr, got, err, tt.want)
			}
		})
	}
}

// Probe passes on 200 only, and says why otherwise: the status, the body's reason, or the refused connection.
func TestProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Write([]byte("ok\n"))
		case "/starting":
			http.Error(w, "starting: schema being applied", http.StatusServiceUnavailable)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	// A closed port: listen, note the address, close.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	tests := []struct {
		name, addr, path, wantErr string
	}{
		{"healthy, unspecified host", "0.0.0.0:" + port, "/healthz", ""},
		{"unhealthy", ":" + port, "/starting", "503 Service Unavailable: starting: schema being applied"},
		{"no such endpoint", ":" + port, "/nothing", "404"},
		{"nothing listening", closed, "/healthz", "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Probe(context.Background(), tt.addr, tt.path)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Probe = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Probe = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// ProbeTLS reaches an HTTPS server on loopback and accepts it only when it presents the configured certificate.
func TestProbeTLS(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	srv := httptest.NewTLSServer(ok)
	defer srv.Close()
	other := httptest.NewUnstartedServer(ok)
	other.TLS = &tls.Config{Certificates: []tls.Certificate{otherCertificate(t)}}
	other.StartTLS()
	defer other.Close()
	plain := httptest.NewServer(ok)
	defer plain.Close()

	dir := t.TempDir()
	own := filepath.Join(dir, "own.pem")
	if err := os.WriteFile(own, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "key.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, addr, certFile, wantErr string
	}{
		{name: "its own certificate", addr: srv.Listener.Addr().String(), certFile: own},
		{name: "another certificate", addr: other.Listener.Addr().String(), certFile: own, wantErr: "is not the one in"},
		{name: "a plain HTTP server", addr: plain.Listener.Addr().String(), certFile: own, wantErr: "health check"},
		{name: "no PEM certificate", addr: srv.Listener.Addr().String(), certFile: notPEM, wantErr: "holds no PEM certificate"},
		{name: "no file", addr: srv.Listener.Addr().String(), certFile: filepath.Join(dir, "missing.pem"), wantErr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ProbeTLS(context.Background(), tt.addr, "/healthz", tt.certFile)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ProbeTLS: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ProbeTLS = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// otherCertificate is a self-signed certificate for 127.0.0.1 that is not httptest's.
func otherCertificate(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "other"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
