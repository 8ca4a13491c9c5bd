package builder

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/streams"
)

// handle takes one message off the jobs stream: a poison message is buried,
// a job is built, or given up once JetStream has delivered it more than
// attempts times (0: no limit). A job built returns with its end still to
// run (attempt.run); end is nil when there is none left.
func (b *Builder) handle(ctx context.Context, slot int, msg jetstream.Msg, attempts int) (end func()) {
	var job streams.Job
	if err := streams.Decode(msg.Data(), &job); err != nil {
		b.bury(ctx, msg, err)
		return nil
	}
	if err := b.accept(msg.Subject(), &job); err != nil {
		b.bury(ctx, msg, err)
		return nil
	}
	md, err := msg.Metadata()
	if err != nil {
		// Not a JetStream delivery: nothing to number the attempt with.
		b.log.Error().Err(err).Str("subject", msg.Subject()).Msg("job without metadata; leaving it for redelivery")
		_ = msg.Nak()
		return nil
	}
	a := &attempt{b: b, slot: slot, job: &job, msg: msg, n: job.AttemptBase + int(md.NumDelivered),
		delivered: md.NumDelivered, attempts: attempts}
	if attempts > 0 && md.NumDelivered > uint64(attempts) {
		a.giveUp(ctx, attempts)
		return nil
	}
	return a.run(ctx)
}

// accept checks a decoded job against what it arrived on and what this
// builder offers. The consumer a builder binds to is chosen by subject
// (experiment and toolchain), but the body decides what is built: a body
// naming another build, or a toolchain this builder never advertised
// (a directory anywhere on the host), is refused, never run.
func (b *Builder) accept(subject string, job *streams.Job) error {
	k, err := streams.ParseJobSubject(subject)
	if err != nil {
		return fmt.Errorf("job for %s: %w", job.BuildKey, err)
	}
	if k != job.BuildKey {
		return fmt.Errorf("job for %s arrived on subject %q, which names %s", job.BuildKey, subject, k)
	}
	// A re-run's queue is taken first: only re-runs may wait there. (A
	// re-run on a first run's subject is one an earlier version queued.)
	if streams.IsRerunSubject(subject) && streams.AttemptRound(job.AttemptBase+1) == 0 {
		return fmt.Errorf("job for %s arrived on subject %q, a re-run's, but numbers its attempts from %d, as a first run does", job.BuildKey, subject, job.AttemptBase)
	}
	if !b.cfg.offers(job.Toolchain) {
		return fmt.Errorf("job for %s: toolchain %s is not one builder %s offers", job.BuildKey, streams.Bounded(job.Toolchain), b.cfg.ID)
	}
	// What is built, from where and under which limits is the
	// experiment's, as its record says (only the producer writes it); a
	// job is only a copy. A publisher of jobs that is not the producer
	// (the reporter's re-runs) cannot make builds read another directory
	// or run with other limits.
	rec := b.queues.record(job.Experiment)
	switch {
	case rec == nil:
		return fmt.Errorf("job for %s: no record of experiment %s", job.BuildKey, job.Experiment)
	case job.Mode != rec.Mode || job.CapLints != rec.CapLints || job.CrateSource != rec.CrateSource || job.Limits != rec.Limits:
		return fmt.Errorf("job for %s: mode %s, cap-lints %q, crate source %s, limits %+v; experiment %s has mode %s, cap-lints %q, crate source %s, limits %+v",
			job.BuildKey, job.Mode, job.CapLints, streams.Bounded(job.CrateSource), job.Limits,
			rec.Name, rec.Mode, rec.CapLints, streams.Bounded(rec.CrateSource), rec.Limits)
	}
	return nil
}
