// Command dashboards generates egovtrack's Grafana dashboards and the files Grafana provisions them from, or posts
// the dashboards to a running Grafana.
//
//	go run ./dashboards generate
//
// writes the dashboards as JSON into $EGOV_DASHBOARDS_DIR/dashboards and the datasource and dashboards provider
// files into $EGOV_DASHBOARDS_DIR/provisioning (EGOV_DASHBOARDS_DIR defaults to deploy/grafana, so run it from the
// repository's root).
//
//	go run ./dashboards contacts
//
// writes the folder Grafana provisions its alerting from: the rules and templates, and who the alerts go to (contact
// points and notification policy) from the contacts file.
//
//	EGOV_GRAFANA_URL=https://grafana.example EGOV_GRAFANA_TOKEN=… go run ./dashboards push
//
// posts the same dashboards to Grafana's HTTP API, into the egovtrack folder, overwriting them. The dashboards
// themselves are in dashboards/board.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/egovtrack/egovtrack/dashboards/brief"
	"github.com/egovtrack/egovtrack/dashboards/provision"
	"github.com/egovtrack/egovtrack/dashboards/push"
	"github.com/egovtrack/egovtrack/internal/chdb"
	"github.com/egovtrack/egovtrack/internal/chserver"
	"github.com/egovtrack/egovtrack/internal/event"
)

// Config is what the command reads from its environment.
type Config struct {
	// Dir is the output root: dashboards/ and provisioning/ are written beneath it.
	Dir string `env:"EGOV_DASHBOARDS_DIR" envDefault:"deploy/grafana"`
	// Grafana is where push posts the dashboards.
	Grafana push.Config `envPrefix:"EGOV_GRAFANA_"`
	// ContactsFile is who alerts go to (see dashboards/alert.ReadContacts), and AlertingDir where `contacts` writes
	// the folder Grafana provisions its alerting from: the rules, the templates, and the contact points and the
	// notification policy. Both hold people's addresses, outside the repository.
	ContactsFile string `env:"EGOV_ALERT_CONTACTS_FILE" envDefault:"deploy/secrets/alert-contacts.txt"`
	// ClickHouse is the database `brief` reads (read-only is enough: the Grafana user's).
	ClickHouse chdb.Config `envPrefix:"EGOV_CLICKHOUSE_"`
	// BriefDir is where `brief` writes the briefing; Chromium prints its PDF; DemoDir is `make demo`'s data, which
	// `brief --demo` reads.
	BriefDir    string `env:"EGOV_BRIEF_DIR" envDefault:"."`
	Chromium    string `env:"EGOV_BRIEF_CHROMIUM" envDefault:"chromium"`
	DemoDir     string `env:"EGOV_DEMO_DIR" envDefault:".demo"`
	AlertingDir string `env:"EGOV_ALERT_PROVISIONING_DIR" envDefault:"deploy/secrets/grafana-alerting"`
}

const usage = `usage: dashboards generate|contacts|push|brief

generate  write the dashboards, the alert rules and Grafana's provisioning files under $EGOV_DASHBOARDS_DIR
          (default deploy/grafana)
contacts  write Grafana's alerting folder, $EGOV_ALERT_PROVISIONING_DIR (default deploy/secrets/grafana-alerting): the
          rules, the templates, and who the alerts go to from $EGOV_ALERT_CONTACTS_FILE
          (default deploy/secrets/alert-contacts.txt)
push      post the dashboards to the Grafana at $EGOV_GRAFANA_URL with the token $EGOV_GRAFANA_TOKEN
brief [--date YYYY-MM-DD] [--since YYYY-MM-DD] [--lang vi|en] [--demo]
          write the minister's briefing, HTML and PDF, into $EGOV_BRIEF_DIR (default .): for --date (default the
          latest day with data) against --since (default 7 days before), from the ClickHouse of EGOV_CLICKHOUSE_*, or
          with --demo (or when EGOV_CLICKHOUSE_ADDR is not set and there is some) from make demo's data
`

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	os.Exit(run(os.Args[1:], os.Stderr, log))
}

// run carries out one command line and returns the exit code: 2 for a usage error, 1 for a failure.
func run(args []string, stderr io.Writer, log *slog.Logger) int {
	if len(args) > 0 && args[0] == "brief" {
		return briefCommand(args[1:], stderr, log)
	}
	if len(args) != 1 || args[0] != "generate" && args[0] != "push" && args[0] != "contacts" {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var cfg Config
	if err := env.Parse(&cfg); err != nil {
		log.Error("read configuration", "err", err)
		return 1
	}
	if args[0] == "contacts" {
		c, err := provision.WriteAlerting(cfg.ContactsFile, cfg.AlertingDir)
		if err != nil {
			log.Error("contacts", "err", err)
			return 1
		}
		log.Info("wrote Grafana's alerting: rules, templates, contact points and policy", "dir", cfg.AlertingDir,
			"units_with_a_focal_point", len(c.Units))
		return 0
	}
	if args[0] == "push" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return pushAll(ctx, cfg.Grafana, log)
	}
	// The root must exist: made up from a relative default in the wrong directory, it would receive files that no
	// Grafana and no commit ever reads, and "wrote" would be true of nothing anyone meant.
	root, err := filepath.Abs(cfg.Dir)
	if err == nil {
		var fi os.FileInfo
		if fi, err = os.Stat(root); err == nil && !fi.IsDir() {
			err = fmt.Errorf("%s is not a directory", root)
		}
	}
	if err != nil {
		log.Error("generate: EGOV_DASHBOARDS_DIR must be an existing directory (deploy/grafana: run from the repository's root)", "dir", cfg.Dir, "err", err)
		return 1
	}
	files, err := provision.Write(root)
	if err != nil {
		log.Error("generate", "err", err)
		return 1
	}
	for _, f := range files {
		log.Info("wrote", "file", filepath.Join(root, filepath.FromSlash(f.Path)), "bytes", len(f.Data))
	}
	log.Info("dashboards generated", "files", len(files), "dir", root)
	return 0
}

// pushAll posts every dashboard to Grafana, into the folder provisioning uses.
func pushAll(ctx context.Context, cfg push.Config, log *slog.Logger) int {
	client, err := push.New(cfg, log)
	if err != nil {
		log.Error("push: configuration", "err", err)
		return 1
	}
	files, err := provision.Files()
	if err != nil {
		log.Error("push", "err", err)
		return 1
	}
	var dashboards []push.Dashboard
	for _, f := range files {
		if strings.HasPrefix(f.Path, provision.DashboardsDir+"/") {
			dashboards = append(dashboards, push.Dashboard{UID: strings.TrimSuffix(path.Base(f.Path), ".json"), JSON: f.Data})
		}
	}
	log.Info("pushing dashboards", "grafana", cfg, "dashboards", len(dashboards), "folder", provision.FolderUID)
	results, err := client.Push(ctx, push.Folder{UID: provision.FolderUID, Title: provision.Folder}, dashboards)
	if err != nil {
		log.Error("push", "err", err, "pushed", len(results))
		return 1
	}
	log.Info("dashboards pushed", "count", len(results))
	return 0
}

// briefCommand is `dashboards brief`.
func briefCommand(args []string, stderr io.Writer, log *slog.Logger) int {
	fs := flag.NewFlagSet("brief", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dateArg := fs.String("date", "", "the day of the briefing, YYYY-MM-DD (Vietnam); default the latest day with data")
	sinceArg := fs.String("since", "", "the day it is compared with; default 7 days before")
	lang := fs.String("lang", "vi", "vi or en")
	demo := fs.Bool("demo", false, "read make demo's data (EGOV_DEMO_DIR), starting its ClickHouse for the time it takes")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var date, since time.Time
	for _, a := range []struct {
		arg string
		t   *time.Time
	}{{*dateArg, &date}, {*sinceArg, &since}} {
		if a.arg == "" {
			continue
		}
		t, err := time.ParseInLocation(time.DateOnly, a.arg, event.Vietnam)
		if err != nil {
			fmt.Fprintf(stderr, "dashboards brief: %q is not a day (YYYY-MM-DD)\n", a.arg)
			return 2
		}
		*a.t = t
	}
	if *lang != "vi" && *lang != "en" {
		fmt.Fprintf(stderr, "dashboards brief: --lang %q: want vi or en\n", *lang)
		return 2
	}
	var cfg Config
	if err := env.Parse(&cfg); err != nil {
		log.Error("read configuration", "err", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ch := cfg.ClickHouse
	if _, set := os.LookupEnv("EGOV_CLICKHOUSE_ADDR"); !set && !*demo {
		// Nothing names a ClickHouse: the demo's data, when there is some, said loudly rather than a guessed server.
		if _, err := os.Stat(filepath.Join(cfg.DemoDir, "clickhouse")); err == nil {
			log.Warn("EGOV_CLICKHOUSE_ADDR is not set: briefing on make demo's data (as --demo)", "dir", cfg.DemoDir)
			*demo = true
		}
	}
	if *demo {
		dir := filepath.Join(cfg.DemoDir, "clickhouse")
		if _, err := os.Stat(dir); err != nil {
			log.Error("brief --demo: no demo data: run make demo first", "dir", dir)
			return 1
		}
		srv, err := chserver.StartServer(ctx, dir, log)
		if err != nil {
			log.Error("brief --demo: start the demo's ClickHouse", "err", err)
			return 1
		}
		defer srv.Stop()
		ch = srv.Config(ch.Database)
	}
	conn, err := chdb.Open(ctx, ch)
	if err != nil {
		log.Error("brief: ClickHouse", "err", err)
		return 1
	}
	defer conn.Close()
	began := time.Now()
	w, err := brief.Write(ctx, brief.Conn{Conn: conn}, date, since, *lang, cfg.BriefDir, cfg.Chromium, brief.DefaultFonts)
	if err != nil {
		log.Error("brief", "err", err)
		return 1
	}
	log.Info("briefing written", "html", w.HTML, "pdf", w.PDF, "date", w.Figures.Date.Format(time.DateOnly),
		"as_of", w.Figures.AsOf.Format(time.DateOnly), "took", time.Since(began).Round(10*time.Millisecond))
	return 0
}
