package reporter

import (
	"context"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/craterview"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// Once an experiment is over, its archives built, and its last build
// finished longer ago than its retention (its own, else the reporter's
// default), its stored logs are removed; its report and archives stay.
// Experiments within their retention, or kept for ever, keep their logs.
func TestLogsPastRetentionRemoved(t *testing.T) {
	e := newEnv(t)
	day := 24 * time.Hour
	for _, c := range []struct {
		exp      string
		keep     time.Duration
		finished time.Duration // ago
	}{
		{"old", day, 2 * day},              // its own retention, past
		{"young", day, time.Hour},          // its own retention, not past
		{"defaulted", 0, 4 * day},          // the reporter's 3 days, past
		{"within-default", 0, 2 * day},     // the reporter's 3 days, not past
		{"kept-longer", 10 * day, 4 * day}, // its own is longer than the default
	} {
		e.putRecord(streams.Experiment{V: 1, Name: c.exp, Toolchains: []string{"stable", "nightly"},
			Mode: streams.ModeBuildAndTest, CrateSource: "/src", Selection: "list",
			Crates: 1, Jobs: 2, Published: 2, CreatedAt: time.Now().UTC(), KeepLogs: streams.Duration(c.keep)})
		for _, tc := range []string{"stable", "nightly"} {
			r := result(c.exp, "alpha", "1.0.0", tc, 1, streams.StatusTestPass, "")
			r.FinishedAt = time.Now().Add(-c.finished).UTC()
			storeLog(t, e.store, r.BuildKey, 1)
			e.publish(r)
		}
	}
	e.startReporterWith(Config{Debounce: testDebounce, KeepLogs: 3 * day, RetentionEvery: 100 * time.Millisecond})

	count := func(prefix string) int {
		n := 0
		for _, err := range e.store.List(context.Background(), prefix) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		return n
	}
	logs := func(exp string) int { return count(streams.ExperimentPrefix(exp) + streams.LogsPrefix) }
	craterLogs := func(exp string) int {
		// Less the archives, results.json, config.json, retry-regressed-list.txt.
		return count(streams.ExperimentPrefix(exp)+craterview.Dir) - count(streams.ExperimentPrefix(exp)+craterview.Dir+"logs-archives/") - 3
	}
	waitFor(t, "the logs past their retention removed, the crater view's log.txt with them", func() bool {
		return logs("old") == 0 && logs("defaulted") == 0 && craterLogs("old") == 0 && craterLogs("defaulted") == 0
	})
	for _, exp := range []string{"old", "defaulted"} {
		waitManifest(t, e.store, exp)
		if count(streams.ExperimentPrefix(exp)+"logs-archives/") == 0 || tryRead(e.store, results.Key(exp)) == nil || tryRead(e.store, IndexKey(exp)) == nil ||
			count(streams.ExperimentPrefix(exp)+craterview.Dir+"logs-archives/") == 0 || tryRead(e.store, streams.ExperimentPrefix(exp)+craterResultsFileName) == nil {
			t.Errorf("%s: its report or its archives went with its logs", exp)
		}
	}
	time.Sleep(500 * time.Millisecond) // a few more looks
	for _, exp := range []string{"young", "within-default", "kept-longer"} {
		if n := logs(exp); n != 4 { // two logs: compressed and metadata each
			t.Errorf("%s: %d log objects left, want its 4", exp, n)
		}
		if n := craterLogs(exp); n != 2 {
			t.Errorf("%s: %d of the crater view's log.txt, want its 2", exp, n)
		}
	}
}
