package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/reporter"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// TestSilentHangIsSpuriousRegression runs a crate whose build script hangs
// without a word on nightly only (testdata/crates/ejecta-demo-hang) with a
// short no-output timeout: nightly's build is killed as no-output-timeout,
// which is spurious (crater's no-output timeout is a timeout), so the
// crate is spurious-regressed, not a regression; its one re-run hangs
// again and the report says the spurious regression was reproduced.
func TestSilentHangIsSpuriousRegression(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: slow")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var st store.Store
	fm := startFarm(t, ctx, "e2e-hang", fileStore(&st), reporter.Config{Debounce: 200 * time.Millisecond})

	const noOutput = 15 * time.Second
	if _, err := producer.New(fm.js, fm.log).Create(ctx, producer.Request{
		Name: "hang", Toolchains: []string{"stable", "nightly"}, Mode: string(streams.ModeCheckOnly),
		Crates: "ejecta-demo-hang", CrateSource: fm.registry,
		Limits: streams.Limits{NoOutputTimeout: streams.Duration(noOutput), Timeout: streams.Duration(5 * time.Minute)},
	}); err != nil {
		t.Fatal(err)
	}

	var f results.File
	deadline := time.Now().Add(8 * time.Minute)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("no settled verdict in time: %+v", f)
		}
		time.Sleep(500 * time.Millisecond)
		data, err := readObject(ctx, t, st, results.Key("hang"))
		if err != nil {
			continue
		}
		f = results.File{}
		if err := json.Unmarshal([]byte(data), &f); err != nil {
			t.Fatalf("results.json: %v\n%s", err, data)
		}
		if len(f.Crates) == 1 && f.Crates[0].Confirmation != "" && f.Crates[0].Confirmation != results.ConfirmationPending {
			break
		}
	}
	c := f.Crates[0]
	if c.Class != results.ClassSpuriousRegressed || c.Confirmation != results.ConfirmationReproduced ||
		!strings.Contains(c.Note, string(streams.ReasonNoOutputTimeout)) {
		t.Errorf("class %s, confirmation %s, note %q: want spurious-regressed, reproduced, the note naming %s",
			c.Class, c.Confirmation, c.Note, streams.ReasonNoOutputTimeout)
	}
	for round, runs := range append([][]results.RunResult{c.Results}, c.Reruns...) {
		if len(runs) != 2 {
			t.Fatalf("round %d: %d results, want 2: %+v", round, len(runs), c)
		}
		if r := runs[0]; r.Toolchain != "stable" || r.Status != streams.StatusTestPass {
			t.Errorf("round %d on %s: %s (%s), want stable test-pass", round, r.Toolchain, r.Status, r.Reason)
		}
		if r := runs[1]; r.Toolchain != "nightly" || r.Status != streams.StatusBuildFail || r.Reason != streams.ReasonNoOutputTimeout {
			t.Errorf("round %d on %s: %s (%s), want nightly build-fail (%s)", round, r.Toolchain, r.Status, r.Reason, streams.ReasonNoOutputTimeout)
		}
	}
	if len(c.Reruns) != 1 {
		t.Errorf("%d re-run rounds, want 1 (a spurious regression gets one)", len(c.Reruns))
	}
	// The log says why the build was stopped.
	var text string
	for waitLog := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		var err error
		if text, err = readObject(ctx, t, st, streams.ExperimentPrefix("hang")+c.Results[1].Log); err == nil {
			break
		} else if time.Now().After(waitLog) {
			t.Fatalf("nightly log %s: %v", c.Results[1].Log, err)
		}
	}
	if !strings.Contains(stripANSI(text), "no output for "+noOutput.String()+"; the build was killed") {
		t.Errorf("nightly log does not say the build was killed for silence:\n%s", text)
	}
}
