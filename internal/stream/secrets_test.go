package stream_test

import (
	"bytes"
	"context"
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
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"

	"github.com/egovtrack/egovtrack/internal/natsauth"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/embedded"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
)

// everything is what a run said: its logs, its errors, its configuration printed every way.
type everything struct{ bytes.Buffer }

func (e *everything) err(err error) {
	if err != nil {
		fmt.Fprintln(e, err.Error())
	}
}

func (e *everything) config(cfg stream.Config, log *slog.Logger) {
	fmt.Fprintf(e, "%v %+v %#v %s\n", cfg, cfg, cfg, cfg)
	log.Info("configuration", "nats", cfg)
}

// A credential's seed never appears in what the client or the server logs (at their most verbose), in an error, or in
// the configuration printed or logged.
func TestSeedNeverAppears(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keys, err := natsauth.EnsureKeys(filepath.Join(dir, "nkeys.txt"), dir, nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := streamtest.New(t)
	cfg.URL, cfg.Port, cfg.StoreDir = "", -1, t.TempDir()
	m, err := natsauth.New(keys, cfg.Stream, "projector")
	if err != nil {
		t.Fatal(err)
	}
	var out everything
	serverLog := &logBuffer{}
	sc := cfg.EmbeddedServer()
	sc.Auth, sc.Log = m, slog.New(slog.NewTextHandler(serverLog, &slog.HandlerOptions{Level: slog.LevelDebug - 2}))
	srv, err := embedded.Start(sc)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	clientLog := &logBuffer{}
	log := slog.New(slog.NewTextHandler(clientLog, &slog.HandlerOptions{Level: slog.LevelDebug}))

	office := cfg
	office.URL, office.NkeySeedFile, office.ManageStream = srv.ClientURL(), natsauth.SeedFile(dir, "office"), true
	oc, err := stream.Connect(ctx, office, log)
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close()

	province := office
	province.NkeySeedFile, province.ManageStream = natsauth.SeedFile(dir, "province/19"), false
	out.config(province, log)
	c, err := stream.Connect(ctx, province, log)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Publish(ctx, unitEvents(t, thaiNguyen, 2), nil)
	out.err(err)
	_, err = c.Publish(ctx, unitEvents(t, haNoi, 1), nil)
	out.err(err)
	_, err = readAll(ctx, c, "egov.province.01.>")
	out.err(err)
	cred, err := natsauth.LoadCredential(province.NkeySeedFile)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&out, "%v %+v %s\n", cred, cred, cred)
	log.Info("credential", "cred", cred)
	// A seed file that is not one, and a corrupt seed: their errors name the file, not its content.
	bad := filepath.Join(t.TempDir(), "bad.nk")
	seed := seedOf(t, province.NkeySeedFile)
	if err := os.WriteFile(bad, []byte(seed[:len(seed)-3]+"AAA\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	broken := province
	broken.NkeySeedFile = bad
	_, err = stream.Connect(ctx, broken, log)
	if err == nil {
		t.Error("a corrupt seed connected")
	}
	out.err(err)
	c.Close() // a round trip: the server has logged the refusals by now

	for what, text := range map[string]string{"client log": clientLog.String(), "server log": serverLog.String(), "errors and printed configuration": out.String()} {
		if strings.Contains(text, seed) || strings.Contains(text, seed[:len(seed)-3]) {
			t.Errorf("the %s holds the seed:\n%s", what, text)
		}
	}
	if !strings.Contains(serverLog.String(), "Publish Violation") {
		t.Errorf("the server log holds no violation: is it logging?\n%.2000s", serverLog.String())
	}
}

// seedOf reads the seed line of a seed file.
func seedOf(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(line, "SU") {
			return strings.TrimSpace(line)
		}
	}
	t.Fatalf("no seed in %s", file)
	return ""
}

// A password, from a file, from the environment or in the URL, never appears in what the client or the server logs,
// in an error (a wrong password's included), or in the configuration printed or logged.
func TestPasswordNeverAppears(t *testing.T) {
	ctx := context.Background()
	const password = "mật-khẩu-Sở-TTTT-19-s3cr3t"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	serverLog := &logBuffer{}
	opts := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true,
		Users: []*server.User{{Username: "so-tttt-19", Password: string(hash)}}}
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetLogger(testServerLog{serverLog}, true, true) // debug and trace: the protocol itself
	srv.Start()
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	if !srv.ReadyForConnections(5 * time.Second) {
		t.Fatal("server not ready")
	}
	pwFile := filepath.Join(t.TempDir(), "nats-password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := streamtest.New(t)
	base.URL, base.ConnectTimeout, base.ManageStream = srv.ClientURL(), 2*time.Second, true

	clientLog := &logBuffer{}
	log := slog.New(slog.NewTextHandler(clientLog, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var out everything
	fromFile, fromEnv, inURL := base, base, base
	fromFile.User, fromFile.PasswordFile = "so-tttt-19", pwFile
	fromEnv.User, fromEnv.Password = "so-tttt-19", password
	inURL.URL = strings.Replace(srv.ClientURL(), "nats://", "nats://so-tttt-19:"+url.QueryEscape(password)+"@", 1)
	for name, cfg := range map[string]stream.Config{"file": fromFile, "environment": fromEnv, "url": inURL} {
		out.config(cfg, log)
		c, err := stream.Connect(ctx, cfg, log)
		if err != nil {
			t.Fatalf("password from the %s: %v", name, err)
		}
		if _, err := c.Publish(ctx, unitEvents(t, thaiNguyen, 1), nil); err != nil {
			t.Errorf("publish with the password from the %s: %v", name, err)
		}
		c.Close()
	}

	wrongFile, wrongURL := fromFile, inURL
	wrongFile.User = "so-tttt-20"
	wrongURL.URL = strings.Replace(inURL.URL, "so-tttt-19:", "so-tttt-20:", 1)
	for name, cfg := range map[string]stream.Config{"user": wrongFile, "url": wrongURL} {
		out.config(cfg, log)
		_, err := stream.Connect(ctx, cfg, log)
		if err == nil || !errors.Is(err, nats.ErrAuthorization) {
			t.Errorf("wrong %s: %v, want an authorization violation", name, err)
		}
		out.err(err)
	}
	// A URL that does not parse, with the password unescaped in it: url.Parse's error quotes the URL.
	unparsable := base
	unparsable.URL = strings.Replace(srv.ClientURL(), "nats://", "nats://so-tttt-19:"+password+"@", 1)
	out.config(unparsable, log)
	_, err = stream.Connect(ctx, unparsable, log)
	if err == nil {
		t.Error("an unparsable URL connected")
	}
	out.err(err)

	for what, text := range map[string]string{"client log": clientLog.String(), "server log": serverLog.String(), "errors and printed configuration": out.String()} {
		if strings.Contains(text, password) || strings.Contains(text, url.QueryEscape(password)) {
			t.Errorf("the %s holds the password:\n%s", what, text)
		}
	}
	if !strings.Contains(out.String(), "REDACTED") {
		t.Errorf("the printed configuration does not say the password is redacted:\n%s", out.String())
	}
}

// testServerLog writes every line a nats-server logs.
type testServerLog struct{ w *logBuffer }

func (l testServerLog) logf(format string, v ...any) { fmt.Fprintf(l.w, format+"\n", v...) }
func (l testServerLog) Noticef(f string, v ...any)   { l.logf(f, v...) }
func (l testServerLog) Warnf(f string, v ...any)     { l.logf(f, v...) }
func (l testServerLog) Fatalf(f string, v ...any)    { l.logf(f, v...) }
func (l testServerLog) Errorf(f string, v ...any)    { l.logf(f, v...) }
func (l testServerLog) Debugf(f string, v ...any)    { l.logf(f, v...) }
func (l testServerLog) Tracef(f string, v ...any)    { l.logf(f, v...) }

// With a server that verifies clients' certificates, a client connects with the CA and its certificate, and not
// without them.
func TestTLS(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ca, caKey := certificate(t, nil, nil, "egovtrack test CA", dir, "ca")
	certificate(t, ca, caKey, "127.0.0.1", dir, "server")
	certificate(t, ca, caKey, "province/19", dir, "client")
	serverCert, err := tls.LoadX509KeyPair(filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	cfg := streamtest.New(t)
	cfg.URL, cfg.Port, cfg.StoreDir, cfg.ConnectTimeout = "", -1, t.TempDir(), 2*time.Second
	sc := cfg.EmbeddedServer()
	sc.TLS = &tls.Config{
		Certificates: []tls.Certificate{serverCert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
	}
	srv, err := embedded.Start(sc)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()

	good := cfg
	good.URL = srv.ClientURL()
	good.TLSCAFile, good.TLSCertFile, good.TLSKeyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	c, err := stream.Connect(ctx, good, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("with the CA and a client certificate: %v", err)
	}
	if conns, err := srv.Connz(nil); err != nil || len(conns.Conns) != 1 || conns.Conns[0].TLSVersion == "" {
		t.Errorf("the server's connections: %+v (%v); want one, over TLS", conns, err)
	}
	if _, err := c.Publish(ctx, unitEvents(t, thaiNguyen, 1), nil); err != nil {
		t.Errorf("publish over TLS: %v", err)
	}
	c.Close()

	noCert, noCA, plain := good, good, good
	noCert.TLSCertFile, noCert.TLSKeyFile = "", ""
	noCA.TLSCAFile = ""
	plain.TLSCAFile, plain.TLSCertFile, plain.TLSKeyFile = "", "", ""
	for name, cfg := range map[string]stream.Config{"without a client certificate": noCert, "without the CA": noCA, "without TLS": plain} {
		if c, err := stream.Connect(ctx, cfg, slog.New(slog.DiscardHandler)); err == nil {
			c.Close()
			t.Errorf("%s: connected", name)
		}
	}
	half := good
	half.TLSKeyFile = ""
	if err := half.Validate(); err == nil {
		t.Error("a certificate without its key is valid")
	}
}

// certificate makes a certificate for name signed by parent (self-signed when nil) and writes it and its key as PEM
// to dir/file.pem and dir/file-key.pem.
func certificate(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, name, dir, file string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if ip := net.ParseIP(name); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	signer, signerKey := parent, parentKey
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		signer, signerKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(file+".pem", "CERTIFICATE", der)
	write(file+"-key.pem", "EC PRIVATE KEY", keyDER)
	return cert, key
}

// The configuration says what cannot work together.
func TestConfigValidate(t *testing.T) {
	base := streamtest.New(t)
	for name, change := range map[string]func(*stream.Config){
		"nkey and user":           func(c *stream.Config) { c.NkeySeedFile, c.User, c.Password = "x.nk", "u", "p" },
		"two passwords":           func(c *stream.Config) { c.User, c.Password, c.PasswordFile = "u", "p", "f" },
		"password without a user": func(c *stream.Config) { c.Password = "p" },
		"user without a password": func(c *stream.Config) { c.User = "u" },
		"key without certificate": func(c *stream.Config) { c.TLSKeyFile = "k.pem" },
		"no stream":               func(c *stream.Config) { c.Stream = "" },
	} {
		c := base
		change(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: valid", name)
		}
		if _, err := stream.Connect(context.Background(), c, slog.New(slog.DiscardHandler)); err == nil {
			t.Errorf("%s: connected", name)
		}
	}
	if err := base.Validate(); err != nil {
		t.Errorf("the defaults: %v", err)
	}
	missing := base
	missing.NkeySeedFile = filepath.Join(t.TempDir(), "none.nk")
	if _, err := stream.Connect(context.Background(), missing, slog.New(slog.DiscardHandler)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing seed file: %v", err)
	}
}
