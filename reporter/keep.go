package reporter

import "github.com/ejecta-build/ejecta/streams"

// A crater run holds about 1.4M results for days, so what a crate keeps of
// a result (keep) is a kept: the fields its report shows and judges by, and
// nothing it can share. The build's experiment, crate and version are its
// page's and its crate's; the words results repeat (toolchains, statuses,
// reasons, senders) are one labels shared by every result that has them;
// the log key is a marker when it is the attempt's own; the MAC, the
// builder and the finish time, which only taking the result in needs, are
// not kept.

// labels are the words of a result that many others share. A kept points
// to one copy per experiment (experiment.keep): four strings in every kept
// were half of its 128 bytes. They are never changed once made.
type labels struct {
	Toolchain string
	Status    streams.Status
	Reason    streams.Reason
	// Sender is the builder user the result came from (disputes.go).
	Sender string
}

// kept is what a crate keeps of one attempt's result.
type kept struct {
	*labels
	// LogKey is ownLog, none, or the key as it came (resultLog).
	LogKey       string
	FirstError   *streams.FirstError
	DurationMS   int64
	Attempt      int
	ExitCode     int
	SharedTarget bool
}

// ownLog is the LogKey of a kept whose log key was its attempt's own
// (streams.LogObjectKey of its build and attempt), which Result.Validate
// allows besides none: resultLog makes it again when a report needs it.
const ownLog = "\x00own"

// keepOf is the kept of r, sharing r's strings, with labels of its own.
func keepOf(r *streams.Result) *kept {
	l := labelsOf(r)
	return keepWith(r, &l)
}

func labelsOf(r *streams.Result) labels {
	return labels{Toolchain: r.Toolchain, Status: r.Status, Reason: r.Reason, Sender: r.Sender}
}

// keepWith is the kept of r with labels l.
func keepWith(r *streams.Result, l *labels) *kept {
	k := &kept{labels: l, LogKey: r.LogKey, FirstError: r.FirstError, DurationMS: r.DurationMS,
		Attempt: r.Attempt, ExitCode: r.ExitCode, SharedTarget: r.SharedTarget}
	if k.LogKey != "" && k.LogKey == streams.LogObjectKey(r.BuildKey, r.Attempt) {
		k.LogKey = ownLog
	}
	return k
}

// keep returns the kept of r that a crate holds, its labels the
// experiment's copy.
func (e *experiment) keep(r *streams.Result) *kept {
	l := labelsOf(r)
	shared, ok := e.labels[l]
	if !ok {
		shared = new(labels)
		*shared = l
		e.labels[l] = shared
	}
	return keepWith(r, shared)
}

// build is the build of cs that r is a kept result of.
func (cs *crateState) build(r *kept) streams.BuildKey {
	exp := ""
	if cs.page != nil { // every crate of an experiment has one (pageFor)
		exp = cs.page.exp
	}
	return streams.BuildKey{Experiment: exp, Crate: cs.key.name, Version: cs.key.version, Toolchain: r.Toolchain}
}

// resultLog is the log key r named, as it came.
func (cs *crateState) resultLog(r *kept) string {
	if r.LogKey == ownLog {
		return streams.LogObjectKey(cs.build(r), r.Attempt)
	}
	return r.LogKey
}
