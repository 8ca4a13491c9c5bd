package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/streams"
)

// complete runs the shells' completion request for args and returns the
// candidates.
func complete(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := run(t, append([]string{cobraComplete}, args...)...)
	if err != nil {
		t.Fatalf("__complete %v: %v", args, err)
	}
	var got []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, ":") || strings.HasPrefix(l, "Completion ended") || l == "" {
			continue
		}
		name, _, _ := strings.Cut(l, "\t")
		got = append(got, name)
	}
	return got
}

// Every command completes what it takes from the farm (experiments, an
// experiment's crates, builders, toolchains) and its fixed vocabularies
// (modes, outputs, lint levels, log levels, colours).
func TestCompletion(t *testing.T) {
	ns := testenv.StartNATS(t)
	_, js := ns.Connect(t)
	ctx := context.Background()
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	if _, err := producer.New(js, zerolog.Nop()).Create(ctx, producer.Request{Name: "comp", Toolchains: []string{"stable", "nightly"},
		Mode: "check-only", Crates: "cfg-if,itoa", CrateSource: testenv.CrateRegistry(t), NoToolchainCheck: true}); err != nil {
		t.Fatal(err)
	}
	kv, _ := js.KeyValue(ctx, streams.BuildersBucket)
	hb, _ := json.Marshal(streams.Heartbeat{V: streams.SchemaVersion, ID: "b1", Slots: 2, Updated: time.Now(),
		Toolchains: []string{"stable-x86_64-unknown-linux-gnu", "nightly-x86_64-unknown-linux-gnu"}})
	kv.Put(ctx, "b1", hb)
	t.Setenv("EJECTA_NATS_URL", ns.URL)

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"experiment", "status", ""}, []string{"comp"}},
		{[]string{"experiment", "abort", ""}, []string{"comp"}},
		{[]string{"experiment", "retry", ""}, []string{"comp"}},
		{[]string{"experiment", "priority", ""}, []string{"comp"}},
		{[]string{"experiment", "delete", ""}, []string{"comp"}},
		{[]string{"report", ""}, []string{"comp"}},
		{[]string{"archive", ""}, []string{"comp"}},
		{[]string{"dead-letters", ""}, []string{"comp"}},
		{[]string{"tail", ""}, []string{"comp"}},
		{[]string{"logs", "comp", ""}, []string{"cfg-if", "itoa"}},
		{[]string{"tail", "comp", "itoa@"}, []string{"cfg-if@1.0.0", "itoa@1.0.1"}},
		{[]string{"builders", ""}, []string{"b1"}},
		{[]string{"experiment", "create", "x", "--mode", ""}, modeNameList()},
		{[]string{"experiment", "create", "x", "--toolchains", ""},
			[]string{"nightly", "nightly-x86_64-unknown-linux-gnu", "stable", "stable-x86_64-unknown-linux-gnu"}},
		{[]string{"experiment", "create", "x", "--toolchains", "stable,"},
			[]string{"stable,nightly", "stable,nightly-x86_64-unknown-linux-gnu", "stable,stable-x86_64-unknown-linux-gnu"}},
		{[]string{"tail", "comp", "itoa", "--toolchain", ""}, []string{"stable", "nightly"}},
		{[]string{"experiment", "create", "x", "--cap-lints", ""}, streams.CapLints},
		{[]string{"builders", "-o", ""}, []string{"text", "json"}},
		{[]string{"report", "comp", "--output", ""}, []string{"text", "json", "markdown"}},
		{[]string{"version", "-o", ""}, []string{"text", "json"}},
		{[]string{"experiment", "create", "x", "-o", ""}, []string{"text", "json"}},
		{[]string{"logs", "comp", "itoa", "--color", ""}, []string{"auto", "always", "never"}},
		{[]string{"builders", "--log-level", ""}, []string{"debug", "info", "warn", "error"}},
	} {
		got := complete(t, tc.args...)
		want := slices.Clone(tc.want)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("complete %q: %q, want %q", tc.args, got, want)
		}
	}

	// A farm that does not answer: nothing, at once.
	t.Setenv("EJECTA_NATS_URL", "nats://127.0.0.1:1")
	start := time.Now()
	if got := complete(t, "experiment", "status", ""); len(got) != 0 || time.Since(start) > 3*time.Second {
		t.Errorf("completion without a farm: %q after %s", got, time.Since(start))
	}
}
