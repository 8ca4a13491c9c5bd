package logtail

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go/jetstream"
)

// Attempt is one attempt of a build that NATS knows about.
type Attempt struct {
	streams.BuildKey
	// Attempt is 0 for a build whose job is queued and has no log yet.
	Attempt int `json:"attempt"`
	// Live is true while the log's chunks are on LogsStream.
	Live bool `json:"live"`
	// Result is true once the attempt's result is published.
	Result bool `json:"result"`
}

// Attempts lists the attempts of experiment exp that have a queued job, a
// log on the stream or a result, sorted by crate, version, toolchain and
// attempt.
func Attempts(ctx context.Context, js jetstream.JetStream, exp string) ([]Attempt, error) {
	type id struct {
		k streams.BuildKey
		n int
	}
	found := map[id]*Attempt{}
	get := func(k streams.BuildKey, n int) *Attempt {
		a := found[id{k, n}]
		if a == nil {
			a = &Attempt{BuildKey: k, Attempt: n}
			found[id{k, n}] = a
		}
		return a
	}
	for _, src := range []struct {
		stream, filter string
		add            func(subj string) error
	}{
		{streams.JobsStream, streams.ExperimentJobsFilter(exp), func(subj string) error {
			k, err := streams.ParseJobSubject(subj)
			if err == nil {
				get(k, 0)
			}
			return err
		}},
		{streams.LogsStream, streams.ExperimentLogsFilter(exp), func(subj string) error {
			k, n, err := streams.ParseLogSubject(subj)
			if err == nil {
				get(k, n).Live = true
			}
			return err
		}},
		{streams.ResultsStream, streams.ExperimentResultsFilter(exp), func(subj string) error {
			k, n, _, err := streams.ParseResultSubject(subj)
			if err == nil {
				get(k, n).Result = true
			}
			return err
		}},
	} {
		s, err := js.Stream(ctx, src.stream)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", src.stream, err)
		}
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(src.filter))
		if err != nil {
			return nil, fmt.Errorf("list %s in %s: %w", src.filter, src.stream, err)
		}
		for subj := range info.State.Subjects {
			_ = src.add(subj) // a subject ejecta did not write (a hand-made test message) is no build
		}
	}
	// A queued job whose build has an attempt already is that attempt's
	// (running) job, not a build of its own.
	for i, a := range found {
		if a.Attempt == 0 {
			for j := range found {
				if j.k == i.k && j.n > 0 {
					delete(found, i)
					break
				}
			}
		}
	}
	out := make([]Attempt, 0, len(found))
	for _, a := range found {
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b Attempt) int {
		return cmp.Or(cmp.Compare(a.Crate, b.Crate), cmp.Compare(a.Version, b.Version),
			cmp.Compare(a.Toolchain, b.Toolchain), cmp.Compare(a.Attempt, b.Attempt))
	})
	return out, nil
}

// Query picks one build's attempt; empty fields and a zero attempt match any.
type Query struct {
	Crate, Version, Toolchain string
	Attempt                   int
}

// Resolve picks the attempt q means among atts (from Attempts): the latest
// attempt of the one build matching q. When several toolchains or versions
// match and exactly one of them has a live log, that one is meant (`ejecta
// tail exp crate` while the crate builds); otherwise the error names the
// flag to add and the values it accepts.
func Resolve(exp string, atts []Attempt, q Query) (streams.BuildKey, int, error) {
	var m []Attempt
	for _, a := range atts {
		if a.Crate == q.Crate && (q.Version == "" || a.Version == q.Version) &&
			(q.Toolchain == "" || a.Toolchain == q.Toolchain) {
			m = append(m, a)
		}
	}
	if len(m) == 0 {
		what := q.Crate
		if q.Version != "" {
			what += "@" + q.Version
		}
		if q.Toolchain != "" {
			what += " on " + q.Toolchain
		}
		return streams.BuildKey{}, 0, fmt.Errorf("crate %s: no queued job, live log or result in experiment %s", what, exp)
	}
	if vs := distinct(m, func(a Attempt) string { return a.Version }); len(vs) > 1 {
		if live := liveOnly(m); len(distinct(live, func(a Attempt) string { return a.Version })) == 1 {
			m = live
		} else {
			return streams.BuildKey{}, 0, fmt.Errorf("crate %s has several versions in experiment %s: write CRATE@VERSION (accepted: %s)", q.Crate, exp, strings.Join(vs, ", "))
		}
	}
	if ts := distinct(m, func(a Attempt) string { return a.Toolchain }); len(ts) > 1 {
		if live := liveOnly(m); len(distinct(live, func(a Attempt) string { return a.Toolchain })) == 1 {
			m = live
		} else {
			return streams.BuildKey{}, 0, fmt.Errorf("crate %s@%s was built with several toolchains in experiment %s: add --toolchain (accepted: %s)", q.Crate, m[0].Version, exp, strings.Join(ts, ", "))
		}
	}
	k := m[0].BuildKey
	if q.Attempt > 0 {
		return k, q.Attempt, nil
	}
	latest := 1 // a queued job's first attempt has no log yet
	for _, a := range m {
		latest = max(latest, a.Attempt)
	}
	return k, latest, nil
}

func liveOnly(atts []Attempt) []Attempt {
	var out []Attempt
	for _, a := range atts {
		if a.Live {
			out = append(out, a)
		}
	}
	return out
}

func distinct(atts []Attempt, f func(Attempt) string) []string {
	var out []string
	for _, a := range atts {
		if v := f(a); !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}
