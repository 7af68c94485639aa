// Package tlsfiles builds a connection's TLS from the PEM files its configuration names, so that every
// configuration that has such files (ClickHouse's, NATS', the intake API's) reads them the same way, before anything
// connects or listens, and says the same when one is wrong.
package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// Files are the PEM files of one side of a TLS connection. Each is optional.
type Files struct {
	// CA holds the certificate authorities the other side's certificate must come from; empty: the system's.
	CA string
	// Cert and Key are this side's certificate (the chain, the leaf first) and its private key, for a server, or
	// for a client of a server that verifies clients. Both or neither: the configurations' Validate says so.
	Cert, Key string
}

// Config reads f into a TLS configuration of TLS 1.2 at least (the oldest that provincial systems still need; Go's
// defaults choose the cipher suites): f.CA as the authorities trusted, f.Cert and f.Key as the certificate presented.
// what names the connection in errors ("NATS", "clickhouse"). Errors name the files, never their content: a CA file
// that cannot be read or holds no PEM certificate, a certificate and key that cannot be read or do not match.
func Config(what string, f Files) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CA != "" {
		pem, err := os.ReadFile(f.CA)
		if err != nil {
			return nil, fmt.Errorf("%s TLS CA file: %w", what, err)
		}
		t.RootCAs = x509.NewCertPool()
		if !t.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s TLS CA file %s: no PEM certificate in it", what, f.CA)
		}
	}
	if f.Cert != "" || f.Key != "" {
		cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("%s TLS certificate %s and key %s: %w", what, f.Cert, f.Key, err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}
