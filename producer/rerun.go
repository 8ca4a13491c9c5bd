package producer

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/streams"
)

// Rerun queues confirmation re-run round of build k of experiment exp (round
// 1 or more) on its re-run subject (streams.RerunSubject), which builders
// take before the experiment's first runs: an ordinary job whose attempts
// are numbered from
// streams.RerunAttemptBase(round), so they get their own logs and results,
// and whose ticket (from key, as for every job) is the round's own. Its
// Nats-Msg-Id names the round, so asking twice within the duplicate window
// queues it once. duplicate reports whether the stream said so.
func Rerun(ctx context.Context, js jetstream.JetStream, key streams.JobKey, exp *streams.Experiment, k streams.BuildKey, round int) (duplicate bool, err error) {
	return RetryRerun(ctx, js, key, exp, k, 0, round)
}

// RetryRerun is Rerun for the builds of retry generation gen
// (streams.RetryAttemptBase): its re-runs confirm that generation's results.
func RetryRerun(ctx context.Context, js jetstream.JetStream, key streams.JobKey, exp *streams.Experiment, k streams.BuildKey, gen, round int) (duplicate bool, err error) {
	if round < 1 || round > streams.MaxRerunRound {
		return false, fmt.Errorf("re-run %s: round %d: want 1 to %d", k, round, streams.MaxRerunRound)
	}
	if k.Experiment != exp.Name {
		return false, fmt.Errorf("re-run %s: build is not of experiment %s", k, exp.Name)
	}
	if exp.Tickets && key.IsZero() {
		return false, fmt.Errorf("re-run %s: experiment %s: %w", k, exp.Name, errNoJobKey)
	}
	job := streams.Job{
		V: streams.SchemaVersion, BuildKey: k,
		Mode: exp.Mode, CapLints: exp.CapLints, CrateSource: exp.CrateSource, Limits: exp.Limits,
		AttemptBase: streams.AttemptBase(gen, round),
	}
	key.SignJob(&job)
	if err := job.Validate(); err != nil {
		return false, fmt.Errorf("re-run %s: %w", k, err)
	}
	data, err := json.Marshal(job)
	if err != nil {
		return false, fmt.Errorf("encode re-run job %s: %w", k, err)
	}
	subj := streams.RerunSubject(k)
	ack, err := js.Publish(ctx, subj, data, jetstream.WithMsgID(retryRerunMsgID(k, gen, round)))
	if err != nil {
		return false, fmt.Errorf("publish re-run %d of %s: %w", round, k, err)
	}
	return ack.Duplicate, nil
}

// RerunMsgID is the Nats-Msg-Id of re-run round of k; the first run's job
// uses the bare subject. It names the first run's subject, as it did when
// re-runs were queued there, so a re-run asked for again across an
// upgrade is still a duplicate.
func RerunMsgID(k streams.BuildKey, round int) string {
	return streams.JobSubject(k) + "#rerun-" + strconv.Itoa(round)
}

func retryRerunMsgID(k streams.BuildKey, gen, round int) string {
	if gen == 0 {
		return RerunMsgID(k, round)
	}
	return streams.RetryMsgID(k, gen) + "-rerun-" + strconv.Itoa(round)
}
