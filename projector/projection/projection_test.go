package projection

import (
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/egovtrack/egovtrack/projector/consumer"
)

// A rebuild refuses a cluster and a partition before it touches anything: New's nil connections would fail on first
// use, so the refusal must come first.
func TestRebuildRefusesAClusterOrAPartition(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want error
	}{
		{"one server", Config{}, nil},
		{"cluster", Config{ClickHouseCluster: "egov"}, ErrNotOneServer},
		{"partition", Config{Consumer: consumer.Config{Partition: "1/2"}}, ErrNotOneServer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.CheckRebuild(); !errors.Is(err, tc.want) {
				t.Errorf("CheckRebuild: %v, want %v", err, tc.want)
			}
			if tc.want == nil {
				return
			}
			p := New(nil, nil, tc.cfg, nil, slog.New(slog.DiscardHandler))
			if _, err := p.Rebuild(t.Context(), io.Discard); !errors.Is(err, tc.want) {
				t.Errorf("Rebuild: %v, want %v", err, tc.want)
			}
			if err := p.Close(); err != nil {
				t.Errorf("Close of a Projector New made: %v, want nil (it closes nothing)", err)
			}
		})
	}
}
