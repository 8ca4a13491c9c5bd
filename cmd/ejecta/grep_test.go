package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// ejecta grep prints each matching line with its build, attempt and line
// number, lists matching logs with -l, narrows by class from the report,
// and prints JSON with links to the web UI.
func TestGrep(t *testing.T) {
	nats := testenv.StartNATS(t)
	dir := t.TempDir()
	st, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	put := func(key string, data []byte) {
		t.Helper()
		if err := st.Put(ctx, key, bytes.NewReader(data), int64(len(data)), ""); err != nil {
			t.Fatal(err)
		}
	}
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := map[string]string{
		"alpha": "   Compiling alpha v1.0.0\n\x1b[31merror[E0308]\x1b[0m: mismatched types\n  --> src/lib.rs:3:5\n",
		"beta":  "   Compiling beta v1.0.0\nerror[E0308]: mismatched types\n",
		"gamma": "   Compiling gamma v1.0.0\n    Finished\n",
	}
	for crate, text := range logs {
		k := streams.BuildKey{Experiment: "g", Crate: crate, Version: "1.0.0", Toolchain: "nightly"}
		put(streams.ExperimentPrefix("g")+streams.LogRawKey(k, 1), enc.EncodeAll([]byte(text), nil))
		put(streams.ExperimentPrefix("g")+streams.LogMetaKey(k, 1), []byte(`{"v":1}`))
	}
	report, _ := json.Marshal(results.File{V: results.FileVersion, Experiment: "g", Crates: []results.CrateResult{
		{Name: "alpha", Version: "1.0.0", Class: results.ClassRegressed},
		{Name: "beta", Version: "1.0.0", Class: results.ClassSameBuildFail},
		{Name: "gamma", Version: "1.0.0", Class: results.ClassSameTestPass},
	}})
	put(results.Key("g"), report)
	g := []string{"--nats", nats.URL, "--log-level", "warn", "grep", "g", "--store", "file://" + dir}
	// The hits, sorted, without the summary (stderr, which run mixes in).
	lines := func(out string) []string {
		var l []string
		for s := range strings.Lines(out) {
			if !strings.Contains(s, " logs matched (") {
				l = append(l, strings.TrimSuffix(s, "\n"))
			}
		}
		slices.Sort(l)
		return l
	}

	out, err := run(t, append(g, `error\[E\d+\]`)...)
	if want := []string{"alpha@1.0.0 nightly #1:2:error[E0308]: mismatched types", "beta@1.0.0 nightly #1:2:error[E0308]: mismatched types"}; err != nil || !slices.Equal(lines(out), want) {
		t.Errorf("grep: %q, %v; want %q", out, err, want)
	}
	out, err = run(t, append(g, "e0308", "-i", "-C", "1", "--class", "regressed")...)
	if want := "alpha@1.0.0 nightly #1-1-   Compiling alpha v1.0.0\nalpha@1.0.0 nightly #1:2:error[E0308]: mismatched types\nalpha@1.0.0 nightly #1-3-  --> src/lib.rs:3:5\n1 of 1 logs matched (0.0 MiB searched)\n"; err != nil || out != want {
		t.Errorf("grep -i -C 1 --class regressed: %q, %v; want %q", out, err, want)
	}
	out, err = run(t, append(g, "Compiling", "-l")...)
	if want := []string{"alpha@1.0.0 nightly #1", "beta@1.0.0 nightly #1", "gamma@1.0.0 nightly #1"}; err != nil || !slices.Equal(lines(out), want) {
		t.Errorf("grep -l: %q, %v; want %q", out, err, want)
	}
	nc, js := nats.Connect(t)
	defer nc.Close()
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	if err := streams.RecordEndpoint(ctx, js, streams.EndpointWeb, streams.Endpoint{URL: "https://ejecta.example.org/", By: "reporter"}); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, append(g, "Finished", "--output", "json")...)
	var hit struct {
		Crate, Toolchain, Text, URL string
		Attempt, Line               int
		Match                       bool
	}
	if err != nil || json.Unmarshal([]byte(lines(out)[0]), &hit) != nil || hit.Crate != "gamma" || hit.Line != 2 || !hit.Match ||
		hit.Text != "    Finished" || !strings.HasPrefix(hit.URL, "https://ejecta.example.org/") || !strings.HasSuffix(hit.URL, "#L2") {
		t.Errorf("grep --output json: %q, %v: %+v", out, err, hit)
	}

	var ue usageError
	for _, bad := range [][]string{{"error["}, {"x", "--class", "regresed"}, {"x", "-C", "-1"}} {
		if _, err := run(t, append(g, bad...)...); err == nil || !errors.As(err, &ue) {
			t.Errorf("grep %q: %v, want a usage error", bad, err)
		}
	}
}
