package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// writeResults stores exp's results.json of crates, total builds, done of
// them, and a plain log with its metadata for every result; it returns the
// archive entries each class must hold.
func writeResults(t *testing.T, st store.Store, exp string, total, done int, crates []results.CrateResult) map[results.Class][]string {
	t.Helper()
	ctx := context.Background()
	want := map[results.Class][]string{}
	prefix := streams.ExperimentPrefix(exp)
	for _, c := range crates {
		for i, rs := range append([][]results.RunResult{c.Results}, c.Reruns...) {
			for j := range rs {
				r := &rs[j]
				k := streams.BuildKey{Experiment: exp, Crate: c.Name, Version: c.Version, Toolchain: r.Toolchain}
				r.Log = streams.LogObjectKey(k, r.Attempt)
				data := []byte(k.String() + " attempt " + string(rune('0'+r.Attempt%10)) + "\n")
				sum := sha256.Sum256(data)
				meta := streams.LogMeta{V: streams.LogMetaVersion, BuildKey: k, Attempt: r.Attempt, Bytes: uint64(len(data)),
					SHA256: hex.EncodeToString(sum[:]), Plain: streams.LogObjectKey(k, r.Attempt), StoredAt: time.Now().UTC()}
				if err := st.Put(ctx, prefix+meta.Plain, bytes.NewReader(data), int64(len(data)), ""); err != nil {
					t.Fatal(err)
				}
				mj, err := json.Marshal(meta)
				if err != nil {
					t.Fatal(err)
				}
				if err := st.Put(ctx, prefix+streams.LogMetaKey(k, r.Attempt), bytes.NewReader(mj), int64(len(mj)), ""); err != nil {
					t.Fatal(err)
				}
				name := string(c.Class) + "/" + c.Name + "-" + c.Version + "/" + r.Toolchain + ".log"
				if i > 0 {
					name = string(c.Class) + "/" + c.Name + "-" + c.Version + "/rerun-1/" + r.Toolchain + ".log"
				}
				want[c.Class] = append(want[c.Class], name)
			}
		}
	}
	data, err := json.Marshal(results.File{V: results.FileVersion, Experiment: exp, TotalJobs: total, DoneJobs: done, Crates: crates})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, results.Key(exp), bytes.NewReader(data), int64(len(data)), ""); err != nil {
		t.Fatal(err)
	}
	return want
}

func runs(attempt int) []results.RunResult {
	return []results.RunResult{
		{Toolchain: "stable", Status: streams.StatusTestPass, Attempt: attempt},
		{Toolchain: "nightly", Status: streams.StatusBuildFail, Attempt: attempt},
	}
}

func TestBuild(t *testing.T) {
	st, err := store.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	want := writeResults(t, st, "e1", 6, 6, []results.CrateResult{
		{Name: "a", Version: "1.0.0", Class: results.ClassRegressed, Confirmation: results.ConfirmationConfirmed,
			Results: runs(1), Reruns: [][]results.RunResult{runs(streams.RerunAttemptBase(1) + 1)}},
		{Name: "b", Version: "2.0.0", Class: results.ClassSameBuildFail, Results: runs(2)},
	})
	m, err := Build(ctx, st, "e1", BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var classes []results.Class
	for _, a := range m.Archives {
		classes = append(classes, a.Class)
		var got []string
		for _, e := range readArchive(t, st, streams.ExperimentPrefix("e1")+a.Key) {
			got = append(got, e.name)
		}
		if !slices.Equal(got, want[a.Class]) || a.Logs != len(want[a.Class]) || a.Crates != 1 {
			t.Errorf("%s: %+v holds %v, want %v", a.Class, a, got, want[a.Class])
		}
	}
	if !slices.Equal(classes, []results.Class{results.ClassRegressed, results.ClassSameBuildFail}) {
		t.Errorf("archives of %v", classes)
	}
	read, err := ReadManifest(ctx, st, "e1")
	if err != nil || read.CratesSHA256 != m.CratesSHA256 || len(read.Archives) != 2 {
		t.Fatalf("manifest %+v, %v", read, err)
	}
	// The same results again: nothing is built, unless forced.
	again, err := Build(ctx, st, "e1", BuildOptions{})
	if err != nil || !again.Built.Equal(m.Built) {
		t.Errorf("a second build: %v, built %s then %s", err, m.Built, again.Built)
	}
	if forced, err := Build(ctx, st, "e1", BuildOptions{Force: true}); err != nil || forced.Built.Equal(m.Built) || forced.CratesSHA256 != m.CratesSHA256 {
		t.Errorf("a forced build: %+v, %v", forced, err)
	}
}

// An unknown experiment, one not finished, and a bad name each get an
// error naming them, and no archive.
func TestBuildRefusesBadInput(t *testing.T) {
	st, err := store.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	writeResults(t, st, "half", 4, 2, []results.CrateResult{{Name: "a", Version: "1.0.0", Class: results.ClassPending, Results: runs(1)[:1]}})
	writeResults(t, st, "confirming", 2, 2, []results.CrateResult{{Name: "a", Version: "1.0.0", Class: results.ClassRegressed, Confirmation: results.ConfirmationPending, Results: runs(1)}})
	for _, tt := range []struct {
		exp      string
		sentinel error
		want     string
	}{
		{"nosuch", ErrUnknownExperiment, `experiment "nosuch": no results.json`},
		{"half", ErrNotFinished, "experiment half: 2 of 4 builds done, 1 crates waiting for a result"},
		{"confirming", ErrNotFinished, "1 regressions waiting for confirmation"},
		{"Bad/Name", nil, `experiment name "Bad/Name"`},
	} {
		t.Run(tt.exp, func(t *testing.T) {
			_, err := Build(context.Background(), st, tt.exp, BuildOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
				t.Errorf("error %v is not %v", err, tt.sentinel)
			}
			if _, err := ReadManifest(context.Background(), st, tt.exp); !errors.Is(err, store.ErrNotFound) && tt.sentinel != nil {
				t.Errorf("manifest of %s: %v", tt.exp, err)
			}
		})
	}
}
