package reporter

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ejecta-build/ejecta/results"
)

// An experiment created with a baseline (streams.Experiment.Baseline), an
// earlier run over the same crates, marks the regressions already known
// from it: "is this regression new since last week's run?" is answered in
// the report itself. The baseline's results.json is read once from the
// store, keeping only the names of its regressed crates; a baseline whose
// report cannot be read yet is tried again every baselineRetry.

// baselineRetry spaces the reads of a baseline report that failed.
const baselineRetry = time.Minute

// baseline is where an experiment's baseline stands.
type baseline struct {
	// regressed are the crates (by name) regressed in the baseline; nil
	// until its report was read.
	regressed map[string]bool
	retry     time.Time
}

// baselines reads the baseline reports of the experiments that want one
// and have not got it, and marks their known regressions. It looks only
// when one is due (st.baselineDue: an experiment with a baseline opened,
// or a failed read's retry), not on every result.
func (r *Reporter) baselines(ctx context.Context, st *run) {
	now := time.Now()
	if st.baselineDue.IsZero() || now.Before(st.baselineDue) {
		return
	}
	st.baselineDue = time.Time{}
	later := func(t time.Time) {
		if st.baselineDue.IsZero() || t.Before(st.baselineDue) {
			st.baselineDue = t
		}
	}
	for _, e := range st.exps {
		if e.rec == nil || e.rec.Baseline == "" || e.base.regressed != nil {
			continue
		}
		if now.Before(e.base.retry) {
			later(e.base.retry)
			continue
		}
		regressed, err := r.readRegressed(ctx, e.rec.Baseline)
		if err != nil {
			e.base.retry = now.Add(baselineRetry)
			later(e.base.retry)
			r.log.Warn().Err(err).Str("experiment", e.name).Str("baseline", e.rec.Baseline).
				Dur("retry_in", baselineRetry).Msg("reading the baseline's report; its regressions are not marked known yet")
			continue
		}
		e.base.regressed = regressed
		for _, cs := range e.crates {
			if regressed[cs.key.name] {
				cs.knownFrom = e.rec.Baseline
				cs.json, cs.row = nil, nil
				cs.page.dirty = true
			}
		}
		e.markDirty(now, r.cfg.Debounce)
		r.log.Info().Str("experiment", e.name).Str("baseline", e.rec.Baseline).Int("regressed", len(regressed)).
			Msg("baseline report read: its regressions are marked known")
	}
}

// readRegressed reads experiment exp's report from the store and returns
// the names of its regressed crates.
func (r *Reporter) readRegressed(ctx context.Context, exp string) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	rc, err := r.store.Get(ctx, results.Key(exp))
	if err != nil {
		return nil, fmt.Errorf("read the report of %s: %w", exp, err)
	}
	defer rc.Close()
	regressed := map[string]bool{}
	if _, err := results.Read(rc, func(c results.CrateResult, _ json.RawMessage) error {
		if c.Class == results.ClassRegressed {
			regressed[c.Name] = true
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read %s: %w", r.store.Location(results.Key(exp)), err)
	}
	return regressed, nil
}

// known is the baseline cs regressed in too, when it regressed here; "".
func (cs *crateState) known() string {
	if cs.v.Class != results.ClassRegressed {
		return ""
	}
	return cs.knownFrom
}
