package builder

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ejecta-build/ejecta/builder/cargo"
	"github.com/ejecta-build/ejecta/streams"
)

// giveUp ends a job that JetStream has delivered more than attempts times:
// every earlier attempt ended without a result, which means the builder
// running it was killed or stopped each time (a job that takes down its
// builder, a farm being restarted over and over). Building it again would
// only repeat that, so it ends as an error, with a log saying why, and a
// copy of the job goes to the dead stream for an operator. The rest of the
// experiment goes on.
//
// The consumer delivers a job once more than its attempts (see
// streams.JobAttempts) precisely so that this delivery reaches a builder;
// without it JetStream would drop the job silently.
func (a *attempt) giveUp(ctx context.Context, attempts int) {
	start := time.Now()
	a.open(ctx)
	defer a.stall.close()
	why := fmt.Sprintf("gave up after %d attempts", attempts)
	fmt.Fprintf(a.sys, "%s of %s %s with %s: none of them ended (the builder running it was killed or stopped each time); not building it again\n",
		why, a.job.Crate, a.job.Version, a.job.Toolchain)

	dead := streams.DeadLetter(a.msg, streams.JobsStream, errors.New(why), a.b.sender)
	if _, err := streams.PublishAcked(ctx, a.b.js, dead, defaultBackoff, a.log); err != nil {
		// ctx ended: the builder is stopping; the next delivery tries again.
		a.abandon()
		return
	}
	v := cargo.Verdict{Status: streams.StatusError, Reason: streams.GaveUp(attempts), ExitCode: -1}
	if err := a.finish(ctx, v, start); err != nil {
		if ctx.Err() != nil {
			a.abandon()
			return
		}
		a.log.Error().Err(err).Msg("cannot record a job given up; leaving it for redelivery")
		_ = a.msg.Nak()
		return
	}
	a.b.met.finished(v, time.Since(start))
	a.log.Warn().Int("attempts", attempts).Str("dead_subject", dead.Subject).Msg("job given up; moved to the dead stream")
}
