package chdb_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/caarlos0/env/v11"

	"github.com/egovtrack/egovtrack/internal/chdb"
	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
)

// The TLS and password-file variables are read, and combinations that cannot work are refused.
func TestConfigTLSAndPasswordFile(t *testing.T) {
	got, err := env.ParseAsWithOptions[chdb.Config](env.Options{Prefix: "EGOV_CLICKHOUSE_", Environment: map[string]string{
		"EGOV_CLICKHOUSE_PASSWORD_FILE":   "/run/secrets/clickhouse",
		"EGOV_CLICKHOUSE_TLS":             "true",
		"EGOV_CLICKHOUSE_TLS_CA_FILE":     "/etc/ssl/egov-ca.pem",
		"EGOV_CLICKHOUSE_TLS_SERVER_NAME": "clickhouse.egov.internal",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordFile != "/run/secrets/clickhouse" || !got.TLS || got.TLSCAFile != "/etc/ssl/egov-ca.pem" ||
		got.TLSServerName != "clickhouse.egov.internal" || got.TLSInsecureSkipVerify {
		t.Errorf("read %#v", got)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	for name, c := range map[string]struct {
		set func(*chdb.Config)
		say string
	}{
		"a password twice": {func(c *chdb.Config) { c.Password = "pw" }, "PASSWORD_FILE and EGOV_CLICKHOUSE_PASSWORD"},
		"skip verify without TLS": {func(c *chdb.Config) {
			c.TLS, c.TLSCAFile, c.TLSServerName, c.TLSInsecureSkipVerify = false, "", "", true
		}, "without EGOV_CLICKHOUSE_TLS"},
		"skip verify with TLS is fine": {func(c *chdb.Config) { c.TLSInsecureSkipVerify = true }, ""},
	} {
		cfg := got
		c.set(&cfg)
		err := cfg.Validate()
		if c.say == "" && err != nil || c.say != "" && (err == nil || !strings.Contains(err.Error(), c.say)) {
			t.Errorf("%s: %v, want %q", name, err, c.say)
		}
	}
}

// A password-protected ClickHouse is reached with the password from a file (a Docker secret, with its trailing
// newline), and neither the refused attempts' errors (a wrong password, a database the user may not use, a missing
// password file) nor the Config as logged or printed contain the password.
func TestPasswordNeverLeaks(t *testing.T) {
	const secret = "s3cret-Hanoi-2021-pw"
	cfg, _ := chdbtest.Protected(t, secret)
	file := filepath.Join(t.TempDir(), "clickhouse-password")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fromFile := cfg
	fromFile.Password, fromFile.PasswordFile = "", file
	conn, err := chdb.Open(t.Context(), fromFile)
	if err != nil {
		t.Fatalf("open with the password file: %v", err)
	}
	var db string
	if err := conn.QueryRow(t.Context(), "SELECT currentDatabase()").Scan(&db); err != nil { // 18.16 has no currentUser()
		t.Fatal(err)
	}
	conn.Close()
	if db != chdbtest.ProtectedDatabase {
		t.Errorf("connected to %q, want %q", db, chdbtest.ProtectedDatabase)
	}

	var out strings.Builder
	log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for name, c := range map[string]struct {
		cfg       chdb.Config
		exception bool // the server answered and refused
	}{
		"wrong password": {func() chdb.Config { c := cfg; c.Password = secret + "-old"; return c }(), true},
		"a database the user may not use": {func() chdb.Config {
			c := fromFile
			c.Database = "egov_other"
			return c
		}(), true},
		"no password file": {func() chdb.Config { c := fromFile; c.PasswordFile = file + ".missing"; return c }(), false},
	} {
		conn, err := chdb.Open(t.Context(), c.cfg)
		if err == nil {
			conn.Close()
			t.Errorf("%s: Open succeeded", name)
			continue
		}
		var exc *clickhouse.Exception
		if errors.As(err, &exc) != c.exception {
			t.Errorf("%s: %v; want a server's refusal: %v", name, err, c.exception)
		}
		log.Error("open failed", "case", name, "clickhouse", c.cfg, "err", err)
		fmt.Fprintf(&out, "%v %+v %#v %s\n", c.cfg, c.cfg, c.cfg, err)
	}
	log.Debug("config", "clickhouse", cfg, "from_file", fromFile)
	if strings.Contains(out.String(), secret) {
		t.Errorf("the password is in the output:\n%s", out.String())
	}
	for _, want := range []string{"egov_other", file + ".missing", "REDACTED"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output does not say %q:\n%s", want, out.String())
		}
	}
}

// With TLS, the server's certificate is verified against the CA file for the server name; without the CA, or for
// another name, the handshake fails, unless verification is explicitly skipped. The server here is a TLS listener
// that is not ClickHouse: what matters is whether the handshake succeeds.
func TestTLSVerifiesTheServer(t *testing.T) {
	dir := t.TempDir()
	cert, caFile := serverCert(t, dir, "clickhouse.egov.internal")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	handshakes := make(chan error, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handshakes <- c.(*tls.Conn).HandshakeContext(t.Context())
			}()
		}
	}()
	base := chdb.Config{Addr: ln.Addr().String(), Database: "egov", User: "default", DialTimeout: 2 * time.Second, TLS: true}
	for _, c := range []struct {
		name      string
		set       func(*chdb.Config)
		handshake bool // the client accepted the server's certificate
	}{
		{"the CA and the name", func(c *chdb.Config) { c.TLSCAFile, c.TLSServerName = caFile, "clickhouse.egov.internal" }, true},
		{"the CA file alone turns TLS on", func(c *chdb.Config) { c.TLS, c.TLSCAFile, c.TLSServerName = false, caFile, "clickhouse.egov.internal" }, true},
		{"the system's CAs", func(c *chdb.Config) { c.TLSServerName = "clickhouse.egov.internal" }, false},
		{"another name", func(c *chdb.Config) { c.TLSCAFile, c.TLSServerName = caFile, "evil.example" }, false},
		{"verification skipped", func(c *chdb.Config) { c.TLSInsecureSkipVerify = true }, true},
	} {
		cfg := base
		c.set(&cfg)
		conn, err := chdb.Open(t.Context(), cfg)
		if err == nil {
			conn.Close()
			t.Errorf("%s: Open succeeded against a server that is not ClickHouse", c.name)
			continue
		}
		var hs error
		select {
		case hs = <-handshakes:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no TLS connection reached the server (%v)", c.name, err)
		}
		for len(handshakes) > 0 { // the driver may have tried more than once
			<-handshakes
		}
		if (hs == nil) != c.handshake {
			t.Errorf("%s: server-side handshake error %v, Open error %v; want the handshake to succeed: %v", c.name, hs, err, c.handshake)
		}
	}
	bad := filepath.Join(dir, "not-a-ca.pem")
	if err := os.WriteFile(bad, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := base
	cfg.TLSCAFile = bad
	if _, err := chdb.Open(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("a CA file without a certificate: %v", err)
	}
}

// serverCert makes a throwaway CA, writes it to dir, and returns a certificate it signed for name.
func serverCert(t *testing.T, dir, name string) (tls.Certificate, string) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, leafKey := key(), key()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "egovtrack test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}, caFile
}
