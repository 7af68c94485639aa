package streamtest

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/egovtrack/egovtrack/internal/natsauth"
	"github.com/egovtrack/egovtrack/internal/stream"
)

// Client is a plain NATS client of a test's server, for what egovtrack's connection (stream.Conn) never does and a
// test must: publish bytes that are no event, or messages signed, headed and identified as the test makes them;
// change or delete the stream as an operator would; ask the server for what a credential may not have. It is
// connected as the credential of the configuration it was dialled with, or as no one.
type Client struct {
	NC *nats.Conn
	JS jetstream.JetStream
}

// Dial connects a Client to cfg.URL as cfg.NkeySeedFile's credential (as no one without it), closed when the test
// ends. It knows neither passwords nor TLS: the test servers of this package need neither. A test that holds only a
// stream.Conn of a server without authorisation reaches it with stream.Config{URL: conn.ClientURL()}.
func Dial(t testing.TB, cfg stream.Config) *Client {
	t.Helper()
	if cfg.User != "" || cfg.TLSCAFile != "" || cfg.TLSCertFile != "" {
		t.Fatal("streamtest.Dial: connect with a password or TLS through stream.Connect")
	}
	// Reconnecting as stream.Conn does: a test that stops a server or a cluster's node goes on publishing.
	opts := []nats.Option{nats.Name("egovtrack test client"), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond)}
	if cfg.ConnectTimeout > 0 {
		opts = append(opts, nats.Timeout(cfg.ConnectTimeout))
	}
	if cfg.NkeySeedFile != "" {
		cred, err := natsauth.LoadCredential(cfg.NkeySeedFile)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cred.Wipe) // after the connection's own cleanup: cleanups run last first
		opts = append(opts, nats.Nkey(cred.PublicKey(), cred.SignNonce), nats.CustomInboxPrefix(natsauth.InboxPrefix(cred.PublicKey())))
	}
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		t.Fatalf("streamtest.Dial %s: %v", cfg.URL, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return &Client{NC: nc, JS: js}
}

// Publish stores data on subject as it is, without an id, a signature or a check, and returns once the stream has
// acknowledged it, failing the test otherwise.
func (c *Client) Publish(t testing.TB, subject string, data []byte) *jetstream.PubAck {
	t.Helper()
	ack, err := c.JS.Publish(t.Context(), subject, data)
	if err != nil {
		t.Fatalf("publish %d bytes on %s: %v", len(data), subject, err)
	}
	return ack
}
