package streams_test

import (
	"context"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
)

// A job consumer delivers a job once more than its attempts (the
// delivery that records it as given up), and redelivers a silent builder's
// job well within a minute.
func TestJobsConsumerAttempts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, js := testenv.StartNATS(t).Connect(t)
	cfg := streams.DefaultConfig()
	if err := streams.Ensure(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	exp := &streams.Experiment{Name: "att", Toolchains: []string{"stable", "1.80.0"}}
	if err := streams.EnsureJobsConsumers(ctx, js, exp); err != nil {
		t.Fatal(err)
	}
	cons, err := js.Consumer(ctx, streams.JobsStream, streams.JobsConsumer("att", "1.80.0"))
	if err != nil {
		t.Fatal(err)
	}
	c := cons.CachedInfo().Config
	if got := streams.JobAttempts(c.MaxDeliver); got != 3 || c.MaxDeliver != 4 {
		t.Errorf("MaxDeliver %d (%d attempts), want 4 (3 attempts)", c.MaxDeliver, got)
	}
	if c.AckWait > time.Minute || c.AckWait < 30*time.Second {
		t.Errorf("AckWait %s, want under a minute and room for InProgress every 15s", c.AckWait)
	}
	if got := streams.JobAttempts(-1); got != 0 {
		t.Errorf("JobAttempts(-1) = %d, want 0 (no limit)", got)
	}
}
