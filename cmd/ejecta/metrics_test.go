package main

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/metrics/metricstest"
)

// TestMetricsAddr runs each component as its own process with
// --metrics-addr and scrapes it: each serves its own metrics (the
// reporter also the streams' state) and is ready (/readyz: NATS, streams,
// and its store or containerd), and stops cleanly on Ctrl-C.
func TestMetricsAddr(t *testing.T) {
	srv := testenv.StartNATS(t)
	store := "file://" + t.TempDir()
	sock := testenv.StartContainerd(t)
	for _, tc := range []struct {
		command []string
		want    []string // metrics that must be there, at 0 on an idle farm
		up      bool     // the JetStream collector is registered
	}{
		{[]string{"builder", "--containerd", sock, "--containerd-namespace", testenv.ContainerdNamespace(t),
			"--work-dir", testenv.DurableTempDir(t), "--builder-id", "metrics-test", "--slots", "1"},
			[]string{"ejecta_builder_jobs_running", "ejecta_builder_log_bytes_total"}, false},
		{[]string{"uploader", "--store", store}, []string{"ejecta_uploader_logs_stored_total", "ejecta_uploader_uploads_in_flight"}, false},
		{[]string{"reporter", "--store", store}, []string{"ejecta_reporter_results_ingested_total", "ejecta_consumer_pending"}, true},
		{[]string{"web", "--http", "127.0.0.1:0", "--store", store}, []string{"ejecta_web_log_streams"}, false},
	} {
		t.Run(tc.command[0], func(t *testing.T) {
			addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
			args := append([]string{"--nats", srv.URL, "--log-format", "json"}, tc.command...)
			cmd := exec.Command(os.Args[0], append(args, "--metrics-addr", addr)...)
			cmd.Env = append(os.Environ(), "EJECTA_TEST_RUN_MAIN=1")
			var logs strings.Builder
			cmd.Stdout, cmd.Stderr = &logs, &logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if cmd.ProcessState == nil {
					cmd.Process.Kill()
					cmd.Wait()
				}
			}()
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("output:\n%s", logs.String())
				}
			})
			fams := scrapeWhenUp(t, "http://"+addr+"/metrics", cmd)
			for _, name := range tc.want {
				if v := fams.Must(t, name); v != 0 {
					t.Errorf("%s = %v on an idle farm, want 0", name, v)
				}
			}
			up, ok := fams.Value("ejecta_jetstream_up")
			if ok != tc.up || (ok && up != 1) {
				t.Errorf("ejecta_jetstream_up = %v (present: %v), want present: %v and 1", up, ok, tc.up)
			}
			fams.Must(t, "process_resident_memory_bytes")
			if c := tc.command[0]; c == "builder" || c == "uploader" {
				fams.Must(t, "ejecta_disk_free_bytes") // its work or staging dir
			}
			if !answers("http://" + addr + "/readyz") {
				t.Error("/readyz: not ready")
			}
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("after Ctrl-C: %v\n%s", err, logs.String())
			}
		})
	}
}

// scrapeWhenUp scrapes url once the process answers there.
func scrapeWhenUp(t *testing.T, url string, cmd *exec.Cmd) metricstest.Families {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if answers(url) {
			return metricstest.Scrape(t, url)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not serve %s within 30s", cmd, url)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestMetricsAddrInvalid checks that a bad --metrics-addr is refused
// before anything starts, naming the flag.
func TestMetricsAddrInvalid(t *testing.T) {
	srv := testenv.StartNATS(t)
	for _, command := range [][]string{
		{"uploader", "--store", "file://" + t.TempDir()},
		{"reporter", "--store", "file://" + t.TempDir()},
		{"web", "--http", "127.0.0.1:0", "--store", "file://" + t.TempDir()},
	} {
		t.Run(command[0], func(t *testing.T) {
			args := append([]string{"--nats", srv.URL, "--log-level", "error"}, command...)
			_, err := run(t, append(args, "--metrics-addr", "9090")...)
			var ue usageError
			if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), `--metrics-addr: metrics address "9090": want HOST:PORT or :PORT`) {
				t.Fatalf("err = %v, want a usage error naming --metrics-addr", err)
			}
		})
	}
}

// answers reports whether a GET of url succeeds.
func answers(url string) bool {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
