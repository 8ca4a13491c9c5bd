package logsearch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/logsearch"
	"github.com/ejecta-build/ejecta/logtail"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/ejecta-build/ejecta/uploader"
)

// An experiment's logs stored by a real uploader (compressed, beside
// their pages and metadata) on a file store and on MinIO, and one build
// still running with its chunks on the stream: a search finds every
// matching line of each, with its build, attempt and line number, and
// its filters narrow what is read.
func TestSearchStoredAndLiveLogs(t *testing.T) {
	m := testenv.StartMinIO(t)
	for _, c := range []struct {
		name string
		open func(t *testing.T) store.Store
	}{
		{"file", func(t *testing.T) store.Store {
			st, err := store.NewFile(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return st
		}},
		{"minio", func(t *testing.T) store.Store {
			st, err := store.NewS3(context.Background(), store.S3Config{Endpoint: m.Endpoint, Bucket: "search",
				Prefix: strings.ReplaceAll(t.Name(), "/", "-"), AccessKey: m.AccessKey, SecretKey: m.SecretKey})
			if err != nil {
				t.Fatal(err)
			}
			return st
		}},
	} {
		t.Run(c.name, func(t *testing.T) { testSearch(t, c.open(t)) })
	}
}

func testSearch(t *testing.T, st store.Store) {
	nc, js := testenv.StartNATS(t).Connect(t)
	buildlogtest.Ensure(t, js)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	u, err := uploader.New(uploader.Config{Name: "u"}, nc, st, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = u.Run(ctx) }()

	key := func(crate, tc string) streams.BuildKey {
		return streams.BuildKey{Experiment: "exp", Crate: crate, Version: "1.0.0", Toolchain: tc}
	}
	big := strings.Repeat("   Compiling filler v0.1.0\n", 20000) // past a block of the scan
	stored := []struct {
		k       streams.BuildKey
		attempt int
		text    string
	}{
		{key("alpha", "nightly"), 1, "   Compiling alpha v1.0.0\n\x1b[1m\x1b[33mwarning\x1b[0m: unused_must_use\nerror[E0308]: mismatched types\n"},
		{key("alpha", "stable"), 1, "   Compiling alpha v1.0.0\n    Finished dev profile\n"},
		{key("beta", "nightly"), 2, big + "warning: unused_must_use in beta\n"},
		{key("gamma", "nightly"), 1, "error[E0308]: mismatched types\n"},
	}
	for _, s := range stored {
		l := buildlogtest.NewLog(t, js, s.k, s.attempt)
		for part := range strings.SplitAfterSeq(s.text, "\n") {
			if part != "" {
				l.Write(part)
			}
		}
		end := l.End(streams.StatusBuildFail)
		data, _ := json.Marshal(streams.UploadRequest{V: streams.SchemaVersion, BuildKey: s.k, Attempt: s.attempt, End: end})
		if _, err := js.Publish(ctx, streams.UploadSubject(s.k, s.attempt), data); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range stored {
		meta := streams.ExperimentPrefix("exp") + streams.LogMetaKey(s.k, s.attempt)
		for {
			if rc, err := st.Get(ctx, meta); err == nil {
				rc.Close()
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("%s not stored", meta)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	running := buildlogtest.NewLog(t, js, key("delta", "nightly"), 1)
	running.Write("   Compiling delta v1.0.0\nwarning: unused_must_use, still building\n")

	live := logsearch.StreamLogs{JS: js, Reader: logtail.New(js, st)}
	search := func(q logsearch.Query, withLive bool) ([]string, logsearch.Stats) {
		t.Helper()
		var got []string
		var lv logsearch.Live
		if withLive {
			lv = live
		}
		stats, err := logsearch.Search(ctx, st, lv, "exp", q, func(h logsearch.Hits) error {
			for _, l := range h.Lines {
				got = append(got, fmt.Sprintf("%s %s #%d live=%v %d:%s", h.Crate, h.Toolchain, h.Attempt, h.Live, l.Number, l.Text))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		return got, stats
	}
	re := func(s string) *regexp.Regexp { return regexp.MustCompile("(?m)" + s) }

	for _, c := range []struct {
		name     string
		q        logsearch.Query
		withLive bool
		want     []string
		logs     int
	}{
		{"every log, live included", logsearch.Query{Pattern: re(`warning: unused_must_use`)}, true, []string{
			"alpha nightly #1 live=false 2:warning: unused_must_use",
			"beta nightly #2 live=false 20001:warning: unused_must_use in beta",
			"delta nightly #1 live=true 2:warning: unused_must_use, still building",
		}, 5},
		{"stored only", logsearch.Query{Pattern: re(`E0308`), Parallel: 1}, false, []string{
			"alpha nightly #1 live=false 3:error[E0308]: mismatched types",
			"gamma nightly #1 live=false 1:error[E0308]: mismatched types",
		}, 4},
		{"one toolchain", logsearch.Query{Pattern: re(`Compiling alpha`), Toolchains: []string{"stable"}}, true, []string{
			"alpha stable #1 live=false 1:   Compiling alpha v1.0.0",
		}, 1},
		{"some crates, with context", logsearch.Query{Pattern: re(`E0308`), Crates: []string{"alpha"}, Context: 1}, true, []string{
			"alpha nightly #1 live=false 2:warning: unused_must_use",
			"alpha nightly #1 live=false 3:error[E0308]: mismatched types",
		}, 2},
		{"builds chosen by the caller", logsearch.Query{Pattern: re(`E0308`), Builds: func(k streams.BuildKey) bool { return k.Crate == "gamma" }}, true, []string{
			"gamma nightly #1 live=false 1:error[E0308]: mismatched types",
		}, 1},
		{"first match only", logsearch.Query{Pattern: re(`Compiling`), FirstOnly: true, Crates: []string{"beta"}}, true, []string{
			"beta nightly #2 live=false 1:   Compiling filler v0.1.0",
		}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, stats := search(c.q, c.withLive)
			if !slices.Equal(got, c.want) {
				t.Errorf("hits:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
			if stats.Logs != c.logs {
				t.Errorf("%d logs searched, want %d", stats.Logs, c.logs)
			}
		})
	}
	if _, stats := search(logsearch.Query{Pattern: re(`nothing`)}, false); stats.Bytes < int64(len(big)) {
		t.Errorf("%d bytes searched, want at least the %d of beta's log", stats.Bytes, len(big))
	}
}
