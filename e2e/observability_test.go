package e2e

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/internal/testfarm"
	"github.com/ejecta-build/ejecta/metrics"
	"github.com/ejecta-build/ejecta/metrics/metricstest"
	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/reporter"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/status"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/ejecta-build/ejecta/web"
)

// TestMetricsAndStockTools runs a 2-crate experiment on a farm whose
// components share one registry, served by the web UI's /metrics as
// `ejecta up` serves it, with the stock nats CLI watching. It checks what
// an operator would: the counters agree with the report and the stored
// logs, `nats sub` shows the build output live, and `nats stream ls` and
// `nats kv ls` list what ejecta created. Every metric deploy/'s Grafana
// dashboard and alert rules name is in the scrape.
func TestMetricsAndStockTools(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: slow")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var st store.Store
	// Exactly the experiment's jobs and no re-run: no confirmations, and
	// no shared targets (a verdict from one is re-run whatever the
	// confirmations).
	f := startFarmWith(t, ctx, testfarm.Config{Name: "obs", Reporter: reporter.Config{Confirmations: -1}, SharedTargetBytes: -1}, fileStore(&st))
	f.metrics.MustRegister(metrics.NewJetStream(f.js, f.log), metrics.NewDisk(t.TempDir()))
	w, err := web.New(web.Config{Addr: "127.0.0.1:0", Metrics: f.metrics}, f.js, st, f.log)
	if err != nil {
		t.Fatal(err)
	}
	ui := httptest.NewServer(w.Handler())
	defer ui.Close()
	natsURL := f.js.Conn().ConnectedUrl()
	cli := testenv.FindNatsCLI(t, natsURL)

	// Subscribed before the experiment exists, as an operator tailing it.
	// Only the verbose form says when it has subscribed; the raw one,
	// started first, has by then too.
	const exp = "obs"
	raw := startSub(t, ctx, cli, "sub", "ejecta.logs."+exp+".>", "--count", "1", "--raw")
	verbose := startSub(t, ctx, cli, "sub", "ejecta.logs."+exp+".>", "--count", "1")
	verbose.waitSubscribed(t)

	pm, err := producer.NewMetrics(f.metrics)
	if err != nil {
		t.Fatal(err)
	}
	const jobs = 4
	out, err := producer.New(f.js, f.log, producer.WithMetrics(pm)).Create(ctx, producer.Request{
		Name: exp, Toolchains: []string{"stable", "nightly"}, Mode: string(streams.ModeCheckOnly),
		Crates: "cfg-if,ejecta-demo-nightly-only", CrateSource: f.registry,
	})
	if err != nil || out.Added != jobs {
		t.Fatalf("create: %+v, %v; want %d jobs added", out, err, jobs)
	}

	// Done when the reporter has every result and the uploader every log,
	// as an operator watching /metrics would tell.
	var fams metricstest.Families
	for deadline := time.Now().Add(6 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
		fams = metricstest.Scrape(t, ui.URL+"/metrics")
		stored, _ := fams.Value("ejecta_uploader_logs_stored_total")
		done, _ := fams.Value("ejecta_reporter_builds_done", "experiment", exp)
		if stored == jobs && done == jobs {
			break
		}
		if time.Now().After(deadline) {
			s, _ := status.Get(ctx, f.js, exp)
			t.Fatalf("not done in time: %v logs stored, %v builds in the report; status %+v", stored, done, s)
		}
	}
	rep := readReport(ctx, t, st, exp)

	t.Run("metrics", func(t *testing.T) {
		// Counters that must equal the number of jobs.
		for _, name := range []string{
			"ejecta_producer_jobs_published_total",
			"ejecta_builder_jobs_done_total",
			"ejecta_builder_job_duration_seconds", // its sample count
			"ejecta_uploader_logs_stored_total",
			"ejecta_uploader_upload_duration_seconds",
			"ejecta_reporter_results_ingested_total",
			"ejecta_reporter_builds_total",
		} {
			if got := fams.Must(t, name); got != jobs {
				t.Errorf("%s = %v, want %d", name, got, jobs)
			}
		}
		// The nightly-only crate fails on stable with its error code.
		if got := fams.Must(t, "ejecta_builder_jobs_done_total", "status", "build-fail", "reason", "compiler-error"); got != 1 {
			t.Errorf("jobs done as build-fail/compiler-error = %v, want 1", got)
		}
		if got := fams.Must(t, "ejecta_builder_jobs_done_total", "status", "test-pass"); got != 3 {
			t.Errorf("jobs done as test-pass = %v, want 3", got)
		}
		if got := fams.Must(t, "ejecta_builder_jobs_running"); got != 0 {
			t.Errorf("jobs running = %v after the experiment, want 0", got)
		}
		// Every byte the builders streamed was stored, and is in the logs.
		var logBytes int
		for _, c := range rep.Crates {
			for _, r := range c.Results {
				text, err := readObject(ctx, t, st, streams.ExperimentPrefix(exp)+r.Log)
				if err != nil {
					t.Fatalf("log of %s on %s: %v", c.Name, r.Toolchain, err)
				}
				logBytes += len(text)
			}
		}
		published := fams.Must(t, "ejecta_builder_log_bytes_total")
		stored := fams.Must(t, "ejecta_uploader_bytes_stored_total")
		if published != float64(logBytes) || stored != float64(logBytes) {
			t.Errorf("log bytes published %v, stored %v; the stored logs hold %d", published, stored, logBytes)
		}
		if chunks := fams.Must(t, "ejecta_builder_log_chunks_total"); chunks < jobs {
			t.Errorf("log chunks = %v, want at least one per job (%d)", chunks, jobs)
		}
		// The report's classes, one series per class.
		classes := map[string]float64{}
		for _, c := range rep.Crates {
			classes[c.Class]++
		}
		if classes["fixed"] != 1 || classes["same-test-pass"] != 1 {
			t.Fatalf("report classes %v, want 1 fixed and 1 same-test-pass", classes)
		}
		for _, class := range results.Classes {
			if class == results.ClassPending {
				continue
			}
			if got := fams.Must(t, "ejecta_reporter_crates", "experiment", exp, "class", string(class)); got != classes[string(class)] {
				t.Errorf("ejecta_reporter_crates{class=%q} = %v, the report has %v", class, got, classes[string(class)])
			}
		}
		if lag := fams.Must(t, "ejecta_reporter_last_report_lag_seconds"); lag <= 0 || lag > 10 {
			t.Errorf("last report lag = %vs, want a little over the 1s debounce", lag)
		}
		// Scrape-time stream state: nothing left to build or upload.
		if up := fams.Must(t, "ejecta_jetstream_up"); up != 1 {
			t.Errorf("ejecta_jetstream_up = %v, want 1", up)
		}
		final := metricstest.Scrape(t, ui.URL+"/metrics")
		if got := final.Must(t, "ejecta_stream_messages", "stream", streams.JobsStream); got != 0 {
			t.Errorf("jobs stream holds %v messages after the experiment, want 0", got)
		}
		if got := final.Must(t, "ejecta_stream_last_sequence", "stream", streams.ResultsStream); got != jobs {
			t.Errorf("results stream took %v results, want %d", got, jobs)
		}
		if got := final.Must(t, "ejecta_consumer_pending", "consumer", streams.UploadersConsumer); got != 0 {
			t.Errorf("uploads pending = %v, want 0", got)
		}
		if got := final.Must(t, "ejecta_web_requests_total", "code", "200"); got < 1 {
			t.Errorf("web requests answered 200 = %v: the scrapes themselves count", got)
		}
		// What deploy/'s dashboard and alerts name is all here.
		checkDeployMetrics(t, final)
	})

	t.Run("nats-cli", func(t *testing.T) {
		// `nats sub --raw` printed the experiment's first chunk: the start
		// of one of its stored logs.
		first := raw.wait(t)
		var logs []string
		for _, c := range rep.Crates {
			for _, r := range c.Results {
				text, _ := readObject(ctx, t, st, streams.ExperimentPrefix(exp)+r.Log)
				logs = append(logs, text)
			}
		}
		chunk := strings.TrimSuffix(first, "\n")
		found := false
		for _, l := range logs {
			found = found || (chunk != "" && strings.HasPrefix(l, chunk))
		}
		if !found {
			t.Errorf("nats sub --raw printed %q, which starts none of the stored logs", first)
		}
		// Without --raw it shows the subject and ejecta's headers.
		if v := verbose.wait(t); !strings.Contains(v, "ejecta.logs."+exp+".") || !strings.Contains(v, buildlog.HdrKind+": "+buildlog.KindChunk) {
			t.Errorf("nats sub printed no log subject or %s header:\n%s", buildlog.HdrKind, v)
		}

		ls := cli.Run(t, ctx, "stream", "ls")
		for _, s := range streams.Streams() {
			if !strings.Contains(ls, s) {
				t.Errorf("nats stream ls does not list %s:\n%s", s, ls)
			}
		}
		kv := cli.Run(t, ctx, "kv", "ls")
		for _, b := range streams.Buckets() {
			if !strings.Contains(kv, b) {
				t.Errorf("nats kv ls does not list %s:\n%s", b, kv)
			}
		}
		// The experiment record, as `nats kv get` shows it.
		rec := cli.Run(t, ctx, "kv", "get", streams.ExperimentsBucket, exp, "--raw")
		var e streams.Experiment
		if err := json.Unmarshal([]byte(rec), &e); err != nil || e.Name != exp || e.Jobs != jobs {
			t.Errorf("nats kv get %s %s = %q (%v); want the record of %s with %d jobs", streams.ExperimentsBucket, exp, rec, err, exp, jobs)
		}
	})
}

// sub is a `nats sub` running in the background.
type sub struct {
	cmd    *exec.Cmd
	out    lockedBuffer
	stderr lockedBuffer
	done   chan error
}

// lockedBuffer is written by the command's output copier while the test
// reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startSub starts `nats args...`.
func startSub(t *testing.T, ctx context.Context, cli testenv.NatsCLI, args ...string) *sub {
	t.Helper()
	s := &sub{cmd: cli.Command(ctx, args...), done: make(chan error, 1)}
	s.cmd.Stdout = &s.out
	s.cmd.Stderr = &s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() { s.cmd.Process.Kill() })
	return s
}

// waitSubscribed waits for the "Subscribing on" line `nats sub` writes
// to stderr (not with --raw), then a little longer for the server to have
// the subscription.
func (s *sub) waitSubscribed(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(s.stderr.String(), "Subscribing on"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not subscribe within 30s:\n%s", s.cmd, s.stderr.String())
		}
	}
	time.Sleep(500 * time.Millisecond)
}

// wait waits for the tool to exit after its --count and returns its output.
func (s *sub) wait(t *testing.T) string {
	t.Helper()
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("nats sub: %v\n%s", err, s.stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("nats sub did not exit after its count within a minute:\n%s%s", s.out.String(), s.stderr.String())
	}
	return s.out.String()
}

// readReport reads and decodes exp's results.json.
func readReport(ctx context.Context, t *testing.T, st store.Store, exp string) report {
	t.Helper()
	data, err := readObject(ctx, t, st, results.Key(exp))
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal([]byte(data), &rep); err != nil {
		t.Fatalf("results.json: %v\n%s", err, data)
	}
	return rep
}
