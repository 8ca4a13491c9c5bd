package testenv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Docker is a private Docker daemon started for one test: its own data
// root, exec root, socket, cgroup parent and containerd (a private one,
// StartContainerd's), with settings that leave the host's network alone: no
// iptables rules, no IP forwarding, no default bridge. Containers reach
// each other on the networks compose makes (Linux bridges, switched, not
// routed) and the host reaches their published ports through Docker's
// userland proxy. When the test ends everything it made is gone: its
// containers, networks (and their bridges), volumes, images, mounts,
// cgroups and directories; anything left fails the test.
type Docker struct {
	Host       string // DOCKER_HOST
	Client     string // the docker CLI that goes with the daemon
	Containerd string // the socket of the daemon's containerd
	// Compose is the compose command: `docker compose` (v2) when the
	// client has it, else the docker-compose program.
	Compose []string

	config  string // DOCKER_CONFIG, so the client writes nothing under $HOME
	data    string
	run     string
	cgroup  string
	logPath string
}

var dockerSeq atomic.Int64

// StartDocker starts a private dockerd for t, or calls Unavailable when
// this machine cannot run one (not root, no dockerd or compose installed).
func StartDocker(t testing.TB) *Docker {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "dockerd needs root")
	}
	dockerd, err := exec.LookPath("dockerd")
	if err != nil {
		Unavailable(t, "dockerd: %v (apt-get install docker.io)", err)
	}
	client := dockerClient(dockerd)
	if client == "" {
		Unavailable(t, "no docker client beside %s (apt-get install docker.io)", dockerd)
	}
	_, err = os.Stat("/run/docker")
	madeRunDocker := err != nil
	containerd := StartContainerd(t)

	base := DurableTempDir(t)
	run, err := os.MkdirTemp(shortDir(), "ejecta-docker-")
	if err != nil {
		t.Fatalf("docker run dir: %v", err)
	}
	d := &Docker{
		Host:       "unix://" + filepath.Join(run, "docker.sock"),
		Client:     client,
		Containerd: containerd,
		config:     filepath.Join(base, "client"),
		data:       filepath.Join(base, "data"),
		run:        run,
		cgroup:     fmt.Sprintf("/ejecta-test-docker-%d-%d", os.Getpid(), dockerSeq.Add(1)),
		logPath:    filepath.Join(base, "dockerd.log"),
	}
	for _, dir := range []string{d.config, d.data} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	config := map[string]any{}
	if dockerdMajor(dockerd) < 23 {
		// dockerd 20.10 keeps a key in /etc/docker unless told otherwise.
		config["deprecated-key-path"] = filepath.Join(base, "key.json")
	}
	cfgFile := filepath.Join(base, "daemon.json")
	b, _ := json.Marshal(config)
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(d.logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(dockerd,
		"--config-file", cfgFile,
		"--data-root", d.data,
		"--exec-root", filepath.Join(run, "exec"),
		"--pidfile", filepath.Join(run, "dockerd.pid"),
		"--host", d.Host,
		"--containerd", containerd,
		"--cgroup-parent", d.cgroup,
		// The host's network stays as it is: no NAT or filter rules, no
		// forwarding turned on, no docker0.
		"--iptables=false", "--ip-forward=false", "--ip-masq=false", "--bridge=none",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start dockerd: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logFile.Close(); close(exited) }()

	t.Cleanup(func() {
		bridges := d.bridges()
		d.removeEverything()
		stopProcess(cmd, exited)
		for _, br := range bridges {
			// Gone with its network, unless the daemon could not remove it.
			if _, err := os.Stat("/sys/class/net/" + br); err == nil {
				exec.Command("ip", "link", "delete", br).Run()
			}
		}
		unmountBelow(d.data, d.run)
		os.RemoveAll(d.run)
		removeCgroup(d.cgroup)
		if madeRunDocker {
			removeEmptyDirs("/run/docker") // plugin sockets' dir, made by dockerd
		}
		if t.Failed() {
			t.Logf("dockerd log (%s), last lines:\n%s", d.logPath, tail(d.logPath, 40))
		}
		for _, left := range d.leftovers(bridges) {
			t.Errorf("docker left behind: %s", left)
		}
	})
	if err := d.waitReady(exited, 30*time.Second); err != nil {
		t.Fatalf("dockerd: %v\nlog:\n%s", err, tail(d.logPath, 40))
	}
	d.Compose = d.composeCommand()
	if d.Compose == nil {
		Unavailable(t, "neither `docker compose` nor docker-compose (apt-get install docker-compose)")
	}
	return d
}

// Env is the environment of a docker or compose command talking to d.
func (d *Docker) Env() []string {
	return []string{"DOCKER_HOST=" + d.Host, "DOCKER_CONFIG=" + d.config, "DOCKER_BUILDKIT=1"}
}

// Command is `docker args...` against d.
func (d *Docker) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, d.Client, args...)
	cmd.Env = append(os.Environ(), d.Env()...)
	return cmd
}

// Output runs `docker args...` and returns its standard output; a failure
// fails t with what it printed.
func (d *Docker) Output(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := d.Command(ctx, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// dockerClient is the docker CLI of dockerd's package: a newer client on
// PATH may lack what an older daemon's build needs (BuildKit without buildx).
func dockerClient(dockerd string) string {
	for _, p := range []string{filepath.Join(filepath.Dir(filepath.Dir(dockerd)), "bin", "docker"), "/usr/bin/docker"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	p, _ := exec.LookPath("docker")
	return p
}

// dockerdMajor is dockerd's major version, or 0 when it cannot tell.
func dockerdMajor(dockerd string) int {
	out, err := exec.Command(dockerd, "--version").Output()
	if err != nil {
		return 0
	}
	m := regexp.MustCompile(`version (\d+)\.`).FindSubmatch(out)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

func (d *Docker) waitReady(exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-exited:
			return errors.New("exited during start")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := d.Command(ctx, "version").Run()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %v", timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (d *Docker) composeCommand() []string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if d.Command(ctx, "compose", "version").Run() == nil {
		return []string{d.Client, "compose"}
	}
	if p, err := exec.LookPath("docker-compose"); err == nil {
		return []string{p}
	}
	return nil
}

// bridges are the Linux bridges of d's networks.
func (d *Docker) bridges() []string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := d.Command(ctx, "network", "ls", "--no-trunc", "--filter", "driver=bridge", "--format", "{{.ID}}").Output()
	if err != nil {
		return nil
	}
	var brs []string
	for _, id := range strings.Fields(string(out)) {
		brs = append(brs, "br-"+id[:min(12, len(id))])
	}
	return brs
}

// removeEverything removes every container, network and volume, so that
// the daemon stops with nothing mounted and no bridge up.
func (d *Docker) removeEverything() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := d.Command(ctx, "ps", "-aq").Output(); err == nil && len(bytes.TrimSpace(out)) > 0 {
		d.Command(ctx, append([]string{"rm", "-f", "-v"}, strings.Fields(string(out))...)...).Run()
	}
	d.Command(ctx, "network", "prune", "-f").Run()
	d.Command(ctx, "volume", "prune", "-f").Run()
}

// leftovers names what the daemon left: mounts below its directories,
// bridges of its networks, the directories themselves.
func (d *Docker) leftovers(bridges []string) []string {
	var out []string
	for _, m := range mountsBelow(d.data, d.run) {
		out = append(out, "mount "+m)
	}
	for _, br := range bridges {
		if _, err := os.Stat("/sys/class/net/" + br); err == nil {
			out = append(out, "network interface "+br)
		}
	}
	if _, err := os.Stat(d.run); err == nil {
		out = append(out, "directory "+d.run)
	}
	for _, h := range cgroupDirs(d.cgroup) {
		if _, err := os.Stat(h); err == nil {
			out = append(out, "cgroup "+h)
		}
	}
	return out
}

// mountsBelow lists the mount points below any of dirs, deepest first.
func mountsBelow(dirs ...string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := fields[4]
		if slices.ContainsFunc(dirs, func(d string) bool { return strings.HasPrefix(mp, d+"/") || mp == d }) {
			out = append(out, mp)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return out
}

// unmountBelow detaches whatever a killed daemon left mounted below dirs
// (network namespaces, overlays), deepest first.
func unmountBelow(dirs ...string) {
	for _, m := range mountsBelow(dirs...) {
		syscall.Unmount(m, syscall.MNT_DETACH)
	}
}

// cgroupDirs are a cgroup's directories in every hierarchy.
func cgroupDirs(cgroup string) []string {
	out := []string{filepath.Join("/sys/fs/cgroup", cgroup)} // cgroup v2
	hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*")
	for _, h := range hierarchies {
		out = append(out, filepath.Join(h, cgroup))
	}
	return out
}

// removeCgroup removes the cgroup parent of the daemon's containers, once
// they are all gone (a cgroup with tasks or children stays).
func removeCgroup(cgroup string) {
	for _, dir := range cgroupDirs(cgroup) {
		os.Remove(dir)
	}
}

// removeEmptyDirs removes dir if it holds nothing but empty directories.
func removeEmptyDirs(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !e.IsDir() {
			return
		}
		removeEmptyDirs(filepath.Join(dir, e.Name()))
	}
	os.Remove(dir)
}
