package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"
)

// containerdConfig keeps a private daemon quiet and quick to start: the CRI
// plugin (Kubernetes) is of no use to a test and logs a lot while failing to
// find CNI.
const containerdConfig = `version = 2
disabled_plugins = ["io.containerd.grpc.v1.cri"]
`

// StartContainerd starts a private containerd daemon for t and returns its
// socket address. The daemon is stopped, and whatever containers the test
// left behind are killed and deleted, when t ends; its stderr is printed if
// t failed. Tests should still use their own namespace (ContainerdNamespace),
// so a daemon could be shared without tests seeing each other's containers.
//
// Each call starts its own daemon: testing has no hook at the end of the test
// binary, and a daemon outliving the binary would leak shims and state. A
// start costs a fraction of a second.
func StartContainerd(t testing.TB) (address string) {
	t.Helper()
	return StartContainerdDaemon(t).Address
}

// Containerd is a private containerd daemon a test can kill and restart.
type Containerd struct {
	Address string
	bin     string
	args    []string
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartContainerdDaemon is StartContainerd for a test that also restarts
// the daemon.
func StartContainerdDaemon(t testing.TB) *Containerd {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "containerd needs root")
	}
	bin, err := exec.LookPath("containerd")
	if err != nil {
		Unavailable(t, "containerd binary: %v", err)
	}
	if _, err := exec.LookPath("runc"); err != nil {
		Unavailable(t, "runc binary: %v", err)
	}

	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(containerdConfig), 0o600); err != nil {
		t.Fatalf("write containerd config: %v", err)
	}
	// A unix socket path must fit in 108 bytes; t.TempDir's can be longer.
	sockDir, err := os.MkdirTemp(shortDir(), "ejecta-test-")
	if err != nil {
		t.Fatalf("containerd socket dir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	c := &Containerd{
		Address: filepath.Join(sockDir, "containerd.sock"),
		bin:     bin,
		logPath: filepath.Join(dir, "containerd.log"),
	}
	c.args = []string{
		"--root", filepath.Join(dir, "root"),
		"--state", filepath.Join(dir, "state"),
		"--address", c.Address,
		"--config", cfg,
	}
	t.Cleanup(func() {
		reapContainers(t, c.Address)
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.cmd != nil {
			stopProcess(c.cmd, c.exited)
		}
		if t.Failed() {
			t.Logf("containerd log (%s), last lines:\n%s", c.logPath, tail(c.logPath, 40))
		}
	})
	if err := c.start(); err != nil {
		t.Fatalf("containerd at %s: %v\nlog:\n%s", c.Address, err, tail(c.logPath, 40))
	}
	return c
}

// Pid is the daemon's process id, 0 while it is down.
func (c *Containerd) Pid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil || c.cmd.Process == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

// start starts the daemon on the same root, state and socket as before,
// appending to the same log, and waits until it answers.
func (c *Containerd) start() error {
	logFile, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("containerd log: %w", err)
	}
	cmd := exec.Command(c.bin, c.args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Its own process group, so a ^C to the test does not hit the daemon
	// before the test has cleaned up its containers.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start containerd: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logFile.Close(); close(exited) }()
	c.mu.Lock()
	c.cmd, c.exited = cmd, exited
	c.mu.Unlock()
	return waitContainerd(c.Address, exited, 15*time.Second)
}

// Restart kills the daemon with SIGKILL, as a crash would, leaves it down
// for down, and starts it again. The shims of running tasks survive, as
// they do in production.
func (c *Containerd) Restart(t testing.TB, down time.Duration) {
	t.Helper()
	c.mu.Lock()
	cmd, exited := c.cmd, c.exited
	c.cmd = nil
	c.mu.Unlock()
	if cmd != nil {
		cmd.Process.Kill()
		<-exited
	}
	time.Sleep(down)
	if err := c.start(); err != nil {
		t.Fatalf("restart containerd at %s: %v\nlog:\n%s", c.Address, err, tail(c.logPath, 40))
	}
}

var namespaceSeq atomic.Int64

// ContainerdNamespace returns a containerd namespace for t, derived from its
// name so leftovers are easy to attribute. It is unique across concurrent
// test binaries too: runc's state (/run/containerd/runc/<ns>) and the
// cgroups (/<ns>/<id>) are per host, not per daemon.
func ContainerdNamespace(t testing.TB) string {
	name := strings.Trim(invalidNamespaceChars.ReplaceAllString(t.Name(), "-"), "-")
	if len(name) > 40 {
		name = strings.Trim(name[:40], "-")
	}
	return fmt.Sprintf("%s-%d-%d", name, os.Getpid(), namespaceSeq.Add(1))
}

var invalidNamespaceChars = regexp.MustCompile(`[^A-Za-z0-9]+`)

// shortDir is where the socket directory goes: /run is short and is where
// containerd keeps its shim sockets anyway.
func shortDir() string {
	if fi, err := os.Stat("/run"); err == nil && fi.IsDir() {
		return "/run"
	}
	return os.TempDir()
}

// waitContainerd polls until a client can connect and ask the version, the
// daemon exits, or the timeout passes.
func waitContainerd(address string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("daemon exited during start")
		default:
		}
		if _, err := os.Stat(address); err == nil {
			lastErr = pingContainerd(address)
			if lastErr == nil {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %s: %v", timeout, lastErr)
}

func pingContainerd(address string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	client, err := containerd.New(address, containerd.WithTimeout(2*time.Second))
	if err != nil {
		return err
	}
	defer client.Close()
	_, err = client.Version(ctx)
	return err
}

// reapContainers kills and deletes every container in every namespace, so a
// failed test does not leave shims and runc containers running after the
// daemon is gone (shims outlive their daemon by design). It then removes
// the per-namespace directories runc and the cgroup hierarchies keep on the
// host, which would otherwise pile up, one per test.
func reapContainers(t testing.TB, address string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := containerd.New(address)
	if err != nil {
		t.Logf("containerd reaper: %v", err)
		return
	}
	defer client.Close()
	nss, err := client.NamespaceService().List(ctx)
	if err != nil {
		t.Logf("containerd reaper: list namespaces: %v", err)
		return
	}
	for _, ns := range nss {
		nctx := namespaces.WithNamespace(ctx, ns)
		ctrs, err := client.Containers(nctx)
		if err != nil {
			t.Logf("containerd reaper: list containers in %s: %v", ns, err)
			continue
		}
		for _, c := range ctrs {
			if task, err := c.Task(nctx, nil); err == nil {
				if st, err := task.Wait(nctx); err == nil {
					task.Kill(nctx, syscall.SIGKILL, containerd.WithKillAll)
					select {
					case <-st:
					case <-time.After(10 * time.Second):
					}
				}
				task.Delete(nctx, containerd.WithProcessKill)
			}
			if err := c.Delete(nctx); err != nil {
				t.Logf("containerd reaper: delete %s/%s: %v", ns, c.ID(), err)
			}
		}
		removeNamespaceDirs(ns)
	}
}

// removeNamespaceDirs removes ns's runc state directory and parent cgroups.
// os.Remove only removes empty directories (and cgroups without tasks or
// children), so anything still in use stays.
func removeNamespaceDirs(ns string) {
	os.Remove(filepath.Join("/run/containerd/runc", ns))
	os.Remove(filepath.Join("/sys/fs/cgroup", ns)) // cgroup v2
	hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*")
	for _, h := range hierarchies {
		os.Remove(filepath.Join(h, ns))
	}
}

// stopProcess asks the daemon to stop and kills it if it does not.
func stopProcess(cmd *exec.Cmd, exited <-chan struct{}) {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		return
	case <-time.After(10 * time.Second):
	}
	cmd.Process.Kill()
	<-exited
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
