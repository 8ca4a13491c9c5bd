package main

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/ejecta-build/ejecta/auth"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
)

// component is an ejecta component run as its own process.
type component struct {
	cmd     *exec.Cmd
	metrics string // http://ADDR of --metrics-addr
	mu      sync.Mutex
	out     strings.Builder
	exited  chan struct{}
}

func (c *component) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(p)
}

func (c *component) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

// startComponent runs `ejecta ARGS --metrics-addr ...` with env added.
func startComponent(t *testing.T, env []string, args ...string) *component {
	t.Helper()
	c := &component{metrics: "http://127.0.0.1:" + strconv.Itoa(freePort(t)), exited: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], append(args, "--log-format", "json", "--metrics-addr", strings.TrimPrefix(c.metrics, "http://"))...)
	c.cmd.Env = append(append(os.Environ(), "EJECTA_TEST_RUN_MAIN=1"), env...)
	c.cmd.Stdout, c.cmd.Stderr = c, c
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.cmd.Wait(); close(c.exited) }()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.exited
		if t.Failed() {
			t.Logf("%s output:\n%s", args, c.output())
		}
	})
	return c
}

// waitLog waits until the component has logged text.
func (c *component) waitLog(t *testing.T, text string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(c.output(), text); time.Sleep(50 * time.Millisecond) {
		select {
		case <-c.exited:
			t.Fatalf("%s exited before logging %q", c.cmd.Args, text)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log %q within 30s", c.cmd.Args, text)
		}
	}
}

// waitReady waits until /readyz answers 200.
func (c *component) waitReady(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !answers(c.metrics + "/readyz"); time.Sleep(100 * time.Millisecond) {
		select {
		case <-c.exited:
			t.Fatalf("%s exited before it was ready", c.cmd.Args)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within 60s", c.cmd.Args)
		}
	}
}

// A component started before NATS, then before `streams ensure`, waits
// for each with back-off rather than exiting, and is ready once both are
// there: what compose and systemd, which start everything at once, need.
func TestComponentWaitsForNATSAndStreams(t *testing.T) {
	authDir := t.TempDir()
	port := freePort(t)
	if out, err := run(t, "auth", "init", authDir, "--listen", "127.0.0.1:"+strconv.Itoa(port), "--store-dir", t.TempDir()); err != nil {
		t.Fatalf("auth init: %v\n%s", err, out)
	}
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	reporter := startComponent(t, nil, "reporter", "--nats", url, "--store", "file://"+t.TempDir(),
		"--nats-credentials", filepath.Join(authDir, auth.CredentialsFile(streams.RoleReporter)))
	reporter.waitLog(t, "waiting for NATS and its streams")
	if answers(reporter.metrics + "/healthz") {
		t.Error("/healthz answers before the component has started")
	}

	opts, err := server.ConfigureOptions(flag.NewFlagSet("nats-server", flag.ContinueOnError),
		[]string{"-c", filepath.Join(authDir, "nats-server.conf")}, func() {}, func() {}, func() {})
	if err != nil {
		t.Fatal(err)
	}
	opts.NoSigs, opts.NoLog = true, true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	reporter.waitLog(t, "streams not ensured")
	if answers(reporter.metrics + "/readyz") {
		t.Error("ready before the streams exist")
	}

	admin := filepath.Join(authDir, auth.CredentialsFile(streams.RoleAdmin))
	if out, err := run(t, "--nats", url, "--nats-credentials", admin, "streams", "ensure", "--wait", "30s"); err != nil {
		t.Fatalf("streams ensure: %v\n%s", err, out)
	}
	reporter.waitReady(t)
}

// A component whose store is down at start waits for it; one whose
// password NATS refuses stops at once, naming why: waiting cannot mend it.
func TestComponentWaitsForTheStoreNotForAWrongPassword(t *testing.T) {
	srv := testenv.StartNATS(t)
	minio := testenv.StartMinIO(t)
	minio.Stop(t)
	env := []string{"EJECTA_S3_ACCESS_KEY=" + minio.AccessKey, "EJECTA_S3_SECRET_KEY=" + minio.SecretKey}
	uploader := startComponent(t, env, "uploader", "--nats", srv.URL, "--store", minio.StoreURL("startup"))
	uploader.waitLog(t, "waiting for the store")
	minio.Start(t)
	uploader.waitReady(t)

	authDir := t.TempDir()
	if out, err := run(t, "auth", "init", authDir, "--listen", "127.0.0.1:"+strconv.Itoa(freePort(t)), "--store-dir", t.TempDir()); err != nil {
		t.Fatalf("auth init: %v\n%s", err, out)
	}
	opts, err := server.ConfigureOptions(flag.NewFlagSet("nats-server", flag.ContinueOnError),
		[]string{"-c", filepath.Join(authDir, "nats-server.conf")}, func() {}, func() {}, func() {})
	if err != nil {
		t.Fatal(err)
	}
	opts.NoSigs, opts.NoLog = true, true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	err = newRootCmdRun(ctx, "--nats", ns.ClientURL(), "--nats-user", "viewer", "--nats-password", "not-the-password",
		"--log-level", "error", "web", "--http", "127.0.0.1:0", "--store", "file://"+t.TempDir())
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		t.Fatalf("web with a wrong password: %v, want an authorization violation", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("a wrong password took %s to stop the web UI, want no waiting", took)
	}
}

// newRootCmdRun runs ejecta with args in-process under ctx.
func newRootCmdRun(ctx context.Context, args ...string) error {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&strings.Builder{})
	root.SetErr(&strings.Builder{})
	return root.ExecuteContext(ctx)
}
