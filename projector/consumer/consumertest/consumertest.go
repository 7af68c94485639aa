// Package consumertest runs the projector over a test's stream as it is deployed: with its own credential, the
// credentials' public keys and signatures required, until it has caught up, into a fresh ClickHouse database. A test
// package using it calls chdbtest.Main from its TestMain.
package consumertest

import (
	"log/slog"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
	"github.com/egovtrack/egovtrack/internal/natsauth"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
	"github.com/egovtrack/egovtrack/projector/consumer"
	"github.com/egovtrack/egovtrack/projector/projection"
)

// ProjectAsDeployed projects everything srv's stream holds and returns what the run did and the database it wrote.
func ProjectAsDeployed(t testing.TB, srv *streamtest.AuthServer) (consumer.Stats, driver.Conn) {
	t.Helper()
	ctx := t.Context()
	quiet := slog.New(slog.DiscardHandler)
	conn, err := stream.Connect(ctx, srv.As(natsauth.ProjectorName), quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s, err := conn.Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ch := chdbtest.Conn(t, chdbtest.New(t))
	cfg := consumer.Config{Durable: "projector", BatchSize: 100, FlushInterval: 50 * time.Millisecond, AckWait: time.Minute,
		SignersFile: srv.SignersFile(), RequireSignature: true}
	stats, err := projection.New(ch, s, projection.Config{Consumer: cfg, UntilCaughtUp: true}, nil, quiet).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return stats, ch
}
