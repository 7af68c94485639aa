// Package deploy_test holds deploy/compose.yaml, deploy/.env.example and deploy/Dockerfile to the code, without a
// Docker engine: every image pinned, every mounted file in the repository, every variable given to our commands one
// that they read, every service checked for health and reachable on its ports, every command built by the image.
// Each check also runs on testdata's broken documents, which it must reject.
package deploy_test

import (
	"bufio"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/egovtrack/egovtrack/collectors/intake"
	"github.com/egovtrack/egovtrack/dashboards/chquery"
	"github.com/egovtrack/egovtrack/internal/chdb"
	"github.com/egovtrack/egovtrack/internal/envdoc"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/projector/consumer"
	"github.com/egovtrack/egovtrack/projector/projection"
)

// repoRoot is the repository's root, from this package's folder.
const repoRoot = ".."

// composeFile is the part of the Compose specification that compose.yaml uses, in its short syntax: a document in
// another form fails to load here rather than passing unchecked.
type composeFile struct {
	Name     string             `yaml:"name"`
	Services map[string]service `yaml:"services"`
	Secrets  map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
	Volumes map[string]any `yaml:"volumes"`
}

type service struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	Secrets     []string          `yaml:"secrets"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test        []string `yaml:"test"`
		Disable     bool     `yaml:"disable"`
		Interval    string   `yaml:"interval"`
		Timeout     string   `yaml:"timeout"`
		Retries     int      `yaml:"retries"`
		StartPeriod string   `yaml:"start_period"`
	} `yaml:"healthcheck"`
	Restart         string         `yaml:"restart"`
	StopGracePeriod string         `yaml:"stop_grace_period"`
	Ulimits         map[string]any `yaml:"ulimits"`
}

// stack is a compose document with what it refers to: its directory (host paths are relative to it) and the
// variables its .env file defines.
type stack struct {
	compose composeFile
	dir     string
	// root is the repository's root, absolute: no host path may leave it.
	root string
	env  map[string]string
	// envFile names the .env file in messages.
	envFile string
	// commands are the variables each of our commands reads (commandVars).
	commands map[string]map[string]bool
}

func loadStack(t *testing.T, composePath, envPath string) stack {
	t.Helper()
	b, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true) // a key this test does not know is a key it would not check
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("%s: %v", composePath, err)
	}
	env, err := readDotEnv(envPath)
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	return stack{compose: c, dir: filepath.Dir(composePath), root: root, env: env, envFile: envPath, commands: commandVars(t)}
}

// readDotEnv reads NAME=value lines, skipping comments and blank lines.
func readDotEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok || !regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`).MatchString(name) {
			return nil, fmt.Errorf("%s:%d: want NAME=value, got %q", path, n, line)
		}
		if _, dup := env[name]; dup {
			return nil, fmt.Errorf("%s:%d: %s defined twice", path, n, name)
		}
		env[name] = value
	}
	return env, sc.Err()
}

// sortedServices gives the services in name order, for stable messages.
func (s stack) sortedServices() []string { return slices.Sorted(maps.Keys(s.compose.Services)) }

// built reports whether the service runs our image, built from the repository's Dockerfile.
func (svc service) built() bool { return svc.Build != nil }

// A check looks at a stack and returns what is wrong with it.
type check func(stack) []error

var checks = []struct {
	name string
	fn   check
	// broken is what the check must say about testdata/broken-compose.yaml.
	broken []string
}{
	{"images are pinned", checkImages, []string{
		`service "latest": image "grafana/grafana:latest" is not pinned`,
		`service "untagged": image "nats" is not pinned`,
		`service "interpolated": image "nats:${NATS_TAG}" is not pinned`,
		`service "nothing": neither image nor build`,
		`service "builtelsewhere": build dockerfile ../nowhere/Dockerfile`,
	}},
	{"mounted paths exist in the repository", checkMounts, []string{
		`service "untagged": host path ./nats/missing.conf`,
		`service "untagged": host path ../../../etc/passwd is outside the repository`,
		`service "untagged": host path ./compose.yaml is mounted writable`,
		`service "untagged": volume "undeclared" is not declared`,
		`secret "committed": file ./compose.yaml is not ignored by git`,
		`service "untagged": secret "absent" is not declared`,
	}},
	{"variables are read by the commands and defined in .env", checkEnvironment, []string{
		`service "projector": EGOV_PROJECTOR_BATCH is not a variable that projector reads`,
		`service "projector": EGOV_SERVE_ADDR is not a variable that projector reads`,
		`service "projector": ${EGOV_CLICKHOUSE_PASSWORD} is not defined in`,
		`GRAFANA_UNUSED is defined in`,
		`service "projector": EGOV_NATS_NKEY_SEED_FILE is /run/secrets/nats_projector, a secret the service does not have`,
		`service "projector": EGOV_PROJECTOR_SIGNERS_FILE is /etc/egovtrack/nkeys.txt, which nothing is mounted at`,
		`service "grafana": the datasource reads $EGOV_GRAFANA_CLICKHOUSE_PASSWORD, which the service does not set`,
		`service "grafana": GF_PLUGINS_PREINSTALL_SYNC does not install grafana-clickhouse-datasource@` + chquery.PluginVersion,
	}},
	{"services are health-checked and depend on healthy services", checkHealth, []string{
		`service "untagged": no healthcheck`,
		`service "latest": healthcheck disabled, but it is not a one-shot job`,
		`service "projector": depends on "grafana" being healthy, which has no healthcheck`,
		`service "projector": depends on "ghost", which is not a service`,
		`service "projector": restart policy "" (want unless-stopped, always or on-failure)`,
		`service "intake": healthcheck ["CMD" "projector" "healthcheck"] is not the healthcheck subcommand of ["collectors" "serve"]`,
	}},
	{"ports are published", checkPorts, []string{
		`service "projector": listens on 9464 (EGOV_PROJECTOR_METRICS_ADDR) but publishes no such port`,
		`service "projector": EGOV_SERVE_ADDR is set but not read by projector`,
		`service "intake": EGOV_SERVE_ADDR is 127.0.0.1:8080, which is the container's own loopback`,
		`service "grafana": publishes no port`,
	}},
}

// The real stack passes every check.
func TestCompose(t *testing.T) {
	s := loadStack(t, "compose.yaml", ".env.example")
	if len(s.compose.Services) == 0 {
		t.Fatal("compose.yaml has no services")
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			for _, err := range c.fn(s) {
				t.Error(err)
			}
		})
	}
}

// Each check rejects testdata/broken-compose.yaml with the reasons it must give: a check that cannot fail proves
// nothing.
func TestComposeChecksRejectBrokenDocument(t *testing.T) {
	s := loadStack(t, filepath.Join("testdata", "broken-compose.yaml"), filepath.Join("testdata", "broken.env"))
	// Its host paths are the real stack's, so that only the broken ones are reported.
	s.dir = "."
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, err := range c.fn(s) {
				got = append(got, err.Error())
			}
			for _, want := range c.broken {
				if !slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, want) }) {
					t.Errorf("no error says %q; got:\n\t%s", want, strings.Join(got, "\n\t"))
				}
			}
		})
	}
}

// The broken document differs from the real one in form too: a key of the long syntax, or a misspelt one, fails
// to load rather than passing unchecked.
func TestComposeUnknownKeysRefused(t *testing.T) {
	var c composeFile
	dec := yaml.NewDecoder(strings.NewReader("services:\n  nats:\n    image: nats:2.15.2\n    helthcheck: {}\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err == nil || !strings.Contains(err.Error(), "helthcheck") {
		t.Errorf("decoding a misspelt key: err = %v, want one naming helthcheck", err)
	}
}

// pinned reports whether an image reference names a fixed release: a digest, or a tag that is neither missing, nor
// latest, nor a bare major version ("2", which moves), nor filled in from the environment.
func pinned(ref string) bool {
	if strings.Contains(ref, "$") {
		return false
	}
	if _, digest, ok := strings.Cut(ref, "@"); ok {
		return strings.HasPrefix(digest, "sha256:") && len(digest) == len("sha256:")+64
	}
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") { // no tag: a colon before a slash is a registry's port
		return false
	}
	tag := ref[i+1:]
	if tag == "latest" || tag == "" {
		return false
	}
	// At least major.minor: "2" or "alpine" follow every release.
	return regexp.MustCompile(`^v?\d+\.\d+`).MatchString(tag)
}

func checkImages(s stack) []error {
	var errs []error
	for _, name := range s.sortedServices() {
		svc := s.compose.Services[name]
		switch {
		case svc.Image == "" && svc.Build == nil:
			errs = append(errs, fmt.Errorf("service %q: neither image nor build", name))
		case svc.Build != nil:
			// Our image: its base images are the Dockerfile's, checked by TestDockerfile.
			ctx, _ := filepath.Abs(filepath.Join(s.dir, svc.Build.Context))
			if ctx != s.root || filepath.Join(ctx, svc.Build.Dockerfile) != filepath.Join(s.root, "deploy", "Dockerfile") {
				errs = append(errs, fmt.Errorf("service %q: build dockerfile %s in context %s: want the repository's root and deploy/Dockerfile",
					name, svc.Build.Dockerfile, svc.Build.Context))
			}
			if svc.Image != "" {
				errs = append(errs, fmt.Errorf("service %q: both build and image %q: compose would push or pull a name it builds", name, svc.Image))
			}
		case !pinned(svc.Image):
			errs = append(errs, fmt.Errorf("service %q: image %q is not pinned to a release (want name:major.minor… or name@sha256:…)", name, svc.Image))
		}
	}
	return errs
}

// hostPath reports whether a volume's source is a path on the host rather than a named volume.
func hostPath(src string) bool {
	return strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") || strings.HasPrefix(src, "~")
}

// inRepo resolves a host path of the stack and reports whether it stays inside the repository.
func (s stack) inRepo(p string) (string, bool) {
	abs, err := filepath.Abs(filepath.Join(s.dir, p))
	if err != nil {
		return "", false
	}
	rel, err := filepath.Rel(s.root, abs)
	return abs, err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// volume is one short-syntax volume: source:target[:mode].
type volume struct{ source, target, mode string }

func parseVolume(v string) (volume, error) {
	parts := strings.Split(v, ":")
	switch len(parts) {
	case 2:
		return volume{parts[0], parts[1], ""}, nil
	case 3:
		return volume{parts[0], parts[1], parts[2]}, nil
	}
	return volume{}, fmt.Errorf("volume %q: want source:target[:mode]", v)
}

func checkMounts(s stack) []error {
	var errs []error
	for _, name := range s.sortedServices() {
		svc := s.compose.Services[name]
		for _, v := range svc.Volumes {
			vol, err := parseVolume(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("service %q: %w", name, err))
				continue
			}
			if !hostPath(vol.source) {
				if _, ok := s.compose.Volumes[vol.source]; !ok {
					errs = append(errs, fmt.Errorf("service %q: volume %q is not declared under volumes:", name, vol.source))
				}
				continue
			}
			abs, ok := s.inRepo(vol.source)
			if !ok {
				errs = append(errs, fmt.Errorf("service %q: host path %s is outside the repository", name, vol.source))
				continue
			}
			// A path git ignores is made on the server (Grafana's alerting folder, by `dashboards contacts`): it
			// need not be in the repository, as a secret's file need not.
			if _, err := os.Stat(abs); err != nil && gitIgnored(abs) != nil {
				errs = append(errs, fmt.Errorf("service %q: host path %s does not exist in the repository: %w", name, vol.source, err))
			}
			// The repository's files are configuration: a container that writes them changes what git holds.
			if vol.mode != "ro" {
				errs = append(errs, fmt.Errorf("service %q: host path %s is mounted writable (want :ro)", name, vol.source))
			}
		}
		for _, sec := range svc.Secrets {
			if _, ok := s.compose.Secrets[sec]; !ok {
				errs = append(errs, fmt.Errorf("service %q: secret %q is not declared under secrets:", name, sec))
			}
		}
	}
	// Secrets are made on the server: they must be where git ignores them, never committed.
	for _, name := range slices.Sorted(maps.Keys(s.compose.Secrets)) {
		file := s.compose.Secrets[name].File
		abs, ok := s.inRepo(file)
		if file == "" || !ok {
			errs = append(errs, fmt.Errorf("secret %q: file %q: want a path inside the repository that git ignores", name, file))
			continue
		}
		if err := gitIgnored(abs); err != nil {
			errs = append(errs, fmt.Errorf("secret %q: file %s is not ignored by git: %w", name, file, err))
		}
	}
	return errs
}

// gitIgnored asks git whether a path, which need not exist, is ignored by the repository's .gitignore files.
func gitIgnored(abs string) error {
	cmd := exec.Command("git", "check-ignore", "--no-index", "-q", abs)
	cmd.Dir = filepath.Dir(abs)
	for cmd.Dir != "/" {
		if _, err := os.Stat(cmd.Dir); err == nil {
			break
		}
		cmd.Dir = filepath.Dir(cmd.Dir) // git needs a directory that exists; the secrets' may not yet
	}
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 1 {
		return errors.New("git check-ignore: not ignored")
	}
	return err
}

// commandVars are the environment variables each of our commands reads, by the first words of its command line.
// They are collected from the code: each main package's config struct (parsed, since it is unexported) and the
// packages' Config structs it embeds (reflected).
func commandVars(t testing.TB) map[string]map[string]bool {
	t.Helper()
	// The Config types the commands embed with envPrefix, as written in their main.go.
	embedded := map[string]any{
		"stream.Config":   stream.Config{},
		"chdb.Config":     chdb.Config{},
		"consumer.Config": consumer.Config{},
		// projector's config embeds it without a prefix: its fields carry theirs.
		"projection.Config": projection.Config{},
	}
	projector := mainConfigVars(t, filepath.Join(repoRoot, "projector", "main.go"), embedded)
	collectors := mainConfigVars(t, filepath.Join(repoRoot, "collectors", "main.go"), embedded)
	serve := maps.Clone(collectors)
	for _, v := range envdoc.Vars(intake.Config{}) {
		serve[intake.EnvPrefix+v.Name] = true
	}
	return map[string]map[string]bool{
		"projector run": projector, "projector rebuild": projector, "projector healthcheck": projector,
		"collectors serve": serve, "collectors serve healthcheck": serve,
		"collectors stream": collectors,
	}
}

// mainConfigVars reads the variables of the `config` struct in a command's main.go: its env tags, and the variables
// of each field with an envPrefix, or embedded without a tag, whose type must be one of embedded.
func mainConfigVars(t testing.TB, path string, embedded map[string]any) map[string]bool {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{}
	found := false
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "config" {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return true
		}
		found = true
		for _, field := range st.Fields.List {
			if len(field.Names) == 0 && field.Tag == nil { // embedded without a prefix: its own variables
				typ := exprString(field.Type)
				cfg, ok := embedded[typ]
				if !ok {
					t.Fatalf("%s: config embeds %s: add it to commandVars' embedded types", path, typ)
				}
				for _, v := range envdoc.Vars(cfg) {
					vars[v.Name] = true
				}
				continue
			}
			if field.Tag == nil {
				continue
			}
			raw, err := strconv.Unquote(field.Tag.Value)
			if err != nil {
				t.Fatalf("%s: tag %s: %v", path, field.Tag.Value, err)
			}
			tag := reflect.StructTag(raw)
			if name, ok := tag.Lookup("env"); ok {
				name, _, _ = strings.Cut(name, ",")
				vars[name] = true
			}
			if prefix, ok := tag.Lookup("envPrefix"); ok {
				typ := exprString(field.Type)
				cfg, ok := embedded[typ]
				if !ok {
					t.Fatalf("%s: config embeds %s with envPrefix %q: add it to commandVars' embedded types", path, typ, prefix)
				}
				for _, v := range envdoc.Vars(cfg) {
					vars[prefix+v.Name] = true
				}
			}
		}
		return false
	})
	if !found || len(vars) == 0 {
		t.Fatalf("%s: found no config struct with env tags", path)
	}
	return vars
}

func exprString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return exprString(e.X) + "." + e.Sel.Name
	}
	return fmt.Sprintf("%T", e)
}

// commandOf is the command line a built service runs, if it is one whose variables s.commands knows.
func (s stack) commandOf(args []string) (string, bool) {
	cmd := strings.Join(args, " ")
	_, ok := s.commands[cmd]
	return cmd, ok
}

// interpolation is ${NAME}, ${NAME:-default}, ${NAME:?message} and the like, or $NAME.
var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

func checkEnvironment(s stack) []error {
	var errs []error
	used := map[string]bool{}
	for _, name := range s.sortedServices() {
		svc := s.compose.Services[name]
		mounted := map[string]bool{}
		for _, v := range svc.Volumes {
			if vol, err := parseVolume(v); err == nil {
				mounted[vol.target] = true
			}
		}
		secrets := map[string]bool{}
		for _, sec := range svc.Secrets {
			secrets["/run/secrets/"+sec] = true
		}
		var reads map[string]bool
		if svc.built() {
			cmd, ok := s.commandOf(svc.Command)
			if !ok {
				errs = append(errs, fmt.Errorf("service %q: command %q is none that this test knows the variables of (commandVars)", name, cmd))
			}
			reads = s.commands[cmd]
		}
		for _, key := range slices.Sorted(maps.Keys(svc.Environment)) {
			value := svc.Environment[key]
			if reads != nil && !reads[key] {
				errs = append(errs, fmt.Errorf("service %q: %s is not a variable that %s reads", name, key, svc.Command[0]))
			}
			for _, m := range interpolation.FindAllStringSubmatch(value, -1) {
				v := m[1] + m[2]
				used[v] = true
				if _, ok := s.env[v]; !ok {
					errs = append(errs, fmt.Errorf("service %q: ${%s} is not defined in %s", name, v, s.envFile))
				}
			}
			// A file a command reads must be there: a secret of the service, or mounted.
			if strings.HasSuffix(key, "_FILE") && strings.HasPrefix(value, "/") {
				switch {
				case strings.HasPrefix(value, "/run/secrets/") && !secrets[value]:
					errs = append(errs, fmt.Errorf("service %q: %s is %s, a secret the service does not have", name, key, value))
				case !strings.HasPrefix(value, "/run/secrets/") && !mounted[value]:
					errs = append(errs, fmt.Errorf("service %q: %s is %s, which nothing is mounted at", name, key, value))
				}
			}
		}
		if !svc.built() && strings.HasPrefix(svc.Image, "grafana/") {
			errs = append(errs, checkGrafana(s, name, svc)...)
		}
	}
	for _, v := range slices.Sorted(maps.Keys(s.env)) {
		if !used[v] {
			errs = append(errs, fmt.Errorf("%s is defined in %s but compose.yaml never uses it", v, s.envFile))
		}
	}
	return errs
}

// checkGrafana: the provisioned datasource's $VARIABLES are all set in Grafana's environment (Grafana would leave
// them empty), and the plugin installed is the version the dashboards' queries name.
func checkGrafana(s stack, name string, svc service) []error {
	var errs []error
	var provisioning string
	for _, v := range svc.Volumes {
		if vol, err := parseVolume(v); err == nil && vol.target == "/etc/grafana/provisioning" {
			provisioning = filepath.Join(s.dir, vol.source)
		}
	}
	if provisioning == "" {
		return []error{fmt.Errorf("service %q: nothing is mounted at /etc/grafana/provisioning", name)}
	}
	files, _ := filepath.Glob(filepath.Join(provisioning, "datasources", "*.yaml"))
	if len(files) == 0 {
		errs = append(errs, fmt.Errorf("service %q: no datasource in %s", name, provisioning))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			for _, m := range interpolation.FindAllStringSubmatch(line, -1) {
				if v := m[1] + m[2]; svc.Environment[v] == "" {
					errs = append(errs, fmt.Errorf("service %q: the datasource reads $%s, which the service does not set", name, v))
				}
			}
		}
	}
	// The alerting folder is the one `dashboards contacts` writes, by default, and Grafana can send e-mail.
	alerting := ""
	for _, v := range svc.Volumes {
		if vol, err := parseVolume(v); err == nil && vol.target == "/etc/grafana/provisioning/alerting" {
			alerting, _ = filepath.Abs(filepath.Join(s.dir, vol.source))
		}
	}
	if wantDir, _ := filepath.Abs(filepath.Join(repoRoot, "deploy", "secrets", "grafana-alerting")); alerting != wantDir {
		errs = append(errs, fmt.Errorf("service %q: /etc/grafana/provisioning/alerting is %q, not the folder `dashboards contacts` writes (%s)",
			name, alerting, wantDir))
	}
	for _, v := range []string{"GF_SMTP_ENABLED", "GF_SMTP_HOST", "GF_SMTP_FROM_ADDRESS"} {
		if svc.Environment[v] == "" {
			errs = append(errs, fmt.Errorf("service %q: %s is not set: the alerts' e-mail goes nowhere", name, v))
		}
	}
	want := chquery.PluginType + "@" + chquery.PluginVersion
	if !slices.Contains(strings.Split(svc.Environment["GF_PLUGINS_PREINSTALL_SYNC"], ","), want) {
		errs = append(errs, fmt.Errorf("service %q: GF_PLUGINS_PREINSTALL_SYNC does not install %s", name, want))
	}
	return errs
}

// oneShot reports whether a service is a job that others wait to complete, which needs no healthcheck.
func (s stack) oneShot(name string) bool {
	if s.compose.Services[name].Restart != "no" {
		return false
	}
	for _, other := range s.compose.Services {
		if other.DependsOn[name].Condition == "service_completed_successfully" {
			return true
		}
	}
	return false
}

func checkHealth(s stack) []error {
	var errs []error
	for _, name := range s.sortedServices() {
		svc := s.compose.Services[name]
		hc := svc.Healthcheck
		switch {
		case s.oneShot(name):
			// Waited for by completion; a check would run the image's projector healthcheck in it.
		case hc == nil:
			// Even for our image: its HEALTHCHECK is the projector's, wrong for the intake.
			errs = append(errs, fmt.Errorf("service %q: no healthcheck", name))
		case hc != nil && hc.Disable:
			errs = append(errs, fmt.Errorf("service %q: healthcheck disabled, but it is not a one-shot job (restart: \"no\", waited for with service_completed_successfully)", name))
		case len(hc.Test) < 2 || (hc.Test[0] != "CMD" && hc.Test[0] != "CMD-SHELL"):
			errs = append(errs, fmt.Errorf("service %q: healthcheck test %q: want [CMD, …] or [CMD-SHELL, …]", name, hc.Test))
		case svc.built():
			// Our image holds no shell: the check is the command's own healthcheck, of the same command.
			cmd, ok := s.commandOf(hc.Test[1:])
			if hc.Test[0] != "CMD" || !ok || !strings.HasSuffix(cmd, " healthcheck") || len(svc.Command) == 0 ||
				!strings.HasPrefix(cmd, svc.Command[0]+" ") {
				errs = append(errs, fmt.Errorf("service %q: healthcheck %q is not the healthcheck subcommand of %q", name, hc.Test, svc.Command))
			}
		}
		if !s.oneShot(name) && !slices.Contains([]string{"unless-stopped", "always", "on-failure"}, svc.Restart) {
			errs = append(errs, fmt.Errorf("service %q: restart policy %q (want unless-stopped, always or on-failure)", name, svc.Restart))
		}
		for _, dep := range slices.Sorted(maps.Keys(svc.DependsOn)) {
			target, ok := s.compose.Services[dep]
			cond := svc.DependsOn[dep].Condition
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("service %q: depends on %q, which is not a service", name, dep))
			case cond == "service_healthy" && (target.Healthcheck == nil || target.Healthcheck.Disable):
				errs = append(errs, fmt.Errorf("service %q: depends on %q being healthy, which has no healthcheck", name, dep))
			case cond == "service_completed_successfully" && !s.oneShot(dep):
				errs = append(errs, fmt.Errorf("service %q: waits for %q to complete, which is not a one-shot job", name, dep))
			case cond != "service_healthy" && cond != "service_completed_successfully":
				errs = append(errs, fmt.Errorf("service %q: depends on %q with condition %q: want service_healthy (or service_completed_successfully for a job)", name, dep, cond))
			}
		}
	}
	return errs
}

// listenVars are the variables that set where our commands listen.
var listenVars = []string{"EGOV_SERVE_ADDR", "EGOV_PROJECTOR_METRICS_ADDR"}

// defaultPorts are the ports the other images listen on, by image name, as their configuration in this repository
// or their defaults set them.
var defaultPorts = map[string]string{"grafana/grafana": "3000", "nats": "4222"}

// published is the container ports a service publishes, from short-syntax ports ([ip:]host:container[/proto]).
func published(svc service) map[string]bool {
	out := map[string]bool{}
	for _, p := range svc.Ports {
		p, _, _ = strings.Cut(p, "/")
		parts := strings.Split(p, ":")
		out[parts[len(parts)-1]] = true
	}
	return out
}

func checkPorts(s stack) []error {
	var errs []error
	for _, name := range s.sortedServices() {
		svc := s.compose.Services[name]
		ports := published(svc)
		var want []string
		if svc.built() {
			cmd, _ := s.commandOf(svc.Command)
			reads := s.commands[cmd]
			for _, v := range listenVars {
				addr, ok := svc.Environment[v]
				if !ok {
					continue
				}
				if !reads[v] {
					errs = append(errs, fmt.Errorf("service %q: %s is set but not read by %s, so it listens on no port it says", name, v, svc.Command[0]))
					continue
				}
				host, port, err := net.SplitHostPort(addr)
				switch {
				case err != nil:
					errs = append(errs, fmt.Errorf("service %q: %s is %q: %w", name, v, addr, err))
					continue
				case host != "" && net.ParseIP(host) != nil && net.ParseIP(host).IsLoopback():
					// Docker forwards published ports to the container's interface, never its loopback.
					errs = append(errs, fmt.Errorf("service %q: %s is %s, which is the container's own loopback: publish and healthcheck cannot reach it (want 0.0.0.0:%s)", name, v, addr, port))
				}
				if !ports[port] {
					errs = append(errs, fmt.Errorf("service %q: listens on %s (%s) but publishes no such port", name, port, v))
				}
				want = append(want, port)
			}
		} else {
			image, _, _ := strings.Cut(svc.Image, ":")
			if p, ok := defaultPorts[image]; ok {
				if !ports[p] {
					errs = append(errs, fmt.Errorf("service %q: %s listens on %s but the service does not publish it", name, image, p))
				}
				want = append(want, p)
			}
		}
		if len(want) > 0 && len(svc.Ports) == 0 {
			errs = append(errs, fmt.Errorf("service %q: publishes no port", name))
		}
	}
	return errs
}

// The NATS server mounted into the nats service stores the stream durably on a volume, and finds its
// authorisation beside its configuration.
func TestComposeNATSServer(t *testing.T) {
	s := loadStack(t, "compose.yaml", ".env.example")
	svc, ok := s.compose.Services["nats"]
	if !ok {
		t.Fatal("compose.yaml has no nats service")
	}
	mounts := map[string]volume{}
	for _, v := range svc.Volumes {
		vol, err := parseVolume(v)
		if err != nil {
			t.Fatal(err)
		}
		mounts[vol.target] = vol
	}
	confPath := ""
	for i, arg := range svc.Command {
		if (arg == "--config" || arg == "-c") && i+1 < len(svc.Command) {
			confPath = svc.Command[i+1]
		}
	}
	conf, ok := mounts[confPath]
	if !ok {
		t.Fatalf("the nats command's configuration %q is not mounted", confPath)
	}
	b, err := os.ReadFile(filepath.Join(s.dir, conf.source))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if !regexp.MustCompile(`(?m)^\s*sync_interval:\s*always\s*$`).MatchString(text) {
		t.Errorf("%s: no sync_interval: always: acknowledged events could be lost on power loss", conf.source)
	}
	storeDir := regexp.MustCompile(`(?m)^\s*store_dir:\s*(\S+)`).FindStringSubmatch(text)
	if storeDir == nil {
		t.Fatalf("%s: no store_dir", conf.source)
	}
	if vol, ok := mounts[storeDir[1]]; !ok || hostPath(vol.source) {
		t.Errorf("store_dir %s is not a named volume of the nats service: the stream would not outlive the container", storeDir[1])
	}
	for _, inc := range regexp.MustCompile(`(?m)^\s*include\s+(\S+)`).FindAllStringSubmatch(text, -1) {
		target := filepath.Join(filepath.Dir(confPath), inc[1])
		if _, ok := mounts[target]; !ok {
			t.Errorf("%s includes %s, which is not mounted at %s", conf.source, inc[1], target)
		}
	}
	// The published client port is the one the server listens on.
	listen := regexp.MustCompile(`(?m)^\s*listen:\s*\S*:(\d+)\s*$`).FindStringSubmatch(text)
	if listen == nil || !published(svc)[listen[1]] || listen[1] != defaultPorts["nats"] {
		t.Errorf("%s listens on %v; the service publishes %v (checkPorts expects %s)", conf.source, listen, svc.Ports, defaultPorts["nats"])
	}
}

// Grafana's dashboards are mounted where the provisioned dashboard provider reads them.
func TestComposeGrafanaDashboards(t *testing.T) {
	s := loadStack(t, "compose.yaml", ".env.example")
	svc := s.compose.Services["grafana"]
	b, err := os.ReadFile(filepath.Join("grafana", "provisioning", "dashboards", "egovtrack.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var prov struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal(b, &prov); err != nil {
		t.Fatal(err)
	}
	if len(prov.Providers) == 0 {
		t.Fatal("no dashboard provider")
	}
	for _, p := range prov.Providers {
		found := false
		for _, v := range svc.Volumes {
			if vol, err := parseVolume(v); err == nil && vol.target == p.Options.Path {
				found = true
				files, _ := filepath.Glob(filepath.Join(s.dir, vol.source, "*.json"))
				if len(files) == 0 {
					t.Errorf("%s, mounted at %s, holds no dashboard", vol.source, p.Options.Path)
				}
			}
		}
		if !found {
			t.Errorf("the dashboard provider reads %s, which nothing is mounted at", p.Options.Path)
		}
	}
}
