package healthcheck

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
