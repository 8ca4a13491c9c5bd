package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/ejecta-build/ejecta/craterview"
	"github.com/ejecta-build/ejecta/craterview/cratertest"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// craterToolchains are a rustup name and a toolchain directory whose name
// needs encoding ('/' and '+').
var craterToolchains = []string{"stable", "/opt/rust+stage2"}

// storeFinished stores a finished experiment exp as the uploader and the
// reporter leave it: each crate's logs (compressed, and plain unless
// compressedOnly), their metadata, results.json, config.json, and the
// crater view's results.json and config.json.
func storeFinished(t *testing.T, st store.Store, exp string, compressedOnly bool) {
	t.Helper()
	ctx := context.Background()
	prefix := streams.ExperimentPrefix(exp)
	outcome := func(tc string, s streams.Status, attempt int) results.RunResult {
		return results.RunResult{Toolchain: tc, Status: s, Attempt: attempt}
	}
	pass, fail := streams.StatusTestPass, streams.StatusBuildFail
	crates := []results.CrateResult{
		{Name: "regress", Version: "1.0.0", Class: results.ClassRegressed, Confirmation: results.ConfirmationConfirmed,
			Results: []results.RunResult{outcome("stable", pass, 1), outcome("/opt/rust+stage2", fail, 2)},
			Reruns:  [][]results.RunResult{{outcome("stable", pass, streams.RerunAttemptBase(1)+1), outcome("/opt/rust+stage2", fail, streams.RerunAttemptBase(1)+1)}}},
		{Name: "mended", Version: "0.3.0+build.5", Class: results.ClassFixed,
			Results: []results.RunResult{outcome("stable", fail, 1), outcome("/opt/rust+stage2", pass, 1)}},
		{Name: "stuck", Version: "2.0.0", Class: results.ClassSameBuildFail,
			Results: []results.RunResult{outcome("stable", fail, 1), outcome("/opt/rust+stage2", fail, 1)}},
		{Name: "fine", Version: "1.2.3", Class: results.ClassSameTestPass,
			Results: []results.RunResult{outcome("stable", pass, 1), outcome("/opt/rust+stage2", pass, 3)}},
		{Name: "unresolvable", Version: "0.1.0", Class: results.ClassBroken,
			Results: []results.RunResult{outcome("stable", streams.StatusBroken, 1), outcome("/opt/rust+stage2", streams.StatusBroken, 1)}},
	}
	put := func(key string, data []byte) {
		t.Helper()
		if err := st.Put(ctx, key, bytes.NewReader(data), int64(len(data)), ""); err != nil {
			t.Fatal(err)
		}
	}
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range crates {
		c := &crates[i]
		for _, rs := range append([][]results.RunResult{c.Results}, c.Reruns...) {
			for j := range rs {
				r := &rs[j]
				k := streams.BuildKey{Experiment: exp, Crate: c.Name, Version: c.Version, Toolchain: r.Toolchain}
				var log bytes.Buffer
				for line := range 50 + 40*i {
					fmt.Fprintf(&log, "\x1b[1m%s\x1b[0m attempt %d line %d: é\n", k, r.Attempt, line)
				}
				r.Log = streams.LogObjectKey(k, r.Attempt)
				sum := sha256.Sum256(log.Bytes())
				meta := streams.LogMeta{V: streams.LogMetaVersion, BuildKey: k, Attempt: r.Attempt, Bytes: uint64(log.Len()),
					SHA256: hex.EncodeToString(sum[:]), Raw: r.Log + ".zst", StoredAt: time.Now().UTC()}
				put(prefix+meta.Raw, zw.EncodeAll(log.Bytes(), nil))
				if !compressedOnly {
					meta.Plain = r.Log
					put(prefix+meta.Plain, log.Bytes())
				}
				put(prefix+streams.LogMetaKey(k, r.Attempt), mustJSON(t, meta))
			}
		}
	}
	file := results.File{V: results.FileVersion, Experiment: exp, Toolchains: craterToolchains,
		TotalJobs: 2 * len(crates), DoneJobs: 2 * len(crates), Crates: crates}
	put(results.Key(exp), mustJSON(t, file))
	rec := streams.Experiment{V: streams.SchemaVersion, Name: exp, Toolchains: craterToolchains, Mode: streams.ModeBuildAndTest,
		Crates: len(crates), Jobs: 2 * len(crates), CreatedAt: time.Now().UTC()}
	cfg, err := craterview.Config(&rec, craterview.Ended{Ended: true, At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	put(prefix+craterview.Dir+craterview.ConfigFile, cfg)
	var view bytes.Buffer
	if _, _, err := craterview.WriteResults(&view, bytes.NewReader(mustJSON(t, file)), craterToolchains); err != nil {
		t.Fatal(err)
	}
	put(prefix+craterview.Dir+craterview.ResultsFile, view.Bytes())
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBuildCraterView builds a finished experiment's archives on a
// directory and on MinIO, with and without the plain logs, and reads its
// crater view back as crater's consumers do: every log path of
// results.json reaches a log.txt equal to ejecta's log, every archive
// entry comes apart into its comparison, crate and toolchain and equals
// that log too.
func TestBuildCraterView(t *testing.T) {
	for name, newStore := range stores(t) {
		for _, compressedOnly := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s compressed-only=%v", name, compressedOnly), func(t *testing.T) {
				st := newStore(t)
				exp := strings.ReplaceAll(fmt.Sprintf("cv-%s-%v", name, compressedOnly), "true", "zst")
				storeFinished(t, st, exp, compressedOnly)
				m, err := Build(context.Background(), st, exp, BuildOptions{})
				if err != nil {
					t.Fatal(err)
				}
				v := cratertest.Check(t, st, streams.ExperimentPrefix(exp)+craterview.Dir, st, exp)
				if v.Crates != 5 || v.Logs != 10 || len(v.Archives) != 6 {
					t.Errorf("view of %d crates, %d logs, archives %v; want 5, 10, all and 5 comparisons", v.Crates, v.Logs, v.Archives)
				}
				c := m.Crater
				if c == nil || c.Logs != 10 || len(c.Archives) != 6 || c.Archives[0].Name != craterview.AllArchive {
					t.Fatalf("manifest's crater view: %+v", c)
				}
				// The store copies a plain log by itself; a compressed
				// one is decompressed through ejecta.
				if want := map[bool]int{false: 10, true: 0}[compressedOnly]; c.Linked != want {
					t.Errorf("%d of %d log.txt copied by the store, want %d", c.Linked, c.Logs, want)
				}
			})
		}
	}
}

// TestExportCrater writes the crater view of a stored experiment into
// another store, at its top, and reads it back.
func TestExportCrater(t *testing.T) {
	src, err := store.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dst, err := store.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	storeFinished(t, src, "old", false)
	v, err := ExportCrater(context.Background(), src, "old", dst, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v.Logs != 10 || v.Linked != 0 {
		t.Errorf("export: %+v; want 10 logs, none linked across stores", v)
	}
	// results.json and config.json are the command's to write; here the
	// reporter's are put beside the archives and logs.
	for _, f := range []string{craterview.ResultsFile, craterview.ConfigFile} {
		rc, err := src.Get(context.Background(), "old/"+craterview.Dir+f)
		if err != nil {
			t.Fatal(err)
		}
		err = dst.Put(context.Background(), f, rc, -1, "")
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	cratertest.Check(t, dst, "", src, "old")
}
