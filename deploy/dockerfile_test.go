package deploy_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, its continuation lines joined.
type instruction struct {
	line    int
	keyword string // upper case
	args    string
}

// stage is a FROM and the instructions under it.
type stage struct {
	from, name string
	line       int
	body       []instruction
}

// parseDockerfile reads a Dockerfile's instructions, grouped by stage: continuation lines (a trailing backslash,
// the default escape character) joined, comments and parser directives skipped. Heredocs are refused, since a
// command inside one would go unchecked.
func parseDockerfile(path string) ([]stage, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		stages  []stage
		pending strings.Builder
		start   int
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && pending.Len() == 0) {
			continue // inside a continuation too, as Docker does
		}
		if pending.Len() == 0 {
			start = n
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			pending.WriteString(cont + " ")
			continue
		}
		pending.WriteString(line)
		text := strings.TrimSpace(pending.String())
		pending.Reset()
		if text == "" {
			continue
		}
		keyword, args, _ := strings.Cut(text, " ")
		in := instruction{line: start, keyword: strings.ToUpper(keyword), args: strings.TrimSpace(args)}
		if strings.Contains(in.args, "<<") {
			return nil, fmt.Errorf("%s:%d: a heredoc, which this test cannot read", path, start)
		}
		if in.keyword == "FROM" {
			fields := slices.DeleteFunc(strings.Fields(in.args), func(s string) bool { return strings.HasPrefix(s, "--") })
			if len(fields) == 0 {
				return nil, fmt.Errorf("%s:%d: FROM without an image", path, start)
			}
			st := stage{from: fields[0], line: start}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				st.name = fields[2]
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			if in.keyword == "ARG" {
				continue // an ARG before the first FROM
			}
			return nil, fmt.Errorf("%s:%d: %s before FROM", path, start, in.keyword)
		}
		stages[len(stages)-1].body = append(stages[len(stages)-1].body, in)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if pending.Len() > 0 {
		return nil, fmt.Errorf("%s: ends inside a continuation line", path)
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("%s: no FROM", path)
	}
	return stages, nil
}

// execForm reads a JSON-array argument (CMD ["projector", "run"]); shell form is refused, as the final image has no
// shell.
func execForm(args string) ([]string, error) {
	var out []string
	if err := json.Unmarshal([]byte(args), &out); err != nil || len(out) == 0 {
		return nil, fmt.Errorf("%q: want the exec form, a JSON array (the image has no shell)", args)
	}
	return out, nil
}

// goBuild is one `go build -o OUT PKG` found in a RUN.
type goBuild struct {
	out, pkg string
	cgoOff   bool
	line     int
}

// goBuilds finds the go build commands of a stage's RUN instructions, and whether each runs with CGO_ENABLED=0
// (from the stage's ENV, or set on the command).
func goBuilds(st stage) []goBuild {
	var builds []goBuild
	cgoOff := false
	for _, in := range st.body {
		switch in.keyword {
		case "ENV":
			if regexp.MustCompile(`(^|\s)CGO_ENABLED[= ]0(\s|$)`).MatchString(in.args) {
				cgoOff = true
			}
		case "RUN":
			args := in.args
			for strings.HasPrefix(args, "--") { // RUN --mount=…
				_, args, _ = strings.Cut(args, " ")
			}
			for _, cmd := range regexp.MustCompile(`&&|;|\|\|`).Split(args, -1) {
				words := shellWords(cmd)
				i := slices.Index(words, "go")
				if i < 0 || i+1 >= len(words) || words[i+1] != "build" {
					continue
				}
				b := goBuild{cgoOff: cgoOff || slices.Contains(words[:i], "CGO_ENABLED=0"), line: in.line}
				for j := i + 2; j < len(words); j++ {
					w := words[j]
					switch {
					case w == "-o" && j+1 < len(words):
						b.out = words[j+1]
						j++
					case goBuildValueFlags[w]:
						j++ // its value is the next word
					case strings.HasPrefix(w, "-"):
					default:
						b.pkg = w
					}
				}
				builds = append(builds, b)
			}
		}
	}
	return builds
}

// goBuildValueFlags are the go build flags whose value may be the next word.
var goBuildValueFlags = map[string]bool{
	"-ldflags": true, "-gcflags": true, "-asmflags": true, "-tags": true, "-mod": true, "-p": true, "-C": true,
	"-pgo": true, "-buildmode": true, "-installsuffix": true, "-overlay": true, "-pkgdir": true, "-toolexec": true,
}

// shellWords splits a command line into words as a shell would for the simple commands of a RUN: on blanks, with
// single and double quotes grouping and removed.
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// dockerPath is the PATH a container has when its image sets none.
const dockerPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// image is what checkDockerfile learns of the final image: the commands on its PATH, by name.
type image struct {
	commands map[string]string // name → path in the image
}

// checkDockerfile checks the Dockerfile on its own (pinned bases, static builds of main packages, a non-root user, a
// health check) and returns the commands the final image holds.
func checkDockerfile(dfPath, root string) (image, []error) {
	img := image{commands: map[string]string{}}
	stages, err := parseDockerfile(dfPath)
	if err != nil {
		return img, []error{err}
	}
	var errs []error
	bad := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s", filepath.Base(dfPath), line, fmt.Sprintf(format, args...)))
	}
	built := map[string]map[string]goBuild{} // stage name → output path → build
	for i, st := range stages {
		isStage := slices.ContainsFunc(stages[:i], func(s stage) bool { return s.name != "" && s.name == st.from })
		if st.from != "scratch" && !isStage && !pinned(st.from) {
			bad(st.line, "FROM %s: not pinned to a release (want name:major.minor… or name@sha256:…)", st.from)
		}
		for _, b := range goBuilds(st) {
			if b.out == "" || b.pkg == "" {
				bad(b.line, "go build without both -o and a package: cannot tell what it builds")
				continue
			}
			if !b.cgoOff {
				bad(b.line, "go build -o %s %s without CGO_ENABLED=0: not a static binary", b.out, b.pkg)
			}
			if !mainPackage(filepath.Join(root, filepath.FromSlash(b.pkg))) {
				bad(b.line, "go build %s: not a main package in the repository", b.pkg)
			}
			if built[st.name] == nil {
				built[st.name] = map[string]goBuild{}
			}
			built[st.name][b.out] = b
		}
	}
	final := stages[len(stages)-1]
	pathDirs := strings.Split(dockerPath, ":")
	var user, health, cmd *instruction
	for _, in := range final.body {
		switch in.keyword {
		case "ENV":
			if v, ok := strings.CutPrefix(in.args, "PATH="); ok {
				pathDirs = strings.Split(strings.Trim(v, `"`), ":")
			}
		case "USER":
			user = &in
		case "HEALTHCHECK":
			health = &in
		case "CMD", "ENTRYPOINT":
			cmd = &in
		case "COPY":
			words := strings.Fields(in.args)
			var from string
			var rest []string
			for _, w := range words {
				if v, ok := strings.CutPrefix(w, "--from="); ok {
					from = v
				} else if !strings.HasPrefix(w, "--") {
					rest = append(rest, w)
				}
			}
			if from == "" || len(rest) < 2 {
				continue
			}
			srcs, dst := rest[:len(rest)-1], rest[len(rest)-1]
			for _, src := range srcs {
				if _, ok := built[from][src]; !ok {
					continue
				}
				target := dst
				if strings.HasSuffix(dst, "/") || len(srcs) > 1 {
					target = path.Join(dst, path.Base(src))
				}
				if slices.Contains(pathDirs, path.Dir(target)) {
					img.commands[path.Base(target)] = target
				} else {
					bad(in.line, "%s is copied to %s, which is not on the image's PATH %v", src, target, pathDirs)
				}
			}
		}
	}
	switch {
	case user == nil:
		bad(final.line, "the final stage sets no USER: it would run as root")
	default:
		name, _, _ := strings.Cut(user.args, ":")
		if name == "root" || name == "0" || name == "" {
			bad(user.line, "the final stage runs as root (USER %s)", user.args)
		}
	}
	if health == nil {
		bad(final.line, "the final stage has no HEALTHCHECK")
	} else {
		_, after, ok := strings.Cut(health.args, "CMD ")
		if !ok {
			bad(health.line, "HEALTHCHECK %s: want HEALTHCHECK [options] CMD [...]", health.args)
		} else if argv, err := execForm(strings.TrimSpace(after)); err != nil {
			bad(health.line, "HEALTHCHECK: %v", err)
		} else if _, ok := img.commands[argv[0]]; !ok {
			bad(health.line, "HEALTHCHECK runs %s, which the image does not hold", argv[0])
		}
	}
	if cmd == nil {
		bad(final.line, "the final stage has no CMD or ENTRYPOINT")
	} else if argv, err := execForm(cmd.args); err != nil {
		bad(cmd.line, "%s: %v", cmd.keyword, err)
	} else if _, ok := img.commands[argv[0]]; !ok {
		bad(cmd.line, "%s runs %s, which the image does not hold", cmd.keyword, argv[0])
	}
	return img, errs
}

// mainPackage reports whether dir holds a Go main package.
func mainPackage(dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err == nil && regexp.MustCompile(`(?m)^package main$`).Match(b) {
			return true
		}
	}
	return false
}

// checkImageRuns: every command a built service runs, and its health check, is a command the image holds.
func checkImageRuns(s stack, img image) []error {
	var errs []error
	for _, name := range s.sortedServices() {
		svc := s.compose.Services[name]
		if !svc.built() {
			continue
		}
		if len(svc.Command) == 0 {
			errs = append(errs, fmt.Errorf("service %q: no command: say which of the image's commands it runs", name))
			continue
		}
		if _, ok := img.commands[svc.Command[0]]; !ok {
			errs = append(errs, fmt.Errorf("service %q: compose runs %q, which the image does not build", name, svc.Command[0]))
		}
		if hc := svc.Healthcheck; hc != nil && !hc.Disable && len(hc.Test) > 1 {
			if _, ok := img.commands[hc.Test[1]]; !ok {
				errs = append(errs, fmt.Errorf("service %q: its healthcheck runs %q, which the image does not build", name, hc.Test[1]))
			}
		}
	}
	return errs
}

// The Dockerfile builds, statically and from main packages, every command compose.yaml runs in our image, and runs
// them as an unprivileged user with a health check, on pinned base images.
func TestDockerfile(t *testing.T) {
	s := loadStack(t, "compose.yaml", ".env.example")
	img, errs := checkDockerfile("Dockerfile", s.root)
	for _, err := range errs {
		t.Error(err)
	}
	if len(img.commands) == 0 {
		t.Fatal("the image holds no command")
	}
	for _, err := range checkImageRuns(s, img) {
		t.Error(err)
	}
}

// testdata/broken.Dockerfile fails every check, each with its reason.
func TestDockerfileChecksRejectBrokenDockerfile(t *testing.T) {
	s := loadStack(t, "compose.yaml", ".env.example")
	img, errs := checkDockerfile(filepath.Join("testdata", "broken.Dockerfile"), s.root)
	errs = append(errs, checkImageRuns(s, img)...)
	var got []string
	for _, err := range errs {
		got = append(got, err.Error())
	}
	for _, want := range []string{
		"FROM golang:latest: not pinned",
		"FROM debian: not pinned",
		"go build -o /out/projector ./projector without CGO_ENABLED=0",
		"go build ./nowhere: not a main package",
		"/out/tool is copied to /opt/tool, which is not on the image's PATH",
		"the final stage runs as root (USER root)",
		"the final stage has no HEALTHCHECK",
		`CMD: "projector run": want the exec form`,
		`service "intake": compose runs "collectors", which the image does not build`,
	} {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, want) }) {
			t.Errorf("no error says %q; got:\n\t%s", want, strings.Join(got, "\n\t"))
		}
	}
}

func TestParseDockerfile(t *testing.T) {
	dir := t.TempDir()
	write := func(text string) string {
		p := filepath.Join(dir, "Dockerfile")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stages, err := parseDockerfile(write("# syntax=docker/dockerfile:1\nARG V=1\nFROM --platform=$BUILDPLATFORM golang:1.26.8 AS build\n" +
		"RUN go build \\\n  # a comment inside\n  -o /out/x \\\n  ./x\nFROM scratch\nUSER 65532\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) != 2 || stages[0].name != "build" || stages[0].from != "golang:1.26.8" || stages[1].from != "scratch" {
		t.Fatalf("stages = %+v", stages)
	}
	if got := stages[0].body[0]; got.keyword != "RUN" || got.line != 4 || got.args != "go build  -o /out/x  ./x" {
		t.Errorf("the continued RUN = %+v", got)
	}
	for _, bad := range []string{"RUN x\n", "FROM x\nRUN a \\\n", "FROM x\nRUN <<EOF\nmake\nEOF\n"} {
		if _, err := parseDockerfile(write(bad)); err == nil {
			t.Errorf("parseDockerfile(%q) = nil error", bad)
		}
	}
}

func TestPinned(t *testing.T) {
	for ref, want := range map[string]bool{
		"nats:2.15.2-alpine":                     true,
		"clickhouse/clickhouse-server:25.8.33.6": true,
		"golang:1.26.8-alpine":                   true,
		"registry.example:5000/egov/app:1.2.3":   true,
		"nats@sha256:" + strings.Repeat("a", 64): true,
		"nats":                                   false,
		"nats:latest":                            false,
		"nats:2":                                 false,
		"nats:alpine":                            false,
		"registry.example:5000/egov/app":         false,
		"nats:${TAG}":                            false,
		"nats@sha256:abc":                        false,
	} {
		if got := pinned(ref); got != want {
			t.Errorf("pinned(%q) = %v, want %v", ref, got, want)
		}
	}
}

// The build context, the repository's root, leaves out the seeds, the tokens and .env that compose.yaml reads:
// anything sent to the builder may stay in its cache.
func TestDockerignoreKeepsSecretsOut(t *testing.T) {
	s := loadStack(t, "compose.yaml", ".env.example")
	b, err := os.ReadFile("Dockerfile.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	ignored := func(rel string) bool {
		for _, p := range patterns {
			if glob, ok := strings.CutPrefix(p, "**/"); ok {
				if m, _ := path.Match(glob, path.Base(rel)); m {
					return true
				}
			}
			if m, _ := path.Match(p, rel); m || strings.HasPrefix(rel, p+"/") {
				return true
			}
		}
		return false
	}
	paths := []string{"deploy/.env", ".env"}
	for _, sec := range s.compose.Secrets {
		abs, err := filepath.Abs(filepath.Join(s.dir, sec.File))
		if err != nil {
			t.Fatal(err)
		}
		rel, err := filepath.Rel(s.root, abs)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, filepath.ToSlash(rel))
	}
	for _, p := range paths {
		if !ignored(p) {
			t.Errorf("Dockerfile.dockerignore lets %s into the build context", p)
		}
	}
	// And the sources the build needs stay in.
	for _, p := range []string{"go.mod", "projector/main.go", "collectors/main.go", "internal/units/units.csv"} {
		if ignored(p) {
			t.Errorf("Dockerfile.dockerignore leaves out %s, which the build needs", p)
		}
	}
}
