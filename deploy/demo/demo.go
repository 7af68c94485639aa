package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/egovtrack/egovtrack/collectors/simulate"
	"github.com/egovtrack/egovtrack/dashboards/provision"
	"github.com/egovtrack/egovtrack/internal/chdb"
	"github.com/egovtrack/egovtrack/internal/chserver"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/natsauth"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/embedded"
	"github.com/egovtrack/egovtrack/projector/consumer"
	"github.com/egovtrack/egovtrack/projector/projection"
)

// config is the demo's environment: the same variables as the commands', plus where the demo keeps its data.
type config struct {
	NATS       stream.Config   `envPrefix:"EGOV_NATS_"`
	ClickHouse chdb.Config     `envPrefix:"EGOV_CLICKHOUSE_"`
	Consumer   consumer.Config `envPrefix:"EGOV_PROJECTOR_"`
	Seed       uint64          `env:"EGOV_SIM_SEED" envDefault:"2021"`
	// Through2025 runs the simulation on past 2021 to the end of 2025, through the 2025 reorganisation.
	Through2025 bool `env:"EGOV_DEMO_THROUGH_2025" envDefault:"false"`
	// DossiersPerDay is each unit's mean dossiers received a working day, July to December 2021, for Decision 766's
	// scorecard; 0 leaves dossiers out.
	DossiersPerDay float64 `env:"EGOV_DEMO_DOSSIERS_PER_DAY" envDefault:"2"`
	// Dir holds the embedded NATS store, the local ClickHouse's data (when one is started) and the dashboards.
	Dir      string     `env:"EGOV_DEMO_DIR" envDefault:".demo"`
	LogLevel slog.Level `env:"EGOV_LOG_LEVEL" envDefault:"info"`
}

func (c config) natsDir() string       { return filepath.Join(c.Dir, "nats") }
func (c config) keysDir() string       { return filepath.Join(c.Dir, "nats-keys") }
func (c config) clickhouseDir() string { return filepath.Join(c.Dir, "clickhouse") }
func (c config) grafanaDir() string    { return filepath.Join(c.Dir, "grafana") }

// demo runs the whole path once: simulate → JetStream → projector → ClickHouse → dashboards, then the summary.
func demo(ctx context.Context, cfg config, out io.Writer, log *slog.Logger) (summary, error) {
	var sum summary
	began := time.Now()

	// One embedded server for the whole run, shared by the collector and the projector as a real one would be, with
	// the authorisation a real one has: the collector publishes as the office, the projector consumes as itself and
	// checks every event's signature. The demo asks for it (EGOV_NATS_EMBEDDED) unless EGOV_NATS_URL names a server:
	// running on a private server is what a demo is for, and what no command does by itself.
	if cfg.NATS.URL == "" {
		cfg.NATS.Embedded = true
	}
	if err := cfg.NATS.Validate(); err != nil {
		return sum, err
	}
	office, projector := cfg.NATS, cfg.NATS
	if cfg.NATS.Embedded {
		cfg.NATS.StoreDir = cfg.natsDir()
		signers := filepath.Join(cfg.keysDir(), "nkeys.txt")
		keys, err := natsauth.EnsureKeys(signers, cfg.keysDir(), nil, io.Discard)
		if err != nil {
			return sum, err
		}
		auth, err := natsauth.New(keys, cfg.NATS.Stream, cfg.Consumer.Durable)
		if err != nil {
			return sum, err
		}
		sc := cfg.NATS.EmbeddedServer()
		sc.Auth, sc.Log = auth, log
		srv, err := embedded.Start(sc)
		if err != nil {
			return sum, err
		}
		defer srv.Stop()
		cfg.NATS.URL, cfg.NATS.Embedded = srv.ClientURL(), false // the clients connect to it as to any server
		office, projector = cfg.NATS, cfg.NATS
		office.NkeySeedFile, office.ManageStream = natsauth.SeedFile(cfg.keysDir(), natsauth.OfficeName), true
		projector.NkeySeedFile = natsauth.SeedFile(cfg.keysDir(), natsauth.ProjectorName)
		cfg.Consumer.SignersFile, cfg.Consumer.RequireSignature = signers, true
		fmt.Fprintf(out, "NATS JetStream: embedded server, data in %s; %d credentials, their seeds in %s\n",
			cfg.NATS.StoreDir, len(auth.Users), cfg.keysDir())
	} else {
		fmt.Fprintf(out, "NATS JetStream: %s\n", cfg.NATS.RedactedURL())
	}

	chCfg, stopCH, err := chserver.Ensure(ctx, cfg.ClickHouse, cfg.clickhouseDir(), log)
	if err != nil {
		return sum, err
	}
	defer func() {
		if err := stopCH(); err != nil {
			log.Warn("stop local ClickHouse", "err", err)
		}
	}()
	local := chCfg.Addr != cfg.ClickHouse.Addr
	if local {
		fmt.Fprintf(out, "ClickHouse: local clickhouse-server at %s, data in %s\n", chCfg.Addr, cfg.clickhouseDir())
	} else {
		fmt.Fprintf(out, "ClickHouse: %s\n", chCfg.Addr)
	}

	oc, err := stream.Connect(ctx, office, log)
	if err != nil {
		return sum, err
	}
	defer oc.Close()

	o, what, err := simulation(cfg)
	if err != nil {
		return sum, err
	}
	fmt.Fprintf(out, "1/4 collectors simulate: publishing %s for every ministry and province…\n", what)
	if o.DossiersPerDay > 0 {
		fmt.Fprintf(out, "    and their dossiers (hồ sơ) from %s to %s, %v received a working day by each unit on average\n",
			o.Start.Format("02/01/2006"), o.End.AddDate(0, 0, -1).Format("02/01/2006"), o.DossiersPerDay)
	}
	res, err := simulate.Run(ctx, oc, o, os.Stderr, log)
	if err != nil {
		return sum, err
	}
	fmt.Fprintf(out, "    %d events stored, %d already in the stream\n", res.Stored, res.Duplicates)

	fmt.Fprintln(out, "2/4 projector: writing the stream into ClickHouse until caught up…")
	conn, err := chdb.Open(ctx, chCfg)
	if err != nil {
		return sum, err
	}
	defer conn.Close()
	nc, err := stream.Connect(ctx, projector, log)
	if err != nil {
		return sum, err
	}
	defer nc.Close()
	s, err := nc.Stream(ctx)
	if err != nil {
		return sum, err
	}
	stats, err := projection.New(conn, s, projection.Config{Consumer: cfg.Consumer, UntilCaughtUp: true}, nil, log).Run(ctx)
	if err != nil {
		return sum, err
	}
	// The consumer's Projected counts the repeats it skipped too: a second demo writes none of them again.
	fmt.Fprintf(out, "    %d events projected, %d already written (skipped), %d rejected, in %d batches\n",
		stats.Projected-stats.Skipped, stats.Skipped, stats.Rejected, stats.Batches)

	fmt.Fprintln(out, "3/4 dashboards generate…")
	files, err := provision.Write(cfg.grafanaDir())
	if err != nil {
		return sum, err
	}
	fmt.Fprintf(out, "    %d files written under %s\n", len(files), cfg.grafanaDir())

	fmt.Fprintln(out, "4/4 summary, queried from ClickHouse:")
	sum, err = summarise(ctx, conn, scoredMonth(o))
	if err != nil {
		return sum, err
	}
	sum.print(out)

	fmt.Fprintf(out, "\nDone in %s. Nothing is left running.\n", time.Since(began).Round(100*time.Millisecond))
	fmt.Fprintf(out, "  dashboards JSON: %s (the committed copy: deploy/grafana/dashboards)\n", filepath.Join(cfg.grafanaDir(), provision.DashboardsDir))
	if local {
		fmt.Fprintf(out, "  ClickHouse data: %s — look at it with `make demo-sql` (interactive) or\n", cfg.clickhouseDir())
		fmt.Fprintln(out, "    make demo-sql Q='SELECT * FROM coverage_daily FINAL ORDER BY day DESC LIMIT 10'")
	} else {
		fmt.Fprintf(out, "  ClickHouse data: database %s at %s\n", chCfg.Database, chCfg.Addr)
	}
	return sum, nil
}

// simulation is what the demo simulates, and its description.
func simulation(cfg config) (simulate.Options, string, error) {
	if cfg.DossiersPerDay < 0 {
		return simulate.Options{}, "", fmt.Errorf("EGOV_DEMO_DOSSIERS_PER_DAY is %v: want 0 (no dossiers) or more", cfg.DossiersPerDay)
	}
	o := simulate.Campaign2021(cfg.Seed)
	what := "the second half of 2021"
	if cfg.Through2025 {
		var err error
		if o, err = simulate.Through2025(cfg.Seed); err != nil {
			return o, "", err
		}
		what = "2021 to 2025, through the 2025 reorganisation (34 provinces, 17 ministerial bodies),"
	}
	o.DossiersPerDay = cfg.DossiersPerDay
	return o, what, nil
}

// scoredMonth is the month whose Decision 766 scores the summary prints: the dossiers' last, given by its first day;
// zero without dossiers.
func scoredMonth(o simulate.Options) time.Time {
	if o.DossiersPerDay <= 0 {
		return time.Time{}
	}
	last := o.End.AddDate(0, 0, -1) // End is the first day without facts
	return time.Date(last.Year(), last.Month(), 1, 0, 0, 0, 0, event.Vietnam)
}

// sqlShell starts the demo's local ClickHouse on its data and hands the terminal to clickhouse-client, with query
// as its only query when not empty.
func sqlShell(ctx context.Context, cfg config, query string, log *slog.Logger) error {
	if _, err := os.Stat(cfg.clickhouseDir()); err != nil {
		return fmt.Errorf("no demo data in %s: run `make demo` first", cfg.clickhouseDir())
	}
	srv, err := chserver.StartServer(ctx, cfg.clickhouseDir(), log)
	if err != nil {
		return err
	}
	defer srv.Stop()
	return runClient(ctx, srv.Config(cfg.ClickHouse.Database), query)
}
