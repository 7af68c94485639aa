package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README's Deployment and Operations commands name services and volumes that compose.yaml has, and paths that
// compose.yaml mounts: a renamed service must not leave an operator's runbook pointing at nothing.
func TestREADMEDeploymentNamesTheStack(t *testing.T) {
	s := loadStack(t, "compose.yaml", ".env.example")
	b, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start, end := strings.Index(text, "\n## Deployment\n"), strings.Index(text, "\n## Scaling out\n")
	if start < 0 || end < start {
		t.Fatal(`README.md has no "## Deployment" section followed by "## Scaling out"`)
	}
	section := text[start:end]
	checked := 0
	for _, words := range composeCommands(section) {
		verb, args := words[0], words[1:]
		var services []string
		switch verb {
		case "stop", "start", "restart", "kill", "up":
			services = args
		case "run", "exec":
			if len(args) > 0 {
				services = args[:1]
			}
		case "cp":
			for _, a := range args {
				if name, _, ok := strings.Cut(a, ":"); ok {
					services = append(services, name)
				}
			}
		}
		for _, name := range services {
			if _, ok := s.compose.Services[name]; !ok {
				t.Errorf("README: docker compose %s names %q, which is not a service of compose.yaml", strings.Join(words, " "), name)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("README: found no docker compose command naming a service")
	}
	for _, m := range regexp.MustCompile(`\b([a-z0-9]+)_([a-z0-9-]+):/`).FindAllStringSubmatch(section, -1) {
		if m[1] != s.compose.Name {
			t.Errorf("README: volume %s_%s: the project is %q", m[1], m[2], s.compose.Name)
		}
		if _, ok := s.compose.Volumes[m[2]]; !ok {
			t.Errorf("README: volume %s is not declared in compose.yaml", m[2])
		}
	}
	for _, f := range []string{".env.example", "compose.yaml", "Dockerfile"} {
		if !strings.Contains(section, f) {
			t.Errorf("README's Deployment never mentions %s", f)
		}
	}
}

// composeCommands returns the words after `docker compose` of every such command in text's code blocks, flags and
// their values removed, the verb first.
func composeCommands(text string) [][]string {
	var out [][]string
	for _, line := range strings.Split(text, "\n") {
		for _, cmd := range strings.Split(line, "docker compose ")[1:] {
			cmd, _, _ = strings.Cut(cmd, "#")
			cmd = regexp.MustCompile("[&|;<>`)].*").ReplaceAllString(cmd, "") // where the command ends
			cmd = strings.TrimSuffix(strings.TrimSpace(cmd), `\`)             // a continuation
			var words []string
			fields := strings.Fields(cmd)
			for i := 0; i < len(fields); i++ {
				switch f := fields[i]; {
				case f == "-s" || f == "-f" || f == "--signal":
					i++ // a flag's value
				case strings.HasPrefix(f, "-"):
				default:
					words = append(words, f)
				}
			}
			// run and exec: what follows the service is the command run in it.
			if len(words) > 2 && (words[0] == "run" || words[0] == "exec") {
				words = words[:2]
			}
			if len(words) > 0 {
				out = append(out, words)
			}
		}
	}
	return out
}

func TestComposeCommands(t *testing.T) {
	text := "```sh\ndocker compose kill -s HUP nats      # reload\n" +
		"docker compose run --rm --no-deps -T intake collectors serve hash-token province/19 < t >> f\n" +
		"docker compose cp clickhouse:/var/lib/x ./ \\\n  && docker compose exec clickhouse rm -rf /x\n" +
		"ch() { docker compose exec -T clickhouse sh -c 'exec clickhouse-client'; }\n" +
		"docker compose stop projector nats\n```"
	got := composeCommands(text)
	want := [][]string{{"kill", "nats"}, {"run", "intake"}, {"cp", "clickhouse:/var/lib/x", "./"}, {"exec", "clickhouse"},
		{"exec", "clickhouse"}, {"stop", "projector", "nats"}}
	if len(got) != len(want) {
		t.Fatalf("composeCommands = %q, want %q", got, want)
	}
	for i := range want {
		if strings.Join(got[i], " ") != strings.Join(want[i], " ") {
			t.Errorf("command %d = %q, want %q", i, got[i], want[i])
		}
	}
}
