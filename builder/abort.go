package builder

import (
	"context"
	"fmt"
	"time"

	"github.com/ejecta-build/ejecta/builder/cargo"
	"github.com/ejecta-build/ejecta/streams"
)

// stopAborted ends an attempt whose experiment was aborted while it ran:
// its log is closed with an end marker and stored like any other, so the
// operator sees how far it got, but no result is published, since the
// experiment's report keeps what it had and an interrupted build is no
// verdict on the compiler. The job is terminated: abort has removed it
// from the queue already, or will.
func (a *attempt) stopAborted(ctx context.Context, start time.Time) {
	key := a.job.BuildKey
	fmt.Fprintf(a.sys, "experiment %s aborted: build stopped after %s; no result is recorded\n",
		key.Experiment, time.Since(start).Round(time.Millisecond))
	v := cargo.Verdict{Status: streams.StatusError, Reason: streams.ReasonExperimentAborted, ExitCode: a.exitCode()}
	err := a.endLog(ctx, v)
	if err != nil {
		a.log.Warn().Err(err).Msg("closing the log of an aborted build")
	}
	_ = a.msg.TermWithReason(string(streams.ReasonExperimentAborted))
	a.log.Info().Msg("build stopped: experiment aborted")
}

// endLog flushes the log, publishes its end marker and asks for its upload.
func (a *attempt) endLog(ctx context.Context, v cargo.Verdict) error {
	sum, err := a.out.End()
	if err != nil {
		return fmt.Errorf("flush log: %w", err)
	}
	end, err := a.pub.WriteEnd(sum, streams.LogEnd{Status: v.Status, ExitCode: v.ExitCode, Reason: v.Reason})
	if err != nil {
		return err
	}
	// The builder's own record of what its task wrote: an operator (or a
	// test) can check a stored log against it without trusting NATS.
	a.log.Info().Str("log", streams.LogSubject(a.job.BuildKey, a.n)).Uint64("chunks", end.Chunks).
		Uint64("bytes", end.Bytes).Str("sha256", end.SHA256).Msg("log ended")
	up := streams.UploadRequest{V: streams.SchemaVersion, BuildKey: a.job.BuildKey, Attempt: a.n, End: end}
	up.Sign(a.job.Ticket)
	if err := a.publishJSON(ctx, streams.UploadSubject(a.job.BuildKey, a.n), up.MAC, up); err != nil {
		return fmt.Errorf("upload request: %w", err)
	}
	return nil
}
