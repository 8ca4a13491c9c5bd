package producer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/streams"
)

// RetryOutcome says what Retry queued.
type RetryOutcome struct {
	Experiment string `json:"experiment"`
	// Crates are the crate versions retried, as name@version.
	Crates []string `json:"crates"`
	// Jobs is how many jobs were queued (crates × toolchains, less those
	// already queued by the same retry).
	Jobs int `json:"jobs"`
}

// ParseCrateList reads a retry's crate list: "a,b@1.2.3" or "@FILE" with
// one per line ('#' starts a comment), as retry-regressed-list.txt is.
func ParseCrateList(spec string) ([]Crate, error) {
	var items []string
	if path, ok := strings.CutPrefix(spec, "@"); ok {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("crates: %w", err)
		}
		for line := range strings.Lines(string(data)) {
			line, _, _ = strings.Cut(line, "#")
			items = append(items, line)
		}
	} else {
		items = strings.Split(spec, ",")
	}
	var out []Crate
	for _, it := range items {
		it = strings.TrimSpace(it)
		if it == "" {
			continue
		}
		name, version, _ := strings.Cut(it, "@")
		if err := streams.ValidateCrateName(name); err != nil {
			return nil, fmt.Errorf("crates: %w", err)
		}
		if version != "" {
			if err := streams.ValidateVersion(version); err != nil {
				return nil, fmt.Errorf("crates: %s: %w", name, err)
			}
		}
		c := Crate{Name: name, Version: version}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("crates: %q names no crate", spec)
	}
	return out, nil
}

// Retry builds the given crates of experiment name again, on both
// toolchains, as a new retry generation (streams.RetryAttemptBase): the
// reporter replaces every earlier result of those crates with the new ones,
// and confirms a regression among them with re-runs of their own. A crate
// without a version is every version of it the experiment has. A crate the
// experiment does not have is an error naming it; nothing is queued then.
// An aborted experiment is refused.
func (p *Producer) Retry(ctx context.Context, name string, crates []Crate) (RetryOutcome, error) {
	out := RetryOutcome{Experiment: name}
	_, rec, err := p.load(ctx, name)
	if err != nil {
		return out, err
	}
	exp := &rec.exp
	if exp.State == streams.ExperimentAborted {
		return out, invalid(fmt.Errorf("experiment %s: %w; create a new experiment instead", name, ErrAborted))
	}
	if len(crates) == 0 {
		return out, invalid(errors.New("crates: none given"))
	}
	if exp.Tickets && p.key.IsZero() {
		return out, fmt.Errorf("experiment %s: %w", name, errNoJobKey)
	}
	jobs, err := p.js.Stream(ctx, streams.JobsStream)
	if err != nil {
		return out, fmt.Errorf("open stream %s: %w", streams.JobsStream, err)
	}
	results, err := p.js.Stream(ctx, streams.ResultsStream)
	if err != nil {
		return out, fmt.Errorf("open stream %s: %w", streams.ResultsStream, err)
	}
	// Resolve every crate before queueing anything.
	type plan struct {
		c      Crate
		gen    int
		queued map[string]bool // toolchains whose job of gen is queued already
	}
	var plans []plan
	var unknown []string
	for _, c := range crates {
		gens, err := p.generations(ctx, jobs, results, exp, c)
		if err != nil {
			return out, err
		}
		if len(gens) == 0 {
			unknown = append(unknown, strings.TrimSuffix(c.String(), "@"))
		}
		for _, v := range slices.Sorted(maps.Keys(gens)) {
			g := gens[v]
			gen, queued := g.ran+1, map[string]bool{}
			if g.queued > g.ran {
				// A retry of it is queued and has not run: asking again
				// is the same retry, not a new generation.
				gen, queued = g.queued, g.queuedOn
			}
			if gen > streams.MaxRetry {
				return out, invalid(fmt.Errorf("crates: %s@%s: retried %d times already, the most there can be", c.Name, v, streams.MaxRetry))
			}
			plans = append(plans, plan{Crate{Name: c.Name, Version: v}, gen, queued})
		}
	}
	if len(unknown) > 0 {
		return out, invalid(fmt.Errorf("crates: not in experiment %s (no job or result): %s", name, strings.Join(unknown, ", ")))
	}
	if err := streams.EnsureJobsConsumers(ctx, p.js, exp); err != nil {
		return out, err
	}
	for _, pl := range plans {
		for _, tc := range exp.Toolchains {
			if pl.queued[tc] {
				continue
			}
			k := streams.BuildKey{Experiment: name, Crate: pl.c.Name, Version: pl.c.Version, Toolchain: tc}
			job := streams.Job{
				V: streams.SchemaVersion, BuildKey: k,
				Mode: exp.Mode, CapLints: exp.CapLints, CrateSource: exp.CrateSource, Limits: exp.Limits,
				AttemptBase: streams.RetryAttemptBase(pl.gen),
			}
			p.key.SignJob(&job)
			if err := job.Validate(); err != nil {
				return out, fmt.Errorf("retry %s: %w", k, err)
			}
			data, err := json.Marshal(job)
			if err != nil {
				return out, fmt.Errorf("encode retry job %s: %w", k, err)
			}
			ack, err := p.js.Publish(ctx, streams.JobSubject(k), data, jetstream.WithMsgID(streams.RetryMsgID(k, pl.gen)))
			if err != nil {
				return out, fmt.Errorf("publish retry of %s: %w", k, err)
			}
			if !ack.Duplicate {
				out.Jobs++
			}
		}
		out.Crates = append(out.Crates, pl.c.Name+"@"+pl.c.Version)
	}
	p.log.Info().Str("experiment", name).Strs("crates", out.Crates).Int("jobs", out.Jobs).Msg("crates retried")
	return out, nil
}

// crateGens is where the builds of one crate version stand in retry
// generations (streams.AttemptGeneration).
type crateGens struct {
	// ran is the highest generation with a result.
	ran int
	// queued is the highest generation of a queued job (-1: none), and
	// queuedOn the toolchains with a job of it queued.
	queued   int
	queuedOn map[string]bool
}

// generations finds the versions of crate c that experiment exp has (a
// result or a queued job) and where each stands. Both toolchains of a retry
// share its generation, which is how the reporter pairs them.
func (p *Producer) generations(ctx context.Context, jobs, results jetstream.Stream, exp *streams.Experiment, c Crate) (map[string]*crateGens, error) {
	gens := map[string]*crateGens{}
	of := func(version string) *crateGens {
		g := gens[version]
		if g == nil {
			g = &crateGens{queued: -1, queuedOn: map[string]bool{}}
			gens[version] = g
		}
		return g
	}
	version := "*"
	if c.Version != "" {
		version = streams.EscapeToken(c.Version)
	}
	crate := streams.EscapeToken(c.Name)
	// Result subjects carry the attempt, hence the generation.
	filter := strings.TrimSuffix(streams.ExperimentResultsFilter(exp.Name), ">") + crate + "." + version + ".*.>"
	subjects, err := subjectsOf(ctx, results, filter)
	if err != nil {
		return nil, err
	}
	for _, subj := range subjects {
		k, attempt, _, err := streams.ParseResultSubject(subj)
		if err != nil {
			continue
		}
		g := of(k.Version)
		g.ran = max(g.ran, streams.AttemptGeneration(attempt))
	}
	// A queued job (not built yet, or a retry not yet run) has its
	// generation in its body; so has a queued re-run, on its own subject.
	filter = strings.TrimSuffix(streams.ExperimentJobsFilter(exp.Name), ">") + crate + "." + version + ".>"
	if subjects, err = subjectsOf(ctx, jobs, filter); err != nil {
		return nil, err
	}
	for _, subj := range subjects {
		msg, err := jobs.GetLastMsgForSubject(ctx, subj)
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue // taken meanwhile
			}
			return nil, fmt.Errorf("read queued job %s: %w", subj, err)
		}
		var job streams.Job
		if streams.Decode(msg.Data, &job) != nil {
			continue
		}
		g := of(job.Version)
		switch gen := streams.AttemptGeneration(job.AttemptBase + 1); {
		case gen > g.queued:
			g.queued, g.queuedOn = gen, map[string]bool{job.Toolchain: true}
		case gen == g.queued:
			g.queuedOn[job.Toolchain] = true
		}
	}
	return gens, nil
}

// subjectsOf lists the subjects of stream s matching filter.
func subjectsOf(ctx context.Context, s jetstream.Stream, filter string) ([]string, error) {
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", filter, err)
	}
	return slices.Collect(maps.Keys(info.State.Subjects)), nil
}
