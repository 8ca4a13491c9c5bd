package builder

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/backoff"
	"github.com/ejecta-build/ejecta/streams"
)

// Jobs wait in two queues (durable consumers) per experiment and
// toolchain: confirmation re-runs (streams.RerunsConsumer) and first runs
// (streams.JobsConsumer). queues decides which a free slot takes from:
// it follows the experiments bucket with a KV watch, so that a priority
// change or an abort is seen at once without listing the bucket per
// fetch, and tries the queues of the live experiments in priority order
// (streams.ComparePriority), within one its re-runs before its first
// runs, with a no-wait fetch each, skipping toolchains this builder does
// not have, and queues found empty lately with no job announced since
// (emptyFor).

// Idle slots: one of them (the poller) looks again after idleBackoff,
// growing to its max; the others wait for a wake-up: a job published, a
// record changed, or the poller finding work. So an idle builder costs the
// server one pass over the queues per idleBackoff.Max, whatever its slots.
var idleBackoff = backoff.Policy{First: 20 * time.Millisecond, Max: 5 * time.Second, Jitter: retryJitter}

// idleFallback bounds a non-polling idle slot's wait, in case a wake-up
// was lost.
const idleFallback = 30 * time.Second

// missingRetry is how long a consumer found missing (not created yet,
// being deleted) is left alone before it is looked up again.
const missingRetry = 2 * time.Second

// emptyFor is how long a queue a no-wait fetch found empty is skipped,
// unless a job is queued on it meanwhile (queues.queued). Most queues are
// empty most of the time (an experiment's re-runs, tried before its first
// runs), and asking each costs a slot a round trip to the server before
// every job it takes. Jobs queued are announced (JobsQueuedFilter); what
// is not, a job handed back or redelivered after AckWait, or a notice
// lost, is seen this much later at most.
const emptyFor = 250 * time.Millisecond

// toolchainsTTL is how long the list of installed toolchains is trusted:
// installing one on a running builder is noticed within it.
const toolchainsTTL = 30 * time.Second

// errExperimentAborted ends the builds of an experiment aborted or deleted
// while they run.
var errExperimentAborted = errors.New("experiment aborted")

type queues struct {
	b *Builder

	mu     sync.Mutex
	exps   map[string]*streams.Experiment // live and aborted, by name
	order  []*streams.Experiment          // the live ones, in the order jobs are taken
	wake   chan struct{}                  // closed and replaced on a wake-up
	cons   map[string]jetstream.Consumer  // by consumer name
	absent map[string]time.Time           // consumer name → when to look again
	tcs    map[string]bool                // toolchain → installed
	tcsAt  time.Time
	// empty are the queues found empty, by consumer name, skipped until
	// then; queuedN counts the jobs announced on each (noticed: while
	// the builder follows the announcements at all). A queue is skipped
	// only while no job was announced since the fetch that found it empty
	// began.
	empty   map[string]emptyQueue
	queuedN map[string]uint64
	noticed atomic.Bool

	turn   atomic.Uint64 // rotates the toolchain tried first
	poller atomic.Bool   // held by the idle slot that polls
}

func newQueues(b *Builder) *queues {
	return &queues{
		b: b, exps: map[string]*streams.Experiment{}, wake: make(chan struct{}),
		cons: map[string]jetstream.Consumer{}, absent: map[string]time.Time{},
		empty: map[string]emptyQueue{}, queuedN: map[string]uint64{},
	}
}

// emptyQueue is a queue found empty: until when it is skipped, and its
// count of jobs announced when the fetch began.
type emptyQueue struct {
	until  time.Time
	queued uint64
}

// queued takes the announcement that a job was queued (notice is its
// subject), and wakes every idle slot.
func (q *queues) queued(notice string) {
	if name, ok := streams.QueuedConsumer(notice); ok {
		q.announce(name)
	}
	q.notify()
}

// announce counts a job announced on the queue name.
func (q *queues) announce(name string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.queuedN[name]++
}

// announced returns how many jobs were announced on the queue name, and
// whether name is to be skipped: found empty lately, with none since.
func (q *queues) announced(name string) (n uint64, skip bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n = q.queuedN[name]
	e, ok := q.empty[name]
	return n, ok && q.noticed.Load() && e.queued == n && time.Now().Before(e.until)
}

// foundEmpty records that a fetch from queue name found nothing; n is
// its count of jobs announced before the fetch.
func (q *queues) foundEmpty(name string, n uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.empty[name] = emptyQueue{until: time.Now().Add(emptyFor), queued: n}
}

// signal returns the channel the next wake-up closes. A slot takes it
// before looking at the queues, so a wake-up during the look is not lost.
func (q *queues) signal() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.wake
}

// notify wakes every idle slot.
func (q *queues) notify() {
	q.mu.Lock()
	defer q.mu.Unlock()
	close(q.wake)
	q.wake = make(chan struct{})
}

// idle waits for a wake-up after a look found every queue empty; n counts
// the looks in a row that found nothing.
func (q *queues) idle(ctx context.Context, wake <-chan struct{}, n int) {
	d := idleFallback
	if q.poller.CompareAndSwap(false, true) {
		defer q.poller.Store(false)
		d = idleBackoff.Delay(n)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-wake:
	case <-t.C:
	}
}

// aborted reports whether experiment exp was aborted or deleted: a build
// of it must not start, and one running is stopped.
func (q *queues) aborted(exp string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	e := q.exps[exp]
	return e == nil || e.State == streams.ExperimentAborted
}

// record returns experiment exp's record as last seen, or nil.
func (q *queues) record(exp string) *streams.Experiment {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.exps[exp]
}

// watch follows the experiments bucket until ctx ends, keeping the order
// of the queues and stopping the builds of experiments aborted or deleted.
func (q *queues) watch(ctx context.Context) {
	for failures := 0; ctx.Err() == nil; failures++ {
		err := q.follow(ctx)
		if ctx.Err() != nil {
			return
		}
		if failures%10 == 0 {
			q.b.log.Warn().Err(err).Int("failures", failures).Msg("watching experiments failed, retrying")
		}
		if backoff.Sleep(ctx, defaultBackoff.Delay(failures)) != nil {
			return
		}
	}
}

func (q *queues) follow(ctx context.Context) error {
	kv, err := q.b.js.KeyValue(ctx, streams.ExperimentsBucket)
	if err != nil {
		return err
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case entry, ok := <-w.Updates():
			if !ok {
				return errors.New("experiments watch closed")
			}
			if entry != nil {
				q.apply(entry)
			}
		}
	}
}

// apply takes one change of the experiments bucket.
func (q *queues) apply(entry jetstream.KeyValueEntry) {
	name := entry.Key()
	var exp *streams.Experiment
	if entry.Operation() == jetstream.KeyValuePut {
		var e streams.Experiment
		if err := streams.Decode(entry.Value(), &e); err != nil || e.Name != name {
			q.b.log.Warn().Err(err).Str("experiment", name).Msg("ignoring an invalid experiment record")
			return
		}
		exp = &e
	}
	q.setRecord(name, exp)
	if exp == nil || exp.State == streams.ExperimentAborted {
		q.b.stopExperiment(name)
	}
	q.notify()
}

// setRecord makes exp experiment name's record, or forgets the experiment
// when exp is nil (deleted), with what was kept of its queues: a builder
// runs for weeks of experiments.
func (q *queues) setRecord(name string, exp *streams.Experiment) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if exp == nil {
		delete(q.exps, name)
	} else {
		q.exps[name] = exp
	}
	q.order = q.order[:0]
	for _, e := range q.exps {
		if e.State != streams.ExperimentAborted {
			q.order = append(q.order, e)
		}
	}
	slices.SortFunc(q.order, streams.ComparePriority)
	q.tcs = nil // a new experiment may name a toolchain not checked yet
	q.prune()
}

// prune drops what is kept of queues (consumers looked up or found
// missing, queues found empty, jobs announced) that no experiment known
// has. Called with q.mu held.
func (q *queues) prune() {
	known := map[string]bool{}
	for _, e := range q.exps {
		for _, tc := range e.Toolchains {
			known[streams.RerunsConsumer(e.Name, tc)] = true
			known[streams.JobsConsumer(e.Name, tc)] = true
		}
	}
	gone := func(name string) bool { return !known[name] }
	maps.DeleteFunc(q.cons, func(name string, _ jetstream.Consumer) bool { return gone(name) })
	maps.DeleteFunc(q.absent, func(name string, _ time.Time) bool { return gone(name) })
	maps.DeleteFunc(q.empty, func(name string, _ emptyQueue) bool { return gone(name) })
	maps.DeleteFunc(q.queuedN, func(name string, _ uint64) bool { return gone(name) })
}

// take looks at the queues in order and takes the first job found, with
// the number of attempts its consumer allows. It returns a nil message
// when every queue is empty; err is the last failure met on the way, for
// the caller to report when nothing was found.
func (q *queues) take(ctx context.Context, slot int) (jetstream.Msg, int, error) {
	var lastErr error
	for _, name := range q.candidates(slot) {
		n, skip := q.announced(name)
		if skip {
			continue
		}
		cons, err := q.consumer(ctx, name)
		if err != nil {
			if !errors.Is(err, jetstream.ErrConsumerNotFound) {
				lastErr = err
			}
			continue
		}
		batch, err := cons.FetchNoWait(1)
		if err == nil {
			for msg := range batch.Messages() {
				return msg, streams.JobAttempts(cons.CachedInfo().Config.MaxDeliver), nil
			}
			err = batch.Error()
		}
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		if err == nil || errors.Is(err, jetstream.ErrNoMessages) {
			q.foundEmpty(name, n)
		}
		if err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, nats.ErrTimeout) {
			// The consumer may have been deleted (abort): look it up again.
			q.forget(name)
			lastErr = err
		}
	}
	return nil, 0, lastErr
}

// candidates are the consumer names to try for slot, in order: live
// experiments by priority; within one its re-runs, then its first runs,
// each on the toolchains this builder has. Re-runs first: a regression's
// confirmation then waits for no first run of its experiment, and the
// experiment does not end on re-runs alone, one slot busy, the others idle.
//
// The toolchain tried first is the slot's own (slot i's is toolchain i
// mod n) when the builder has a slot per toolchain at least: each slot
// then keeps to one toolchain while it has jobs, so of the shared targets
// a slot keeps per toolchain one is warm, and a dependency is built once
// per toolchain and slot that builds on it, not once per toolchain and
// slot of them all. Both sides of a comparison progress, each in slots of
// its own. With fewer slots, a different one each time, so that both
// still do.
func (q *queues) candidates(slot int) []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.refreshToolchains()
	turn := int(q.turn.Add(1))
	var out []string
	for _, e := range q.order {
		n := len(e.Toolchains)
		first := turn
		if q.b.cfg.Slots >= n {
			first = slot
		}
		for _, consumer := range []func(exp, tc string) string{streams.RerunsConsumer, streams.JobsConsumer} {
			for i := range n {
				tc := e.Toolchains[(first+i)%n]
				if q.tcs[tc] {
					out = append(out, consumer(e.Name, tc))
				}
			}
		}
	}
	return out
}

// refreshToolchains re-reads the installed toolchains once they are older
// than toolchainsTTL. Called with q.mu held.
func (q *queues) refreshToolchains() {
	if q.tcs != nil && time.Since(q.tcsAt) < toolchainsTTL {
		return
	}
	q.tcs, q.tcsAt = map[string]bool{}, time.Now()
	for _, e := range q.exps {
		for _, tc := range e.Toolchains {
			if _, seen := q.tcs[tc]; !seen {
				q.tcs[tc] = q.b.cfg.offers(tc)
			}
		}
	}
}

// consumer returns the consumer called name, looked up once and cached.
func (q *queues) consumer(ctx context.Context, name string) (jetstream.Consumer, error) {
	q.mu.Lock()
	cons, again := q.cons[name], q.absent[name]
	q.mu.Unlock()
	if cons != nil {
		return cons, nil
	}
	if time.Now().Before(again) {
		return nil, jetstream.ErrConsumerNotFound
	}
	cons, err := q.b.js.Consumer(ctx, streams.JobsStream, name)
	q.mu.Lock()
	defer q.mu.Unlock()
	if err != nil {
		q.absent[name] = time.Now().Add(missingRetry)
		return nil, err
	}
	delete(q.absent, name)
	q.cons[name] = cons
	return cons, nil
}

func (q *queues) forget(name string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.cons, name)
}
