package campaigntest

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/chsql"
	"github.com/egovtrack/egovtrack/internal/enginetest"
	"github.com/egovtrack/egovtrack/projector/migrations"
	"github.com/egovtrack/egovtrack/projector/rebuild"
)

// Engines are the campaign on both engines the SQL must agree on: the 18.16 database the projector wrote (over
// HTTP) and a copy of it in ClickHouse 26.7 (chDB), made by the migrations run there and every row copied as it is,
// every version of it, so that FINAL and argMax by version have the same work to do on both. Tables that
// materialized views fill are not copied: the views fill them on 26.7 from the rows copied into their sources.
type Engines struct {
	Server enginetest.Server // ClickHouse 18.16
	Local  enginetest.Local  // ClickHouse 26.7
	// Copied are the tables copied, with their columns.
	Copied map[string][]string
}

// Engines returns the campaign on both engines, copying it into 26.7 on the first call; the copy lives as long as
// the campaign. A package calling it needs enginetest's TestMain: func TestMain(m *testing.M) { enginetest.Main(m) }.
func (c *Campaign) Engines(t *testing.T) *Engines {
	t.Helper()
	cache.mu.Lock()
	defer cache.mu.Unlock()
	if c.engines != nil {
		return c.engines
	}
	e, err := c.copyToLocal(t)
	if err != nil {
		t.Fatalf("campaigntest: copy the campaign into ClickHouse 26.7: %v", err)
	}
	c.engines = e
	return e
}

// viewTarget finds the table a materialized view writes into.
var viewTarget = regexp.MustCompile(`(?is)^CREATE\s+MATERIALIZED\s+VIEW\s+.*?\bTO\s+` + "`?" + `(\w+)`)

func (c *Campaign) copyToLocal(t *testing.T) (*Engines, error) {
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The test that loaded the campaign owns both databases: Load's caller is the one test that may call Engines.
	e := &Engines{Server: enginetest.ServerOf(t, c.Config), Local: enginetest.NewLocal(t), Copied: map[string][]string{}}

	ms, err := migrations.All()
	if err != nil {
		return nil, err
	}
	filled := map[string]bool{} // tables materialized views fill
	if err := enginetest.Exec(ctx, e.Local, chsql.CreateMigrationsTable.SQL); err != nil {
		return nil, err
	}
	for _, m := range ms {
		for i, stmt := range m.Statements {
			if err := enginetest.Exec(ctx, e.Local, stmt); err != nil {
				return nil, fmt.Errorf("migration %04d_%s, statement %d: %w", m.Version, m.Name, i+1, err)
			}
			if v := viewTarget.FindStringSubmatch(stmt); v != nil {
				filled[v[1]] = true
			}
		}
	}
	tables, err := rebuild.Tables()
	if err != nil {
		return nil, err
	}
	for _, table := range append([]string{chsql.MigrationsTable}, tables...) {
		desc, err := enginetest.Query(ctx, e.Server, "DESCRIBE TABLE "+chsql.QuoteIdent(table))
		if err != nil {
			return nil, err
		}
		if filled[table] || len(desc.Rows) == 0 {
			continue // filled by a view, or a view itself (whose DESCRIBE is its query's columns: skip below)
		}
		engineOf, err := enginetest.Bind(chsql.TableEngine.SQL, table)
		if err != nil {
			return nil, err
		}
		if engine, err := e.Server.Run(ctx, engineOf, "TSV"); err != nil {
			return nil, err
		} else if strings.HasSuffix(strings.TrimSpace(string(engine)), "View") {
			continue
		}
		var cols []string
		for _, row := range desc.Rows {
			cols = append(cols, chsql.QuoteIdent(row[0]))
		}
		list := strings.Join(cols, ", ")
		rows, err := e.Server.Run(ctx, "SELECT "+list+" FROM "+chsql.QuoteIdent(table), "TSV")
		if err != nil {
			return nil, err
		}
		if len(rows) > 0 {
			if err := enginetest.Exec(ctx, e.Local, "INSERT INTO "+chsql.QuoteIdent(table)+" ("+list+") FORMAT TSV\n"+string(rows)); err != nil {
				return nil, fmt.Errorf("copy %s: %w", table, err)
			}
		}
		e.Copied[table] = cols
	}
	t.Logf("campaign copied into ClickHouse 26.7 in %s: %d tables", time.Since(began).Round(time.Millisecond), len(e.Copied))
	return e, nil
}
