package secret_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caarlos0/env/v11"

	"github.com/egovtrack/egovtrack/internal/secret"
)

// A credential, alone or in a configuration, shows as REDACTED however it is printed, logged or encoded, and as
// nothing when it is not set; Reveal alone gives it.
func TestStringNeverShows(t *testing.T) {
	const pw = "mật-khẩu-s3cr3t"
	type config struct {
		Addr     string
		Password secret.String
	}
	cfg := config{Addr: "127.0.0.1:9000", Password: pw}
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("connect", "config", cfg, "password", cfg.Password)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("connect", "config", cfg, "password", cfg.Password)
	encoded, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{
		"%v, %+v, %#v, %s, %q, %x": fmt.Sprintf("%v %+v %#v %v %+v %#v %s %q %x", cfg, cfg, cfg, &cfg, cfg.Password, cfg.Password, cfg.Password, cfg.Password, cfg.Password),
		"error":                    fmt.Errorf("connect with %v: %w", cfg, os.ErrPermission).Error(),
		"slog text":                text.String(),
		"slog json":                js.String(),
		"json":                     string(encoded),
	} {
		if strings.Contains(out, pw) || strings.Contains(out, fmt.Sprintf("%x", pw)) {
			t.Errorf("%s shows the credential: %s", name, out)
		}
		if !strings.Contains(out, secret.Redacted) || !strings.Contains(out, "127.0.0.1:9000") {
			t.Errorf("%s does not say the credential is set, or hides the rest: %s", name, out)
		}
	}
	if got := cfg.Password.Reveal(); got != pw {
		t.Errorf("Reveal() = %q, want the credential", got)
	}
	if got := fmt.Sprintf("%v|%#v", secret.String(""), secret.String("")); got != "|" {
		t.Errorf("an empty credential shows as %q, want nothing", got)
	}
}

// caarlos0/env reads a credential as it is written, and a file holds one on its first line.
func TestStringFromTheEnvironmentAndAFile(t *testing.T) {
	type config struct {
		Token secret.String `env:"TOKEN"`
	}
	got, err := env.ParseAsWithOptions[config](env.Options{Environment: map[string]string{"TOKEN": " tok=en "}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Token.Reveal() != " tok=en " {
		t.Errorf("read %q from the environment, want it as written", got.Token.Reveal())
	}
	file := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(file, []byte("pw from a secret\r\nsecond line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := secret.FromFile(file); err != nil || s.Reveal() != "pw from a secret" {
		t.Errorf("FromFile = %q, %v; want the first line", s.Reveal(), err)
	}
	if _, err := secret.FromFile(file + ".missing"); err == nil || !strings.Contains(err.Error(), "password.missing") {
		t.Errorf("a missing file: %v, want an error naming it", err)
	}
}
