package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/bench/measure"
	"github.com/ejecta-build/ejecta/streams"
)

// A real experiment of crater's size does not end in a burst: its builds
// take days, and their results come a few a second. The trickle row holds
// the last trickleResults of the experiment's results back, publishes the
// rest at once, and once the reporter has caught up publishes those one
// at a time, trickleEvery apart.
const (
	trickleResults = 300
	trickleEvery   = 100 * time.Millisecond
)

// trickleFigure is what the reporter did with the trickle.
type trickleFigure struct {
	// lags are each trickled result's time from its publish to the
	// progress entry (`experiment status`) counting it.
	lags []time.Duration
	// writes and written are the report's writes that took in trickled
	// results, and the bytes they stored.
	writes  int
	written int64
}

// trickleFigures measures the reporter following crates crates' results
// whose last trickleResults come one at a time.
func trickleFigures(t testing.TB, crates int) trickleFigure {
	t.Helper()
	f := newFarm(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	exp := "trickle" + strconv.Itoa(crates)
	recordExperiment(ctx, t, f.js, exp, crates)
	progress, err := f.js.KeyValue(ctx, streams.ProgressBucket)
	if err != nil {
		t.Fatal(err)
	}
	done := func() int {
		v, err := progress.Get(ctx, exp)
		var p streams.Progress
		if err != nil || json.Unmarshal(v.Value(), &p) != nil {
			return -1
		}
		return p.Done
	}
	logFile := filepath.Join(t.TempDir(), "reporter.log")
	c := startChild(t, childSpec{Kind: "reporter", NATS: f.nats.URL, Store: "file://" + t.TempDir(), Confirmations: -1,
		LogFile: logFile})
	defer c.stop()

	burst := 2*crates - trickleResults
	var held []streams.Result
	n := 0
	for r := range syntheticResults(exp, crates) {
		if n++; n > burst {
			held = append(held, r)
			continue
		}
		if err := publishResult(ctx, f.js, r, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := measure.WaitPublished(ctx, f.js); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Minute, "the burst in the progress entry", func() bool { return done() == burst })

	// Published on their schedule whatever the report does; result i is
	// counted once the entry counts burst+i+1.
	sent := make([]time.Time, len(held))
	published := make(chan error, 1)
	go func() {
		next := time.Now()
		for i, r := range held {
			time.Sleep(time.Until(next))
			next = next.Add(trickleEvery)
			sent[i] = time.Now()
			if err := publishResult(ctx, f.js, r, false); err != nil {
				published <- err
				return
			}
		}
		published <- nil
	}()
	counted := make([]time.Time, 0, len(held))
	deadline := time.Now().Add(trickleEvery*trickleResults + time.Minute)
	for len(counted) < len(held) {
		if time.Now().After(deadline) {
			t.Fatalf("bench: %d of %d trickled results counted in the progress entry", len(counted), len(held))
		}
		now := time.Now()
		for n := done() - burst; len(counted) < n; {
			counted = append(counted, now)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	var fig trickleFigure
	for i := range held {
		fig.lags = append(fig.lags, counted[i].Sub(sent[i]))
	}
	// The last result makes the whole files due: their write is counted.
	waitWholeWritten(t, logFile, 2*crates)
	c.stop()
	logged, err := loggedWrites(logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range logged {
		if w.Done > burst {
			fig.writes++
			fig.written += w.Bytes
		}
	}
	keepFile(t, logFile, fmt.Sprintf("reporter-trickle-%d.log", crates))
	return fig
}

// publishResult publishes r as a builder would; async, it may wait for
// earlier publishes to be acknowledged first, else it waits for its own.
func publishResult(ctx context.Context, js jetstream.JetStream, r streams.Result, async bool) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	m := nats.NewMsg(streams.ResultSubject(r.BuildKey, r.Attempt, streams.AnonymousSender))
	m.Data = data
	m.Header.Set(nats.MsgIdHdr, m.Subject)
	if !async {
		if _, err := js.PublishMsg(ctx, m); err != nil {
			return fmt.Errorf("publish a result: %w", err)
		}
		return nil
	}
	if js.PublishAsyncPending() >= 2048 {
		if err := measure.WaitPublished(ctx, js); err != nil {
			return err
		}
	}
	if _, err := js.PublishMsgAsync(m); err != nil {
		return fmt.Errorf("publish a result: %w", err)
	}
	return nil
}
