package archive

import (
	"context"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/semaphore"

	"github.com/ejecta-build/ejecta/store"
)

// prefetch reads the logs of an archive ahead of the writer with a pool of
// Options.Parallel readers, holding at most Options.Budget bytes of them in
// memory. Logs come out of next in archive order.
type prefetch struct {
	ctx    context.Context
	cancel context.CancelFunc
	st     store.Store
	prefix string
	opts   Options
	// ahead is the largest log read ahead; a larger one is streamed by the
	// writer when its turn comes.
	ahead  int64
	budget *semaphore.Weighted
	order  chan *slot
	wg     sync.WaitGroup
	// dec is the writer's decoder, for streamed logs.
	dec    *zstd.Decoder
	decErr error
}

// slot is one entry on its way through the pool.
type slot struct {
	log storedLog
	err error
	// after is closed once the previous entry has taken its bytes from the
	// budget (or decided to take none); reserved is this entry's. Taking
	// them in archive order means the entry the writer waits for never
	// waits for bytes held by entries behind it.
	after    <-chan struct{}
	reserved chan struct{}
	ready    chan struct{}
}

// window bounds the entries handed out but not yet written, per reader.
// Most logs are small: without it the pool would run ahead by as many
// entries as fit in the budget, each with its bookkeeping.
const window = 4

func startPrefetch(ctx context.Context, st store.Store, prefix string, entries []Entry, opts Options) *prefetch {
	ctx, cancel := context.WithCancel(ctx)
	p := &prefetch{
		ctx: ctx, cancel: cancel, st: st, prefix: prefix, opts: opts,
		ahead:  opts.Budget / int64(opts.Parallel),
		budget: semaphore.NewWeighted(opts.Budget),
		order:  make(chan *slot, window*opts.Parallel),
	}
	p.dec, p.decErr = newDecoder()
	jobs := make(chan *slot)
	p.wg.Add(1 + opts.Parallel)
	go p.dispatch(entries, jobs)
	for range opts.Parallel {
		go p.read(jobs)
	}
	return p
}

// dispatch hands the entries out in order: to the writer's queue first,
// then to a reader.
func (p *prefetch) dispatch(entries []Entry, jobs chan<- *slot) {
	defer p.wg.Done()
	defer close(jobs)
	prev := make(chan struct{})
	close(prev)
	for _, e := range entries {
		s := &slot{log: storedLog{entry: e}, after: prev, reserved: make(chan struct{}), ready: make(chan struct{})}
		prev = s.reserved
		select {
		case p.order <- s:
		case <-p.ctx.Done():
			return
		}
		select {
		case jobs <- s:
		case <-p.ctx.Done():
			return
		}
	}
}

// read is one reader of the pool, with a decoder of its own.
func (p *prefetch) read(jobs <-chan *slot) {
	defer p.wg.Done()
	dec, err := newDecoder()
	if err == nil {
		defer dec.Close()
	}
	for s := range jobs {
		if err != nil {
			s.err = err
			close(s.reserved)
			close(s.ready)
			continue
		}
		p.fetch(s, dec)
	}
}

// fetch reads s's metadata, then, if the log is small enough, reserves its
// bytes and reads it into memory.
func (p *prefetch) fetch(s *slot, dec *zstd.Decoder) {
	defer close(s.ready)
	// Whatever happens, this entry's turn to reserve passes only after the
	// previous entry's, so that no later entry overtakes an earlier one.
	reserved := false
	reserve := func() {
		if !reserved {
			reserved = true
			<-s.after // the previous entry's fetch always closes it
			close(s.reserved)
		}
	}
	defer reserve()
	s.log.meta, s.err = readMeta(p.ctx, p.st, p.prefix, s.log.entry, p.opts.Wait)
	if s.err != nil {
		return
	}
	size := s.log.size()
	if size > p.ahead {
		return // streamed by the writer
	}
	select {
	case <-s.after:
	case <-p.ctx.Done():
		s.err = p.ctx.Err()
		return
	}
	if s.err = p.budget.Acquire(p.ctx, size); s.err != nil {
		return
	}
	s.log.held = size
	reserve()
	rc, err := openLog(p.ctx, p.st, p.prefix, &s.log.meta, dec)
	if err != nil {
		s.err = fmt.Errorf("log %s: %w", s.log.entry.Name, err)
		return
	}
	defer rc.Close()
	buf := &fixed{b: make([]byte, 0, size)}
	if err := copyVerified(buf, rc, &s.log.meta, make([]byte, min(copyBuffer, max(size, 512)))); err != nil {
		s.err = fmt.Errorf("log %s (%s): %w", s.log.entry.Name, p.st.Location(p.prefix+logObject(&s.log.meta)), err)
		return
	}
	s.log.data, s.log.ahead = buf.b, true
}

// next returns the next log in archive order.
func (p *prefetch) next() (*storedLog, error) {
	if p.decErr != nil {
		return nil, p.decErr
	}
	var s *slot
	select {
	case s = <-p.order:
	case <-p.ctx.Done():
		return nil, p.ctx.Err()
	}
	select {
	case <-s.ready:
	case <-p.ctx.Done():
		return nil, p.ctx.Err()
	}
	if s.err != nil {
		p.budget.Release(s.log.held)
		return nil, s.err
	}
	return &s.log, nil
}

// release gives back what a written log held.
func (p *prefetch) release(l *storedLog) {
	p.budget.Release(l.held)
	l.held, l.data = 0, nil
}

// stop ends the readers and waits for them.
func (p *prefetch) stop() {
	p.cancel()
	p.wg.Wait()
	if p.dec != nil {
		p.dec.Close()
	}
}

// fixed is a writer into a slice allocated at the log's size.
type fixed struct{ b []byte }

func (f *fixed) Write(p []byte) (int, error) {
	f.b = append(f.b, p...)
	return len(p), nil
}
