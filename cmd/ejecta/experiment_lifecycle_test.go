package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// Every lifecycle command names what is wrong with its input and exits
// with the usage code 2.
func TestExperimentLifecycleBadInput(t *testing.T) {
	nats := testenv.StartNATS(t)
	reg := testenv.CrateRegistry(t)
	g := []string{"--nats", nats.URL, "--log-level", "warn", "experiment"}
	if _, err := run(t, append(g, "create", "lc", "--toolchains", "stable,nightly", "--mode", "check-only",
		"--crates", "cfg-if", "--crate-source", reg)...); err != nil {
		t.Fatalf("create: %v", err)
	}
	noReport := "file://" + t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"abort unknown", []string{"abort", "nope"}, `experiment "nope": unknown experiment (see experiment list)`},
		{"retry unknown", []string{"retry", "nope", "--crates", "cfg-if"}, `experiment "nope": unknown experiment`},
		{"priority unknown", []string{"priority", "nope", "5"}, `experiment "nope": unknown experiment`},
		{"delete unknown", []string{"delete", "nope"}, `experiment "nope": unknown experiment`},
		{"abort bad name", []string{"abort", "Not/A/Name"}, `experiment name "Not/A/Name"`},
		{"abort no name", []string{"abort"}, "experiment abort: want exactly one experiment NAME, have 0 arguments"},
		{"priority not a number", []string{"priority", "lc", "abc"}, `priority "abc": want a whole number from 0 to 100`},
		{"priority out of range", []string{"priority", "lc", "500"}, "priority: 500, want 0 to 100"},
		{"priority negative", []string{"priority", "lc", "--", "-1"}, "priority: -1, want 0 to 100"},
		{"priority no value", []string{"priority", "lc"}, "experiment priority: want NAME and N, have 1 arguments"},
		{"retry neither", []string{"retry", "lc"}, "experiment retry: want exactly one of --regressed or --crates"},
		{"retry both", []string{"retry", "lc", "--regressed", "--crates", "cfg-if"}, "experiment retry: want exactly one of --regressed or --crates"},
		{"retry crate not in it", []string{"retry", "lc", "--crates", "itoa"}, "crates: not in experiment lc (no job or result): itoa"},
		{"retry bad crate", []string{"retry", "lc", "--crates", "bad crate"}, `crates: `},
		{"retry missing list file", []string{"retry", "lc", "--crates", "@/nonexistent/list.txt"}, "crates: open /nonexistent/list.txt"},
		{"retry regressed without report", []string{"retry", "lc", "--regressed", "--store", noReport}, "--regressed: no "},
		{"bad output", []string{"abort", "lc", "--output", "yaml"}, `--output "yaml": want text or json`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := run(t, append(g, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\nwant one containing %q", err, tc.want)
			}
			var ue usageError
			if !errors.As(err, &ue) {
				t.Errorf("error %v does not exit with the usage code 2", err)
			}
		})
	}
	// None of them changed anything.
	out, err := run(t, append(g, "status", "lc", "--output", "json")...)
	if err != nil || !strings.Contains(out, `"queued": 2`) || strings.Contains(out, `"state"`) && strings.Contains(out, "aborted") {
		t.Errorf("status after bad input: %q, %v; want lc untouched with its 2 jobs", out, err)
	}
}

// decode parses a command's --output json.
func decode[T any](t *testing.T, out string) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("--output json %q: %v", out, err)
	}
	return v
}

// The lifecycle commands' --output json, through a whole life: priority,
// retry, abort, a refused retry, delete, then the name is unknown.
func TestExperimentLifecycleJSON(t *testing.T) {
	nats := testenv.StartNATS(t)
	reg := testenv.CrateRegistry(t)
	g := []string{"--nats", nats.URL, "--log-level", "warn", "experiment"}
	if _, err := run(t, append(g, "create", "lj", "--toolchains", "stable,nightly", "--mode", "check-only",
		"--crates", "cfg-if,itoa@1.0.1", "--crate-source", reg)...); err != nil {
		t.Fatalf("create: %v", err)
	}

	out, err := run(t, append(g, "priority", "lj", "42", "--output", "json")...)
	if err != nil {
		t.Fatalf("priority: %v", err)
	}
	if e := decode[streams.Experiment](t, out); e.Name != "lj" || e.Priority != 42 || e.Jobs != 4 {
		t.Errorf("priority --output json: %+v", e)
	}
	if out, err = run(t, append(g, "priority", "lj", "7")...); err != nil || out != "experiment lj: priority 7\n" {
		t.Errorf("priority text: %q, %v", out, err)
	}

	out, err = run(t, append(g, "retry", "lj", "--crates", "cfg-if", "--output", "json")...)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if r := decode[producer.RetryOutcome](t, out); r.Experiment != "lj" || r.Jobs != 2 || len(r.Crates) != 1 || !strings.HasPrefix(r.Crates[0], "cfg-if@") {
		t.Errorf("retry --output json: %+v", r)
	}
	// The same retry again, while it is still queued: nothing more.
	if out, err = run(t, append(g, "retry", "lj", "--crates", "cfg-if")...); err != nil || !strings.Contains(out, "1 crates retried (0 jobs): cfg-if@") {
		t.Errorf("retry repeated: %q, %v", out, err)
	}

	out, err = run(t, append(g, "abort", "lj", "--output", "json")...)
	if err != nil {
		t.Fatalf("abort: %v", err)
	}
	// 4 jobs of the experiment and 2 of its retry.
	if a := decode[producer.AbortOutcome](t, out); a.Experiment.State != streams.ExperimentAborted || a.Purged != 6 || a.Running != 0 || a.Already {
		t.Errorf("abort --output json: %+v", a)
	}
	if out, err = run(t, append(g, "abort", "lj")...); err != nil || !strings.Contains(out, "experiment lj was already aborted") {
		t.Errorf("abort again: %q, %v", out, err)
	}
	_, err = run(t, append(g, "retry", "lj", "--crates", "cfg-if")...)
	var ue usageError
	if err == nil || !strings.Contains(err.Error(), "experiment lj: experiment aborted; create a new experiment instead") || !errors.As(err, &ue) {
		t.Errorf("retry of an aborted experiment: %v", err)
	}

	out, err = run(t, append(g, "delete", "lj", "--output", "json")...)
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	if d := decode[producer.DeleteOutcome](t, out); d.Experiment != "lj" || d.Aborted || d.Messages[streams.JobsStream] != 0 {
		t.Errorf("delete --output json: %+v", d)
	}
	_, err = run(t, append(g, "status", "lj")...)
	if err == nil || !strings.Contains(err.Error(), `unknown experiment "lj"`) || !errors.As(err, &ue) {
		t.Errorf("status after delete: %v", err)
	}
	if out, err = run(t, append(g, "list", "--output", "json")...); err != nil || strings.TrimSpace(out) != "[]" {
		t.Errorf("list after delete: %q, %v", out, err)
	}
}

// experiment list shows each experiment's state.
func TestExperimentListState(t *testing.T) {
	nats := testenv.StartNATS(t)
	reg := testenv.CrateRegistry(t)
	g := []string{"--nats", nats.URL, "--log-level", "warn", "experiment"}
	for _, name := range []string{"one", "two"} {
		if _, err := run(t, append(g, "create", name, "--toolchains", "stable,nightly", "--mode", "check-only",
			"--crates", "cfg-if", "--crate-source", reg)...); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	if _, err := run(t, append(g, "abort", "two")...); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, append(g, "list")...)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("list:\n%s\nwant a header and two rows", out)
	}
	for i, want := range [][]string{{"NAME", "STATE", "TOOLCHAINS"}, {"one", "running", "stable,nightly"}, {"two", "aborted", "stable,nightly"}} {
		if f := strings.Fields(lines[i]); len(f) < 3 || strings.Join(f[:3], " ") != strings.Join(want, " ") {
			t.Errorf("list line %d %q, want it to start with %q", i, lines[i], want)
		}
	}
}

// experiment delete removes the experiment's stored objects too, from
// --store or the store the farm recorded, and only its own; --keep-objects
// keeps them, and with no store known it says they stay.
func TestExperimentDeleteRemovesStoredObjects(t *testing.T) {
	nats := testenv.StartNATS(t)
	reg := testenv.CrateRegistry(t)
	dir := t.TempDir()
	st, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	g := []string{"--nats", nats.URL, "--log-level", "warn", "experiment"}
	objects := map[string][]string{}
	for _, exp := range []string{"gone", "kept", "recorded", "nowhere"} {
		if _, err := run(t, append(g, "create", exp, "--toolchains", "stable,nightly", "--mode", "check-only",
			"--crates", "cfg-if", "--crate-source", reg)...); err != nil {
			t.Fatalf("create %s: %v", exp, err)
		}
		for _, k := range []string{"results.json", "index.html", "logs/stable/cfg-if/1.0.0/1.log", "logs-archives/all.tar.zst"} {
			key := streams.ExperimentPrefix(exp) + k
			if err := st.Put(context.Background(), key, strings.NewReader(k), int64(len(k)), ""); err != nil {
				t.Fatal(err)
			}
			objects[exp] = append(objects[exp], key)
		}
	}
	left := func() map[string]int {
		n := map[string]int{}
		for o, err := range st.List(context.Background(), "") {
			if err != nil {
				t.Fatal(err)
			}
			n[strings.SplitN(o.Key, "/", 2)[0]]++
		}
		return n
	}

	out, err := run(t, append(g, "delete", "gone", "--store", "file://"+dir, "--output", "json")...)
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	if d := decode[producer.DeleteOutcome](t, out); d.Objects != 4 || !strings.Contains(d.Store, dir) {
		t.Errorf("delete --output json: %+v, want 4 objects removed from %s", d, dir)
	}
	if n := left(); n["gone"] != 0 || n["kept"] != 4 || n["recorded"] != 4 {
		t.Errorf("objects left per experiment: %v", n)
	}

	if out, err = run(t, append(g, "delete", "kept", "--store", "file://"+dir, "--keep-objects")...); err != nil || !strings.Contains(out, "stored objects kept (--keep-objects)") {
		t.Errorf("delete --keep-objects: %q, %v", out, err)
	}
	if out, err = run(t, append(g, "delete", "nowhere")...); err != nil || !strings.Contains(out, "stored objects kept: no --store given, and the farm recorded none") {
		t.Errorf("delete with no store known: %q, %v", out, err)
	}
	if n := left(); n["kept"] != 4 || n["nowhere"] != 4 {
		t.Errorf("objects left per experiment: %v", n)
	}

	// The store the farm's reporter recorded.
	nc, js := nats.Connect(t)
	defer nc.Close()
	if err := streams.RecordEndpoint(context.Background(), js, streams.EndpointStore, streams.Endpoint{URL: "file://" + dir, By: "reporter"}); err != nil {
		t.Fatal(err)
	}
	if out, err = run(t, append(g, "delete", "recorded")...); err != nil || !strings.Contains(out, "removed 4 stored objects from") {
		t.Errorf("delete with the recorded store: %q, %v", out, err)
	}
	if n := left(); n["recorded"] != 0 || n["kept"] != 4 {
		t.Errorf("objects left per experiment: %v", n)
	}
}
