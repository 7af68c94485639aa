package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/egovtrack/egovtrack/internal/natsauth"
	"github.com/nats-io/nats.go"
)

// rebuildTarget is the longest a rebuild of 10 million events may take.
const rebuildTarget = 3 * time.Minute

// signedIngestTarget is the first ingest's rate of signed events (issue #15).
const signedIngestTarget = 20_000

// verifyCost is what verifying one event's signature costs on one core: natsauth's Authorise on a signed message,
// the office's, timed over a thousand of them.
func verifyCost(keys, signers string) (time.Duration, error) {
	m, err := natsauth.LoadModel(signers, "EGOV", "projector")
	if err != nil {
		return 0, err
	}
	cred, err := natsauth.LoadCredential(natsauth.SeedFile(keys, natsauth.OfficeName))
	if err != nil {
		return 0, err
	}
	defer cred.Wipe()
	const n = 1000
	msgs := make([]*nats.Msg, n)
	for i := range msgs {
		msgs[i] = nats.NewMsg("egov.province.19.proc.1_000001")
		msgs[i].Data = fmt.Appendf(nil, `{"n":%d,"payload":"%0400d"}`, i, i) // about an event's size
		if err := cred.Sign(msgs[i]); err != nil {
			return 0, err
		}
	}
	began := time.Now()
	for _, msg := range msgs {
		if _, err := m.Authorise(msg.Subject, msg.Header, msg.Data); err != nil {
			return 0, err
		}
	}
	return time.Since(began) / n, nil
}

// stepRebuild publishes ReplayEvents events as the collectors do, signed with the office's credential, and runs the
// projector binary on them twice, as an operator does, with signatures required: `projector run` until caught up
// (the first ingest, which verifies every signature and records its verdict), then `projector rebuild` (which relies
// on the verdicts). A run still going at RebuildMax is stopped (SIGTERM: the durable consumer keeps what was
// acknowledged); its time for the whole stream is then extrapolated from the rate it reached, which flatters it when
// each batch costs more as the tables grow.
func (b *bench) stepRebuild(ctx context.Context) error {
	keys := filepath.Join(b.dir, "keys")
	signers := filepath.Join(keys, "nkeys.txt")
	if _, err := natsauth.EnsureKeys(signers, keys, nil, io.Discard); err != nil {
		return err
	}
	perVerify, err := verifyCost(keys, signers)
	if err != nil {
		return err
	}
	b.add(result{Step: "d replay", Name: "one signature's verification (natsauth.Authorise, one core)", Value: perVerify.Seconds() * 1e6, Unit: "µs",
		Status: info, Note: fmt.Sprintf("at most %s events/s on %d cores for verifying alone", thousands(int64(float64(runtime.NumCPU())/perVerify.Seconds())), runtime.NumCPU())})
	p, err := b.startSignedNATS(ctx, "rebuild", keys)
	if err != nil {
		return err
	}
	defer p.close()
	n := b.cfg.ReplayEvents
	rate, err := b.publishCollectors(ctx, p, 0, n)
	if err != nil {
		return err
	}
	b.add(result{Step: "d replay", Name: "collectors' publish of the replayed stream, signed", Value: rate, Unit: "events/s", Status: info,
		Note: thousands(int64(n)) + " events"})
	conn, ch, err := b.database(ctx, "bench_replay")
	if err != nil {
		return err
	}
	conn.Close()
	defer b.dropDatabase(context.WithoutCancel(ctx), "bench_replay")
	signed := []string{"EGOV_PROJECTOR_SIGNERS_FILE=" + signers, "EGOV_PROJECTOR_REQUIRE_SIGNATURE=true"}
	total := uint64(n)
	first, err := b.startProjector("ingest-signed", p, ch, append(slices.Clone(signed), "EGOV_PROJECTOR_UNTIL_CAUGHT_UP=true"), "run")
	if err != nil {
		return err
	}
	fw := b.watch(ctx, first, b.cfg.RebuildMax, p.acked(ctx, "projector", total), nil)
	if fw.ExitErr != nil && !fw.Capped {
		return fmt.Errorf("projector run exited: %v (log: %s)", fw.ExitErr, first.logPath)
	}
	ingest := float64(fw.Done) / fw.Elapsed.Seconds()
	note := fmt.Sprintf("%s of %s events in %s, every signature verified and its verdict recorded", thousands(int64(fw.Done)),
		thousands(int64(n)), fw.Elapsed.Round(time.Second))
	if fw.Capped {
		note += fmt.Sprintf("; STOPPED at the %s cap", b.cfg.RebuildMax)
	}
	b.add(result{Step: "d replay", Name: "projector first ingest of signed events (process)", Value: ingest, Unit: "events/s",
		Target: fmt.Sprintf("≥ %s events/s", thousands(signedIngestTarget)), Status: status(ingest, signedIngestTarget, false), Note: note})
	b.addRSS("projector run, signed", fw.PeakKB)
	if fw.Capped {
		return nil // the rebuild would verify what the run did not reach
	}

	pr, err := b.startProjector("rebuild", p, ch, signed, "rebuild")
	if err != nil {
		return err
	}
	done := p.acked(ctx, "projector", total)
	w := b.watch(ctx, pr, b.cfg.RebuildMax, done, nil)
	b.progress("rebuild", w.Progress)
	target := fmt.Sprintf("≤ %s for 10,000,000", rebuildTarget)
	if w.ExitErr == nil && !w.Capped {
		// Scaled to 10 million when the stream is smaller (a quick run), at the same rate.
		per10M := w.Elapsed.Seconds() * 10e6 / float64(n)
		b.add(result{Step: "d replay", Name: fmt.Sprintf("projector rebuild of %s events", thousands(int64(n))), Value: w.Elapsed.Seconds(), Unit: "s",
			Status: info, Note: fmt.Sprintf("%s events/s", thousands(int64(float64(n)/w.Elapsed.Seconds())))})
		note := ""
		if n != 10_000_000 {
			note = "scaled linearly from the run above"
		}
		b.add(result{Step: "d replay", Name: "projector rebuild, time for 10,000,000 events", Value: per10M, Unit: "s", Target: target,
			Status: status(per10M, rebuildTarget.Seconds(), true), Note: note})
	} else {
		r := float64(w.Done) / w.Elapsed.Seconds()
		b.add(result{Step: "d replay", Name: "projector rebuild rate until stopped", Value: r, Unit: "events/s", Status: info,
			Note: fmt.Sprintf("%s of %s events in %s; STOPPED at the %s cap (exit: %v)", thousands(int64(w.Done)), thousands(int64(n)),
				w.Elapsed.Round(time.Second), b.cfg.RebuildMax, w.ExitErr)})
		est := 10e6 / r
		b.add(result{Step: "d replay", Name: "projector rebuild, time for 10,000,000 events (extrapolated)", Value: est, Unit: "s", Target: target,
			Status: missed, Note: "at least: at the rate reached before the cap, which falls as the tables grow"})
	}
	b.addStall("d replay", "projector rebuild", w)
	b.addRSS("projector rebuild", w.PeakKB)
	return nil
}
