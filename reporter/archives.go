package reporter

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ejecta-build/ejecta/archive"
	"github.com/ejecta-build/ejecta/backoff"
	"github.com/ejecta-build/ejecta/results"
)

// archiveLogWait is how long the reporter waits for a log the final report
// names to be stored: an upload may finish after the result that names it.
const archiveLogWait = 2 * time.Minute

// archiveBackoff spaces the retries of a failed archive build: from 10s,
// doubling, to 10 minutes.
var archiveBackoff = backoff.Policy{First: 10 * time.Second, Max: 10 * time.Minute}

// archiveState is where the log archives of one experiment stand in this
// run of the reporter. Archives are built once the final report (every
// result in, every confirmation re-run done) is stored; a later final
// report (a result replaced after the end) builds them again only if the
// crates changed, which archive.Build tells from the manifest, so a
// restarted reporter does not rebuild them either.
type archiveState struct {
	// finalWriting is set while a final report is being written; wanted
	// once one was stored since the last build started.
	finalWriting, wanted bool
	// done receives the outcome of the build running; nil when none is.
	// stop cancels that build.
	done chan archiveOutcome
	stop context.CancelFunc
	// failures counts builds failed in a row; retry is when the next may
	// start.
	failures int
	retry    time.Time
	// manifest is that of the archives built or found; index.html links
	// them.
	manifest *archive.Manifest
}

type archiveOutcome struct {
	m   *archive.Manifest
	err error
}

// archivePoll is how often the run loop looks at a running build.
const archivePoll = 250 * time.Millisecond

// writing notes a report about to be written, final or not, and returns
// final.
func (a *archiveState) writing(final bool) bool {
	a.finalWriting = a.finalWriting || final
	return final
}

// stored notes a report stored: a final one wants the archives built.
func (a *archiveState) stored(final bool) {
	if final {
		a.finalWriting, a.wanted = false, true
	}
}

// wakeAt is when the run loop should next look at the archives; zero when
// nothing is waiting.
func (a *archiveState) wakeAt(now time.Time) time.Time {
	switch {
	case a.done != nil || a.finalWriting:
		// Nothing else wakes the run loop when the write or the build
		// ends.
		return now.Add(archivePoll)
	case a.wanted:
		return a.retry
	}
	return time.Time{}
}

// finished reports whether every build of e has its result and every
// regression its confirmation re-runs: the report will not change again.
func (e *experiment) finished() bool {
	if e.rec == nil || e.rec.Jobs == 0 || e.done < e.rec.Jobs || len(e.unconfirmed) > 0 {
		return false
	}
	listed := 0
	for _, n := range e.classes {
		listed += n
	}
	return listed == len(e.crates)
}

// archiveRun is the archive builds of one call of Run: they end with it.
type archiveRun struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// stop cancels the builds still running and waits for them.
func (ar *archiveRun) stop() {
	if ar.cancel != nil {
		ar.cancel()
	}
	ar.wg.Wait()
}

// archives collects finished archive builds and starts wanted ones.
func (r *Reporter) archives(ctx context.Context, st *run) {
	if st.arch.ctx == nil {
		st.arch.ctx, st.arch.cancel = context.WithCancel(ctx)
	}
	ctx = st.arch.ctx
	now := time.Now()
	for _, e := range st.exps {
		a := &e.arch
		if a.done != nil {
			select {
			case out := <-a.done:
				a.done = nil
				r.archived(e, out, now)
			default:
				continue
			}
		}
		if !a.wanted || now.Before(a.retry) || ctx.Err() != nil {
			continue
		}
		a.wanted = false
		a.done = make(chan archiveOutcome, 1)
		bctx, stop := context.WithCancel(ctx)
		a.stop = stop
		st.arch.wg.Add(1)
		go func(done chan<- archiveOutcome) {
			defer st.arch.wg.Done()
			defer stop()
			m, err := archive.Build(bctx, r.store, e.name, archive.BuildOptions{Options: archiveOptions()})
			done <- archiveOutcome{m, err}
		}(a.done)
	}
}

func archiveOptions() (o archive.Options) {
	o.Wait = archiveLogWait
	return o
}

// archived takes the outcome of a build.
func (r *Reporter) archived(e *experiment, out archiveOutcome, now time.Time) {
	a := &e.arch
	if errors.Is(out.err, archive.ErrNotFinished) {
		// results.json changed since (a new generation of results): the
		// next final report asks again.
		r.log.Info().Err(out.err).Str("experiment", e.name).Msg("log archives wait for the experiment to finish")
		return
	}
	if out.err != nil {
		a.failures++
		a.wanted = true
		a.retry = now.Add(archiveBackoff.Delay(a.failures - 1))
		r.log.Error().Err(out.err).Str("experiment", e.name).Time("retry", a.retry).
			Msg("building log archives; will retry")
		return
	}
	a.failures = 0
	changed := a.manifest == nil || a.manifest.CratesSHA256 != out.m.CratesSHA256
	a.manifest = out.m
	if changed {
		r.log.Info().Str("experiment", e.name).Int("archives", len(out.m.Archives)).Msg("log archives stored")
		// index.html links the archives.
		e.markDirty(now, r.cfg.Debounce)
	}
}

// archiveHref is the link from index.html to class c's archive; empty
// while it is not built.
func (e *experiment) archiveHref(c results.Class) string {
	if e.arch.manifest == nil {
		return ""
	}
	for _, a := range e.arch.manifest.Archives {
		if a.Class == c {
			return a.Key
		}
	}
	return ""
}
