package reporter

import (
	"container/heap"
	"errors"
	"fmt"
	"time"
)

// A result can only be judged against its experiment's record (the
// toolchains, whether its jobs carry tickets). The producer writes the
// record before it queues a job, and the reporter has every record in
// memory from one watch of the bucket (records.go), so a result whose
// record it has not seen is one that raced the watch by a moment, or one
// of an experiment that does not exist: deleted, or a name a builder
// credential made up. Such a result waits here, apart from the
// experiments, for at most Config.RecordGrace from when it was stored, and
// is then refused. What waits is bounded in count and bytes: past either
// bound a result is refused at once. Nothing is lost by a refusal: the
// results stream still holds it, and a reporter restarted once the record
// is back counts it.

// errNoRecord is why a result whose experiment has no record is refused.
var errNoRecord = errors.New("no experiment record")

// Bounds of what waits for records, in all.
const (
	maxPendingResults = 10_000
	maxPendingBytes   = 16 << 20
	// pendingOverhead is what holding one result costs besides its bytes.
	pendingOverhead = 128
)

// refuseBatch is how many waiting results one pass of the run loop refuses
// once their grace is over: each refusal is a publish, and results keep
// flowing in between.
const refuseBatch = 256

// pendingResult is a result as it came from the results stream.
type pendingResult struct {
	subject string
	data    []byte
	seq     uint64
	signed  bool
}

func (p *pendingResult) cost() int { return len(p.subject) + len(p.data) + pendingOverhead }

// waiting is the results of one experiment whose record is not known, in
// the order they came.
type waiting struct {
	name     string
	results  []pendingResult
	deadline time.Time // the first result's: when they are all refused
	index    int       // in pending.queue
}

// pending is every result waiting for a record: by experiment, and as a
// queue by deadline so that the run loop finds the next one at once
// however many experiments wait.
type pending struct {
	exps         map[string]*waiting
	queue        waitQueue
	count, bytes int
	maxCount     int
	maxBytes     int
}

func newPending(maxCount, maxBytes int) pending {
	return pending{exps: make(map[string]*waiting), maxCount: maxCount, maxBytes: maxBytes}
}

// add keeps p for experiment exp until deadline (or the deadline of the
// experiment's first waiting result). It refuses p when the bounds are
// reached.
func (q *pending) add(exp string, p pendingResult, deadline time.Time) error {
	if q.count+1 > q.maxCount || q.bytes+p.cost() > q.maxBytes {
		return fmt.Errorf("%w: %d results (%d bytes) of experiments without a record wait already, at most %d (%d bytes)",
			errNoRecord, q.count, q.bytes, q.maxCount, q.maxBytes)
	}
	w := q.exps[exp]
	if w == nil {
		w = &waiting{name: exp, deadline: deadline}
		q.exps[exp] = w
		heap.Push(&q.queue, w)
	}
	w.results = append(w.results, p)
	q.count++
	q.bytes += p.cost()
	return nil
}

// take removes and returns what waits for exp's record; nil if nothing.
func (q *pending) take(exp string) *waiting {
	w := q.exps[exp]
	if w == nil {
		return nil
	}
	heap.Remove(&q.queue, w.index)
	out := *w
	q.forget(w, len(w.results))
	return &out
}

// forget takes w's first n results out of the counts, and w itself once it
// has none left.
func (q *pending) forget(w *waiting, n int) {
	for _, p := range w.results[:n] {
		q.count--
		q.bytes -= p.cost()
	}
	w.results = w.results[n:]
	if len(w.results) == 0 {
		delete(q.exps, w.name)
	}
}

// next is the earliest deadline; false when nothing waits.
func (q *pending) next() (time.Time, bool) {
	if len(q.queue) == 0 {
		return time.Time{}, false
	}
	return q.queue[0].deadline, true
}

// expired takes out up to limit results whose deadline is at or before
// now, with the experiments they belong to. An experiment with more left
// keeps its place in the queue.
func (q *pending) expired(now time.Time, limit int) []waiting {
	var out []waiting
	for limit > 0 && len(q.queue) > 0 && !q.queue[0].deadline.After(now) {
		w := q.queue[0]
		n := min(limit, len(w.results))
		out = append(out, waiting{name: w.name, results: w.results[:n:n]})
		limit -= n
		q.forget(w, n)
		if len(w.results) == 0 {
			heap.Pop(&q.queue)
		}
	}
	return out
}

// waitQueue is a heap of the waiting experiments by deadline.
type waitQueue []*waiting

func (h waitQueue) Len() int           { return len(h) }
func (h waitQueue) Less(i, j int) bool { return h[i].deadline.Before(h[j].deadline) }
func (h waitQueue) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *waitQueue) Push(x any) {
	w := x.(*waiting)
	w.index = len(*h)
	*h = append(*h, w)
}
func (h *waitQueue) Pop() any {
	old := *h
	w := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return w
}
