package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/archive"
	"github.com/ejecta-build/ejecta/craterview"
	"github.com/ejecta-build/ejecta/craterview/cratertest"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/logsearch"
	"github.com/ejecta-build/ejecta/logtail"
	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/reporter"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/status"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go/jetstream"
)

// report is the part of results.json this test reads.
type report struct {
	Experiment string   `json:"experiment"`
	Toolchains []string `json:"toolchains"`
	Crates     []struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Class   string `json:"class"`
		Results []struct {
			Toolchain string `json:"toolchain"`
			Status    string `json:"status"`
			Reason    string `json:"reason"`
			Attempt   int    `json:"attempt"`
			Log       string `json:"log"`
		} `json:"results"`
	} `json:"crates"`
}

func readObject(ctx context.Context, t *testing.T, st store.Store, key string) (string, error) {
	t.Helper()
	rc, err := st.Get(ctx, key)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	return string(data), err
}

// TestExperimentEndToEnd runs a 3-crate experiment on stable and nightly
// through every component: producer → builder (containerd, cargo) → log
// chunks → uploader (MinIO) and reporter. One crate uses a feature gate, so
// it fails on stable and builds on nightly.
func TestExperimentEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: slow")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var st store.Store
	f := startFarm(t, ctx, "e2e", func(t *testing.T) store.Store {
		minio := testenv.StartMinIO(t)
		t.Setenv("EJECTA_S3_ACCESS_KEY", minio.AccessKey)
		t.Setenv("EJECTA_S3_SECRET_KEY", minio.SecretKey)
		var err error
		if st, err = store.Open(ctx, minio.StoreURL("ejecta-e2e")); err != nil {
			t.Fatal(err)
		}
		return st
	}, reporter.Config{})
	js, registry, log := f.js, f.registry, f.log

	req := producer.Request{
		Name: "e2e", Toolchains: []string{"stable", "nightly"}, Mode: string(streams.ModeCheckOnly),
		Crates: "cfg-if,itoa,ejecta-demo-nightly-only", CrateSource: registry,
	}
	p := producer.New(js, log)
	out, err := p.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if out.Added != 6 {
		t.Fatalf("Create added %d jobs, want 6", out.Added)
	}
	// A poison job among them: terminated, kept as a dead letter, counted.
	poison := `{"v":1,"experiment":"e2e","crate":"../../etc","version":"1.0.0","toolchain":"stable","mode":"check-only","crate_source":"/"}`
	if _, err := js.Publish(ctx, streams.JobSubject(streams.BuildKey{Experiment: "e2e", Crate: "x", Version: "1.0.0", Toolchain: "stable"}), []byte(poison)); err != nil {
		t.Fatal(err)
	}

	// Wait until the reporter has every result and the uploader every log.
	var rep report
	deadline := time.Now().Add(8 * time.Minute)
	for {
		if time.Now().After(deadline) {
			s, _ := status.Get(ctx, js, "e2e")
			t.Fatalf("experiment not done in time: status %+v, report %+v", s, rep)
		}
		time.Sleep(500 * time.Millisecond)
		s, err := status.Get(ctx, js, "e2e")
		if err != nil || s.Done < 6 || s.DeadLetters < 1 {
			continue
		}
		data, err := readObject(ctx, t, st, results.Key("e2e"))
		if err != nil {
			continue
		}
		rep = report{}
		if err := json.Unmarshal([]byte(data), &rep); err != nil {
			t.Fatalf("results.json: %v\n%s", err, data)
		}
		if countResults(rep) == 6 && logsStored(ctx, t, st, rep) {
			break
		}
	}

	want := map[string]struct {
		class             string
		stable, nightly   string
		stableLogContains string
	}{
		"cfg-if":                   {"same-test-pass", "test-pass", "test-pass", "Checking cfg-if v1.0.0"},
		"itoa":                     {"same-test-pass", "test-pass", "test-pass", "Checking itoa v1.0.1"},
		"ejecta-demo-nightly-only": {"fixed", "build-fail", "test-pass", "error[E0554]: `#![feature]` may not be used on the stable release channel"},
	}
	if len(rep.Crates) != len(want) {
		t.Fatalf("results.json has %d crates, want %d: %+v", len(rep.Crates), len(want), rep.Crates)
	}
	for _, c := range rep.Crates {
		w, ok := want[c.Name]
		if !ok {
			t.Errorf("unexpected crate %s in report", c.Name)
			continue
		}
		if c.Class != w.class {
			t.Errorf("%s: class %q, want %q", c.Name, c.Class, w.class)
		}
		for _, res := range c.Results {
			wantStatus := map[string]string{"stable": w.stable, "nightly": w.nightly}[res.Toolchain]
			if res.Status != wantStatus {
				t.Errorf("%s on %s: status %q (%s), want %q", c.Name, res.Toolchain, res.Status, res.Reason, wantStatus)
			}
			logText, err := readObject(ctx, t, st, streams.ExperimentPrefix("e2e")+res.Log)
			if err != nil {
				t.Errorf("%s on %s: log %s: %v", c.Name, res.Toolchain, res.Log, err)
				continue
			}
			if res.Toolchain == "stable" && !strings.Contains(stripANSI(logText), w.stableLogContains) {
				t.Errorf("%s on stable: log does not contain %q:\n%s", c.Name, w.stableLogContains, logText)
			}
		}
		if c.Name == "ejecta-demo-nightly-only" {
			for _, res := range c.Results {
				if res.Toolchain == "stable" && !strings.Contains(res.Reason, "E0554") {
					t.Errorf("nightly-only on stable: reason %q, want the error code E0554", res.Reason)
				}
			}
		}
	}
	// Compare the stored log with what the builder streamed is the
	// uploader's job (sha256 in the end marker); here: nothing is left over.
	waitEmpty(ctx, t, js)

	dead, err := status.DeadLetters(ctx, js, "e2e")
	if err != nil || len(dead) != 1 || string(dead[0].Data) != poison || !strings.Contains(dead[0].Reason, `crate name "../../etc"`) {
		t.Errorf("dead letters of e2e = %+v, %v; want the poison job with its reason", dead, err)
	}
	if s, _ := status.Get(ctx, js, "e2e"); s.Done != 6 || s.Total != 6 || s.Queued != 0 || s.DeadLetters != 1 ||
		s.Classes["fixed"] != 1 || s.Classes["same-test-pass"] != 2 {
		t.Errorf("status = %+v; want 6/6 done, 1 dead letter, 1 fixed, 2 same-test-pass", s)
	}

	// The same create again adds no job.
	again, err := p.Create(ctx, req)
	if err != nil || again.Added != 0 || !again.Existed {
		t.Fatalf("repeat Create = %+v, %v; want 0 added", again, err)
	}
	s, _ := js.Stream(ctx, streams.JobsStream)
	if info, _ := s.Info(ctx); info.State.Msgs != 0 {
		t.Errorf("jobs stream holds %d messages after repeating create, want 0", info.State.Msgs)
	}

	// After the run, on MinIO: the stable failure found by a search of
	// every log, a stored log read with its lines' times, the report
	// unchanged against itself, and nothing left once deleted.
	found := map[string]int{}
	if _, err := logsearch.Search(ctx, st, logsearch.StreamLogs{JS: js, Reader: logtail.New(js, st)}, "e2e",
		logsearch.Query{Pattern: regexp.MustCompile(`(?m)error\[E0554\]`)}, func(h logsearch.Hits) error {
			found[h.Crate+" "+h.Toolchain] += len(h.Lines)
			return nil
		}); err != nil || len(found) != 1 || found["ejecta-demo-nightly-only stable"] == 0 {
		t.Errorf("search for E0554: %v (%v), want it in ejecta-demo-nightly-only's stable log alone", found, err)
	}
	var times timesSeen
	k := streams.BuildKey{Experiment: "e2e", Crate: "cfg-if", Version: "1.0.0", Toolchain: "stable"}
	if res, err := logtail.New(js, st).Copy(ctx, k, 1, &times, logtail.Options{}); err != nil || !res.Stored || times.timed == 0 {
		t.Errorf("stored log of %s: %+v, %v, %d timed writes; want it stored with its times", k, res, err, times.timed)
	}
	if d, err := results.CompareStored(ctx, st, "e2e", "e2e"); err != nil || len(d.Changes) != 0 || d.Same != 3 {
		t.Errorf("e2e compared with itself: %+v, %v; want its 3 crates the same", d, err)
	}
	// The reporter builds the log archives and the crater view's on its
	// own: the crater view reads back as crater's consumers read it, and
	// what each part costs in the store is logged.
	var m *archive.Manifest
	for m == nil || m.Crater == nil {
		if ctx.Err() != nil {
			t.Fatalf("no crater view archived: %v", ctx.Err())
		}
		time.Sleep(500 * time.Millisecond)
		m, _ = archive.ReadManifest(ctx, st, "e2e")
	}
	cratertest.Check(t, st, streams.ExperimentPrefix("e2e")+craterview.Dir, st, "e2e")
	logStorage(ctx, t, st, "e2e")
	if _, err := p.Delete(ctx, "e2e", true); err != nil {
		t.Fatal(err)
	}
	if n, err := producer.DeleteStored(ctx, st, "e2e"); err != nil || n == 0 {
		t.Errorf("stored objects of e2e deleted: %d, %v", n, err)
	}
	for o, err := range st.List(ctx, streams.ExperimentPrefix("e2e")) {
		t.Errorf("left in the store after delete: %s %v", o.Key, err)
	}
}

// logStorage logs the bytes an experiment's stored objects take, by kind:
// ejecta's logs (plain, compressed, pages, metadata), its log archives,
// the crater view's archives and its log.txt copies.
func logStorage(ctx context.Context, t *testing.T, st store.Store, exp string) {
	t.Helper()
	kinds := []struct{ name, prefix, suffix string }{
		{"logs .log (plain)", "logs/", ".log"},
		{"logs .log.zst", "logs/", ".log.zst"},
		{"logs .html", "logs/", ".html"},
		{"logs .json", "logs/", ".json"},
		{"logs-archives", "logs-archives/", ".tar.zst"},
		{"crater/logs-archives", "crater/logs-archives/", ".tar.zst"},
		{"crater log.txt", "crater/", "/log.txt"},
	}
	sizes := make([]int64, len(kinds))
	counts := make([]int, len(kinds))
	prefix := streams.ExperimentPrefix(exp)
	for o, err := range st.List(ctx, prefix) {
		if err != nil {
			t.Fatal(err)
		}
		key := strings.TrimPrefix(o.Key, prefix)
		for i, k := range kinds {
			if strings.HasPrefix(key, k.prefix) && strings.HasSuffix(key, k.suffix) {
				sizes[i] += o.Size
				counts[i]++
				break
			}
		}
	}
	for i, k := range kinds {
		t.Logf("storage of %s: %-22s %4d objects %9d bytes", exp, k.name, counts[i], sizes[i])
	}
}

func countResults(rep report) int {
	n := 0
	for _, c := range rep.Crates {
		n += len(c.Results)
	}
	return n
}

func logsStored(ctx context.Context, t *testing.T, st store.Store, rep report) bool {
	for _, c := range rep.Crates {
		for _, r := range c.Results {
			if _, err := readObject(ctx, t, st, streams.ExperimentPrefix(rep.Experiment)+r.Log); err != nil {
				return false
			}
		}
	}
	return true
}

// waitEmpty asserts that every job was acked and every log stored and
// purged: the work queues and the log stream end empty.
func waitEmpty(ctx context.Context, t *testing.T, js jetstream.JetStream) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var problems []string
		for _, name := range []string{streams.JobsStream, streams.UploadsStream, streams.LogsStream} {
			s, err := js.Stream(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			info, err := s.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.State.Msgs != 0 {
				problems = append(problems, fmt.Sprintf("%s holds %d messages", name, info.State.Msgs))
			}
		}
		for _, tc := range []string{"stable", "nightly"} {
			c, err := js.Consumer(ctx, streams.JobsStream, streams.JobsConsumer("e2e", tc))
			if err != nil {
				t.Fatal(err)
			}
			ci, err := c.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ci.NumAckPending != 0 || ci.NumPending != 0 {
				problems = append(problems, fmt.Sprintf("jobs consumer of %s: %d pending, %d unacked", tc, ci.NumPending, ci.NumAckPending))
			}
		}
		if len(problems) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not drained: %s", strings.Join(problems, "; "))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stripANSI removes colour escapes: cargo colours its output
// (CARGO_TERM_COLOR=always) and a test looks for the words.
func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
