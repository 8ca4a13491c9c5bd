package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/oci"
	"github.com/ejecta-build/ejecta/internal/testenv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A task is an unprivileged user with nothing to gain: every script here
// is what a hostile build would try, and must fail (or see nothing).
func TestRunUnprivileged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hostCgroupNS, err := os.Readlink("/proc/self/ns/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		script string // run by /bin/sh in the task's writable dir; must exit 0
	}{
		{"its own user", `test "$(id -u)" = 1000000001 && test "$(id -g)" = 1000000001 && test "$(id -G)" = 1000000001`},
		{"no capabilities", `for c in CapInh CapPrm CapEff CapBnd CapAmb; do grep -q "^$c:[[:space:]]*0000000000000000$" /proc/self/status || exit 1; done`},
		{"seccomp filter", `grep -q '^Seccomp:[[:space:]]*2$' /proc/self/status`},
		{"no new privileges", `grep -q '^NoNewPrivs:[[:space:]]*1$' /proc/self/status`},
		{"own cgroup namespace", `test "$(readlink /proc/self/ns/cgroup)" != "` + hostCgroupNS + `"`},
		{"no user namespace", `! unshare -U true 2>/dev/null`},
		{"proc keys masked", `test "$(wc -c < /proc/keys)" = 0`},
		{"cannot write /run", `! touch /run/x 2>/dev/null`},
		{"cannot write the host root", `! touch /var/tmp/ejecta-sandbox-hardening 2>/dev/null`},
		{"job dir nosuid nodev", `grep " $PWD " /proc/self/mountinfo | grep -q 'nosuid,nodev'`},
		{"no core dumps", `test "$(ulimit -c)" = 0`},
		{"cgroup hierarchy not writable", `! mkdir /sys/fs/cgroup/ejecta-x 2>/dev/null`},
	}
	for _, way := range runWays {
		for _, tt := range tests {
			t.Run(way.name+"/"+tt.name, func(t *testing.T) {
				r := way.run(e, t, task(t, "/bin/sh", "-c", tt.script))
				if r.exit.Code != 0 {
					t.Errorf("%s: exit %d\nstdout: %s\nstderr: %s", tt.script, r.exit.Code, r.stdout, r.stderr)
				}
			})
		}
	}
	if _, err := os.Stat("/var/tmp/ejecta-sandbox-hardening"); err == nil {
		t.Error("a task wrote /var/tmp/ejecta-sandbox-hardening on the host")
	}
}

// io_uring, one of the kernel's most exploited interfaces, is refused to
// a task, whether or not the host allows it to its own processes.
func TestRunNoIOUring(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	t.Logf("on the host, io_uring_setup: %s", ioUringSetup())
	for _, way := range runWays {
		tk := task(t)
		tk.Args = []string{helperBinary(t, tk.Dir)}
		tk.Env = append(tk.Env, helperEnv+"=io_uring")
		r := way.run(e, t, tk)
		if got := strings.TrimSpace(r.stdout); r.exit.Code != 0 || got != "operation not permitted" && got != "function not implemented" {
			t.Errorf("in a task (%s), io_uring_setup: %q (exit %d, stderr %q), want EPERM or ENOSYS", way.name, got, r.exit.Code, r.stderr)
		}
	}
}

// Socket buffers are memory a task holds as surely as its heap: a task
// that fills the buffers of loopback connections in its own network
// namespace must not pin much more of the host's TCP memory than its
// memory limit (on cgroup v1 the kernel charges none of it to the
// limit by itself). The connections ask for ~400 MiB in all, well below
// the host's tcp_mem pressure threshold.
func TestRunSocketBuffersWithinMemoryLimit(t *testing.T) {
	e := newEnv(t)
	if e.sb.tcp == tcpUnbounded {
		testenv.Unavailable(t, "this kernel's cgroups cannot limit TCP buffers (cgroup v1 without memory.kmem.tcp)")
	}
	const limit = 64 << 20
	tk := task(t)
	tk.Args = []string{helperBinary(t, tk.Dir), "24", tk.Dir}
	tk.Env = append(tk.Env, helperEnv+"=sockets")
	tk.MemoryBytes = limit
	before := hostTCPBytes(t)
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		done <- e.run(ctx, tk)
	}()
	var during int64
	for {
		if _, err := os.Stat(filepath.Join(tk.Dir, "filled")); err == nil {
			during = hostTCPBytes(t)
			break
		}
		select {
		case r := <-done:
			t.Fatalf("task ended before it filled its sockets: exit %d, %v\nstdout: %s\nstderr: %s", r.exit.Code, r.err, r.stdout, r.stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	// The task's cgroup v1 TCP accounting, where it has one.
	cg := filepath.Join(memoryV1, e.cfg.Namespace, tk.ID)
	tcpUsage, _ := os.ReadFile(filepath.Join(cg, "memory.kmem.tcp.usage_in_bytes"))
	tcpLimit, _ := os.ReadFile(filepath.Join(cg, "memory.kmem.tcp.limit_in_bytes"))
	os.WriteFile(filepath.Join(tk.Dir, "release"), nil, 0o644)
	r := <-done
	if r.err != nil {
		t.Fatalf("Run: %v\nstderr: %s", r.err, r.stderr)
	}
	grown := during - before
	t.Logf("exit %d, %s; the host's TCP memory grew by %d MiB; the task's kmem.tcp: usage %q, limit %q",
		r.exit.Code, strings.TrimSpace(r.stdout), grown>>20, strings.TrimSpace(string(tcpUsage)), strings.TrimSpace(string(tcpLimit)))
	// The limit, and slack for what the kernel lets a socket overshoot
	// and for the TCP memory of whatever else runs on the host.
	if bound := int64(limit + 32<<20); grown > bound {
		t.Errorf("the host's TCP memory grew by %d MiB for a task limited to %d MiB, want at most %d MiB",
			grown>>20, limit>>20, bound>>20)
	}
}

// hostTCPBytes is the TCP memory in use on the host, in every network
// namespace: the pool net.ipv4.tcp_mem bounds.
func hostTCPBytes(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[0] == "TCP:" && f[len(f)-2] == "mem" {
			pages, err := strconv.ParseInt(f[len(f)-1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return pages * int64(os.Getpagesize())
		}
	}
	t.Fatalf("no TCP memory in /proc/net/sockstat:\n%s", b)
	return 0
}

// A task with the host's network (resolving against a remote registry)
// gets the host's /sys bound instead of a sysfs of its own: every mount
// under it, the cgroup hierarchies included, must be read-only.
func TestRunNetworkSysfsReadOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tk := task(t, "/bin/sh", "-c", `awk '$5 ~ "^/sys" { print $5, $6 }' /proc/self/mountinfo`)
	tk.Network = true
	r := e.mustRun(t, tk)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.exit.Code != 0 || len(lines) < 2 {
		t.Fatalf("mounts under /sys: %q (exit %d, stderr %q), want the host's /sys and its submounts", r.stdout, r.exit.Code, r.stderr)
	}
	for _, l := range lines {
		if mount, opts, _ := strings.Cut(l, " "); !strings.HasPrefix(opts, "ro,") && opts != "ro" {
			t.Errorf("%s mounted %s in a task with the network, want read-only", mount, opts)
		}
	}
}

// A setuid-root program, in the host's root, in a read-only dir or in the
// job dir, runs with the task's own user: nosuid mounts, no_new_privs and
// an empty bounding set each stop it.
func TestRunSetuidGainsNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ro, err := os.MkdirTemp("/var/tmp", "ejecta-sandbox-setuid-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(ro) })
	os.Chmod(ro, 0o755)
	suid := setuidRoot(t, ro)

	for _, way := range runWays {
		tk := task(t)
		inJob := setuidRoot(t, tk.Dir)
		tk.Args = []string{"/bin/sh", "-c", `"$A"; "$B"`}
		tk.Env = append(tk.Env, "A="+suid, "B="+inJob, helperEnv+"=euid")
		tk.ReadOnlyDirs = []string{ro}
		r := way.run(e, t, tk)
		if want := "euid 1000000001\neuid 1000000001\n"; r.stdout != want || r.exit.Code != 0 {
			t.Errorf("%s: setuid-root programs ran as %q (exit %d, stderr %q), want %q", way.name, r.stdout, r.exit.Code, r.stderr, want)
		}
	}
}

// setuidRoot copies the test binary into dir as a setuid-root program.
func setuidRoot(t *testing.T, dir string) string {
	t.Helper()
	p := helperBinary(t, dir)
	if err := os.Chown(p, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o4755); err != nil {
		t.Fatal(err)
	}
	return p
}

// Hidden paths are empty in the sandbox; read-only dirs are seen wherever
// they are, below a hidden path, under /tmp or below a directory the task
// could not search, and cannot be written.
func TestRunHiddenAndReadOnlyDirs(t *testing.T) {
	t.Parallel()
	base, err := os.MkdirTemp("/var/tmp", "ejecta-sandbox-hidden-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	secrets := filepath.Join(base, "secrets")
	shared := filepath.Join(secrets, "toolchain") // bound read-only below a hidden dir
	closed := filepath.Join(base, "closed")       // mode 0700, as t.TempDir and /root are
	source := filepath.Join(closed, "registry")   // bound read-only below it
	credentials := filepath.Join(base, "builder.env")
	for _, d := range []string{shared, source} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o777) // writable by anyone on the host: only the mount stops a write
	}
	os.Chmod(closed, 0o700)
	files := map[string]string{
		filepath.Join(secrets, "key.pem"):       "SECRET-KEY",
		filepath.Join(shared, "rustc"):          "toolchain",
		filepath.Join(source, "crate.txt"):      "crate",
		filepath.Join(closed, "closed.txt"):     "closed",
		credentials:                             "EJECTA_NATS_PASSWORD=SECRET-PASSWORD",
		filepath.Join(base, "other-job", "out"): "other job",
	}
	for p, text := range files {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmpSource := t.TempDir() // a crate source under the host's /tmp
	os.Chmod(tmpSource, 0o755)
	if err := os.WriteFile(filepath.Join(tmpSource, "lib.rs"), []byte("tmp crate"), 0o644); err != nil {
		t.Fatal(err)
	}

	e := newEnvWith(t, func(c *Config) { c.Hide = []string{secrets, credentials, filepath.Join(base, "other-job")} })

	tests := []struct {
		name   string
		script string // must exit 0
	}{
		{"hidden dir is empty", `test -z "$(ls -A ` + secrets + ` | grep -v toolchain)"`},
		{"hidden file is empty", `test "$(cat ` + credentials + `)" = ""`},
		{"other job hidden", `test -z "$(ls -A ` + filepath.Join(base, "other-job") + `)"`},
		{"read-only dir below a hidden one", `test "$(cat ` + shared + `/rustc)" = toolchain && ! touch ` + shared + `/x 2>/dev/null`},
		{"read-only dir below a closed one", `test "$(cat ` + source + `/crate.txt)" = crate && ! touch ` + source + `/x 2>/dev/null`},
		{"closed dir's own files still closed", `! cat ` + filepath.Join(closed, "closed.txt") + ` 2>/dev/null`},
		{"read-only dir under /tmp", `test "$(cat ` + tmpSource + `/lib.rs)" = "tmp crate"`},
		// Closed to others and nothing bound below: covered or not, nothing in it is seen.
		{"root home out of sight", `test -z "$(ls -A /root 2>/dev/null)" && ! cat /root/.profile 2>/dev/null`},
	}
	for _, way := range runWays {
		for _, tt := range tests {
			t.Run(way.name+"/"+tt.name, func(t *testing.T) {
				tk := task(t, "/bin/sh", "-c", tt.script)
				tk.ReadOnlyDirs = []string{shared, source, tmpSource}
				r := way.run(e, t, tk)
				if r.exit.Code != 0 {
					t.Errorf("%s: exit %d\nstdout: %s\nstderr: %s", tt.script, r.exit.Code, r.stdout, r.stderr)
				}
			})
		}
	}
	for _, p := range []string{filepath.Join(shared, "x"), filepath.Join(source, "x")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("a task wrote %s through a read-only dir", p)
		}
	}
}

// The spec itself, option by option: what a reader of config.json would
// check, without a daemon.
func TestSpecHardening(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tk := Task{ID: "job-1", Args: []string{"/bin/true"}, Dir: dir, WritableDirs: []string{dir},
		ReadOnlyDirs: []string{"/usr/share"}, UID: 7001, GID: 7002, MemoryBytes: 64 << 20}
	for _, network := range []bool{false, true} {
		tk.Network = network
		for _, swap := range []bool{false, true} {
			s := generate(t, specOpts(tk, false, []cover{{path: "/etc", source: "/run/empty"}}, cgroups{noSwap: swap}))
			p := s.Process
			if p.User.UID != 7001 || p.User.GID != 7002 || !slices.Equal(p.User.AdditionalGids, []uint32{7002}) {
				t.Errorf("user = %+v, want 7001:7002 and no other group", p.User)
			}
			if caps := p.Capabilities; len(caps.Bounding)+len(caps.Effective)+len(caps.Permitted)+len(caps.Inheritable)+len(caps.Ambient) != 0 {
				t.Errorf("capabilities = %+v, want none", caps)
			}
			if !p.NoNewPrivileges {
				t.Error("no_new_privs not set")
			}
			if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActErrno {
				t.Fatalf("seccomp = %+v, want containerd's default profile", s.Linux.Seccomp)
			}
			if archs := s.Linux.Seccomp.Architectures; runtime.GOARCH == "amd64" && !slices.Equal(archs, []specs.Arch{specs.ArchX86_64}) {
				t.Errorf("seccomp architectures %v, want the native one only", archs)
			}
			for _, r := range s.Linux.Seccomp.Syscalls {
				for _, n := range r.Names {
					if strings.HasPrefix(n, "io_uring") && r.Action != specs.ActErrno {
						t.Errorf("seccomp: %s %s, want it refused", n, r.Action)
					}
				}
			}
			if !slices.ContainsFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.CgroupNamespace }) {
				t.Error("no cgroup namespace")
			}
			hasNet := slices.ContainsFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace })
			if hasNet == network {
				t.Errorf("network %v: own network namespace %v", network, hasNet)
			}
			if mem := s.Linux.Resources.Memory; (mem.Swap != nil) != swap || (swap && *mem.Swap != *mem.Limit) {
				t.Errorf("swap limit %v: memory %+v, want swap = memory", swap, mem)
			}
			for _, m := range []string{"/proc/kcore", "/proc/keys", "/sys/firmware"} {
				if !slices.Contains(s.Linux.MaskedPaths, m) {
					t.Errorf("%s not masked", m)
				}
			}
			var order []string
			for _, m := range s.Mounts {
				order = append(order, m.Destination)
				opts := strings.Join(m.Options, ",")
				switch {
				case m.Destination == "/" || m.Destination == "/usr/share":
					if opts != "rbind,ro,rro,nosuid,nodev" {
						t.Errorf("%s mounted %s", m.Destination, opts)
					}
				case m.Destination == dir:
					if opts != "rbind,rw,nosuid,nodev" {
						t.Errorf("writable dir mounted %s", opts)
					}
				case m.Destination == "/sys" && network:
					if !strings.Contains(opts, "rro") {
						t.Errorf("host /sys bound %s, want rro", opts)
					}
				case m.Destination == "/etc":
					if m.Source != "/run/empty" || opts != "rbind,ro,nosuid,nodev,noexec" {
						t.Errorf("hidden /etc: %s %s", m.Source, opts)
					}
				}
			}
			// The hidden path after the defaults, /tmp after it, the binds
			// last (the job dir under /tmp must not be covered by it).
			if i, j, k := slices.Index(order, "/etc"), slices.Index(order, "/tmp"), slices.Index(order, dir); !(slices.Index(order, "/run") < i && i < j && j < k) {
				t.Errorf("mount order %v", order)
			}
		}
	}
}

// generate builds the OCI spec opts make, as containerd would.
func generate(t *testing.T, opts []oci.SpecOpts) *oci.Spec {
	t.Helper()
	ctx := namespaces.WithNamespace(context.Background(), "test")
	s, err := oci.GenerateSpec(ctx, nil, &containers.Container{ID: "job-1"}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
