package reporter

import (
	"context"
	"encoding/json"

	"github.com/ejecta-build/ejecta/streams"
)

// Results of an experiment whose jobs carry tickets count only when signed
// by the builder handed the job (streams.JobKey): a builder credential
// alone must not change the verdict of a build its builder never held. A
// signed result is checked as it arrives; whether an unsigned one may count
// depends on its experiment's record, so until the record is read it
// waits apart from the others (unsigned), where it cannot push a genuine
// result out of the held ones, and is then counted or refused.

// vouch checks res, of the experiment whose record is rec (nil: not read
// yet), against the job key. It returns an error for a result to refuse,
// and wait for an unsigned result whose record is not known yet.
func (r *Reporter) vouch(rec *streams.Experiment, res *streams.Result) (wait bool, err error) {
	key := r.cfg.JobKey
	switch {
	case key.IsZero():
		return false, nil // tickets off: said once, at start
	case res.MAC != "":
		// Signed: checked whatever the record says (a retry of an older
		// experiment carries tickets too).
		return false, key.VerifyResult(res)
	case rec == nil:
		return true, nil
	case rec.Tickets:
		return false, key.VerifyResult(res) // streams.ErrNoMAC
	}
	return false, nil // an experiment from before tickets
}

// unsignedResult is an unsigned result waiting for its experiment's
// record, with its sequence in the results stream for a dead letter.
type unsignedResult struct {
	res *streams.Result
	seq uint64
}

// holdUnsigned keeps r, unsigned, until the experiment's record is known;
// like hold, only the highest attempt per build and run. It reports
// whether r was kept.
func (e *experiment) holdUnsigned(r *streams.Result, seq uint64) bool {
	k := heldKey{r.BuildKey, (r.Attempt - 1) / streams.RerunStride}
	if old, ok := e.unsigned[k]; ok && old.res.Attempt >= r.Attempt {
		return false
	}
	if e.unsigned == nil {
		e.unsigned = make(map[heldKey]unsignedResult)
	}
	e.unsigned[k] = unsignedResult{r, seq}
	return true
}

// settleUnsigned decides the unsigned results held for e now that its
// record rec is known: refused if its jobs carry tickets, else held with
// the others.
func (r *Reporter) settleUnsigned(ctx context.Context, e *experiment, rec *streams.Experiment) {
	for _, u := range e.unsigned {
		if _, err := r.vouch(rec, u.res); err != nil {
			// The result as it was decoded: the original bytes are not
			// kept while a record is awaited.
			data, _ := json.Marshal(u.res)
			r.refuse(ctx, streams.ResultSubject(u.res.BuildKey, u.res.Attempt), data, u.seq, err)
			continue
		}
		e.hold(u.res)
	}
	e.unsigned = nil
}
