package status

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
)

// Status counts each toolchain's builds apart, and measures the rate over
// the results of the last RateWindow, per toolchain and in all.
func TestGetPerToolchainAndRate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, js := testenv.StartNATS(t).Connect(t)
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	// Created a minute ago: the window is that minute.
	rec := streams.Experiment{V: streams.SchemaVersion, Name: "rate", Toolchains: []string{"stable", "nightly"}, Mode: streams.ModeCheckOnly,
		CrateSource: "/r", Selection: "a,b,c,d", Crates: 4, Jobs: 8, Published: 8, CreatedAt: time.Now().Add(-time.Minute).UTC()}
	put := func(bucket, key string, v any) {
		kv, err := js.KeyValue(ctx, bucket)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := json.Marshal(v)
		if _, err := kv.Put(ctx, key, data); err != nil {
			t.Fatal(err)
		}
	}
	put(streams.ExperimentsBucket, "rate", rec)
	key := func(crate, tc string) streams.BuildKey {
		return streams.BuildKey{Experiment: "rate", Crate: crate, Version: "1.0.0", Toolchain: tc}
	}
	publish := func(subject string) {
		if _, err := js.Publish(ctx, subject, []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	// Done: a, b, c on stable, a on nightly. Queued: d on stable, b, c, d
	// on nightly, of which c is running.
	for _, c := range []string{"a", "b", "c"} {
		publish(streams.ResultSubject(key(c, "stable"), 1, streams.AnonymousSender))
	}
	publish(streams.ResultSubject(key("a", "nightly"), 1, streams.AnonymousSender))
	publish(streams.JobSubject(key("d", "stable")))
	for _, c := range []string{"b", "c", "d"} {
		publish(streams.JobSubject(key(c, "nightly")))
	}
	put(streams.BuildersBucket, "b1", streams.Heartbeat{V: streams.SchemaVersion, ID: "b1", Slots: 2, Updated: time.Now(),
		Running: []streams.RunningBuild{{BuildKey: key("c", "nightly"), Attempt: 1, Started: time.Now()}}})
	put(streams.ProgressBucket, "rate", streams.Progress{V: streams.SchemaVersion, Experiment: "rate", Done: 4, Total: 8,
		ToolchainsDone: map[string]int{"stable": 3, "nightly": 1}, Updated: time.Now()})

	st, err := Get(ctx, js, "rate")
	if err != nil {
		t.Fatal(err)
	}
	if st.Total != 8 || st.Done != 4 || st.Queued != 3 || st.Running != 1 {
		t.Errorf("status %+v: want 8 total, 4 done, 3 queued, 1 running", st)
	}
	want := []ToolchainStatus{{Toolchain: "stable", Total: 4, Done: 3, Queued: 1}, {Toolchain: "nightly", Total: 4, Done: 1, Running: 1, Queued: 2}}
	for i, w := range want {
		got := st.Toolchains[i]
		got.RatePerMinute, got.ETASeconds = 0, 0
		if got != w {
			t.Errorf("toolchain %d: %+v, want %+v", i, got, w)
		}
	}
	// 3 stable results over about a minute: about 3/min, 1 left: 20s.
	if r := st.Toolchains[0].RatePerMinute; r < 2.5 || r > 3.1 {
		t.Errorf("stable rate %.1f/min, want about 3", r)
	}
	if r := st.RatePerMinute; r < 3.5 || r > 4.1 {
		t.Errorf("rate %.1f/min, want about 4", r)
	}
	if eta := st.ETASeconds; eta < 55 || eta > 70 {
		t.Errorf("ETA %ds, want about a minute (4 left at 4/min)", eta)
	}

	// Every build done: nothing left to measure a rate for.
	put(streams.ProgressBucket, "rate", streams.Progress{V: streams.SchemaVersion, Experiment: "rate", Done: 8, Total: 8,
		ToolchainsDone: map[string]int{"stable": 4, "nightly": 4}, Updated: time.Now()})
	if st, err := Get(ctx, js, "rate"); err != nil || st.RatePerMinute != 0 || st.Toolchains[0].RatePerMinute != 0 {
		t.Errorf("all done: rate %v (stable %v), %v; want none", st.RatePerMinute, st.Toolchains[0].RatePerMinute, err)
	}

	// A young experiment has no rate yet, whatever its first builds did.
	rec.Name, rec.CreatedAt = "young", time.Now().UTC()
	put(streams.ExperimentsBucket, "young", rec)
	publish(streams.ResultSubject(streams.BuildKey{Experiment: "young", Crate: "a", Version: "1.0.0", Toolchain: "stable"}, 1, streams.AnonymousSender))
	put(streams.ProgressBucket, "young", streams.Progress{V: streams.SchemaVersion, Experiment: "young", Done: 1, Total: 8, RatePerMinute: 972})
	if st, err := Get(ctx, js, "young"); err != nil || st.RatePerMinute != 0 || st.ETASeconds != 0 {
		t.Errorf("young experiment: rate %v, ETA %v, %v; want none yet", st.RatePerMinute, st.ETASeconds, err)
	}
}

func TestRateWindow(t *testing.T) {
	now := time.Now()
	if start, ok := windowStart(now, now.Add(-time.Hour)); !ok || !start.Equal(now.Add(-RateWindow)) {
		t.Errorf("an old experiment's window starts %v, %v; want RateWindow ago", start, ok)
	}
	if start, ok := windowStart(now, now.Add(-30*time.Second)); !ok || !start.Equal(now.Add(-30*time.Second)) {
		t.Errorf("a 30s old experiment's window starts %v, %v; want at its creation", start, ok)
	}
	if _, ok := windowStart(now, now.Add(-2*time.Second)); ok {
		t.Errorf("a 2s old experiment has a rate window")
	}
	for _, tc := range []struct {
		n    int
		span time.Duration
		left int
		rate float64
		eta  int64
	}{
		{6, time.Minute, 3, 6, 30},
		{1, 2 * time.Minute, 10, 0.5, 1200},
		{0, time.Minute, 3, 0, 0},
		{5, time.Minute, 0, 5, 0},
	} {
		if r, eta := rateOver(tc.n, tc.span, tc.left); r != tc.rate || eta != tc.eta {
			t.Errorf("rateOver(%d, %s, %d) = %v, %v; want %v, %v", tc.n, tc.span, tc.left, r, eta, tc.rate, tc.eta)
		}
	}
}
