// Command dashboards generates egovtrack's Grafana dashboards and the files Grafana provisions them from.
//
//	go run ./dashboards generate
//
// writes the dashboards as JSON into $EGOV_DASHBOARDS_DIR/dashboards and the datasource and dashboards provider
// files into $EGOV_DASHBOARDS_DIR/provisioning (EGOV_DASHBOARDS_DIR defaults to deploy/grafana, so run it from the
// repository's root). The dashboards themselves are in dashboards/board.
package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/caarlos0/env/v11"

	"github.com/egovtrack/egovtrack/dashboards/provision"
)

// Config is what the command reads from its environment.
type Config struct {
	// Dir is the output root: dashboards/ and provisioning/ are written beneath it.
	Dir string `env:"EGOV_DASHBOARDS_DIR" envDefault:"deploy/grafana"`
}

const usage = `usage: dashboards generate

generate  write the dashboards and Grafana's provisioning files under $EGOV_DASHBOARDS_DIR (default deploy/grafana)
`

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	os.Exit(run(os.Args[1:], os.Stderr, log))
}

// run carries out one command line and returns the exit code: 2 for a usage error, 1 for a failure.
func run(args []string, stderr io.Writer, log *slog.Logger) int {
	if len(args) != 1 || args[0] != "generate" {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var cfg Config
	if err := env.Parse(&cfg); err != nil {
		log.Error("read configuration", "err", err)
		return 1
	}
	files, err := provision.Write(cfg.Dir)
	if err != nil {
		log.Error("generate", "err", err)
		return 1
	}
	for _, f := range files {
		log.Info("wrote", "file", filepath.Join(cfg.Dir, filepath.FromSlash(f.Path)), "bytes", len(f.Data))
	}
	return 0
}
