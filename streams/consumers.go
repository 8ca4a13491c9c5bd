package streams

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Jobs are taken through two durable pull consumers per experiment and
// toolchain, filtered on that experiment's and toolchain's job subjects:
// one for first runs (JobsConsumer), one for confirmation re-runs
// (RerunsConsumer). The filters never overlap, which a work-queue stream
// requires, and they let a builder choose what to take next: the queues of
// the experiment with the highest priority first, within it the re-runs
// before the first runs (so that confirming a regression does not wait for
// the rest of the experiment, nor leave the experiment's last minutes to
// re-runs alone), and only toolchains it has installed. The producer
// creates an experiment's consumers with its record; abort and delete
// remove them.

// Metadata keys on JobsStream recording the job consumers' policy, so that
// whoever creates an experiment's consumers (the producer, from any CLI)
// gives them the AckWait and MaxDeliver the farm was Ensured with.
const (
	metaJobAckWait    = "ejecta.job_ack_wait"
	metaJobMaxDeliver = "ejecta.job_max_deliver"
	// On each job consumer: what it serves, for tools and for clean-up.
	metaExperiment = "ejecta.experiment"
	metaToolchain  = "ejecta.toolchain"
	// metaQueue is "reruns" on a re-run consumer, absent on a first-run one.
	metaQueue   = "ejecta.queue"
	queueReruns = "reruns"
)

// maxConsumerName keeps consumer names well under the server's 255.
const maxConsumerName = 200

// JobsConsumer is the name of the durable consumer serving the jobs of
// experiment exp for toolchain tc, e.g. "jobs~beta-check~nightly". '~'
// separates the parts: neither an experiment name nor an escaped token
// contains it, so two experiments' names never collide.
func JobsConsumer(exp, tc string) string { return consumerName("jobs~", exp, tc) }

// RerunsConsumer is the name of the durable consumer serving the
// confirmation re-runs of experiment exp for toolchain tc, e.g.
// "reruns~beta-check~nightly".
func RerunsConsumer(exp, tc string) string { return consumerName("reruns~", exp, tc) }

func consumerName(kind, exp, tc string) string {
	name := kind + exp + "~" + EscapeToken(tc)
	if len(name) <= maxConsumerName {
		return name
	}
	// A very long toolchain name (a path): a digest keeps the name unique.
	sum := sha256.Sum256([]byte(tc))
	return kind + exp + "~" + hex.EncodeToString(sum[:16])
}

// AllJobsFilter matches every job subject.
const AllJobsFilter = jobsPrefix + ".>"

// JobsFilter matches the job subjects of experiment exp for toolchain tc.
func JobsFilter(exp, tc string) string {
	return jobsPrefix + "." + EscapeToken(exp) + ".*.*." + EscapeToken(tc)
}

// RerunsFilter matches the re-run subjects of experiment exp for toolchain tc.
func RerunsFilter(exp, tc string) string { return JobsFilter(exp, tc) + "." + rerunToken }

// ExperimentUploadsFilter matches every upload request of experiment exp.
func ExperimentUploadsFilter(exp string) string {
	return uploadsPrefix + "." + EscapeToken(exp) + ".>"
}

// jobsPolicy is the AckWait and MaxDeliver of every job consumer.
type jobsPolicy struct {
	ackWait    time.Duration
	maxDeliver int
}

func (c Config) jobsPolicy() jobsPolicy {
	return jobsPolicy{ackWait: c.JobAckWait, maxDeliver: c.JobMaxDeliver + 1}
}

func (p jobsPolicy) metadata() map[string]string {
	return map[string]string{
		metaJobAckWait:    p.ackWait.String(),
		metaJobMaxDeliver: strconv.Itoa(p.maxDeliver),
	}
}

// readJobsPolicy reads the policy Ensure recorded on JobsStream, or the
// default one if it recorded none (an older server state).
func readJobsPolicy(ctx context.Context, js jetstream.JetStream) (jobsPolicy, int, error) {
	s, err := js.Stream(ctx, JobsStream)
	if err != nil {
		return jobsPolicy{}, 0, fmt.Errorf("open stream %s: %w", JobsStream, err)
	}
	cfg := s.CachedInfo().Config
	p := DefaultConfig().jobsPolicy()
	if d, err := time.ParseDuration(cfg.Metadata[metaJobAckWait]); err == nil && d > 0 {
		p.ackWait = d
	}
	if n, err := strconv.Atoi(cfg.Metadata[metaJobMaxDeliver]); err == nil && n > 0 {
		p.maxDeliver = n
	}
	return p, cfg.Replicas, nil
}

// jobsConsumerConfigs are the consumers of exp's jobs on tc: first runs,
// then re-runs, under the same policy.
func jobsConsumerConfigs(exp, tc string, p jobsPolicy, replicas int) []jetstream.ConsumerConfig {
	first := jetstream.ConsumerConfig{
		Durable: JobsConsumer(exp, tc), FilterSubject: JobsFilter(exp, tc),
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: p.ackWait,
		MaxDeliver: p.maxDeliver, MaxAckPending: 100000, Replicas: replicas,
		Description: "jobs of experiment " + exp + " on toolchain " + tc + ", shared by every builder",
		Metadata:    map[string]string{metaExperiment: exp, metaToolchain: tc},
	}
	rerun := first
	rerun.Durable, rerun.FilterSubject = RerunsConsumer(exp, tc), RerunsFilter(exp, tc)
	rerun.Description = "confirmation re-runs of experiment " + exp + " on toolchain " + tc + ", taken before its first runs"
	rerun.Metadata = map[string]string{metaExperiment: exp, metaToolchain: tc, metaQueue: queueReruns}
	return []jetstream.ConsumerConfig{first, rerun}
}

// EnsureJobsConsumers creates (or updates) the job consumers of exp, one
// per toolchain. It is idempotent: `experiment create` repeated, or a
// retry, calls it again.
func EnsureJobsConsumers(ctx context.Context, js jetstream.JetStream, exp *Experiment) error {
	p, replicas, err := readJobsPolicy(ctx, js)
	if err != nil {
		return err
	}
	for _, tc := range exp.Toolchains {
		for _, cc := range jobsConsumerConfigs(exp.Name, tc, p, replicas) {
			if _, err := js.CreateOrUpdateConsumer(ctx, JobsStream, cc); err != nil {
				return fmt.Errorf("ensure consumer %s on %s: %w", cc.Durable, JobsStream, err)
			}
		}
	}
	return nil
}

// DeleteJobsConsumers removes the job consumers of exp; missing ones are
// not an error.
func DeleteJobsConsumers(ctx context.Context, js jetstream.JetStream, exp *Experiment) error {
	for _, tc := range exp.Toolchains {
		for _, name := range []string{JobsConsumer(exp.Name, tc), RerunsConsumer(exp.Name, tc)} {
			err := js.DeleteConsumer(ctx, JobsStream, name)
			if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
				return fmt.Errorf("delete consumer %s on %s: %w", name, JobsStream, err)
			}
		}
	}
	return nil
}

// syncJobsConsumers gives every existing job consumer the policy p, adds
// the re-run consumer of each first-run one made by an earlier version
// (without it the re-runs of that experiment would wait for no one), and
// removes the single shared consumer of earlier versions: its filter
// covers every job subject and would overlap every per-experiment one.
func syncJobsConsumers(ctx context.Context, js jetstream.JetStream, p jobsPolicy) error {
	err := js.DeleteConsumer(ctx, JobsStream, legacyBuildersConsumer)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("delete legacy consumer %s on %s: %w", legacyBuildersConsumer, JobsStream, err)
	}
	s, err := js.Stream(ctx, JobsStream)
	if err != nil {
		return fmt.Errorf("open stream %s: %w", JobsStream, err)
	}
	have := map[string]bool{}
	var want []jetstream.ConsumerConfig
	infos := s.ListConsumers(ctx)
	for info := range infos.Info() {
		c := info.Config
		have[c.Durable] = c.AckWait == p.ackWait && c.MaxDeliver == p.maxDeliver
		exp, tc := c.Metadata[metaExperiment], c.Metadata[metaToolchain]
		if exp != "" && tc != "" && c.Metadata[metaQueue] == "" {
			want = append(want, jobsConsumerConfigs(exp, tc, p, c.Replicas)...)
		}
	}
	if err := infos.Err(); err != nil {
		return fmt.Errorf("list consumers of %s: %w", JobsStream, err)
	}
	for _, cc := range want {
		if upToDate, ok := have[cc.Durable]; ok && upToDate {
			continue
		}
		if _, err := js.CreateOrUpdateConsumer(ctx, JobsStream, cc); err != nil {
			return fmt.Errorf("ensure consumer %s on %s: %w", cc.Durable, JobsStream, err)
		}
	}
	return nil
}
