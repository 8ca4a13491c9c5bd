package reporter

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// writeRetry is how soon a due report is looked at again while the previous
// batch is still being written.
const writeRetry = 20 * time.Millisecond

// writeTimeout bounds one batch's write. One batch is written at a time,
// so a put stuck on a store that accepted the connection but never answers
// (the S3 client retries each request up to ten times, each waiting up to a
// minute for a response) would hold every experiment's report; failed, the
// batch is simply written again.
const writeTimeout = 2 * time.Minute

// parallelPuts bounds the objects of a batch stored at once: a store like S3
// answers each PUT slowly but many side by side.
const parallelPuts = 8

// pagesEvery is how many debounces apart the pages of full.html are
// rewritten. Under a steady stream of results every page changes between
// two writes, and rewriting them all every second would cost as much as
// the rest of the reporter; the rest of the report stays one debounce
// behind.
const pagesEvery = 5

func (r *Reporter) pageEvery() time.Duration { return pagesEvery * r.cfg.Debounce }

// object is one file of a report, rendered and ready to store.
type object struct {
	key string
	// parts are written one after the other. They are shared with the
	// state (cached rows and entries), which replaces them on a change but
	// never writes into them.
	parts       net.Buffers
	contentType string
}

// batch is one write of an experiment's report. It holds only bytes, so the
// writer goroutine shares nothing with the state the run loop changes.
type batch struct {
	exp      string
	objects  []object
	progress []byte
	// pages and config say what to mark dirty again if the write fails.
	pages  []string
	config bool
	// resultAt is when the newest result in it arrived and storedAt when
	// the write ended: the report lag. startAt, renderedAt and firstAt
	// (results.json stored) split it: waiting for the write to be due,
	// rendering, storing.
	resultAt, startAt, renderedAt, firstAt, storedAt time.Time
	// done is how many builds had a result when it was rendered.
	done int
	// final is set when the report is final: its write starts the log
	// archives.
	final bool
	// whole is set when it holds the whole files (whole.go), and
	// cadence when the experiment writes them on their own cadence.
	whole, cadence bool
	// resultsUpdated is the time in its results.json; zero without one.
	resultsUpdated time.Time
	// bytes is the size of its objects (a write empties their parts).
	bytes int64
}

// size is o's length in bytes.
func (o object) size() int64 {
	var n int64
	for _, p := range o.parts {
		n += int64(len(p))
	}
	return n
}

// size is the bytes of b's objects, until they are written.
func (b *batch) size() int64 {
	var n int64
	for _, o := range b.objects {
		n += o.size()
	}
	return n
}

// written is what the writer reports back to the run loop.
type written struct {
	b   *batch
	err error
}

// flushDue starts writing the report of every experiment whose write is
// due. One batch is written at a time, by a goroutine, so results keep
// flowing in meanwhile; an experiment due while it runs is looked at again
// shortly after.
func (r *Reporter) flushDue(ctx context.Context, st *run) {
	r.collect(st, false)
	r.archives(ctx, st)
	now := time.Now()
	r.refuseExpired(ctx, st, now)
	for _, e := range st.exps {
		if due := e.dueAt(); due.IsZero() || due.After(now) {
			continue
		}
		if st.writing {
			e.retryAt(now.Add(writeRetry))
			continue
		}
		e.retryAt(time.Time{})
		b, err := r.prepare(e, now)
		if err != nil {
			r.log.Error().Err(err).Str("experiment", e.name).Msg("rendering report; will retry")
			e.retryAt(now.Add(r.cfg.Debounce))
			continue
		}
		b.startAt, b.renderedAt, b.bytes = now, time.Now(), b.size()
		st.writing = true
		e.lastWrite = now
		wctx, cancel := context.WithCancel(ctx)
		st.writingExp, st.stopWrite = b.exp, cancel
		go func() {
			defer cancel()
			err := r.write(wctx, st, b)
			b.storedAt = time.Now()
			r.met.written(b, err)
			st.done <- written{b, err}
		}()
		if !r.requestReruns(ctx, st, e) && e.dueAt().IsZero() {
			e.retryAt(now.Add(r.cfg.Debounce))
		}
	}
}

// collect takes the outcome of the batch being written, waiting for it if
// wait is set. A failed batch marks what it held dirty again, so the next
// write retries it: the state is in memory and the stream, nothing is lost.
func (r *Reporter) collect(st *run, wait bool) {
	if !st.writing {
		return
	}
	var w written
	if wait {
		w = <-st.done
	} else {
		select {
		case w = <-st.done:
		default:
			return
		}
	}
	st.writing = false
	e := st.exps[w.b.exp]
	if e == nil {
		// Deleted while its batch was written: that write put its progress
		// entry and its metrics back, which the deletion had removed.
		r.purgeProgress(st, w.b.exp)
		r.met.forget(w.b.exp)
		return
	}
	if w.err == nil {
		e.arch.stored(w.b.final)
		took := w.b.storedAt.Sub(w.b.startAt)
		if w.b.whole {
			e.whole.took, e.resultsUpdated = took, w.b.resultsUpdated
		}
		if !w.b.cadence || !w.b.whole {
			// A write of a large experiment's whole files does not space
			// the writes of its changes: those leave them out.
			e.wrote(took)
		}
		ev := r.log.Debug().Str("experiment", e.name).Int("done", w.b.done).Int("objects", len(w.b.objects)).
			Int64("bytes", w.b.bytes).Bool("whole", w.b.whole)
		if !w.b.resultAt.IsZero() {
			ev = ev.Dur("waited", w.b.startAt.Sub(w.b.resultAt))
		}
		ev.Dur("rendered_in", w.b.renderedAt.Sub(w.b.startAt)).
			Dur("first_stored_in", w.b.firstAt.Sub(w.b.renderedAt)).Str("first", w.b.objects[0].key).
			Dur("stored_in", w.b.storedAt.Sub(w.b.renderedAt)).
			Msg("report written")
		return
	}
	if !wait {
		r.log.Error().Err(w.err).Str("experiment", e.name).Msg("writing report; will retry")
	}
	for _, pfx := range w.b.pages {
		e.pages[pfx].dirty = true
	}
	if w.b.whole {
		e.whole.at = time.Time{} // due again at the next write
	}
	if w.b.config {
		e.configWritten = false
	}
	e.retryAt(time.Now().Add(r.cfg.Debounce))
}

// prepare renders what changed in e's report.
//
// The cost is proportional to what changed, not to the experiment: crates
// changed since the last write are encoded and rendered once (their rows
// are cached), full.html pages without a change are not rewritten, and
// index.html, markdown.md and the retry list hold only the regressions and
// fixes. The whole files (whole.go) are assembled by copying cached
// entries, and left out of a large experiment's writes between their own.
func (r *Reporter) prepare(e *experiment, now time.Time) (*batch, error) {
	b := &batch{exp: e.name, resultAt: e.lastResult, done: e.done, final: e.arch.writing(e.finished())}
	add := func(name string, parts net.Buffers, contentType string) {
		b.objects = append(b.objects, object{streams.ExperimentPrefix(e.name) + name, parts, contentType})
	}
	one := func(data []byte) net.Buffers { return net.Buffers{data} }
	const html = "text/html; charset=utf-8"

	b.cadence = e.onCadence(r.cfg.WholeFromCrates)
	b.whole = e.wholeDue(now, b.final, r.cfg.WholeFromCrates, r.pageEvery())
	pagesDue := now.Sub(e.pagesWritten) >= r.pageEvery()
	if b.cadence {
		// The pages go with the other whole files; a changed crate's row
		// is rendered with each write all the same, so that theirs has
		// only the latest changes to render.
		pagesDue = b.whole
		e.encodeChanged(true)
	} else {
		e.encodeChanged(pagesDue)
	}
	if b.whole {
		parts, err := e.resultsJSON(now)
		if err != nil {
			return nil, err
		}
		add(results.FileName, parts, "application/json")
		b.resultsUpdated = now.UTC()
	}
	data, err := e.indexHTML(r.tmpl, now)
	if err != nil {
		return nil, err
	}
	add(indexFileName, one(data), html)
	if data, err = e.fullHTML(r.tmpl, now); err != nil {
		return nil, err
	}
	add(fullFileName, one(data), html)
	for _, pfx := range e.prefixes {
		p := e.pages[pfx]
		if !p.dirty {
			continue
		}
		if !pagesDue {
			if !b.cadence {
				// Come back when the pages are due.
				e.retryAt(e.pagesWritten.Add(r.pageEvery()))
			}
			break
		}
		parts, err := e.pageHTML(r.tmpl, p, now)
		if err != nil {
			return nil, err
		}
		add(pageFileName(pfx), parts, html)
		b.pages = append(b.pages, pfx)
	}
	add(markdownFileName, one(e.markdownMD(now)), "text/markdown; charset=utf-8")
	add(retryFileName, one(e.retryList()), "text/plain; charset=utf-8")
	if !e.configWritten {
		if data, err = e.configJSON(); err != nil {
			return nil, err
		}
		add(configFileName, one(data), "application/json")
		b.config = true
	}
	if b.whole {
		craterParts, craterRetry := e.craterResults()
		add(craterResultsFileName, craterParts, "application/json")
		if data, err = e.craterConfigJSON(); err != nil {
			return nil, err
		}
		add(craterConfigFileName, one(data), "application/json")
		add(craterRetryListFileName, one(craterRetry), "text/plain; charset=utf-8")
	}
	resultsUpdated := e.resultsUpdated
	if b.whole {
		resultsUpdated = b.resultsUpdated
	}
	if b.progress, err = e.progressJSON(now, resultsUpdated); err != nil {
		return nil, err
	}
	switch {
	case b.whole:
		e.whole = wholeFiles{at: now, took: e.whole.took, done: e.done, state: e.rec.State}
	case e.whole.next.IsZero() && e.behind():
		e.whole.next = e.wholeNext(r.pageEvery())
	}
	// Marked clean now, dirty again by collect if the write fails.
	for _, pfx := range b.pages {
		e.pages[pfx].dirty = false
	}
	if len(b.pages) > 0 {
		e.pagesWritten = now
	}
	e.configWritten = true
	return b, nil
}

// write stores b's objects, results.json first so that it is never behind
// the pages, then the progress entry.
func (r *Reporter) write(ctx context.Context, st *run, b *batch) error {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	first := b.objects[0]
	if err := r.put(ctx, first); err != nil {
		return err
	}
	b.firstAt = time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelPuts)
	for _, o := range b.objects[1:] {
		g.Go(func() error { return r.put(gctx, o) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if _, err := st.progress.Put(ctx, b.exp, b.progress); err != nil {
		return fmt.Errorf("put progress of %s in %s: %w", b.exp, streams.ProgressBucket, err)
	}
	return nil
}

func (r *Reporter) put(ctx context.Context, o object) error {
	// Reading a net.Buffers consumes the slice header, not the parts.
	parts := o.parts
	if err := r.store.Put(ctx, o.key, &parts, o.size(), o.contentType); err != nil {
		return fmt.Errorf("store %s: %w", o.key, err)
	}
	return nil
}

// progressJSON is e's entry in the progress bucket: the same counts as
// results.json, from the same state, so `experiment status` and
// `report --output json` agree.
func (e *experiment) progressJSON(now, resultsUpdated time.Time) ([]byte, error) {
	rate, eta := e.rate()
	p := streams.Progress{
		V:              streams.SchemaVersion,
		Experiment:     e.name,
		Done:           e.done,
		Total:          e.rec.Jobs,
		RatePerMinute:  rate,
		ETASeconds:     eta,
		Confirming:     len(e.unconfirmed),
		Statuses:       maps.Clone(e.statuses),
		Classes:        make(map[string]int, len(e.classes)),
		Updated:        now.UTC(),
		ResultsUpdated: resultsUpdated,
	}
	for c, n := range e.classes {
		p.Classes[string(c)] = n
	}
	p.ToolchainsDone = make(map[string]int, len(e.rec.Toolchains))
	for i, tc := range e.rec.Toolchains {
		p.ToolchainsDone[tc] = e.doneBy[i]
	}
	data, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode progress of %s: %w", e.name, err)
	}
	return data, nil
}
