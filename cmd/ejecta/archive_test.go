package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// writeReport stores a report as a reporter and uploaders leave it: a
// results.json and each result's log.
func writeReport(t *testing.T, st store.Store, exp string, total int, crates []results.CrateResult) {
	t.Helper()
	ctx := context.Background()
	done := 0
	for i, c := range crates {
		for j, r := range c.Results {
			k := streams.BuildKey{Experiment: exp, Crate: c.Name, Version: c.Version, Toolchain: r.Toolchain}
			data := []byte("log of " + k.String() + "\n")
			sum := sha256.Sum256(data)
			meta, _ := json.Marshal(streams.LogMeta{V: 1, BuildKey: k, Attempt: r.Attempt, Bytes: uint64(len(data)),
				SHA256: hex.EncodeToString(sum[:]), Plain: streams.LogObjectKey(k, r.Attempt)})
			prefix := streams.ExperimentPrefix(exp)
			for key, b := range map[string][]byte{streams.LogObjectKey(k, r.Attempt): data, streams.LogMetaKey(k, r.Attempt): meta} {
				if err := st.Put(ctx, prefix+key, bytes.NewReader(b), int64(len(b)), ""); err != nil {
					t.Fatal(err)
				}
			}
			crates[i].Results[j].Log = streams.LogObjectKey(k, r.Attempt)
			done++
		}
	}
	tcs := []string{"stable", "nightly"}
	if len(crates) > 0 && len(crates[0].Results) == 2 {
		tcs = []string{crates[0].Results[0].Toolchain, crates[0].Results[1].Toolchain}
	}
	data, err := json.Marshal(results.File{V: results.FileVersion, Experiment: exp,
		Toolchains: tcs, TotalJobs: total, DoneJobs: done, Crates: crates, Updated: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, results.Key(exp), bytes.NewReader(data), int64(len(data)), ""); err != nil {
		t.Fatal(err)
	}
}

func both() []results.RunResult {
	return []results.RunResult{{Toolchain: "stable", Attempt: 1}, {Toolchain: "nightly", Attempt: 1}}
}

// tarNames lists the entries of a tar.zst file.
func tarNames(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := zstd.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
	}
}

func TestArchiveCommand(t *testing.T) {
	dir := t.TempDir()
	st, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	writeReport(t, st, "done", 6, []results.CrateResult{
		{Name: "a", Version: "1.0.0", Class: results.ClassRegressed, Confirmation: results.ConfirmationConfirmed, Results: both()},
		{Name: "b", Version: "2.0.0", Class: results.ClassFixed, Results: both()},
		{Name: "c", Version: "0.1.0", Class: results.ClassSameTestPass, Results: both()},
	})
	writeReport(t, st, "half", 6, []results.CrateResult{
		{Name: "a", Version: "1.0.0", Class: results.ClassRegressed, Confirmation: results.ConfirmationPending, Results: both()},
	})
	storeArg := "--store=file://" + dir

	out, err := run(t, "archive", "done", storeArg)
	if err != nil {
		t.Fatalf("archive: %v\n%s", err, out)
	}
	for class, want := range map[string][]string{
		"regressed":      {"regressed/a-1.0.0/stable.log", "regressed/a-1.0.0/nightly.log"},
		"fixed":          {"fixed/b-2.0.0/stable.log", "fixed/b-2.0.0/nightly.log"},
		"same-test-pass": {"same-test-pass/c-0.1.0/stable.log", "same-test-pass/c-0.1.0/nightly.log"},
	} {
		path := filepath.Join(dir, "done", "logs-archives", class+".tar.zst")
		if !strings.Contains(out, path) {
			t.Errorf("output does not name %s:\n%s", path, out)
		}
		if got := tarNames(t, path); !slices.Equal(got, want) {
			t.Errorf("%s holds %v, want %v", class, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "done", "logs-archives", "manifest.json")); err != nil {
		t.Errorf("no manifest: %v", err)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown experiment", []string{"archive", "nosuch", storeArg}, `experiment "nosuch": no results.json`},
		{"not finished", []string{"archive", "half", storeArg}, "experiment half: 2 of 6 builds done, 0 crates waiting for a result, 1 regressions waiting for confirmation: experiment not finished"},
		{"bad name", []string{"archive", "No/Such", storeArg}, `experiment name "No/Such"`},
		{"bad budget", []string{"archive", "done", storeArg, "--memory-budget", "lots"}, `--memory-budget: size "lots"`},
		{"small budget", []string{"archive", "done", storeArg, "--memory-budget", "1KiB"}, "archive memory budget 1024 bytes: want at least 1 MiB"},
		{"bad parallel", []string{"archive", "done", storeArg, "--parallel", "0"}, "--parallel 0: want 1 or more"},
		{"huge parallel", []string{"archive", "done", storeArg, "--parallel", "5000"}, "archive parallel 5000: want 1 to 1024"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantUsageError(t, tc.want, tc.args...) })
	}
}

// wantUsageError runs the command line args and checks that it fails as
// bad input (exit code 2) with an error containing want.
func wantUsageError(t *testing.T, want string, args ...string) {
	t.Helper()
	_, err := run(t, args...)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v\nwant one containing %q", err, want)
	}
	var ue usageError
	if !errors.As(err, &ue) {
		t.Errorf("error %v does not exit with the usage code 2", err)
	}
}
