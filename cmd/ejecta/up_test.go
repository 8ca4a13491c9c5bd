package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/auth"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/metrics/metricstest"
	"github.com/ejecta-build/ejecta/streams"
)

// TestMain lets a test run this very binary as `ejecta` in a child process.
func TestMain(m *testing.M) {
	if os.Getenv("EJECTA_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startUp runs `ejecta up` as a child process and waits until it answers.
func startUp(t *testing.T, args ...string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"up", "--log-format", "json"}, args...)...)
	cmd.Env = append(os.Environ(), "EJECTA_TEST_RUN_MAIN=1")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		if t.Failed() {
			t.Logf("ejecta up output:\n%s", logs.String())
		}
	})
	return cmd, &logs
}

// stopUp sends Ctrl-C and expects a clean exit.
func stopUp(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ejecta up after Ctrl-C: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("ejecta up did not stop within 60s of Ctrl-C")
	}
}

func waitAnswers(t *testing.T, natsURL string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := run(t, "--nats", natsURL, "--log-level", "error", "experiment", "list"); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("ejecta up did not answer within 30s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestUpRunsAnExperimentStopsAndResumes runs the binary as a newcomer does:
// `ejecta up`, an experiment, Ctrl-C, and `ejecta up` again on the same data.
func TestUpRunsAnExperimentStopsAndResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real builds")
	}
	sock := testenv.StartContainerd(t)
	reg := testenv.CrateRegistry(t)
	data := testenv.DurableTempDir(t)
	port := freePort(t)
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	upArgs := []string{"--data", data, "--nats-port", strconv.Itoa(port), "--containerd", sock,
		"--containerd-namespace", testenv.ContainerdNamespace(t), "--slots", "2", "--builder-id", "up-test",
		"--http", "127.0.0.1:" + strconv.Itoa(freePort(t))}
	cli := []string{"--nats", url, "--log-level", "error"}

	up, _ := startUp(t, upArgs...)
	waitAnswers(t, url)
	// The reporter's and uploader's job key, kept under --data: created
	// with it, the experiment's results must be signed by the builder.
	keyFile := filepath.Join(data, auth.JobKeyFile)
	key, err := os.ReadFile(keyFile)
	if fi, serr := os.Stat(keyFile); err != nil || serr != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("job key under --data: %v, %v (mode %v); want a file of mode 0600", err, serr, fi.Mode())
	}
	t.Setenv(auth.JobKeyEnv, strings.TrimSpace(string(key)))
	out, err := run(t, append(cli, "experiment", "create", "up1", "--toolchains", "stable,nightly",
		"--mode", "check-only", "--crates", "cfg-if", "--crate-source", reg)...)
	if err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	if out, err := run(t, append(cli, "experiment", "list", "--output", "json")...); err != nil || !strings.Contains(out, `"tickets": true`) {
		t.Errorf("experiment up1 not recorded with tickets: %v\n%s", err, out)
	}
	out, err = run(t, append(cli, "experiment", "status", "up1", "--watch", "--timeout", "3m")...)
	if err != nil || !strings.Contains(out, "stable 1/1 done") || !strings.Contains(out, "nightly 1/1 done") {
		t.Fatalf("status --watch: %v\n%s", err, out)
	}
	// The web UI is up too and shows the experiment.
	resp, err := http.Get("http://" + upArgs[len(upArgs)-1] + "/experiments/up1")
	if err != nil {
		t.Fatalf("web ui: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "cfg-if") {
		t.Fatalf("web ui: %d\n%s", resp.StatusCode, body)
	}
	checkUpMetrics(t, "http://"+upArgs[len(upArgs)-1]+"/metrics")
	stopUp(t, up)

	// A second `ejecta up` on the same data has the experiment and its
	// results, and the same job key.
	up, _ = startUp(t, upArgs...)
	if again, err := os.ReadFile(keyFile); err != nil || string(again) != string(key) {
		t.Errorf("job key after a restart: %v, changed %v", err, string(again) != string(key))
	}
	waitAnswers(t, url)
	out, err = run(t, append(cli, "experiment", "status", "up1")...)
	if err != nil || !strings.Contains(out, "jobs: 2 total, 0 queued, 0 running, 2 done") || !strings.Contains(out, "same-test-pass=1") {
		t.Fatalf("status after restart: %v\n%s", err, out)
	}
	// The store up recorded: no --store needed.
	out, err = run(t, append(cli, "report", "up1", "--output", "json")...)
	if err != nil || !strings.Contains(out, `"name":"cfg-if"`) || !strings.Contains(out, `"class":"same-test-pass"`) {
		t.Fatalf("report: %v\n%s", err, out)
	}
	out, err = run(t, "report", "up1", "--store", "file://"+data+"/store")
	if err != nil || !strings.Contains(out, data+"/store/up1/index.html") {
		t.Fatalf("report path: %v\n%s", err, out)
	}
	stopUp(t, up)
}

// checkUpMetrics scrapes `ejecta up`'s /metrics after experiment up1 (cfg-if
// on two toolchains): one registry holds every component's metrics and the
// streams' state.
func checkUpMetrics(t *testing.T, url string) {
	t.Helper()
	// The report may be written before the uploads are done, and
	// `status` may read the progress entry an instant before the reporter
	// counts the write: scrape until both are in.
	var fams metricstest.Families
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		fams = metricstest.Scrape(t, url)
		stored, _ := fams.Value("ejecta_uploader_logs_stored_total")
		done, _ := fams.Value("ejecta_reporter_builds_done", "experiment", "up1")
		if stored == 2 && done == 2 || time.Now().After(deadline) {
			break
		}
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"ejecta_builder_jobs_done_total", []string{"status", "test-pass"}, 2},
		{"ejecta_builder_jobs_running", nil, 0},
		{"ejecta_uploader_logs_stored_total", nil, 2},
		{"ejecta_reporter_crates", []string{"experiment", "up1", "class", "same-test-pass"}, 1},
		{"ejecta_reporter_crates", []string{"experiment", "up1", "class", "regressed"}, 0},
		{"ejecta_reporter_builds_done", []string{"experiment", "up1"}, 2},
		{"ejecta_jetstream_up", nil, 1},
		{"ejecta_stream_messages", []string{"stream", streams.JobsStream}, 0},
	} {
		if got := fams.Must(t, c.name, c.labels...); got != c.want {
			t.Errorf("ejecta up /metrics: %s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if b := fams.Must(t, "ejecta_builder_log_bytes_total"); b == 0 || b != fams.Must(t, "ejecta_uploader_bytes_stored_total") {
		t.Errorf("ejecta up /metrics: log bytes published %v, stored %v; want the same, not 0", b, fams.Must(t, "ejecta_uploader_bytes_stored_total"))
	}
}
