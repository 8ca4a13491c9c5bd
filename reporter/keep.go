package reporter

import "github.com/ejecta-build/ejecta/streams"

// A crater run holds about 1.4M results for days, so the copy of a result
// a crate keeps repeats nothing it can share (keep): the build's names are
// the crate's and the experiment's own strings, the words results repeat
// (statuses, reasons, builders, senders) one copy each, the log key a
// marker when it is the attempt's own, and the MAC, which only taking the
// result in needs, is dropped.

// ownLog is the LogKey of a kept result whose log key was its attempt's
// own (streams.LogObjectKey of its build and attempt), which Result.Validate
// allows besides none: resultLog makes it again when a report needs it.
const ownLog = "\x00own"

// words holds one copy of each string results repeat.
type words map[string]string

func (w words) of(s string) string {
	if c, ok := w[s]; ok {
		return c
	}
	w[s] = s
	return s
}

// keep returns the copy of r, a result of toolchain idx of cs, that cs
// holds.
func (e *experiment) keep(r *streams.Result, cs *crateState, idx int) *streams.Result {
	k := *r
	if k.LogKey != "" && k.LogKey == streams.LogObjectKey(k.BuildKey, k.Attempt) {
		k.LogKey = ownLog
	}
	k.Experiment, k.Crate, k.Version, k.Toolchain = e.name, cs.key.name, cs.key.version, e.rec.Toolchains[idx]
	k.Status = streams.Status(e.words.of(string(k.Status)))
	k.Reason = streams.Reason(e.words.of(string(k.Reason)))
	k.Builder, k.Sender = e.words.of(k.Builder), e.words.of(k.Sender)
	k.MAC = ""
	return &k
}

// resultLog is the log key r names, as it came.
func resultLog(r *streams.Result) string {
	if r.LogKey == ownLog {
		return streams.LogObjectKey(r.BuildKey, r.Attempt)
	}
	return r.LogKey
}
