package intake

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/egovtrack/egovtrack/collectors/reporting"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/tlsfiles"
)

// Stream is what the API needs of the event stream: publishing, and reading a unit's events back. *stream.Conn is
// one.
type Stream interface {
	stream.Publisher
	reporting.Reader
}

// Serve runs the intake API on cfg.Addr with the tokens of cfg.TokensFile until ctx ends, then stops accepting
// connections and lets the requests in flight finish for up to cfg.ShutdownTimeout. It serves HTTPS when cfg has a
// certificate and key, HTTP otherwise. It returns nil after a clean shutdown.
func Serve(ctx context.Context, cfg Config, s Stream, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	tokens, err := LoadTokens(cfg.TokensFile)
	if err != nil {
		return err
	}
	tlsCfg, err := tlsConfig(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("intake API: listen on %s: %w", cfg.Addr, err)
	}
	log.Info("intake API listening", "addr", ln.Addr().String(), "units_with_tokens", len(tokens.Units()),
		"max_body", cfg.MaxBody, "tls", tlsCfg != nil, "rate", cfg.Rate, "burst", cfg.Burst)
	return serve(ctx, cfg, ln, tlsCfg, NewHandler(cfg, tokens, s, s, log, time.Now), log)
}

// tlsConfig reads cfg's certificate and key, or returns nil when cfg has none. Reading them before listening makes
// a wrong path or a key that does not match the certificate stop the start, not the first client's handshake.
func tlsConfig(cfg Config) (*tls.Config, error) {
	if cfg.TLSCertFile == "" && cfg.TLSKeyFile == "" {
		return nil, nil
	}
	return tlsfiles.Config("intake API", tlsfiles.Files{Cert: cfg.TLSCertFile, Key: cfg.TLSKeyFile})
}

// serve serves h on ln until ctx ends, over TLS when tlsCfg is not nil; split from Serve so that tests can listen on
// a free port.
func serve(ctx context.Context, cfg Config, ln net.Listener, tlsCfg *tls.Config, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		// A response is written once the request's work is done, which RequestTimeout bounds; the margin covers
		// writing it.
		WriteTimeout:   cfg.ReadTimeout + cfg.RequestTimeout + 10*time.Second,
		IdleTimeout:    cfg.IdleTimeout,
		MaxHeaderBytes: 16 << 10, // a bearer token and a few headers; nothing legitimate needs Go's default 1 MiB
		// Requests in flight when ctx ends are finished, not cancelled: their events may be half published.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		TLSConfig:   tlsCfg,
	}
	done := make(chan error, 1)
	go func() {
		if tlsCfg != nil {
			done <- srv.ServeTLS(ln, "", "") // the certificate is in TLSConfig
			return
		}
		done <- srv.Serve(ln)
	}()
	select {
	case err := <-done:
		return fmt.Errorf("intake API: %w", err)
	case <-ctx.Done():
	}
	log.Info("intake API shutting down", "grace", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("intake API: shut down: requests still running after %s: %w", cfg.ShutdownTimeout, err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("intake API: %w", err)
	}
	log.Info("intake API stopped")
	return nil
}
