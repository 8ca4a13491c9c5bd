package e2e

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/backoff"
	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/streams"
)

// TestLogsSurviveLeaderKills publishes logs as builders do, several at
// once, while the leader of the logs stream is SIGKILLed and restarted,
// three times, on a 3-node cluster. Every log that its publisher closed
// must read back whole: every chunk in order and its end marker. The
// publishers run under a context with a deadline of minutes, as a caller's
// may: a request to a stream electing a leader gets no answer, and one
// waiting for all of that context held its log for minutes.
func TestLogsSurviveLeaderKills(t *testing.T) {
	if testing.Short() {
		t.Skip("kills cluster nodes: a minute")
	}
	c := startCluster(t)
	builder := c.auth.connect(t, streams.RoleBuilder, c.tls)
	admin := c.auth.connect(t, streams.RoleAdmin, c.tls)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	const writers, lines = 6, 12
	stop := make(chan struct{})
	var mu sync.Mutex
	var closed []string // subjects of the logs whose end marker was acknowledged
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			k := streams.BuildKey{Experiment: "leaderkills", Crate: fmt.Sprintf("crate%d", w), Version: "1.0.0", Toolchain: "stable"}
			for attempt := 1; ; attempt++ {
				select {
				case <-stop:
					return
				default:
				}
				subj := streams.LogSubject(k, attempt)
				if err := writeLog(ctx, builder, subj, lines, log); err != nil {
					t.Errorf("%s: %v", subj, err)
					return
				}
				mu.Lock()
				closed = append(closed, subj)
				mu.Unlock()
			}
		})
	}
	for range 3 {
		time.Sleep(3 * time.Second)
		node := logsLeader(ctx, t, admin)
		c.killAndRestart(t, node, 3*time.Second)
		time.Sleep(5 * time.Second)
	}
	close(stop)
	wg.Wait()
	for _, subj := range closed {
		r, err := buildlog.Open(ctx, admin.js, subj)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.WriteTo(io.Discard); err != nil {
			t.Errorf("log %s: %v", subj, err)
		} else if r.End() == nil {
			t.Errorf("log %s: no end marker", subj)
		}
		r.Close()
	}
	t.Logf("%d logs read back whole", len(closed))
}

// writeLog publishes a log of n lines on subj, a line each 10ms, as an
// attempt's Publisher does, and closes it with its end marker.
func writeLog(ctx context.Context, c *roleClient, subj string, n int, log zerolog.Logger) error {
	p := buildlog.NewPublisher(ctx, c.js, subj, buildlog.PublisherConfig{
		Window: 64, Retry: backoff.Policy{First: 100 * time.Millisecond, Max: time.Second},
		Log: log.With().Str("subject", subj).Logger(),
	})
	ch := buildlog.NewChunker(p, buildlog.MaxChunkBytes, 5*time.Millisecond)
	w := ch.Writer(buildlog.StreamStdout)
	for i := range n {
		fmt.Fprintf(w, "line %d of %s\n", i, subj)
		time.Sleep(10 * time.Millisecond)
	}
	s, err := ch.End()
	if err != nil {
		return fmt.Errorf("close the log: %w", err)
	}
	if _, err := p.WriteEnd(s, streams.LogEnd{Status: streams.StatusTestPass}); err != nil {
		return fmt.Errorf("end marker: %w", err)
	}
	return nil
}

// logsLeader returns the index of the node that leads the logs stream.
func logsLeader(ctx context.Context, t *testing.T, admin *roleClient) int {
	t.Helper()
	s, err := admin.js.Stream(ctx, streams.LogsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var i int
	if _, err := fmt.Sscanf(info.Cluster.Leader, "ejecta-test-%d", &i); err != nil || i < 1 || i > 3 {
		t.Fatalf("leader of %s is %q, not a node of the test cluster", streams.LogsStream, info.Cluster.Leader)
	}
	t.Logf("%s leader: %s", streams.LogsStream, info.Cluster.Leader)
	return i - 1
}
