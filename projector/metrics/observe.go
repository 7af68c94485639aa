package metrics

import (
	"context"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Observe returns conn, reporting each call to ClickHouse that waits on the server to h (Health.Calling): a query
// until its first answer, a statement, a batch's preparation and its sending, a ping. A call that has not answered
// within the health's grace makes the projector unhealthy, whatever the write it belongs to: a frozen server fails
// nothing, it only never answers; and a long write made of many answered calls (the first after a start reads every
// unit's history) is not mistaken for one.
func Observe(conn driver.Conn, h *Health) driver.Conn { return observedConn{Conn: conn, h: h} }

type observedConn struct {
	driver.Conn
	h *Health
}

func (c observedConn) Query(ctx context.Context, q string, args ...any) (driver.Rows, error) {
	defer c.h.Calling()()
	return c.Conn.Query(ctx, q, args...)
}

func (c observedConn) QueryRow(ctx context.Context, q string, args ...any) driver.Row {
	defer c.h.Calling()()
	return c.Conn.QueryRow(ctx, q, args...)
}

func (c observedConn) Exec(ctx context.Context, q string, args ...any) error {
	defer c.h.Calling()()
	return c.Conn.Exec(ctx, q, args...)
}

func (c observedConn) Ping(ctx context.Context) error {
	defer c.h.Calling()()
	return c.Conn.Ping(ctx)
}

func (c observedConn) PrepareBatch(ctx context.Context, q string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	done := c.h.Calling()
	b, err := c.Conn.PrepareBatch(ctx, q, opts...)
	done()
	if err != nil {
		return nil, err
	}
	return observedBatch{Batch: b, h: c.h}, nil
}

type observedBatch struct {
	driver.Batch
	h *Health
}

func (b observedBatch) Send() error {
	defer b.h.Calling()()
	return b.Batch.Send()
}
