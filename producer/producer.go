package producer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Request is what `ejecta experiment create` asks for.
type Request struct {
	Name       string
	Toolchains []string
	Mode       string
	Crates     string // selection spec, see SelectWith
	Skip       string // exclusions, see SelectOptions
	// Downloads is a downloads file ranking top-N selections ("" ranks by
	// reverse dependencies), see ReadDownloads.
	Downloads   string
	CrateSource string
	CapLints    string
	Priority    int
	// Limits override the builders' defaults for every job (zero: default).
	Limits streams.Limits
	// KeepLogs is how long the stored logs are kept once the experiment
	// is over (zero: the reporter's default).
	KeepLogs time.Duration
	// Baseline is an earlier experiment whose regressions the report
	// marks as known; "" for none.
	Baseline string
	// NoToolchainCheck accepts toolchains no live builder has (see checkToolchains).
	NoToolchainCheck bool
}

// Outcome says what Create did.
type Outcome struct {
	Experiment streams.Experiment
	// Added is the number of jobs this call put on the queue; 0 when the
	// same experiment had been created before.
	Added int
	// Existed is true when an experiment with this name and the same
	// configuration was already recorded.
	Existed bool
	// Warnings are things the user should know that did not stop Create.
	Warnings []string
}

// InvalidError marks an error in the request itself (a bad field, an
// unknown crate, a taken name), as opposed to a failure of the servers.
type InvalidError struct{ Err error }

func (e *InvalidError) Error() string { return e.Err.Error() }
func (e *InvalidError) Unwrap() error { return e.Err }

func invalid(err error) error { return &InvalidError{Err: err} }

// ErrNameTaken is returned when the name belongs to an experiment with
// another configuration.
var ErrNameTaken = errors.New("experiment name taken")

// publishWindow is how many jobs are published before their acks are
// awaited; publishAckTimeout bounds that wait, since the client has none of
// its own for asynchronous publishes and a lost connection would leave it
// waiting for ever.
const (
	publishWindow     = 256
	publishAckTimeout = 30 * time.Second
)

// checkpointEvery is how many jobs are published between two updates of
// the record's Published count; a crash re-publishes at most this many,
// and their Msg-Ids make that a no-op.
const checkpointEvery = 500

// Producer publishes experiments.
type Producer struct {
	js  jetstream.JetStream
	log zerolog.Logger
	now func() time.Time
	met *Metrics // nil: not counted
	// key signs every job's ticket (streams.JobKey); zero: jobs carry
	// none, and experiments are created without tickets.
	key streams.JobKey
}

// WithJobKey gives every job the producer publishes a ticket derived from
// key, and records new experiments as carrying tickets: their results and
// upload requests must then be signed by the builder handed the job.
func WithJobKey(key streams.JobKey) Option {
	return func(p *Producer) { p.key = key }
}

// errNoJobKey is why a producer without a key may not publish jobs of an
// experiment whose jobs carry tickets: their results would all be refused.
var errNoJobKey = errors.New("its jobs carry tickets and this producer has no job key: give it the one the reporter and uploaders have (EJECTA_JOB_KEY)")

// New returns a Producer publishing through js (streams already Ensured).
func New(js jetstream.JetStream, log zerolog.Logger, opts ...Option) *Producer {
	p := &Producer{js: js, log: log, now: time.Now}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Validate checks every field of r that needs no I/O, naming the bad one.
func (r Request) Validate() error {
	if err := streams.ValidateExperimentName(r.Name); err != nil {
		return fmt.Errorf("name: %w", err)
	}
	if len(r.Toolchains) != 2 {
		return fmt.Errorf("toolchains: want exactly two, comma-separated (e.g. stable,nightly), have %d: %q", len(r.Toolchains), strings.Join(r.Toolchains, ","))
	}
	for _, tc := range r.Toolchains {
		if err := streams.ValidateToolchain(tc); err != nil {
			return fmt.Errorf("toolchains: %w", err)
		}
	}
	if r.Toolchains[0] == r.Toolchains[1] {
		return fmt.Errorf("toolchains: both are %q, want two different toolchains", r.Toolchains[0])
	}
	if _, err := streams.ParseMode(r.Mode); err != nil {
		return fmt.Errorf("mode: %w", err)
	}
	if r.CapLints != "" && !slices.Contains(streams.CapLints, r.CapLints) {
		return fmt.Errorf("cap-lints: unknown level %q (accepted: %s)", r.CapLints, strings.Join(streams.CapLints, ", "))
	}
	if err := r.Limits.Validate(); err != nil {
		return fmt.Errorf("limits: %w", err)
	}
	if r.Priority < 0 || r.Priority > 100 {
		return fmt.Errorf("priority: %d, want 0 to 100", r.Priority)
	}
	if streams.IsRegistrySource(r.CrateSource) {
		return streams.ValidateCrateSource(r.CrateSource)
	}
	if st, err := os.Stat(r.CrateSource); err != nil || !st.IsDir() {
		return fmt.Errorf("crate-source: %q is not a directory, nor a sparse registry (sparse+https://host/index/)", r.CrateSource)
	}
	return nil
}

// Create validates r, records the experiment and publishes its jobs.
func (p *Producer) Create(ctx context.Context, r Request) (Outcome, error) {
	if err := r.Validate(); err != nil {
		return Outcome{}, invalid(err)
	}
	var src *Source
	var err error
	if streams.IsRegistrySource(r.CrateSource) {
		// A registry that cannot be read is not the request's fault; a
		// selection it cannot serve is.
		if src, err = RegistrySource(ctx, r.CrateSource, r.Crates, r.Skip); errors.Is(err, ErrRegistryUnreadable) {
			return Outcome{}, err
		}
	} else {
		src, err = ScanSource(r.CrateSource)
		if err != nil {
			err = fmt.Errorf("crate-source: %w", err)
		}
	}
	if err != nil {
		return Outcome{}, invalid(err)
	}
	opts := SelectOptions{Skip: r.Skip}
	if r.Downloads != "" {
		if opts.Downloads, err = ReadDownloads(r.Downloads); err != nil {
			return Outcome{}, invalid(err)
		}
	}
	crates, err := SelectWith(r.Crates, src, opts)
	if err != nil {
		return Outcome{}, invalid(err)
	}
	exp := streams.Experiment{
		V: streams.SchemaVersion, Name: r.Name, Toolchains: r.Toolchains, Mode: streams.Mode(r.Mode),
		CapLints: r.CapLints, Priority: r.Priority, CrateSource: src.Dir, Selection: r.Crates, Skip: r.Skip,
		Crates: len(crates), Jobs: len(crates) * len(r.Toolchains), CreatedAt: p.now().UTC(),
		Limits: r.Limits, Tickets: !p.key.IsZero(), KeepLogs: streams.Duration(r.KeepLogs),
		Baseline: r.Baseline,
	}
	if err := exp.Validate(); err != nil {
		return Outcome{}, invalid(err)
	}
	var warnings []string
	if w := streams.CrateSourceWarning(r.CrateSource); w != "" {
		p.log.Warn().Str("crate_source", r.CrateSource).Str("experiment", r.Name).
			Msg("crate source read over plain HTTP: the crates are only as trustworthy as the index, which anyone on the network path can change")
		warnings = append(warnings, w)
	}
	if !r.NoToolchainCheck {
		w, err := p.checkToolchains(ctx, r.Toolchains)
		if err != nil {
			return Outcome{}, err
		}
		if w != "" {
			warnings = append(warnings, w)
		}
	}
	kv, err := p.js.KeyValue(ctx, streams.ExperimentsBucket)
	if err != nil {
		return Outcome{}, fmt.Errorf("open %s: %w", streams.ExperimentsBucket, err)
	}
	rec, existed, err := p.record(ctx, kv, exp)
	if err != nil {
		return Outcome{}, err
	}
	if rec.exp.State == streams.ExperimentAborted {
		return Outcome{}, invalid(fmt.Errorf("name: %w: %q was aborted; delete it first (experiment delete %s)", ErrNameTaken, rec.exp.Name, rec.exp.Name))
	}
	if rec.exp.Tickets && p.key.IsZero() {
		return Outcome{}, fmt.Errorf("experiment %s: %w", rec.exp.Name, errNoJobKey)
	}
	// Builders take jobs through these; they exist before the first job.
	if err := streams.EnsureJobsConsumers(ctx, p.js, &rec.exp); err != nil {
		return Outcome{}, err
	}
	added, err := p.publish(ctx, kv, &rec, crates)
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{Experiment: rec.exp, Added: added, Existed: existed, Warnings: warnings}, nil
}

type record struct {
	exp      streams.Experiment
	revision uint64
}

// record stores exp under its name, or returns the stored record if it has
// the same configuration.
func (p *Producer) record(ctx context.Context, kv jetstream.KeyValue, exp streams.Experiment) (record, bool, error) {
	data, err := json.Marshal(exp)
	if err != nil {
		return record{}, false, fmt.Errorf("encode experiment: %w", err)
	}
	rev, err := kv.Create(ctx, exp.Name, data)
	if err == nil {
		return record{exp: exp, revision: rev}, false, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return record{}, false, fmt.Errorf("record experiment %s: %w", exp.Name, err)
	}
	entry, err := kv.Get(ctx, exp.Name)
	if err != nil {
		return record{}, false, fmt.Errorf("read experiment %s: %w", exp.Name, err)
	}
	var old streams.Experiment
	if err := json.Unmarshal(entry.Value(), &old); err != nil {
		return record{}, false, fmt.Errorf("read experiment %s: %w", exp.Name, err)
	}
	if !sameConfig(old, exp) {
		return record{}, false, invalid(fmt.Errorf("name: %w: %q was created %s with toolchains %s, mode %s, crates %q (%d); pick another name",
			ErrNameTaken, old.Name, old.CreatedAt.Format(time.RFC3339), strings.Join(old.Toolchains, ","), old.Mode, old.Selection, old.Crates))
	}
	return record{exp: old, revision: entry.Revision()}, true, nil
}

// sameConfig leaves out the priority (`experiment priority` changes it)
// and whether jobs carry tickets (the first create decided, for good).
func sameConfig(a, b streams.Experiment) bool {
	return slices.Equal(a.Toolchains, b.Toolchains) && a.Mode == b.Mode && a.CapLints == b.CapLints &&
		a.CrateSource == b.CrateSource && a.Selection == b.Selection && a.Skip == b.Skip &&
		a.Crates == b.Crates && a.Limits == b.Limits
}

// publish puts the jobs not yet recorded as published on the queue, in a
// fixed order (crate-major) so that a resumed call continues where the
// previous one stopped. Jobs go out asynchronously, publishWindow at a
// time, each window's acks awaited before the next (and before a
// checkpoint counts its jobs): one round trip per window, not per job.
func (p *Producer) publish(ctx context.Context, kv jetstream.KeyValue, rec *record, crates []Crate) (int, error) {
	exp := &rec.exp
	added := 0
	for start := exp.Published; start < exp.Jobs; {
		end := min(exp.Jobs, start+publishWindow, (start/checkpointEvery+1)*checkpointEvery)
		n, err := p.publishRange(ctx, exp, crates, start, end)
		added += n
		if err != nil {
			return added, err
		}
		if end%checkpointEvery == 0 || end == exp.Jobs {
			exp.Published = end
			data, err := json.Marshal(*exp)
			if err != nil {
				return added, fmt.Errorf("encode experiment: %w", err)
			}
			rev, err := kv.Update(ctx, exp.Name, data, rec.revision)
			if err != nil {
				return added, fmt.Errorf("record progress of experiment %s: %w", exp.Name, err)
			}
			rec.revision = rev
		}
		start = end
	}
	p.log.Info().Str("experiment", exp.Name).Int("jobs", exp.Jobs).Int("added", added).Msg("experiment published")
	return added, nil
}

// publishRange publishes jobs start to end-1 of exp and waits for their
// acks; it returns how many were new to the stream.
func (p *Producer) publishRange(ctx context.Context, exp *streams.Experiment, crates []Crate, start, end int) (int, error) {
	type sent struct {
		key streams.BuildKey
		fut jetstream.PubAckFuture
	}
	window := make([]sent, 0, end-start)
	for i := start; i < end; i++ {
		c := crates[i/len(exp.Toolchains)]
		job := streams.Job{
			V: streams.SchemaVersion,
			BuildKey: streams.BuildKey{
				Experiment: exp.Name, Crate: c.Name, Version: c.Version,
				Toolchain: exp.Toolchains[i%len(exp.Toolchains)],
			},
			Mode: exp.Mode, CapLints: exp.CapLints, CrateSource: exp.CrateSource,
			Limits: exp.Limits,
		}
		p.key.SignJob(&job)
		data, err := json.Marshal(job)
		if err != nil {
			return 0, fmt.Errorf("encode job %s: %w", job.BuildKey, err)
		}
		subj := streams.JobSubject(job.BuildKey)
		fut, err := p.js.PublishAsync(subj, data, jetstream.WithMsgID(subj))
		if err != nil {
			return 0, fmt.Errorf("publish job %s: %w", job.BuildKey, err)
		}
		window = append(window, sent{job.BuildKey, fut})
	}
	timeout := time.NewTimer(publishAckTimeout)
	defer timeout.Stop()
	added := 0
	for _, s := range window {
		select {
		case ack := <-s.fut.Ok():
			p.met.jobPublished(ack.Duplicate)
			if !ack.Duplicate {
				added++
			}
		case err := <-s.fut.Err():
			return added, fmt.Errorf("publish job %s: %w", s.key, err)
		case <-timeout.C:
			return added, fmt.Errorf("publish job %s: no acknowledgement within %s", s.key, publishAckTimeout)
		case <-ctx.Done():
			return added, fmt.Errorf("publish job %s: %w", s.key, ctx.Err())
		}
	}
	return added, nil
}
