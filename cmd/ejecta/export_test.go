package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/craterview/cratertest"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/reporter"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// exportToolchains need encoding in crater's paths: '/' and '+'.
var exportToolchains = []string{"stable", "/opt/rust+stage2"}

func exportRuns() []results.RunResult {
	return []results.RunResult{{Toolchain: exportToolchains[0], Attempt: 1, Status: streams.StatusTestPass},
		{Toolchain: exportToolchains[1], Attempt: 2, Status: streams.StatusBuildFail}}
}

// writeExperiment stores a finished experiment as the reporter and the
// uploaders left it before the crater view existed: config.json,
// results.json and the logs, nothing under crater/.
func writeExperiment(t *testing.T, st store.Store, exp string, crates []results.CrateResult) {
	t.Helper()
	writeReport(t, st, exp, 2*len(crates), crates)
	rec := streams.Experiment{V: streams.SchemaVersion, Name: exp, Toolchains: exportToolchains, Mode: streams.ModeBuildAndTest,
		CrateSource: "/src", Selection: "list", Crates: len(crates), Jobs: 2 * len(crates), CreatedAt: time.Now().UTC()}
	data, err := json.Marshal(reporter.ConfigFile{V: results.FileVersion, Experiment: rec})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(context.Background(), streams.ExperimentPrefix(exp)+"config.json", bytes.NewReader(data), int64(len(data)), ""); err != nil {
		t.Fatal(err)
	}
}

// TestExportCrater exports an experiment finished before the crater view
// existed into a directory and into a bucket on MinIO, and reads each
// view back as crater's consumers do: every log path of results.json
// reaches a log.txt equal to ejecta's log, every archive entry comes apart
// into comparison, crate and toolchain.
func TestExportCrater(t *testing.T) {
	dir := t.TempDir()
	src, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	writeExperiment(t, src, "old", []results.CrateResult{
		{Name: "a", Version: "1.0.0", Class: results.ClassRegressed, Confirmation: results.ConfirmationConfirmed, Results: exportRuns()},
		{Name: "b", Version: "2.0.0+build.5", Class: results.ClassSameBuildFail, Results: exportRuns()},
		{Name: "c", Version: "0.1.0", Class: results.ClassFlaky, Confirmation: results.ConfirmationFlaky, Results: exportRuns()},
	})
	storeArg := "--store=file://" + dir

	t.Run("directory", func(t *testing.T) {
		dest := filepath.Join(t.TempDir(), "view")
		out, err := run(t, "export", "old", storeArg, "--crater", dest)
		if err != nil {
			t.Fatalf("export: %v\n%s", err, out)
		}
		if !strings.Contains(out, filepath.Join(dest, "results.json")) || !strings.Contains(out, "6 log.txt") {
			t.Errorf("output does not name results.json and 6 logs:\n%s", out)
		}
		dst, err := store.NewFile(dest)
		if err != nil {
			t.Fatal(err)
		}
		v := cratertest.Check(t, dst, "", src, "old")
		if v.Crates != 3 || v.Logs != 6 || len(v.Archives) != 4 {
			t.Errorf("view of %d crates, %d logs, archives %v; want 3, 6, all, regressed, build-fail, spurious-regressed", v.Crates, v.Logs, v.Archives)
		}
		if v.Config.Status != "completed" || v.Config.StartedAt == nil || v.Config.CompletedAt == nil {
			t.Errorf("config.json: status %s, started %v, completed %v", v.Config.Status, v.Config.StartedAt, v.Config.CompletedAt)
		}
		retry, err := os.ReadFile(filepath.Join(dest, "retry-regressed-list.txt"))
		if err != nil || string(retry) != "a\nc\n" {
			t.Errorf("retry-regressed-list.txt: %q, %v; want the regressed and the spurious-regressed crate", retry, err)
		}
	})

	t.Run("minio", func(t *testing.T) {
		m := testenv.StartMinIO(t)
		t.Setenv(store.EnvS3AccessKey, m.AccessKey)
		t.Setenv(store.EnvS3SecretKey, m.SecretKey)
		dest := strings.Replace(m.StoreURL("reports"), "s3://reports?", "s3://reports/old/crater?", 1)
		if out, err := run(t, "export", "old", storeArg, "--crater", dest); err != nil {
			t.Fatalf("export: %v\n%s", err, out)
		}
		dst, err := store.Open(context.Background(), dest)
		if err != nil {
			t.Fatal(err)
		}
		if v := cratertest.Check(t, dst, "", src, "old"); v.Logs != 6 {
			t.Errorf("%d logs, want 6", v.Logs)
		}
	})

	writeReport(t, src, "half", 4, []results.CrateResult{{Name: "a", Version: "1.0.0", Class: results.ClassPending, Results: exportRuns()[:1]}})
	writeExperiment(t, src, "half", []results.CrateResult{{Name: "a", Version: "1.0.0", Class: results.ClassPending, Results: exportRuns()[:1]}})
	writeReport(t, src, "norecord", 2, []results.CrateResult{{Name: "a", Version: "1.0.0", Class: results.ClassSameTestPass, Results: exportRuns()}})
	dest := "--crater=" + t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no destination", []string{"export", "old", storeArg}, "--crater: want the destination"},
		{"bad destination", []string{"export", "old", storeArg, "--crater", "ftp://host/x"}, `--crater: store URL "ftp://host/x": unknown scheme`},
		{"unknown experiment", []string{"export", "nosuch", storeArg, dest}, `experiment "nosuch": no config.json`},
		{"no record", []string{"export", "norecord", storeArg, dest}, `experiment "norecord": no config.json`},
		{"not finished", []string{"export", "half", storeArg, dest}, "experiment half: 1 of 2 builds done"},
		{"bad parallel", []string{"export", "old", storeArg, dest, "--parallel", "0"}, "--parallel 0: want 1 or more"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantUsageError(t, tc.want, tc.args...) })
	}
}
