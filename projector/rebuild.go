package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/egovtrack/egovtrack/internal/chdb"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/projector/rebuild"
)

// runRebuild recreates every projection from the stream, with the projector stopped: it drops the tables, recreates
// the durable consumer and replays the whole stream through it (see projector/rebuild). Progress goes to stderr (a
// bar on a terminal), the final count to out.
func runRebuild(ctx context.Context, cfg config, out, progress io.Writer, log *slog.Logger) error {
	conn, err := chdb.Open(ctx, cfg.ClickHouse)
	if err != nil {
		return err
	}
	defer conn.Close()
	nc, err := stream.Connect(ctx, cfg.NATS, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	s, err := nc.Stream(ctx)
	if err != nil {
		return err
	}
	res, err := rebuild.Run(ctx, conn, s, cfg.Consumer, progress, log)
	if err != nil {
		return err
	}
	return res.Print(out)
}
