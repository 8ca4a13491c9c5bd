package reporter

import (
	"github.com/ejecta-build/ejecta/streams"
)

// Results of an experiment whose jobs carry tickets count only when signed
// by the builder handed the job (streams.JobKey): a builder credential
// alone must not change the verdict of a build its builder never held. A
// signed result is checked as it arrives; whether an unsigned one may count
// depends on its experiment's record, so one that comes before the record
// waits for it (pending.go), apart from the experiments, and is then
// counted or refused. With a job key, an experiment that has no record
// within the grace (never created, or deleted) is taken as one whose jobs
// carry tickets: its unsigned results are refused for their missing MAC.

// vouch checks res, of the experiment whose record is rec, against the job
// key. It returns an error for a result to refuse.
func (r *Reporter) vouch(rec *streams.Experiment, res *streams.Result) error {
	key := r.cfg.JobKey
	switch {
	case key.IsZero():
		return nil // tickets off: said once, at start
	case res.MAC != "":
		// Signed: checked whatever the record says (a retry of an older
		// experiment carries tickets too).
		return key.VerifyResult(res)
	case rec.Tickets:
		return key.VerifyResult(res) // streams.ErrNoMAC
	}
	return nil // an experiment from before tickets
}
