package deploy_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/egovtrack/egovtrack/collectors/simulate"
	"github.com/egovtrack/egovtrack/dashboards/board"
	"github.com/egovtrack/egovtrack/dashboards/chquery"
	"github.com/egovtrack/egovtrack/internal/chdb"
	"github.com/egovtrack/egovtrack/internal/chserver"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
	"github.com/egovtrack/egovtrack/projector/store"
)

// grafanaUsers is the file compose.yaml mounts into ClickHouse's users.d: the read-only user Grafana reads as.
const grafanaUsers = "clickhouse/users.d/egov-grafana.xml"

// TestGrafanaReadsOnly starts a real ClickHouse with the very users.d file compose.yaml mounts, projects a few units'
// campaign into egov as the projector's user, and then, as egov_grafana, the user Grafana's datasource reads as (its
// password from the environment, as compose gives it): every panel of every dashboard and every variable runs, and
// nothing that would change a figure does. Grafana once read with the projector's read-write user.
func TestGrafanaReadsOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "users.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	xml, err := os.ReadFile(grafanaUsers)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.d", "egov-grafana.xml"), xml, 0o644); err != nil {
		t.Fatal(err)
	}
	const password = "a-long-random-password-for-grafana"
	t.Setenv("EGOV_GRAFANA_CLICKHOUSE_PASSWORD", password) // the server reads it at start, as compose sets it
	srv, err := chserver.StartServerAs(ctx, dir, slog.New(slog.DiscardHandler), chserver.ServerUser{Name: "egov", Password: "projector-password"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("ClickHouse server logs:\n%s", srv.LogTail(30))
		}
		_ = srv.Stop()
	})

	// The projector's user writes a few units' campaign.
	projector, err := chdb.Open(ctx, srv.Config("egov"))
	if err != nil {
		t.Fatal(err)
	}
	defer projector.Close()
	st, err := store.Open(ctx, projector, slog.New(slog.DiscardHandler), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	o := simulate.Campaign2021(7)
	all := units.All()
	o.Units = []units.Unit{all[0], all[18], all[len(all)-1]}
	envs, err := simulate.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]store.Record, len(envs))
	for i, env := range envs {
		d, err := env.UncheckedData() // made and validated by simulate
		if err != nil {
			t.Fatal(err)
		}
		recs[i] = store.Record{Env: env, Data: d, Seq: uint64(i + 1), ReceivedAt: time.Now()}
	}
	if err := st.Write(ctx, recs, nil); err != nil {
		t.Fatal(err)
	}
	countAll := func() string {
		var b strings.Builder
		for _, table := range []string{"events", "procedure_changes", "procedures", "coverage_daily", "targets", "units", "quarantine"} {
			var n uint64
			if err := projector.QueryRow(ctx, "SELECT count() FROM "+table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s %d; ", table, n)
		}
		return b.String()
	}
	before := countAll()

	// Grafana's user, as the datasource connects: the native protocol, the database egov.
	reader := func(pw string) (driver.Conn, error) {
		conn, err := clickhouse.Open(&clickhouse.Options{
			Addr: []string{srv.Addr()}, Auth: clickhouse.Auth{Database: "egov", Username: "egov_grafana", Password: pw},
			DialTimeout: 5 * time.Second, TLS: (*tls.Config)(nil),
		})
		if err != nil {
			return nil, err
		}
		return conn, conn.Ping(ctx)
	}
	if _, err := reader("not-the-password"); err == nil {
		t.Fatal("egov_grafana connected with a wrong password")
	}
	grafana, err := reader(password)
	if err != nil {
		t.Fatalf("egov_grafana cannot connect with its password: %v", err)
	}
	defer grafana.Close()

	t.Run("every panel and variable runs", func(t *testing.T) {
		dashboards, err := board.All()
		if err != nil {
			t.Fatal(err)
		}
		req := chquery.Request{
			From: time.Date(2021, 6, 1, 0, 0, 0, 0, event.Vietnam), To: time.Date(2022, 1, 15, 0, 0, 0, 0, event.Vietnam),
			Interval: 6 * time.Hour, Vars: map[string]string{board.DatasourceVar: board.DatasourceUID, board.UnitVar: "province/01", board.HistoryVar: board.HistoryAsIs, board.MonthsVar: "6"},
		}
		ran := 0
		for _, d := range dashboards {
			var sqls []string
			for _, p := range d.Panels {
				for _, q := range p.Panel.Targets {
					sqls = append(sqls, q.(chquery.Query).RawSQL)
				}
			}
			for _, v := range d.Templating.List {
				if v.Query != nil && v.Query.String != nil && v.Type == "query" {
					sqls = append(sqls, *v.Query.String)
				}
			}
			for _, raw := range sqls {
				sql, err := chquery.Expand(raw, req)
				if err != nil {
					t.Fatal(err)
				}
				rows, err := grafana.Query(ctx, sql)
				if err != nil {
					t.Errorf("%s: egov_grafana cannot run it: %v\n%s", *d.Uid, err, sql)
					continue
				}
				rows.Close()
				ran++
			}
		}
		if ran < 30 {
			t.Errorf("ran %d queries: want every panel of the five dashboards", ran)
		}
	})

	t.Run("nothing that changes a figure runs", func(t *testing.T) {
		for _, sql := range []string{
			"INSERT INTO targets (metric, scope, event_id, stream_seq, set_at, baseline, baseline_date, target, deadline) VALUES ('level4_coverage', 'national', generateUUIDv4(), 1, now(), 0, today(), 1, today())",
			"ALTER TABLE coverage_daily DELETE WHERE 1",
			"ALTER TABLE events ADD COLUMN evil UInt8",
			"DROP TABLE quarantine",
			"TRUNCATE TABLE procedures",
			"CREATE TABLE egov.evil (a UInt8) ENGINE = Memory",
			"RENAME TABLE units TO units_old",
			"OPTIMIZE TABLE events FINAL",
			"CREATE DATABASE evil",
			"DROP DATABASE egov",
			"SET readonly = 0",
		} {
			err := grafana.Exec(ctx, sql)
			var ex *clickhouse.Exception
			if err == nil || !errors.As(err, &ex) || ex.Code != 164 { // READONLY
				t.Errorf("egov_grafana ran or failed otherwise than as read-only: %v\n%s", err, sql)
			}
		}
		if _, err := grafana.Query(ctx, "SELECT count() FROM system.one"); err != nil {
			t.Errorf("egov_grafana cannot read system.one, which the plugin's checks read: %v", err)
		}
		if after := countAll(); after != before {
			t.Errorf("the tables changed:\n  before: %s\n  after:  %s", before, after)
		}
	})
}
