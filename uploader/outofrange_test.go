package uploader

import (
	"bytes"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/streams"
)

// No run has an attempt past the last retry's last re-run (AttemptBaseOf),
// so no job has a ticket to sign its log. A builder credential publishes
// unsigned chunks of its own on LogSubject(k, 1000001) of a ticketed
// experiment's build: ParseLogSubject refuses that subject, so they are
// never judged abandoned nor stored under that build's prefix, where the
// web UI would serve them as the build's log.
func TestLogOfAnAttemptNoRunHasIsNotStored(t *testing.T) {
	e, key := newTicketedEnv(t)
	k := buildKey("tix", "victim")
	const attempt = streams.RetryStride*(streams.MaxRetry+1) + 1
	if _, err := streams.AttemptBaseOf(attempt); err == nil {
		t.Fatalf("attempt %d is in a run's range", attempt)
	}
	forged := []byte("attacker's bytes, stored as victim's log\n")
	e.publishChunks(k, attempt, chunks(forged, 1000))

	cfg := fastConfig("u")
	cfg.JobKey = key
	cfg.SweepInterval = 200 * time.Millisecond
	cfg.AbandonAfter = time.Second
	e.run(cfg, e.st)
	time.Sleep(4 * time.Second)
	if got, ok := object(t, e.st, k, attempt); ok && bytes.Contains(got, []byte("attacker's bytes")) {
		t.Errorf("unsigned bytes stored as the log of %s attempt %d of a ticketed experiment", k, attempt)
	}
}
