package reporter

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/ejecta-build/ejecta/archive"
	"github.com/ejecta-build/ejecta/craterview"
	"github.com/ejecta-build/ejecta/craterview/cratertest"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/store/storetest"
	"github.com/ejecta-build/ejecta/streams"
)

// storeLog stores a log of the attempt as an uploader does (compressed
// bytes, then the metadata) and returns its bytes.
func storeLog(t *testing.T, st store.Store, k streams.BuildKey, attempt int) []byte {
	t.Helper()
	ctx := context.Background()
	var log bytes.Buffer
	fmt.Fprintf(&log, "\x1b[1m   Compiling\x1b[0m %s v%s with %s, attempt %d\n", k.Crate, k.Version, k.Toolchain, attempt)
	for i := range attempt % 7 * 50 {
		fmt.Fprintf(&log, "warning: line %d of %s\n", i, k)
	}
	data := log.Bytes()
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	raw := zw.EncodeAll(data, nil)
	prefix := streams.ExperimentPrefix(k.Experiment)
	if err := st.Put(ctx, prefix+streams.LogRawKey(k, attempt), bytes.NewReader(raw), int64(len(raw)), ""); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	meta, err := json.Marshal(streams.LogMeta{V: streams.LogMetaVersion, BuildKey: k, Attempt: attempt,
		Bytes: uint64(len(data)), SHA256: hex.EncodeToString(sum[:]), Raw: streams.LogRawKey(k, attempt),
		LastAt: time.Now().UTC(), StoredAt: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, prefix+streams.LogMetaKey(k, attempt), bytes.NewReader(meta), int64(len(meta)), ""); err != nil {
		t.Fatal(err)
	}
	return data
}

// unpack reads an archive back, entry by entry: name → bytes.
func unpack(t *testing.T, st store.Store, key string) map[string][]byte {
	t.Helper()
	rc, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("get archive: %v", err)
	}
	defer rc.Close()
	zr, err := zstd.NewReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := make(map[string][]byte)
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("read %s: %v", key, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("read %s entry %s: %v", key, hdr.Name, err)
		}
		if _, dup := out[hdr.Name]; dup {
			t.Errorf("%s: entry %s twice", key, hdr.Name)
		}
		out[hdr.Name] = data
	}
}

// finishedRun is a finished experiment with crates in four classes: every
// log stored before its result, as uploaders do, and the confirmation
// re-runs of the regression answered.
type finishedRun struct {
	exp  string
	logs map[results.Class]map[string][]byte // the archive entries each class must hold
}

func runFinishedExperiment(t *testing.T, e *env, exp string) finishedRun {
	t.Helper()
	crates := []struct {
		name string
		a, b Outcome
		want results.Class
	}{
		{"reg", oPass, oBuild, results.ClassRegressed},
		{"fix", oBuild, oPass, results.ClassFixed},
		{"broke", oBuild, oBuild, results.ClassSameBuildFail},
		{"ok-a", oPass, oPass, results.ClassSameTestPass},
		{"ok-b", oPass, oPass, results.ClassSameTestPass},
	}
	run := finishedRun{exp: exp, logs: make(map[results.Class]map[string][]byte)}
	e.putExperiment(exp, len(crates))
	publish := func(name, tc string, attempt int, o Outcome, want results.Class, dir string) {
		r := result(exp, name, "1.0.0", tc, attempt, o.Status, o.Reason)
		data := storeLog(t, e.store, r.BuildKey, attempt)
		if run.logs[want] == nil {
			run.logs[want] = make(map[string][]byte)
		}
		run.logs[want][string(want)+"/"+name+"-1.0.0/"+dir+tc+".log"] = data
		e.publish(r)
	}
	for _, c := range crates {
		// A retried attempt: only the latest attempt's log is archived.
		storeLog(t, e.store, streams.BuildKey{Experiment: exp, Crate: c.name, Version: "1.0.0", Toolchain: "stable"}, 1)
		publish(c.name, "stable", 2, c.a, c.want, "")
		publish(c.name, "nightly", 1, c.b, c.want, "")
	}
	// The confirmation re-run of the regression, once the reporter asks.
	waitFor(t, "re-run jobs", func() bool { return len(e.queuedJobs()) == 2 })
	publish("reg", "stable", streams.RerunAttemptBase(1)+1, oPass, results.ClassRegressed, "rerun-1/")
	publish("reg", "nightly", streams.RerunAttemptBase(1)+1, oBuild, results.ClassRegressed, "rerun-1/")
	return run
}

// check asserts that every class has its archive holding exactly its logs,
// byte-identical, and that the manifest says so.
func (run finishedRun) check(t *testing.T, st store.Store, m *archive.Manifest) {
	t.Helper()
	var classes []results.Class
	for _, a := range m.Archives {
		classes = append(classes, a.Class)
		want := run.logs[a.Class]
		if a.Logs != len(want) || a.Key != streams.ArchiveKey(string(a.Class)) {
			t.Errorf("manifest: %+v, want %d logs", a, len(want))
		}
		got := unpack(t, st, streams.ExperimentPrefix(run.exp)+a.Key)
		if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want))) {
			t.Errorf("%s holds %v, want %v", a.Key, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
			continue
		}
		for name, data := range want {
			if !bytes.Equal(got[name], data) {
				t.Errorf("%s: %s is %q, want %q", a.Key, name, got[name], data)
			}
		}
	}
	wantClasses := []results.Class{results.ClassRegressed, results.ClassFixed, results.ClassSameBuildFail, results.ClassSameTestPass}
	if !slices.Equal(classes, wantClasses) {
		t.Errorf("archives of %v, want %v", classes, wantClasses)
	}
}

// tryRead returns the object at key, or nil if it cannot be read now: on
// S3 a read that overlaps a rewrite of the object fails its precondition.
func tryRead(st store.Store, key string) []byte {
	rc, err := st.Get(context.Background(), key)
	if err != nil {
		return nil
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil
	}
	return data
}

// waitManifest waits for the reporter to store exp's archive manifest.
func waitManifest(t *testing.T, st store.Store, exp string) *archive.Manifest {
	t.Helper()
	var m *archive.Manifest
	waitFor(t, "archive manifest of "+exp, func() bool {
		var err error
		m, err = archive.ReadManifest(context.Background(), st, exp)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	})
	return m
}

// TestFinishedExperimentGetsLogArchives runs an experiment to its end on
// a directory and on MinIO: the reporter builds one archive per class by
// itself, index.html links them, and `ejecta archive` (archive.Build)
// rebuilds them to the same entries.
func TestFinishedExperimentGetsLogArchives(t *testing.T) {
	for _, backend := range []string{"file", "minio"} {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t)
			if backend == "minio" {
				m := testenv.StartMinIO(t)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				s3, err := store.NewS3(ctx, store.S3Config{Endpoint: m.Endpoint, Bucket: "reports",
					AccessKey: m.AccessKey, SecretKey: m.SecretKey})
				if err != nil {
					t.Fatal(err)
				}
				e.store = &countingStore{storetest.NewCounting(s3)}
			}
			e.startReporter()
			run := runFinishedExperiment(t, e, "arch")
			m := waitManifest(t, e.store, "arch")
			run.check(t, e.store, m)
			// The crater view's archives and log.txt come with them, and
			// read back as crater's consumers read them.
			v := cratertest.Check(t, e.store, streams.ExperimentPrefix("arch")+craterview.Dir, e.store, "arch")
			if m.Crater == nil || m.Crater.Logs != v.Logs || v.Logs == 0 || len(v.Archives) != len(m.Crater.Archives) {
				t.Errorf("manifest's crater view %+v; read back %d logs, archives %v", m.Crater, v.Logs, v.Archives)
			}
			waitFor(t, "index.html linking the archives", func() bool {
				index := string(tryRead(e.store, IndexKey("arch")))
				return strings.Contains(index, `<a href="logs-archives/regressed.tar.zst">`) &&
					strings.Contains(index, `<a href="logs-archives/same-test-pass.tar.zst">`)
			})
			if n := e.store.Puts(streams.ExperimentPrefix("arch") + streams.ArchiveKey("regressed")); n != 1 {
				t.Errorf("regressed archive written %d times, want once", n)
			}

			// Rebuilding on demand replaces the objects with the same entries.
			m2, err := archive.Build(context.Background(), e.store, "arch", archive.BuildOptions{Force: true})
			if err != nil {
				t.Fatal(err)
			}
			run.check(t, e.store, m2)
			if n := e.store.Puts(streams.ExperimentPrefix("arch") + streams.ArchiveKey("regressed")); n != 2 {
				t.Errorf("regressed archive written %d times, want twice", n)
			}
			if m2.CratesSHA256 != m.CratesSHA256 {
				t.Errorf("same results, crates hash %s then %s", m.CratesSHA256, m2.CratesSHA256)
			}
		})
	}
}

// TestRestartedReporterDoesNotRebuildArchives: the manifest tells a
// restarted reporter the archives match the results.
func TestRestartedReporterDoesNotRebuildArchives(t *testing.T) {
	e := newEnv(t)
	stop := e.startReporter()
	run := runFinishedExperiment(t, e, "again")
	run.check(t, e.store, waitManifest(t, e.store, "again"))
	stop()
	key := streams.ExperimentPrefix("again") + streams.ArchiveKey("fixed")
	e.startReporter()
	waitFor(t, "index.html linking the archives after a restart", func() bool {
		return e.store.Puts(IndexKey("again")) > 0 &&
			strings.Contains(string(tryRead(e.store, IndexKey("again"))), `href="logs-archives/fixed.tar.zst"`)
	})
	if n := e.store.Puts(key); n != 1 {
		t.Errorf("fixed archive written %d times, want once", n)
	}
}

// TestArchivesRefuseBadInput: an unknown experiment, one not finished, and
// a bad name each get an error naming them, and no archive.
func TestArchivesRefuseBadInput(t *testing.T) {
	e := newEnv(t)
	e.startReporter()
	e.putExperiment("half", 2)
	for _, tc := range []string{"stable", "nightly"} {
		r := result("half", "a", "1.0.0", tc, 1, streams.StatusTestPass, "")
		storeLog(t, e.store, r.BuildKey, 1)
		e.publish(r)
	}
	e.waitResults("half", 2)

	tests := []struct {
		exp      string
		sentinel error
		want     string
	}{
		{"nosuch", archive.ErrUnknownExperiment, `experiment "nosuch": no results.json`},
		{"half", archive.ErrNotFinished, "experiment half: 2 of 4 builds done"},
		{"Bad/Name", nil, `experiment name "Bad/Name"`},
	}
	for _, tt := range tests {
		t.Run(tt.exp, func(t *testing.T) {
			_, err := archive.Build(context.Background(), e.store, tt.exp, archive.BuildOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
				t.Errorf("error %v is not %v", err, tt.sentinel)
			}
		})
	}
	// Nor did the reporter build any for the unfinished experiment.
	time.Sleep(5 * testDebounce)
	if _, err := archive.ReadManifest(context.Background(), e.store, "half"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("manifest of an unfinished experiment: %v", err)
	}
}

// An experiment deleted while its archives wait for a log gets none: the
// build stops with the deletion, so nothing it would store outlives the
// deletion of the experiment's stored objects (producer.DeleteStored).
func TestDeletedExperimentGetsNoArchives(t *testing.T) {
	e := newEnv(t)
	e.startReporter()
	runFinishedExperiment(t, e, "gone")
	// One log's upload is late: the build waits for it (archiveLogWait).
	k := streams.BuildKey{Experiment: "gone", Crate: "ok-a", Version: "1.0.0", Toolchain: "nightly"}
	metaKey := streams.ExperimentPrefix("gone") + streams.LogMetaKey(k, 1)
	meta := tryRead(e.store, metaKey)
	if meta == nil {
		t.Fatal("no log metadata to hold back")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.store.Delete(ctx, metaKey); err != nil {
		t.Fatal(err)
	}
	e.waitResults("gone", 10)
	time.Sleep(time.Second) // the final report stored, the build waiting
	// What the build stored before the deletion (the classes without the
	// late log) is DeleteStored's to remove.
	before := map[string]bool{}
	for o, err := range e.store.List(ctx, streams.ExperimentPrefix("gone")) {
		if err != nil {
			t.Fatal(err)
		}
		before[o.Key] = true
	}
	if _, err := producer.New(e.js, testLogger(t)).Delete(ctx, "gone", false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * testDebounce)
	// The late upload lands: a build still running would now store the
	// archives, at most 2 s later.
	if err := e.store.Put(ctx, metaKey, bytes.NewReader(meta), int64(len(meta)), ""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second)
	for o, err := range e.store.List(ctx, streams.ExperimentPrefix("gone")) {
		if err != nil {
			t.Fatal(err)
		}
		if !before[o.Key] && o.Key != metaKey {
			t.Errorf("stored after the experiment was deleted: %s", o.Key)
		}
	}
}
