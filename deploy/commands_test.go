package deploy_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
)

// The health check of every service built from our image works as compose runs it: the command, built from the
// package the Dockerfile builds, with the service's environment, exits 0 while the service's endpoint answers and
// fails once it is gone. Only the listen address's port is changed, to a test server's: the host stays the service's own
// (0.0.0.0), which the check must turn into loopback.
func TestHealthchecksRunAsComposeRunsThem(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the commands")
	}
	s := loadStack(t, "compose.yaml", ".env.example")
	bin := buildCommands(t, s)
	for _, name := range s.sortedServices() {
		svc := s.compose.Services[name]
		if !svc.built() || s.oneShot(name) {
			continue
		}
		hc := svc.Healthcheck
		if hc == nil || len(hc.Test) < 2 {
			t.Fatalf("service %q: no healthcheck to run (TestCompose says why)", name)
		}
		t.Run(name, func(t *testing.T) {
			command := hc.Test[1]
			var listenVar string
			for _, v := range listenVars {
				if _, ok := svc.Environment[v]; ok && s.commands[strings.Join(svc.Command, " ")][v] {
					listenVar = v
				}
			}
			if listenVar == "" {
				t.Fatalf("service %q sets none of %v: nothing to check", name, listenVars)
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/healthz" {
					http.NotFound(w, r)
					return
				}
				w.Write([]byte("ok\n"))
			}))
			defer srv.Close()
			_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
			host, _, err := net.SplitHostPort(svc.Environment[listenVar])
			if err != nil {
				t.Fatal(err)
			}
			env := []string{"PATH=" + bin}
			for k, v := range svc.Environment {
				if k == listenVar {
					v = net.JoinHostPort(host, port)
				}
				env = append(env, k+"="+s.interpolate(v))
			}
			run := func() ([]byte, error) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, filepath.Join(bin, command), hc.Test[2:]...)
				cmd.Env = env
				return cmd.CombinedOutput()
			}
			if out, err := run(); err != nil {
				t.Errorf("%q with its endpoint up: %v\n%s", hc.Test[1:], err, out)
			}
			srv.Close()
			if out, err := run(); err == nil {
				t.Errorf("%q with its endpoint gone: exit 0, want a failure\n%s", hc.Test[1:], out)
			}
		})
	}
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// buildCommands builds every command that a service of s runs in our image, once for the whole test binary, and
// returns the directory holding them. Not with the image's CGO_ENABLED=0, which TestDockerfile checks: here it would
// only rebuild the standard library and every dependency apart from what the other tests built.
func buildCommands(t *testing.T, s stack) string {
	t.Helper()
	buildOnce.Do(func() {
		var commands []string
		for _, svc := range s.compose.Services {
			if svc.built() && len(svc.Command) > 0 && !slices.Contains(commands, "./"+svc.Command[0]) {
				commands = append(commands, "./"+svc.Command[0])
			}
		}
		if buildDir, buildErr = os.MkdirTemp("", "egov-deploy-test-"); buildErr != nil {
			return
		}
		build := exec.Command("go", append([]string{"build", "-o", buildDir + string(filepath.Separator)}, commands...)...)
		build.Dir = s.root
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build %v: %w\n%s", commands, err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildDir
}

func TestMain(m *testing.M) {
	// Run as the runbook's systemctl (TestWithoutDocker): before the testing flags are parsed, which its arguments
	// are not.
	if socket := os.Getenv(systemctlSocket); socket != "" {
		os.Exit(runSystemctl(socket, os.Args[1:]))
	}
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// The stream job creates or updates the stream with the credential compose gives it, the office's: the one the
// authorisation lets do so. Given the projector's seed instead, the same job fails. The seed files are the ones that
// `go run ./deploy/nats generate` writes, by the names compose.yaml's secrets give.
func TestStreamJobHoldsTheOfficeCredential(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the commands")
	}
	s := loadStack(t, "compose.yaml", ".env.example")
	var job string
	for _, name := range s.sortedServices() {
		if svc := s.compose.Services[name]; svc.built() && s.oneShot(name) && strings.Join(svc.Command, " ") == "collectors stream" {
			job = name
		}
	}
	if job == "" {
		t.Fatal("compose.yaml has no one-shot service running collectors stream")
	}
	svc := s.compose.Services[job]
	bin := buildCommands(t, s)
	srv := streamtest.StartAuth(t)

	// env is the job's environment on the test server, its secrets read from the server's keys by file name.
	env := func(secrets map[string]string) []string {
		out := []string{"PATH=" + bin}
		for k, v := range svc.Environment {
			switch {
			case k == "EGOV_NATS_URL":
				v = srv.Config().URL
			case strings.HasPrefix(v, "/run/secrets/"):
				file := s.compose.Secrets[secrets[strings.TrimPrefix(v, "/run/secrets/")]].File
				v = filepath.Join(srv.Keys, filepath.Base(file))
			}
			out = append(out, k+"="+s.interpolate(v))
		}
		return out
	}
	run := func(env []string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(bin, svc.Command[0]), svc.Command[1:]...)
		cmd.Env = env
		return cmd.CombinedOutput()
	}
	own := map[string]string{}
	for _, sec := range svc.Secrets {
		own[sec] = sec
	}
	if out, err := run(env(own)); err != nil {
		t.Errorf("%s with its own secrets %v: %v\n%s", job, svc.Secrets, err, out)
	}
	// The same job holding the projector's seed.
	projector := map[string]string{}
	for _, sec := range svc.Secrets {
		projector[sec] = s.compose.Services["projector"].Secrets[0]
	}
	if out, err := run(env(projector)); err == nil {
		t.Errorf("%s with the projector's seed: exit 0, want the stream refused\n%s", job, out)
	} else if !strings.Contains(string(out), "permission") {
		t.Errorf("%s with the projector's seed failed for another reason than permission: %v\n%s", job, err, out)
	}
}

// interpolate fills ${NAME…} and $NAME from the stack's .env, or from a ${NAME:-default}'s default.
func (s stack) interpolate(v string) string {
	return interpolation.ReplaceAllStringFunc(v, func(m string) string {
		sub := interpolation.FindStringSubmatch(m)
		name := sub[1] + sub[2]
		if val, ok := s.env[name]; ok {
			return val
		}
		if _, def, ok := strings.Cut(m, ":-"); ok {
			return strings.TrimSuffix(def, "}")
		}
		return ""
	})
}
