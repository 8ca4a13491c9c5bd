package reporter

import "github.com/ejecta-build/ejecta/streams"

// A build's result normally comes from the one builder its job was
// delivered to, and a later attempt replaces an earlier one: a builder
// that crashed or hit an error of the farm hands the job back, and the
// next attempt is the truth. A holder of a builder credential who fetched
// the job once knows its ticket, and could sign a higher attempt than the
// genuine builder's with another verdict. Result subjects name their
// sender (streams.ResultSubject), which the permissions of builder users
// enforce, so when results of one build from two builder users disagree on
// the verdict the reporter takes neither: the build becomes an error with
// reason streams.ReasonDisputed, said in the log and the metrics, and only
// a retry (a new run, under a new ticket) builds it again. Results from
// one user, or that agree, are taken as they always were. Builders without
// users of their own (one shared user, no authentication) cannot be told
// apart and are never disputed.

// slotKey names one slot of a crate: a toolchain's result of its first run
// (round 0) or of a confirmation re-run.
type slotKey struct{ round, idx int }

// claim is what a slot was told before its latest result.
type claim struct {
	// first is the slot's first result with a verdict, one that is not an
	// error of the farm; nil while it has none.
	first *kept
	// disputed is set once two senders disagreed: the slot holds the
	// dispute until a retry.
	disputed bool
}

// claim returns the claim of slot k, made from held, the result the slot
// holds, on the slot's second result.
func (c *crateState) claim(k slotKey, held *kept) *claim {
	if cl := c.claims[k]; cl != nil {
		return cl
	}
	if c.claims == nil {
		c.claims = make(map[slotKey]*claim)
	}
	cl := &claim{}
	cl.saw(held)
	c.claims[k] = cl
	return cl
}

// saw takes note of r, a result of the slot.
func (cl *claim) saw(r *kept) {
	if cl.first == nil && hasVerdict(r) {
		cl.first = r
	}
}

// contradicts returns the result of another sender that came disagrees
// with: the slot's first verdict or the result it holds; nil if none.
func (cl *claim) contradicts(held, came *kept) *kept {
	if !hasVerdict(came) {
		return nil
	}
	for _, r := range []*kept{cl.first, held} {
		if r != nil && hasVerdict(r) && r.Sender != came.Sender && outcome(r) != outcome(came) {
			return r
		}
	}
	return nil
}

// hasVerdict reports whether r says something of the crate: an error
// result is the farm's, and a later attempt replaces it whoever sends it.
func hasVerdict(r *kept) bool { return r.Status != streams.StatusError }

// disputed is the result a disputed slot holds: the later attempt of held
// and came, as an error of the farm.
func disputed(held, came *kept) *kept {
	d := *held
	if came.Attempt > held.Attempt {
		d = *came
	}
	// Labels are shared with every result that has them: d gets its own.
	l := *d.labels
	l.Status, l.Reason = streams.StatusError, streams.ReasonDisputed
	d.labels, d.ExitCode = &l, 0
	// Either builder may be the suspect one: neither's first error is the
	// build's.
	d.FirstError = nil
	return &d
}
