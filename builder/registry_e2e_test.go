package builder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
)

// Jobs whose crates come from a crates.io-style sparse registry, served on
// loopback from the local corpus: the lockfile is resolved with the
// network, every .crate file is downloaded once, checked against the
// index and cached, and the build runs offline from the unpacked files.
func TestBuildFromRegistry(t *testing.T) {
	if testing.Short() {
		t.Skip("runs cargo in containerd")
	}
	nc, js := startJetStream(t, streams.DefaultConfig())
	srv := testenv.ServeSparseRegistry(t, testenv.CrateRegistry(t))
	srv.Tamper("itoa", "1.0.1")
	job := func(exp, crate, version, tc string, mode streams.Mode) streams.Job {
		return streams.Job{V: 1, BuildKey: streams.BuildKey{Experiment: "registry-" + exp, Crate: crate, Version: version, Toolchain: tc},
			Mode: mode, CrateSource: srv.Source}
	}
	type want = jobWant
	// One slot: the jobs run in this order, so the second lock_api job
	// finds scopeguard in the cache the first one filled.
	tests := []struct {
		name string
		job  streams.Job
		want want
	}{
		{"a crate with a dependency", job("deps", "lock_api", "0.4.9", "stable", streams.ModeCheckOnly),
			want{streams.StatusTestPass, "", []string{
				"$ cargo +stable generate-lockfile  (with network)\n",
				buildlog.SystemPrefix + "crates from " + srv.Source + ": 3 downloaded, 0 from the download cache, sha256 checked against the index\n",
				"$ cargo +stable check --frozen\n", "Checking scopeguard v1.1.0", "Compiling lock_api v0.4.9"}}},
		{"the same crates again, from the cache", job("deps", "lock_api", "0.4.9", "nightly", streams.ModeCheckOnly),
			want{streams.StatusTestPass, "", []string{
				buildlog.SystemPrefix + "crates from " + srv.Source + ": 0 downloaded, 3 from the download cache, sha256 checked against the index\n"}}},
		// Tests need the crate as the root package: resolved with the
		// network as well, its dev-dependencies come from the registry.
		{"tests of a crate from the registry", withCapLints(job("test", "cfg-if", "1.0.0", "stable", streams.ModeBuildAndTest), "warn"),
			want{streams.StatusTestPass, "", []string{"test result: ok."}}},
		{"a file that does not match the index", job("tampered", "itoa", "1.0.1", "stable", streams.ModeCheckOnly),
			want{streams.StatusPrepareFail, "checksum-mismatch", []string{
				"cannot fetch the crates: download crate itoa 1.0.1 from " + strings.TrimSuffix(srv.Index, "index/") + "crates/itoa/1.0.1/download: checksum mismatch: the index says sha256 "}}},
		{"a crate the registry does not have", job("missing", "ejecta-no-such-crate", "1.0.0", "stable", streams.ModeCheckOnly),
			want{streams.StatusBroken, "", []string{"no matching package named `ejecta-no-such-crate` found",
				"cannot resolve ejecta-no-such-crate 1.0.0 from " + srv.Source + ": crate broken"}}},
		{"a registry that does not answer", streams.Job{V: 1, BuildKey: streams.BuildKey{Experiment: "registry-down", Crate: "cfg-if", Version: "1.0.0", Toolchain: "stable"},
			Mode: streams.ModeCheckOnly, CrateSource: "sparse+http://127.0.0.1:1/index/"},
			want{streams.StatusPrepareFail, "download-failed", []string{buildlog.SystemPrefix + "the registry sparse+http://127.0.0.1:1/index/ could not be read\n"}}},
	}
	for _, tt := range tests {
		publishJob(t, js, tt.job)
	}
	work := testenv.DurableTempDir(t)
	reg := prometheus.NewRegistry()
	startBuilder(t, nc, Config{ID: "registry", Slots: 1, WorkDir: work, InProgressEvery: time.Second, Metrics: reg})

	got := awaitResults(t, js, len(tests), 3*time.Minute)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.want.check(t, js, tt.job.BuildKey, got[tt.job.BuildKey]) })
	}
	for crate, version := range map[string]string{"lock_api": "0.4.9", "scopeguard": "1.1.0", "autocfg": "1.1.0"} {
		if n := srv.Downloads(crate, version); n != 1 {
			t.Errorf("%s %s downloaded %d times, want once", crate, version, n)
		}
	}
	// The cache holds what was checked, and not the tampered file.
	cached, _ := filepath.Glob(filepath.Join(work, "crate-cache-registry", "*.crate"))
	if len(cached) < 4 {
		t.Errorf("crate cache holds %v, want lock_api, scopeguard, autocfg and cfg-if", cached)
	}
	for _, f := range cached {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("cached %s: %v", f, err)
		}
	}
	if n := srv.Downloads("itoa", "1.0.1"); n != 1 {
		t.Errorf("tampered itoa downloaded %d times, want once", n)
	}
	// Every download but the refused one was used, and the second
	// lock_api job's three files came from the cache.
	origin := map[string]float64{}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "ejecta_builder_crate_files_total" {
			for _, m := range f.GetMetric() {
				origin[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	if origin["download"] != float64(srv.TotalDownloads()-1) || origin["cache"] < 3 {
		t.Errorf("ejecta_builder_crate_files_total %v, want download %d (every file but the tampered one) and cache at least 3",
			origin, srv.TotalDownloads()-1)
	}
}

func withCapLints(j streams.Job, level string) streams.Job {
	j.CapLints = level
	return j
}
