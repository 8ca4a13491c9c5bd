package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/auth"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// composeRun is compose.yaml brought up for one test.
type composeRun struct {
	t       *testing.T
	docker  *testenv.Docker
	repo    string
	project string
	env     []string
}

// compose runs the compose command on compose.yaml with args, as the
// operator does from the checkout.
func (c *composeRun) compose(ctx context.Context, args ...string) (string, error) {
	argv := slices.Concat(c.docker.Compose[1:], []string{"--project-name", c.project, "--file", filepath.Join(c.repo, "compose.yaml")}, args)
	cmd := exec.CommandContext(ctx, c.docker.Compose[0], argv...)
	cmd.Dir = c.repo
	cmd.Env = slices.Concat(os.Environ(), c.docker.Env(), c.env)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// containers maps each container of the project to its service.
func (c *composeRun) containers(t *testing.T) map[string]string {
	t.Helper()
	out := c.docker.Output(t, "ps", "-a", "--filter", "label=com.docker.compose.project="+c.project,
		"--format", `{{.ID}} {{.Label "com.docker.compose.service"}}`)
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if id, svc, ok := strings.Cut(line, " "); ok {
			m[id] = svc
		}
	}
	return m
}

// waitHealthy waits until every long-running ejecta service reports
// healthy, NATS and MinIO run, and streams-ensure has exited 0.
func (c *composeRun) waitHealthy(t *testing.T, ejectaServices []string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var waiting []string
		for id, svc := range c.containers(t) {
			st := strings.Fields(c.docker.Output(t, "inspect", "--format",
				"{{.State.Status}} {{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}", id))
			switch {
			case svc == "streams-ensure" && st[0] == "exited" && st[1] != "0":
				t.Fatalf("streams-ensure exited with %s", st[1])
			case svc == "streams-ensure" && st[0] != "exited",
				slices.Contains(ejectaServices, svc) && st[2] != "healthy",
				st[0] != "running" && svc != "streams-ensure":
				waiting = append(waiting, svc+": "+strings.Join(st, " "))
			}
		}
		if len(waiting) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("services not up and healthy after 3m: %v", waiting)
		}
		time.Sleep(time.Second)
	}
}

// TestComposeRunsAnExperiment runs compose.yaml on a real container
// engine, as README.md and deploy/README.md tell an operator to: images
// built here (no registry is reachable: `make images`), `ejecta auth init`,
// the MinIO secrets exported, `docker compose up -d`. Every ejecta service
// turns healthy on its /readyz; an experiment created from the host as the
// producer runs through the builder (the host's containerd and
// toolchains), the two uploaders and the reporter into MinIO, and the web
// UI shows it. A build there still cannot see the host paths it must not.
// `docker compose down -v` then leaves nothing, and the engine is removed
// whole.
func TestComposeRunsAnExperiment(t *testing.T) {
	if testing.Short() {
		t.Skip("builds images and runs a container engine")
	}
	for _, tool := range []string{"make", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Unavailable(t, "%s: %v", tool, err)
		}
	}
	rustupHome := filepath.Join(os.Getenv("HOME"), ".rustup")
	for _, tc := range []string{"stable", "nightly"} {
		if m, _ := filepath.Glob(filepath.Join(rustupHome, "toolchains", tc+"-*")); len(m) == 0 {
			testenv.Unavailable(t, "rust toolchain %s under %s", tc, rustupHome)
		}
	}
	cfgIf, _ := filepath.Glob(filepath.Join(testenv.DebianRegistry, "cfg-if-1.*"))
	if len(cfgIf) == 0 {
		testenv.Unavailable(t, "cfg-if under %s (apt-get install librust-cfg-if-dev)", testenv.DebianRegistry)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	start := time.Now()
	d := testenv.StartDocker(t)
	c := &composeRun{t: t, docker: d, repo: testenv.RepoRoot(t), project: fmt.Sprintf("ejecta-test-%d", os.Getpid())}

	// The steps deploy/README.md gives are the ones this test runs, in
	// directories and on ports of its own.
	guide, err := os.ReadFile(filepath.Join(c.repo, "deploy", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{
		"ejecta auth init deploy/nats --store-dir /data",
		"make images && export $(make -s image-tags)",
		"docker compose up -d",
		"docker compose down --volumes",
	} {
		if !strings.Contains(string(guide), step) {
			t.Errorf("deploy/README.md does not say %q, which this test does", step)
		}
	}

	// The images, built here from static binaries, and their tags.
	makeVars := []string{"IMAGE_DIR=" + t.TempDir(), "DOCKER=" + d.Client,
		"EJECTA_IMAGE=ejecta:latest", "NATS_IMAGE=ejecta-test/nats:go.mod", "MINIO_IMAGE=ejecta-test/minio:setup.sh"}
	mk := exec.CommandContext(ctx, "make", append([]string{"--no-print-directory", "images"}, makeVars...)...)
	mk.Dir, mk.Env = c.repo, append(os.Environ(), d.Env()...)
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make images: %v\n%s", err, out)
	}
	tags := exec.CommandContext(ctx, "make", append([]string{"-s", "image-tags"}, makeVars...)...)
	tags.Dir = c.repo
	out, err := tags.Output()
	if err != nil {
		t.Fatalf("make -s image-tags: %v", err)
	}
	c.env = strings.Fields(string(out))
	t.Logf("engine up and images built in %s: %s", time.Since(start).Round(time.Second), out)

	// The operator's steps (README.md, compose.yaml), in directories of
	// the test's own.
	authDir := t.TempDir()
	if out, err := run(t, "auth", "init", authDir, "--store-dir", "/data"); err != nil {
		t.Fatalf("auth init: %v\n%s", err, out)
	}
	minioPassword := randomHex(t)
	work := testenv.DurableTempDir(t)
	// A crate source of its own (the builder's container sees it at the
	// same path), and a site secret readable by all that builds must not
	// see: the builder hides it, looking at the host's root.
	source := filepath.Join(work, "registry")
	secretDir := filepath.Join(work, "site-secret")
	secret := "compose-secret-" + randomHex(t)
	hostile := filepath.Join(source, "ejecta-hostile-secrets-0.1.0")
	if err := os.CopyFS(hostile, os.DirFS(filepath.Join(c.repo, "testdata", "hostile", filepath.Base(hostile)))); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(source, filepath.Base(cfgIf[0])), os.DirFS(cfgIf[0])); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(secretDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for path, text := range map[string]string{
		filepath.Join(secretDir, "token"):              secret,
		filepath.Join(hostile, "hostile.txt"):          "secret=" + secretDir + "\n",
		filepath.Join(hostile, ".cargo-checksum.json"): `{"package":"","files":{}}`,
	} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ports := map[string]int{}
	for _, p := range []string{"EJECTA_NATS_PORT", "EJECTA_NATS_MONITOR_PORT", "EJECTA_MINIO_PORT", "EJECTA_MINIO_CONSOLE_PORT", "EJECTA_WEB_PORT"} {
		ports[p] = freePort(t)
		c.env = append(c.env, p+"="+strconv.Itoa(ports[p]))
	}
	c.env = append(c.env,
		"EJECTA_AUTH_DIR="+authDir,
		"MINIO_ROOT_USER=ejecta", "MINIO_ROOT_PASSWORD="+minioPassword,
		"EJECTA_WORK_DIR="+filepath.Join(work, "jobs"),
		"EJECTA_CONTAINERD_DIR="+filepath.Dir(d.Containerd),
		"EJECTA_CONTAINERD_NAMESPACE="+testenv.ContainerdNamespace(t),
		"EJECTA_CRATE_SOURCE="+source,
		"EJECTA_SANDBOX_HIDE="+secretDir,
		"EJECTA_BUILDER_ID=compose-builder",
	)
	t.Cleanup(func() {
		if t.Failed() {
			for _, svc := range []string{"streams-ensure", "builder", "uploader", "reporter", "web", "nats", "minio"} {
				logs, _ := c.compose(context.Background(), "logs", "--no-color", "--tail", "100", svc)
				t.Logf("compose logs %s:\n%s", svc, logs)
			}
		}
	})
	upStart := time.Now()
	if out, err := c.compose(ctx, "up", "-d"); err != nil {
		t.Fatalf("compose up -d: %v\n%s", err, out)
	}
	ejectaServices := []string{"builder", "uploader", "reporter", "web"}
	c.waitHealthy(t, ejectaServices)
	t.Logf("compose up, every service healthy, in %s", time.Since(upStart).Round(time.Second))
	count := map[string]int{}
	for _, svc := range c.containers(t) {
		count[svc]++
	}
	if count["uploader"] != 2 || count["builder"] != 1 || count["reporter"] != 1 || count["web"] != 1 {
		t.Errorf("containers per service %v, want two uploaders and one of each other component", count)
	}

	// An experiment, from the host, as the producer.
	natsURL := "nats://127.0.0.1:" + strconv.Itoa(ports["EJECTA_NATS_PORT"])
	as := func(role streams.Role) []string {
		return []string{"--nats", natsURL, "--nats-credentials", filepath.Join(authDir, auth.CredentialsFile(role)), "--log-level", "error"}
	}
	created, err := run(t, append(as(streams.RoleProducer), "experiment", "create", "compose", "--toolchains", "stable,nightly",
		"--mode", "check-only", "--crates", "cfg-if,ejecta-hostile-secrets", "--crate-source", source)...)
	if err != nil {
		t.Fatalf("experiment create: %v\n%s", err, created)
	}
	if out, err := runFor(t, 6*time.Minute, append(as(streams.RoleViewer), "experiment", "status", "compose", "--watch", "--timeout", "5m")...); err != nil || !strings.Contains(out, "stable 2/2 done") || !strings.Contains(out, "nightly 2/2 done") {
		t.Fatalf("experiment status --watch: %v\n%s", err, out)
	}

	// The report, in MinIO.
	t.Setenv(store.EnvS3AccessKey, "ejecta")
	t.Setenv(store.EnvS3SecretKey, minioPassword)
	storeURL := "s3://ejecta?endpoint=127.0.0.1:" + strconv.Itoa(ports["EJECTA_MINIO_PORT"]) + "&secure=false"
	var rf results.File
	waitUntil(t, "the report with both crates", func() bool {
		out, err := run(t, "report", "compose", "--store", storeURL, "--output", "json")
		return err == nil && json.Unmarshal([]byte(out), &rf) == nil && len(rf.Crates) == 2 && rf.Classes[results.ClassPending] == 0
	})
	classes := map[string]results.Class{}
	for _, cr := range rf.Crates {
		classes[cr.Name] = cr.Class
	}
	if classes["cfg-if"] != results.ClassSameTestPass || classes["ejecta-hostile-secrets"] != results.ClassSameBuildFail {
		t.Errorf("classes %v, want cfg-if same-test-pass, ejecta-hostile-secrets same-build-fail", classes)
	}
	st, err := store.Open(ctx, storeURL)
	if err != nil {
		t.Fatal(err)
	}
	cfgIfKey := streams.BuildKey{Experiment: "compose", Crate: "cfg-if", Version: strings.TrimPrefix(filepath.Base(cfgIf[0]), "cfg-if-"), Toolchain: "stable"}
	var logText string
	waitUntil(t, "the stored logs", func() bool {
		rc, err := st.Get(ctx, streams.ExperimentPrefix("compose")+streams.LogObjectKey(cfgIfKey, 1))
		if err != nil {
			return false
		}
		defer rc.Close()
		b, _ := io.ReadAll(rc)
		logText = string(b)
		return true
	})
	if !strings.Contains(logText, "sandbox: host root read-only") || !strings.Contains(logText, "finished: test-pass") {
		t.Errorf("stored log of cfg-if on stable:\n%s", logText)
	}

	// The web UI shows the experiment and the hostile crate's log: it ran,
	// and found neither the site secret nor the host's /root.
	web := "http://127.0.0.1:" + strconv.Itoa(ports["EJECTA_WEB_PORT"])
	if code, body := httpGet(t, web+"/experiments/compose"); code != 200 || !strings.Contains(body, "ejecta-hostile-secrets") {
		t.Errorf("web UI /experiments/compose: %d\n%s", code, body)
	}
	hostileLog := web + "/logs/compose/ejecta-hostile-secrets/0.1.0/nightly/1/raw"
	code, body := httpGet(t, hostileLog)
	if code != 200 || !strings.Contains(body, "HOSTILE secrets: everything this build script could read") {
		t.Fatalf("GET %s: %d\n%s", hostileLog, code, body)
	}
	if strings.Contains(body, secret) || strings.Contains(body, "entry "+secretDir+"/") {
		t.Errorf("a build read the site secret hidden with --sandbox-hide:\n%s", body)
	}
	for _, line := range strings.Split(body, "\n") {
		entry, ok := strings.CutPrefix(line, "HOSTILE secrets: entry /root/")
		if ok && !strings.HasPrefix(entry, ".rustup") && !strings.HasPrefix(entry, ".cargo") {
			t.Errorf("a build saw the host's /root beyond the toolchains bound there: %s", line)
		}
	}
	if code, body := httpGet(t, web+"/readyz"); code != 200 {
		t.Errorf("web /readyz: %d %s", code, body)
	}

	downStart := time.Now()
	if out, err := c.compose(ctx, "down", "--volumes"); err != nil {
		t.Fatalf("compose down: %v\n%s", err, out)
	}
	t.Logf("compose down in %s", time.Since(downStart).Round(time.Second))
	if left := c.containers(t); len(left) > 0 {
		t.Errorf("containers left after compose down: %v", left)
	}
	if vols := strings.TrimSpace(d.Output(t, "volume", "ls", "-q")); vols != "" {
		t.Errorf("volumes left after compose down -v: %s", vols)
	}
}

// runFor is run with a longer deadline than its 30s.
func runFor(t *testing.T, d time.Duration, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a minute", what)
		}
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func randomHex(t *testing.T) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
