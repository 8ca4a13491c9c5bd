package logtail_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/bench/measure"
	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/logtail"
)

// latencyWriter notes when each numbered line arrives.
type latencyWriter struct {
	mu      sync.Mutex
	arrived map[int]time.Time
}

func (w *latencyWriter) Write(p []byte) (int, error) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, line := range strings.Split(strings.TrimSpace(string(p)), "\n") {
		var i int
		if _, err := fmt.Sscanf(line, "line %d", &i); err == nil {
			w.arrived[i] = now
		}
	}
	return len(p), nil
}

func (w *latencyWriter) has(i int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.arrived[i]
	return ok
}

// TestLiveTailLatency measures bytes published on the stream → written by a
// following Copy (what `ejecta tail` prints), and prints p50 and p99; the
// goal (p99 within 100 ms) is judged by `make bench` (row "tail").
func TestLiveTailLatency(t *testing.T) {
	js, st := setup(t)
	log := buildlogtest.NewLog(t, js, build, 1)
	w := &latencyWriter{arrived: map[int]time.Time{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go logtail.New(js, st).Copy(ctx, build, 1, w, logtail.Options{Follow: true})

	const n = 200
	sent := make([]time.Time, n)
	for i := range n {
		sent[i] = time.Now()
		log.Write(fmt.Sprintf("line %d\n", i))
		time.Sleep(2 * time.Millisecond) // a chatty build, not a flood
	}
	waitFor(t, "every line", func() bool { return w.has(n - 1) })
	lat := make([]time.Duration, n)
	for i := range n {
		lat[i] = w.arrived[i].Sub(sent[i])
	}
	p50, p99 := measure.Median(lat), measure.Quantile(lat, 0.99)
	t.Logf("live tail latency, published → written by logtail.Copy: p50 %s, p99 %s (n=%d)", p50, p99, n)
	fmt.Printf("live tail latency (stream → logtail.Copy): p50=%s p99=%s\n", p50, p99)
	if p99 > time.Second {
		t.Errorf("p99 %s: live tail should be well under a second", p99)
	}
}
