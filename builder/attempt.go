package builder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/builder/cargo"
	"github.com/ejecta-build/ejecta/builder/workspace"
	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/streams"
)

// attempt is one delivery of one job to one slot.
type attempt struct {
	b    *Builder
	slot int
	job  *streams.Job
	msg  jetstream.Msg
	n    int // attempt number: JetStream's delivery count
	// delivered is JetStream's delivery count of the job, and attempts
	// how many deliveries it gets (0: no limit).
	delivered uint64
	attempts  int
	log       zerolog.Logger

	ws     *workspace.Workspace
	cargo  *cargo.Build      // the job's steps (build)
	out    *buildlog.Chunker // the build log
	pub    *buildlog.Publisher
	capped *buildlog.Cap // task output into out
	stdout io.Writer     // the tasks' stdout, capped, into out
	stderr io.Writer     // and their stderr
	sys    io.Writer     // system lines into out
	lim    cargo.Limits
	quiet  *watchdog // the no-output timeout
	// kill ends the attempt with its cause (the no-output timeout, a log
	// blocked too long, the disk quota), killing the running task.
	kill  func(error)
	stall *logStall // the log's waits (logstall.go)
	// shared is the slot's shared target the attempt builds in, nil when
	// it builds in its job dir's own; sharedStart is its size before the
	// build (sharedtarget.go).
	shared      *workspace.SharedTarget
	sharedStart int64
}

// open starts the attempt's log. ctx is the jobs' context: the log is
// published as long as the builder works on the job.
func (a *attempt) open(ctx context.Context) {
	key := a.job.BuildKey
	a.log = a.b.log.With().Int("slot", a.slot).Str("experiment", key.Experiment).Str("crate", key.Crate).
		Str("version", key.Version).Str("toolchain", key.Toolchain).Int("attempt", a.n).Logger()
	a.quiet = newWatchdog()
	// The log is given up, ending its publisher's waits, when it stays
	// blocked too long (logStall).
	pctx, stop := context.WithCancelCause(ctx)
	a.stall = newLogStall(a.quiet, a.b.met.logBlocked, stop)
	a.pub = buildlog.NewPublisher(pctx, a.b.js, streams.LogSubject(key, a.n), buildlog.PublisherConfig{
		Window: a.b.cfg.LogWindow, Retry: defaultBackoff, Log: a.log, Waits: a.stall,
		Chunks: a.b.met.logChunks, Bytes: a.b.met.logBytes, Repairs: a.b.met.logRepairs, Ticket: a.job.Ticket,
	})
	a.out = buildlog.NewChunker(a.pub, buildlog.MaxChunkBytes, buildlog.ChunkDelay)
	a.sys = buildlog.NewPrefixer(a.out.Writer(buildlog.StreamSystem), buildlog.SystemPrefix)
	a.capped = buildlog.NewCap(a.sys, a.b.cfg.MaxLogBytes, a.b.met.logOmitted)
	a.stdout = a.capped.Wrap(a.out.Writer(buildlog.StreamStdout))
	a.stderr = a.capped.Wrap(a.out.Writer(buildlog.StreamStderr))
	a.lim = a.b.limits(a.job)
}

// run carries the attempt through the state machine described in doc.go
// up to the removal of its job dir, and returns the rest, its end: the
// log closed, the result published and the job acknowledged (or handed
// back, or left for redelivery). The end needs nothing of the slot, only
// the server, so the slot takes and builds its next job while it runs
// (Builder.slot). ctx is the jobs' context: when it ends the attempt is
// abandoned.
func (a *attempt) run(ctx context.Context) (end func()) {
	start := time.Now()
	a.open(ctx)
	key := a.job.BuildKey
	a.log.Info().Str("mode", string(a.job.Mode)).Msg("build started")

	a.b.setRunning(a.slot, &streams.RunningBuild{BuildKey: key, Attempt: a.n, Started: start.UTC()})
	a.b.met.running.Inc()

	// JetStream would hand the job to another builder after AckWait: the
	// job is kept until its end has acknowledged it.
	stopProgress := a.keepInProgress(ctx)

	// The attempt ends early, with its cause, on the wall timeout or when
	// its tasks go quiet for too long; either kills the running task.
	actx, cancelTimeout := context.WithTimeoutCause(ctx, time.Duration(a.lim.Timeout), cargo.ErrTimeout)
	actx, cancelQuiet := context.WithCancelCause(actx)
	// An abort of the experiment ends the build too (Builder.stopExperiment).
	actx, stopBuild := context.WithCancelCause(actx)
	a.b.setStop(a.slot, key.Experiment, stopBuild)
	a.kill = cancelQuiet
	stopWatch := a.quiet.watch(actx, time.Duration(a.lim.NoOutput), func() { cancelQuiet(cargo.ErrNoOutput) })
	// A log blocked too long stops the build too; it is watched until the
	// killed task's last write returns.
	stopStall := a.stall.watch(ctx, a.logBlockLimit(), func() { cancelQuiet(errLogUnavailable) })
	stopKill := context.AfterFunc(actx, a.stall.killed)
	v := a.build(actx)
	killed := context.Cause(actx)
	stopKill()
	stopStall()
	stopWatch()
	if ctx.Err() == nil {
		v = a.logVerdict(v, context.Cause(actx))
	}
	a.b.setStop(a.slot, key.Experiment, nil)
	aborted := errors.Is(context.Cause(actx), errExperimentAborted)
	stopBuild(nil)
	cancelQuiet(nil)
	cancelTimeout()
	if a.ws != nil {
		a.ws.Close()
		a.b.removeJobDir(a.ws.Dir(), a.log)
	}
	a.settleSharedTarget(v, killed, ctx.Err() != nil)
	// The slot is the next attempt's from here on.
	a.b.met.running.Dec()
	a.b.setRunning(a.slot, nil)
	return func() {
		defer a.stall.close()
		defer stopProgress()
		a.end(ctx, v, aborted, start)
	}
}

// end settles the job of an attempt whose build is over with verdict v:
// see run.
func (a *attempt) end(ctx context.Context, v cargo.Verdict, aborted bool, start time.Time) {
	if aborted && ctx.Err() == nil {
		a.stopAborted(ctx, start)
		return
	}
	if ctx.Err() != nil || v.Abandoned {
		a.abandon()
		return
	}
	if (v.Reason == streams.ReasonSandboxError || v.Reason == streams.ReasonLogUnavailable) && a.mayRetry() {
		a.handBack(ctx, v, start)
		return
	}
	if a.stall.isLost() {
		a.finishUnlogged(ctx, v, start)
		return
	}
	if err := a.finish(ctx, v, start); err != nil {
		if ctx.Err() != nil {
			a.abandon()
			return
		}
		a.log.Error().Err(err).Msg("cannot finish attempt; leaving the job for redelivery")
		_ = a.msg.Nak()
		return
	}
	a.b.met.finished(v, time.Since(start))
	a.log.Info().Str("status", string(v.Status)).Str("reason", string(v.Reason)).
		Dur("duration", time.Since(start)).Msg("build finished")
}

// abandon leaves the job unacknowledged, asking for a prompt redelivery.
// The partial log stays on its attempt's subject; the next attempt logs
// under a new attempt number.
func (a *attempt) abandon() {
	_ = a.msg.Nak()
	a.log.Info().Msg("build abandoned: builder stopping; job left for redelivery")
}

// build prepares the workspace and runs the mode's steps. ctx carries the
// attempt's timeout.
func (a *attempt) build(ctx context.Context) cargo.Verdict {
	key := a.job.BuildKey
	host := a.b.cfg.host()
	// Ended before the job dir is removed, killed or not: nothing of the
	// build runs on by then.
	tasks, endTasks := a.b.attemptRunner()
	defer func() {
		if err := endTasks(); err != nil {
			a.log.Warn().Err(err).Msg("end the attempt's sandbox")
		}
	}()
	a.cargo = &cargo.Build{
		Job: a.job, Tasks: tasks, Host: host,
		User: a.b.cfg.buildUser(a.slot), CPUs: a.cpus(), PidsLimit: a.b.cfg.PidsLimit, Limits: a.lim,
		ReadOnly: cargo.ReadOnlyDirs(host, key.Toolchain, a.job.CrateSource), Hidden: a.b.hidden(),
		TaskID: a.taskID, Registries: registries{a.b}, Logger: a.log, StepTimed: a.b.met.stepTimed,
		Log: cargo.Log{
			System: a.sys,
			// The no-output watchdog sees every byte, the log cap or not.
			Stdout: io.MultiWriter(a.stdout, a.quiet), Stderr: io.MultiWriter(a.stderr, a.quiet),
			// The quiet period counts from the task's start, not from the
			// last output of the step before.
			TaskStarted: a.quiet.reset,
			// A failed write stays in the chunker and ends the log with an
			// error.
			TaskEnded: func() { _ = a.capped.EndStep(); a.noteLogBlocked() },
			Line:      a.out.Line,
		},
	}
	vV, version, err := a.b.rustc.Get(ctx, host, key.Toolchain, a.cargo.Probe)
	if err != nil {
		a.log.Warn().Err(err).Msg("rustc -vV")
	}
	if version == "" {
		version = "version unknown"
	}
	fmt.Fprintf(a.sys, "toolchain %s (rustc %s); %s %s, %s, attempt %d on builder %s\n",
		key.Toolchain, version, key.Crate, key.Version, a.job.Mode, a.n, a.b.cfg.ID)
	if vV != "" {
		fmt.Fprintf(a.sys, "$ rustc +%s -vV\n%s\n", key.Toolchain, vV)
	}
	if a.job.CapLints != "" {
		fmt.Fprintf(a.sys, "lints capped at %s\n", a.job.CapLints)
	}
	fmt.Fprintf(a.sys, "sandbox: %s; user %d, %s; no network (loopback only), %s, memory %d MiB, pids %d, /tmp %d MiB; timeout %s, no-output timeout %s; %s\n",
		a.b.rootfs(), a.b.cfg.buildUser(a.slot), a.b.hardening(), a.cpuText(), a.lim.MemoryBytes>>20, a.b.cfg.PidsLimit, a.lim.TmpBytes>>20, a.lim.Timeout, a.lim.NoOutput, buildlog.CapText(a.b.cfg.MaxLogBytes))

	name, err := workspace.DirName(a.b.cfg.ID, a.slot, a.n)
	if err == nil {
		uid := int(a.b.cfg.buildUser(a.slot))
		a.ws, err = workspace.New(filepath.Join(a.b.cfg.WorkDir, name), a.job, uid, uid, a.b.stock)
	}
	if err != nil {
		return a.cargo.WorkspaceError(err)
	}
	a.openSharedTarget()
	if a.shared != nil {
		a.cargo.SharedTarget = a.shared.Dir()
	} else if err := a.ws.MakeTarget(); err != nil {
		return a.cargo.WorkspaceError(err)
	}
	stopQuota := a.watchQuota(ctx)
	defer stopQuota()
	return a.cargo.Steps(ctx, a.ws)
}

// exitCode is the exit code of the attempt's last step.
func (a *attempt) exitCode() int {
	if a.cargo == nil {
		return 0
	}
	return a.cargo.ExitCode()
}

// keepInProgress tells JetStream every InProgressEvery that the job is
// still being worked on, until the returned stop is called.
func (a *attempt) keepInProgress(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(a.b.cfg.InProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := a.msg.InProgress(); err != nil {
					a.log.Warn().Err(err).Msg("in-progress ack")
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// finish publishes, in this order, the log's end marker, the upload
// request, the result, and only then acknowledges the job: a builder that
// dies in between leaves the job to be built again, never a result without
// its log. The upload request and the result are signed with the job's
// ticket, if it has one (streams.JobKey).
func (a *attempt) finish(ctx context.Context, v cargo.Verdict, start time.Time) error {
	outcome := string(v.Status)
	if v.Reason != "" {
		outcome += " (" + string(v.Reason) + ")"
	}
	fmt.Fprintf(a.sys, "finished: %s, exit code %d, after %s\n", outcome, v.ExitCode, time.Since(start).Round(time.Millisecond))
	if err := a.endLog(ctx, v); err != nil {
		return err
	}
	return a.publishResult(ctx, v, start)
}

// publishResult publishes the attempt's result, signed with the job's
// ticket if it has one, then acknowledges the job. DoubleAck: the job
// leaves the work queue only once the server has confirmed the ack, so a
// lost ack cannot mean a job built twice without our knowing, nor one
// never built.
func (a *attempt) publishResult(ctx context.Context, v cargo.Verdict, start time.Time) error {
	key := a.job.BuildKey
	res := streams.Result{
		V: streams.SchemaVersion, BuildKey: key, Attempt: a.n,
		Status: v.Status, Reason: v.Reason, ExitCode: v.ExitCode,
		DurationMS: time.Since(start).Milliseconds(), Builder: a.b.cfg.ID,
		LogKey: streams.LogObjectKey(key, a.n), FinishedAt: time.Now().UTC(),
		SharedTarget: a.shared != nil, FirstError: v.FirstError,
	}
	res.Sign(a.job.Ticket)
	if err := a.publishJSON(ctx, streams.ResultSubject(key, a.n, a.b.sender), res.MAC, res); err != nil {
		return fmt.Errorf("result: %w", err)
	}
	if err := a.msg.DoubleAck(ctx); err != nil {
		return fmt.Errorf("ack job: %w", err)
	}
	return nil
}

// sandboxAttempts bounds the attempts of a job whose sandbox keeps failing
// when its consumer sets no limit.
const sandboxAttempts = 3

// mayRetry says whether a job whose sandbox failed gets another attempt.
func (a *attempt) mayRetry() bool {
	limit := a.attempts
	if limit <= 0 {
		limit = sandboxAttempts
	}
	return a.delivered < uint64(limit)
}

// handBack ends an attempt that failed for the farm's reasons without a
// result: its sandbox failed (containerd restarted, a shim died) or its log
// could not be published (logstall.go). The failure says nothing about the
// crate, and a result would count as the crate's. Its log is stored, if it
// can be ended, and the job is delivered again after
// Config.SandboxRetryDelay, to this builder or another. The last attempt
// the job gets publishes the error instead.
func (a *attempt) handBack(ctx context.Context, v cargo.Verdict, start time.Time) {
	fmt.Fprintf(a.sys, "finished: %s (%s) after %s; no result: the job is handed back to be built again in %s\n",
		v.Status, v.Reason, time.Since(start).Round(time.Millisecond), a.b.cfg.SandboxRetryDelay)
	if err := a.endLog(ctx, v); err != nil {
		if ctx.Err() != nil {
			a.abandon()
			return
		}
		ev := a.log.Error()
		if a.stall.isLost() {
			ev = a.log.Warn() // known: the stream keeps what it got, stored as abandoned
		}
		ev.Err(err).Msg("cannot close the log of an attempt handed back; leaving the job for redelivery")
	}
	_ = a.msg.NakWithDelay(a.b.cfg.SandboxRetryDelay)
	a.b.met.handedBack.Inc()
	a.log.Warn().Str("reason", string(v.Reason)).Dur("retry_in", a.b.cfg.SandboxRetryDelay).Msg("infrastructure failed; job handed back for another attempt")
}

// publishJSON publishes v, signed with mac, on subj, deduplicated by
// subject and MAC: an attempt has one upload request and one result,
// however often the publish is retried (streams.SignedMsgID).
func (a *attempt) publishJSON(ctx context.Context, subj, mac string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	m := nats.NewMsg(subj)
	m.Data = data
	m.Header.Set(nats.MsgIdHdr, streams.SignedMsgID(subj, mac))
	_, err = streams.PublishAcked(ctx, a.b.js, m, defaultBackoff, a.log)
	return err
}
