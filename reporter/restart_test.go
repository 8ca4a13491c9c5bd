package reporter

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// updatedRE matches the one field of results.json that depends on when it
// was written rather than on the results.
var updatedRE = regexp.MustCompile(`"updated":"[^"]*"`)

// readResultsFile reads results.json of exp under a store directory; nil
// when there is none yet.
func readResultsFile(t *testing.T, dir, exp string) ([]byte, *results.File) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, results.Key(exp)))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var f results.File
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	return data, &f
}

// withRetriesAndReruns adds to rs what a real stream holds besides first
// attempts: retried builds (attempt 2 replaces attempt 1) and confirmation
// re-runs of regressions, some agreeing, some not.
func withRetriesAndReruns(rs []streams.Result) []streams.Result {
	var extra []streams.Result
	for i := 0; i < len(rs); i += 97 {
		r := rs[i]
		r.Attempt, r.Status, r.Reason = 2, streams.StatusTestPass, ""
		r.LogKey = streams.LogObjectKey(r.BuildKey, 2)
		extra = append(extra, r)
	}
	reruns := 0
	for i := 0; i+1 < len(rs) && reruns < 40; i += 2 {
		a, b := rs[i], rs[i+1]
		if Compare(outcome(keepOf(&a)), outcome(keepOf(&b))).Class != results.ClassRegressed {
			continue
		}
		for _, r := range []streams.Result{a, b} {
			r.Attempt = streams.RerunAttemptBase(1) + 1
			r.LogKey = streams.LogObjectKey(r.BuildKey, r.Attempt)
			if reruns%2 == 1 && r.Toolchain == "nightly" {
				r.Status, r.Reason = streams.StatusTestPass, "" // did not reproduce: flaky
			}
			extra = append(extra, r)
		}
		reruns++
	}
	return extra
}

func TestKilledReporterWritesTheSameReport(t *testing.T) {
	e := newEnv(t)
	const n = 3000
	e.putExperiment("kill", n)
	rs := synthetic("kill", n, 7)
	extra := withRetriesAndReruns(rs)
	half := len(rs) / 2

	killedDir := t.TempDir()
	a := e.startChild(killedDir, 100*time.Millisecond, 1)
	e.publishAll(rs[:half], "")
	waitFor(t, "a first results.json", func() bool {
		_, f := readResultsFile(t, killedDir, "kill")
		return f != nil
	})
	e.publishAll(rs[half:half+half/2], "")
	a.kill() // while it takes in the second quarter, perhaps mid-write
	if _, f := readResultsFile(t, killedDir, "kill"); f.DoneJobs >= len(rs) {
		t.Fatalf("the reporter was killed after it had every result (%d): nothing tested", f.DoneJobs)
	}

	e.publishAll(extra, "")
	e.publishAll(rs[:100], "-again") // the same results stored a second time
	b := e.startChild(killedDir, 100*time.Millisecond, 1)
	// The last message of the stream is a first result, so a results.json
	// with every build done has taken in everything.
	e.publishAll(rs[half+half/2:], "")
	waitDone := func(dir string) []byte {
		var data []byte
		waitFor(t, "results.json with every build in "+dir, func() bool {
			var f *results.File
			data, f = readResultsFile(t, dir, "kill")
			return f != nil && f.DoneJobs == len(rs)
		})
		return data
	}
	restarted := waitDone(killedDir)
	b.kill()

	refDir := t.TempDir()
	e.startChild(refDir, 100*time.Millisecond, 1)
	reference := waitDone(refDir)

	restarted = updatedRE.ReplaceAll(restarted, []byte(`"updated":"0001-01-01T00:00:00Z"`))
	reference = updatedRE.ReplaceAll(reference, []byte(`"updated":"0001-01-01T00:00:00Z"`))
	if !bytes.Equal(restarted, reference) {
		t.Fatalf("results.json of the killed and restarted reporter differs from one that never died:\nrestarted %.2000s\nreference %.2000s",
			restarted, reference)
	}
	// The comparison covered retries and re-runs, not just first results.
	var f results.File
	if err := json.Unmarshal(reference, &f); err != nil {
		t.Fatal(err)
	}
	confirmations := map[string]int{}
	retried := 0
	for _, c := range f.Crates {
		confirmations[c.Confirmation]++
		for _, r := range c.Results {
			if r.Attempt == 2 {
				retried++
			}
		}
	}
	if confirmations[results.ConfirmationConfirmed] == 0 || confirmations[results.ConfirmationFlaky] == 0 || retried == 0 {
		t.Errorf("report lacks confirmed, flaky or retried crates: %v, %d retried", confirmations, retried)
	}
	if f.DoneJobs != 2*n || len(f.Crates) != n {
		t.Errorf("done %d crates %d, want %d and %d", f.DoneJobs, len(f.Crates), 2*n, n)
	}
	t.Logf("%d crates, %d bytes of results.json identical after SIGKILL and restart; confirmations %v",
		len(f.Crates), len(reference), confirmations)
}
