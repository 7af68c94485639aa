package enginetest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	chdbpurego "github.com/chdb-io/chdb-go/chdb-purego"

	"github.com/egovtrack/egovtrack/internal/chdb"
	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
	"github.com/egovtrack/egovtrack/internal/chsql"
)

// local is the process's one chDB session: chDB allows one at a time. Its queries run one after another.
var local struct {
	once sync.Once
	err  error
	dir  string

	mu   sync.Mutex
	conn chdbpurego.ChdbConn
}

func openLocal() error {
	local.once.Do(func() {
		dir, err := os.MkdirTemp("", "egov-chdb-")
		if err != nil {
			local.err = fmt.Errorf("chdb: %w", err)
			return
		}
		local.dir = dir
		// UTC, as the 18.16 test server runs (internal/chdb): toDateTime(unix) and friends read the session's zone.
		local.conn, local.err = chdbpurego.NewConnectionFromConnString(dir + "?session_timezone=UTC")
		if local.err != nil {
			local.err = fmt.Errorf("start ClickHouse 26.7 (chDB) in %s: %w", dir, local.err)
		}
	})
	return local.err
}

// Main runs the tests as chdbtest.Main does, then closes the chDB session and removes its data.
func Main(m *testing.M) {
	code := chdbtest.Run(m)
	if local.conn != nil {
		local.conn.Close()
	}
	if local.dir != "" {
		_ = os.RemoveAll(local.dir)
	}
	os.Exit(code)
}

// Local is one database of ClickHouse 26.7, running in this process through chDB.
type Local struct {
	Database string
}

// NewLocal returns a fresh database of the process's chDB session, named after the test and dropped when it ends.
func NewLocal(t testing.TB) Local {
	t.Helper()
	if err := openLocal(); err != nil {
		t.Fatalf("enginetest: %v", err)
	}
	l := Local{Database: chdbtest.DatabaseName(t.Name())}
	if _, err := l.run(chsql.CreateDatabase(l.Database).SQL, "TSV", false); err != nil {
		t.Fatalf("enginetest: %v", err)
	}
	t.Cleanup(func() {
		if _, err := l.run(chsql.DropDatabase(l.Database).SQL, "TSV", false); err != nil {
			t.Errorf("enginetest: %v", err)
		}
	})
	return l
}

// Name implements Engine.
func (Local) Name() string { return "ClickHouse 26.7" }

// Run implements Engine. chDB cannot stop a query, so ctx is only checked before it starts.
func (l Local) Run(ctx context.Context, sql, format string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return l.run(sql, format, true)
}

func (l Local) run(sql, format string, inDatabase bool) ([]byte, error) {
	local.mu.Lock()
	defer local.mu.Unlock()
	if inDatabase {
		// The session keeps the database USE sets, as a server connection does; the statements name none.
		if _, err := query("USE "+chsql.QuoteIdent(l.Database), "TSV"); err != nil {
			return nil, err
		}
	}
	return query(sql, format)
}

func query(sql, format string) ([]byte, error) {
	res, err := local.conn.Query(sql, format)
	if err != nil {
		return nil, fmt.Errorf("ClickHouse 26.7: %s", strings.TrimSpace(err.Error()))
	}
	if res == nil {
		return nil, nil
	}
	defer res.Free()
	return append([]byte(nil), res.Buf()...), nil // Buf is chDB's memory, freed with the result
}

// ServerOf is the 18.16 test server's database of cfg (from chdbtest.New), over HTTP.
func ServerOf(t testing.TB, cfg chdb.Config) Server {
	t.Helper()
	s := Server{Addr: chdbtest.HTTPAddr(t), Database: cfg.Database, User: cfg.User, Password: cfg.Password.Reveal(), Version: "server"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := s.Run(ctx, "SELECT version()", "TSV")
	if err != nil {
		t.Fatalf("enginetest: %v", err)
	}
	s.Version = majorMinor(strings.TrimSpace(string(out)))
	return s
}

// majorMinor turns "18.16.1" into "18.16".
func majorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}
