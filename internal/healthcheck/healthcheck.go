// Package healthcheck is the client side of the commands' health endpoints, for the `healthcheck` subcommands that a
// container's HEALTHCHECK runs: the images hold no shell, curl or wget, only our static binaries.
package healthcheck

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// Timeout bounds one probe when ctx has no deadline: Docker's own default timeout is 30 s, and a health endpoint
// slower than a few seconds is unhealthy anyway.
const Timeout = 3 * time.Second

// Probe asks the server listening on addr (a listen address, as in EGOV_SERVE_ADDR: "0.0.0.0:8080", ":9464",
// "127.0.0.1:9464") for path, and returns nil when it answers 200. An unspecified host is reached on loopback, since the
// probe runs beside the server, in its container. Any other answer is an error carrying the status and the start of
// the body, which says why (the projector's /healthz names the failing dependency).
func Probe(ctx context.Context, addr, path string) error {
	u, err := URL(addr, path)
	if err != nil {
		return err
	}
	return get(ctx, http.DefaultClient, u)
}

// ProbeTLS is Probe for a server that serves HTTPS with the certificate in certFile (PEM, the leaf first). The probe
// runs beside the server, on loopback, where none of the certificate's names applies: instead of a name it checks
// that the server presents that very certificate.
func ProbeTLS(ctx context.Context, addr, path, certFile string) error {
	u, err := URL(addr, path)
	if err != nil {
		return err
	}
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE" {
		return fmt.Errorf("health check: %s holds no PEM certificate", certFile)
	}
	own := block.Bytes
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, // replaced by the check below: the certificate itself, not a name
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !bytes.Equal(raw[0], own) {
				return fmt.Errorf("the server's certificate is not the one in %s", certFile)
			}
			return nil
		},
	}}}
	return get(ctx, client, "https"+strings.TrimPrefix(u, "http"))
}

// get asks u and returns nil when it answers 200; otherwise an error with the status and the start of the body.
func get(ctx context.Context, client *http.Client, u string) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("health check %s: %w", u, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check %s: %s: %s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// URL is the http:// URL of path on the server listening on addr, its unspecified host replaced by loopback.
func URL(addr, path string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("health check: listen address %q: %w", addr, err)
	}
	if port == "" || port == "0" {
		return "", fmt.Errorf("health check: listen address %q has no fixed port to reach", addr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + path, nil
}
