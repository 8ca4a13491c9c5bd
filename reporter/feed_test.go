package reporter

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/streams"
)

// gatedMessages is a consumer that can go silent without an error, as one
// whose server died in a cluster can: once silenced, Next returns nothing
// but the timeouts a caller's wait gives, until the iterator is stopped.
type gatedMessages struct {
	jetstream.MessagesContext
	silent  atomic.Bool
	stopped atomic.Bool
}

func (g *gatedMessages) Next(opts ...jetstream.NextOpt) (jetstream.Msg, error) {
	if !g.silent.Load() {
		return g.MessagesContext.Next(opts...)
	}
	time.Sleep(20 * time.Millisecond)
	if g.stopped.Load() {
		return nil, jetstream.ErrMsgIteratorClosed
	}
	return nil, nats.ErrTimeout
}

func (g *gatedMessages) Stop() {
	g.stopped.Store(true)
	g.MessagesContext.Stop()
}

// TestFeedUnstall checks the results feed's stall check, made by its
// reading goroutine: a consumer silent while the stream holds results it
// has not delivered is replaced, and reading goes on from the result after
// the last delivered, none lost and none twice; a consumer silent because
// nothing is left is kept.
func TestFeedUnstall(t *testing.T) {
	cases := []struct {
		name string
		// before are results read before the consumer goes silent, after
		// are published while it is.
		before, after int
		wantReplaced  bool
	}{
		{name: "stalled with results undelivered", before: 3, after: 4, wantReplaced: true},
		{name: "idle, nothing undelivered", before: 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			exp := "feed"
			for i := range tc.before {
				e.publish(result(exp, "c"+itoa(i), "1.0.0", "stable", 1, streams.StatusTestPass, ""))
			}
			f := newResultsFeed(e.js, streams.JobKey{}, time.Millisecond, testLogger(t))
			f.stallAfter = 200 * time.Millisecond
			if err := f.open(ctx, 0); err != nil {
				t.Fatal(err)
			}
			gate := &gatedMessages{MessagesContext: f.msgs}
			f.msgs = gate
			out := make(chan arrival, readAhead)
			readErr := make(chan error, 1)
			go func() { readErr <- f.read(ctx, out) }()
			defer func() {
				cancel()
				f.stop()
				if err := <-readErr; err != nil {
					t.Errorf("read ended with %v", err)
				}
			}()
			var got []string
			take := func(n int) {
				t.Helper()
				for range n {
					select {
					case a := <-out:
						if a.err != nil {
							t.Fatalf("result %d: %v", len(got)+1, a.err)
						}
						got = append(got, a.res.Crate)
					case <-ctx.Done():
						t.Fatalf("%d results read, want %d", len(got), tc.before+tc.after)
					}
				}
			}
			take(tc.before)
			gate.silent.Store(true)
			for i := range tc.after {
				e.publish(result(exp, "d"+itoa(i), "1.0.0", "stable", 1, streams.StatusTestPass, ""))
			}
			take(tc.after)
			if !tc.wantReplaced {
				time.Sleep(4 * f.stallAfter)
			}
			if gate.stopped.Load() != tc.wantReplaced {
				t.Fatalf("silent consumer replaced: %v, want %v", gate.stopped.Load(), tc.wantReplaced)
			}
			want := make([]string, 0, tc.before+tc.after)
			for i := range tc.before {
				want = append(want, "c"+itoa(i))
			}
			for i := range tc.after {
				want = append(want, "d"+itoa(i))
			}
			if len(got) != len(want) {
				t.Fatalf("read %d results, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("result %d is %s, want %s (all: %v)", i+1, got[i], want[i], got)
				}
			}
			select {
			case a := <-out:
				t.Fatalf("a result read twice: %s", a.res.Crate)
			case <-time.After(3 * f.stallAfter):
			}
		})
	}
}
