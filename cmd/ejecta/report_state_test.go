package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/status"
	"github.com/ejecta-build/ejecta/streams"
)

// TestReportAndStatusAgree runs `ejecta reporter` and checks that `ejecta
// report NAME --output json` and `ejecta experiment status NAME --output
// json` show the same state.
func TestReportAndStatusAgree(t *testing.T) {
	ns := testenv.StartNATS(t)
	reg := testenv.CrateRegistry(t)
	storeURL := "file://" + t.TempDir()
	g := []string{"--nats", ns.URL, "--log-level", "warn"}
	if out, err := run(t, append(g, "experiment", "create", "rs", "--toolchains", "stable,nightly",
		"--mode", "check-only", "--crates", "cfg-if,itoa", "--crate-source", reg)...); err != nil {
		t.Fatalf("create: %q, %v", out, err)
	}

	if _, err := run(t, append(g, "reporter", "--store", storeURL, "--confirmations", "-7")...); err == nil ||
		!strings.Contains(err.Error(), "confirmations -7") {
		t.Errorf("--confirmations -7: %v, want an error naming it", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		root := newRootCmd()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append(g, "reporter", "--store", storeURL, "--confirmations", "-1"))
		done <- root.ExecuteContext(ctx)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("reporter: %v", err)
		}
	}()

	// The results builders would publish.
	nc, err := nats.Connect(ns.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	for _, r := range []struct {
		crate, version, tc string
		status             streams.Status
	}{
		{"cfg-if", "1.0.0", "stable", streams.StatusTestPass},
		{"cfg-if", "1.0.0", "nightly", streams.StatusTestPass},
		{"itoa", "1.0.1", "stable", streams.StatusTestPass},
		{"itoa", "1.0.1", "nightly", streams.StatusBuildFail},
	} {
		k := streams.BuildKey{Experiment: "rs", Crate: r.crate, Version: r.version, Toolchain: r.tc}
		data, _ := json.Marshal(streams.Result{V: 1, BuildKey: k, Attempt: 1, Status: r.status, Builder: "b",
			LogKey: streams.LogObjectKey(k, 1), FinishedAt: time.Now().UTC()})
		if _, err := js.Publish(context.Background(), streams.ResultSubject(k, 1, streams.AnonymousSender), data); err != nil {
			t.Fatal(err)
		}
	}

	var rep results.File
	var st status.Status
	deadline := time.Now().Add(20 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("report and status never agreed on 4 done builds: report %+v, status %+v", rep, st)
		}
		time.Sleep(100 * time.Millisecond)
		out, err := run(t, append(g, "report", "rs", "--store", storeURL, "--output", "json")...)
		if err != nil {
			continue
		}
		rep = results.File{}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("report --output json: %v\n%s", err, out)
		}
		out, err = run(t, append(g, "experiment", "status", "rs", "--output", "json")...)
		if err != nil {
			t.Fatalf("status: %v", err)
		}
		st = status.Status{}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("status --output json: %v\n%s", err, out)
		}
		if rep.DoneJobs == 4 && st.Done == 4 {
			break
		}
	}
	classes := map[string]int{}
	for c, n := range rep.Classes {
		classes[string(c)] = n
	}
	if !maps.Equal(classes, st.Classes) || !maps.Equal(classes, map[string]int{"regressed": 1, "same-test-pass": 1}) {
		t.Errorf("classes: report %v, status %v; want one regressed, one same-test-pass in both", classes, st.Classes)
	}
	if rep.TotalJobs != st.Total {
		t.Errorf("total: report %d, status %d", rep.TotalJobs, st.Total)
	}
	// The reporter counts each toolchain's builds apart, for the bars of
	// status --watch.
	for _, tc := range st.Toolchains {
		if tc.Total != 2 || tc.Done != 2 {
			t.Errorf("toolchain %+v: want 2 of 2 done", tc)
		}
	}
	if len(st.Toolchains) != 2 {
		t.Errorf("toolchains %+v: want stable and nightly", st.Toolchains)
	}
}
