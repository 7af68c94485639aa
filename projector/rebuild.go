package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/egovtrack/egovtrack/projector/projection"
)

// runRebuild recreates every projection from the stream, with the projector stopped: it drops the tables, recreates
// the durable consumer and replays the whole stream through it (see projector/rebuild). Progress goes to stderr (a
// bar on a terminal), the final count to out.
func runRebuild(ctx context.Context, cfg config, out, progress io.Writer, log *slog.Logger) error {
	p, err := projection.Open(ctx, cfg.Config, nil, log)
	if err != nil {
		return err
	}
	defer p.Close()
	res, err := p.Rebuild(ctx, progress)
	if err != nil {
		return err
	}
	return res.Print(out)
}
