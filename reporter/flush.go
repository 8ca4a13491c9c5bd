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
	// whole is set when it holds the whole files (whole.go).
	whole bool
	// writer is the writer storing it.
	writer int
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
// due. Each writer stores one batch at a time, on a goroutine, so results
// keep flowing in meanwhile; an experiment due while the changes' writer
// is busy is looked at again shortly after.
func (r *Reporter) flushDue(ctx context.Context, st *run) {
	r.collect(st, false)
	r.archives(ctx, st)
	now := time.Now()
	r.refuseExpired(ctx, st, now)
	for _, e := range st.exps {
		if due := e.dueAt(); due.IsZero() || due.After(now) {
			continue
		}
		if st.writers[changesWriter].busy {
			e.retryAt(now.Add(writeRetry))
			continue
		}
		e.retryAt(time.Time{})
		changes, whole, err := r.prepare(e, now, !st.writers[wholeWriter].busy)
		if err != nil {
			r.log.Error().Err(err).Str("experiment", e.name).Msg("rendering report; will retry")
			e.retryAt(now.Add(r.cfg.Debounce))
			continue
		}
		e.lastWrite = now
		r.start(ctx, st, changesWriter, changes, now)
		if whole != nil {
			r.start(ctx, st, wholeWriter, whole, now)
		}
		if !r.requestReruns(ctx, st, e) && e.dueAt().IsZero() {
			e.retryAt(now.Add(r.cfg.Debounce))
		}
	}
}

// The writers: the changes' writes and, apart, a large experiment's
// whole files (whole.go), whose write takes seconds at crater's size and
// would otherwise hold back every write of changes behind it.
const (
	changesWriter = iota
	wholeWriter
	writers
)

// writer is where one of the writers stands.
type writer struct {
	// busy is set while it stores a batch, of experiment exp; stop
	// cancels that: exp was deleted.
	busy bool
	exp  string
	stop context.CancelFunc
}

// start has writer w store b, rendered since now.
func (r *Reporter) start(ctx context.Context, st *run, w int, b *batch, now time.Time) {
	b.writer = w
	b.startAt, b.renderedAt, b.bytes = now, time.Now(), b.size()
	wctx, cancel := context.WithCancel(ctx)
	st.writers[w] = writer{busy: true, exp: b.exp, stop: cancel}
	go func() {
		defer cancel()
		err := r.write(wctx, st, b)
		b.storedAt = time.Now()
		r.met.written(b, err)
		st.done <- written{b, err}
	}()
}

// stopWrites cancels the writes of deleted experiment exp: objects they
// would store after this would outlive the deletion of its stored
// objects (producer.DeleteStored).
func (st *run) stopWrites(exp string) {
	for _, w := range st.writers {
		if w.busy && w.exp == exp {
			w.stop()
		}
	}
}

// collect takes the outcome of the batches written, waiting for every
// writer if wait is set. A failed batch marks what it held dirty again, so
// the next write retries it: the state is in memory and the stream,
// nothing is lost.
func (r *Reporter) collect(st *run, wait bool) {
	for st.writers[changesWriter].busy || st.writers[wholeWriter].busy {
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
		st.writers[w.b.writer] = writer{}
		r.collected(st, w, wait)
		if w.b.writer == wholeWriter {
			// What waited for this writer is looked at again.
			for _, e := range st.exps {
				if e.whole.next.IsZero() {
					e.scheduleWhole(time.Now(), r.cfg.WholeFromCrates, r.pageEvery())
				}
			}
		}
	}
}

// collected takes the outcome of one batch.
func (r *Reporter) collected(st *run, w written, wait bool) {
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
		if w.b.writer == wholeWriter {
			// The progress entry says which results.json is stored.
			e.markDirty(time.Now(), r.cfg.Debounce)
		} else {
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

// prepare renders what changed in e's report: the batch of its changes
// and, when they are due and their writer free (wholeFree), a large
// experiment's whole files apart (whole.go); a smaller experiment's go
// with its changes.
//
// The cost is proportional to what changed, not to the experiment: crates
// changed since the last write are encoded and rendered once (their rows
// are cached), full.html pages without a change are not rewritten, and
// index.html, markdown.md and the retry list hold only the regressions and
// fixes. The whole files are assembled by copying cached entries.
func (r *Reporter) prepare(e *experiment, now time.Time, wholeFree bool) (changes, whole *batch, err error) {
	cadence := e.onCadence(r.cfg.WholeFromCrates)
	final := e.finished()
	b := &batch{exp: e.name, resultAt: e.lastResult, done: e.done}
	wb := b // the batch of the whole files, if any
	if cadence {
		wb = nil
		if wholeFree && e.wholeDue(now, final, r.cfg.WholeFromCrates, r.pageEvery()) {
			wb = &batch{exp: e.name, resultAt: e.lastResult, done: e.done}
		}
	}
	add := func(b *batch, name string, parts net.Buffers, contentType string) {
		b.objects = append(b.objects, object{streams.ExperimentPrefix(e.name) + name, parts, contentType})
	}
	one := func(data []byte) net.Buffers { return net.Buffers{data} }
	const html = "text/html; charset=utf-8"

	pagesDue := now.Sub(e.pagesWritten) >= r.pageEvery()
	if cadence {
		// The pages go with the other whole files; a changed crate's row
		// is rendered with each write all the same, so that theirs has
		// only the latest changes to render.
		pagesDue = wb != nil
		e.encodeChanged(true)
	} else {
		e.encodeChanged(pagesDue)
	}
	if wb != nil {
		wb.whole, wb.final = true, e.arch.writing(final)
		parts, err := e.resultsJSON(now)
		if err != nil {
			return nil, nil, err
		}
		// First, so that it is never behind the pages.
		add(wb, results.FileName, parts, "application/json")
		wb.resultsUpdated = now.UTC()
	}
	data, err := e.indexHTML(r.tmpl, now)
	if err != nil {
		return nil, nil, err
	}
	add(b, indexFileName, one(data), html)
	if data, err = e.fullHTML(r.tmpl, now); err != nil {
		return nil, nil, err
	}
	add(b, fullFileName, one(data), html)
	for _, pfx := range e.prefixes {
		p := e.pages[pfx]
		if !p.dirty {
			continue
		}
		if !pagesDue {
			if !cadence {
				// Come back when the pages are due.
				e.retryAt(e.pagesWritten.Add(r.pageEvery()))
			}
			break
		}
		parts, err := e.pageHTML(r.tmpl, p, now)
		if err != nil {
			return nil, nil, err
		}
		add(wb, pageFileName(pfx), parts, html)
		wb.pages = append(wb.pages, pfx)
	}
	add(b, markdownFileName, one(e.markdownMD(now)), "text/markdown; charset=utf-8")
	add(b, retryFileName, one(e.retryList()), "text/plain; charset=utf-8")
	if !e.configWritten {
		if data, err = e.configJSON(); err != nil {
			return nil, nil, err
		}
		add(b, configFileName, one(data), "application/json")
		b.config = true
	}
	if wb != nil {
		craterParts, craterRetry := e.craterResults()
		add(wb, craterResultsFileName, craterParts, "application/json")
		if data, err = e.craterConfigJSON(); err != nil {
			return nil, nil, err
		}
		add(wb, craterConfigFileName, one(data), "application/json")
		add(wb, craterRetryListFileName, one(craterRetry), "text/plain; charset=utf-8")
	}
	resultsUpdated := e.resultsUpdated
	if wb == b {
		resultsUpdated = b.resultsUpdated
	}
	if b.progress, err = e.progressJSON(now, resultsUpdated); err != nil {
		return nil, nil, err
	}
	switch {
	case wb != nil:
		e.whole = wholeFiles{at: now, took: e.whole.took, done: e.done, state: e.rec.State, final: wb.final}
	case wholeFree:
		e.scheduleWhole(now, r.cfg.WholeFromCrates, r.pageEvery())
	default:
		// Looked at again when their writer is free (collect).
		e.whole.next = time.Time{}
	}
	// Marked clean now, dirty again by collect if the write fails.
	if wb != nil {
		for _, pfx := range wb.pages {
			e.pages[pfx].dirty = false
		}
		if len(wb.pages) > 0 {
			e.pagesWritten = now
		}
	}
	e.configWritten = true
	if wb == b {
		wb = nil
	}
	return b, wb, nil
}

// write stores b's objects, results.json first so that it is never behind
// the pages, then the progress entry if it has one (a batch of whole
// files apart from the changes has none).
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
	if b.progress == nil {
		return nil
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
