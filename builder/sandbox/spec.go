package sandbox

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/contrib/seccomp"
	"github.com/containerd/containerd/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultTmpBytes caps the private /tmp of a Task that sets no TmpBytes.
// What a job writes there counts against its memory limit as well.
const DefaultTmpBytes = 512 << 20

// specOpts turns t into the OCI spec options for its container, on top of
// containerd's default spec (own pid, ipc, uts, mount and network
// namespaces; no new privileges; /proc, /dev, /sys, and a tmpfs on /run,
// which hides the host's containerd and shim sockets; runc's masked and
// read-only /proc and /sys paths). On top of that a task runs as t's
// unprivileged user with no capability at all, under containerd's default
// seccomp profile less io_uring, in a cgroup namespace of its own, without
// swap, at cg's CPU weight.
//
// The mounts, in the order runc makes them: the root, the defaults, then
// the task's own (see mounts). With image, the root is the container's own snapshot of the image, made
// read-only by runc once the mount points are in place; without, it is
// the host's root.
func specOpts(t Task, image bool, covers []cover, cg cgroups) []oci.SpecOpts {
	root := withReadOnlyHostRoot
	if image {
		// A view snapshot would be read-only from the start, but then
		// runc could not create the mount points (/tmp, the job dirs) the
		// image lacks; a writable snapshot remounted read-only can.
		root = oci.WithRootFSReadonly()
	}
	opts := []oci.SpecOpts{
		root,
		oci.WithMounts(mounts(t, covers)),
		oci.WithProcessArgs(t.Args...),
		oci.WithEnv(t.Env),
		oci.WithProcessCwd(t.Dir),
		oci.WithUIDGID(t.UID, t.GID),
		withOnlyGroup(t.GID),
		// No capability, not even in the bounding set, so that nothing
		// the task runs (a setuid binary included) can gain one.
		oci.WithCapabilities(nil),
		// After the capabilities: the profile allows by what they permit.
		seccomp.WithDefaultProfile(),
		withoutSyscalls(ioUringSyscalls...),
		withNativeSyscallsOnly,
		oci.WithNoNewPrivileges,
		oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.CgroupNamespace}),
		withRlimit("RLIMIT_CORE", 0), // no core dumps filling the job dir
	}
	if t.MemoryBytes > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(t.MemoryBytes)))
		if cg.noSwap {
			// Memory plus swap equal to memory: no swap at all, so a
			// build over its limit is killed, not slowed to a crawl.
			opts = append(opts, oci.WithMemorySwap(t.MemoryBytes))
		}
	}
	if t.PidsLimit > 0 {
		opts = append(opts, oci.WithPidsLimit(t.PidsLimit))
	}
	if t.CPUs != "" {
		opts = append(opts, oci.WithCPUs(t.CPUs))
	}
	if cg.cpuWeight > 0 {
		opts = append(opts, withCPUWeight(cg.cpuWeight, cg.v2))
	}
	if t.Network {
		opts = append(opts, oci.WithHostNamespace(specs.NetworkNamespace), withHostSysfs)
		if image {
			opts = append(opts, oci.WithHostResolvconf, oci.WithHostHostsFile)
		}
	}
	return opts
}

// cgroups is what the host's cgroups can do, and what every task gets
// from them besides its own limits.
type cgroups struct {
	noSwap    bool   // limit memory plus swap to memory (see canLimitSwap)
	v2        bool   // the unified hierarchy (cgroup v2)
	cpuWeight uint64 // Config.CPUWeight; 0 = the kernel's default
}

// withCPUWeight sets the task's CPU weight: on cgroup v2 cpu.weight
// itself; on v1 cpu.shares in the same proportion to the default (100 is
// 1024). Not the spec's Shares on v2: runc maps shares onto weights by
// another scale (1024 becomes 39), so a builder's tasks and the rest of
// the host would no longer weigh what Config.CPUWeight says.
func withCPUWeight(weight uint64, v2 bool) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Linux == nil {
			s.Linux = &specs.Linux{}
		}
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		if v2 {
			if s.Linux.Resources.Unified == nil {
				s.Linux.Resources.Unified = map[string]string{}
			}
			s.Linux.Resources.Unified["cpu.weight"] = strconv.FormatUint(weight, 10)
			return nil
		}
		if s.Linux.Resources.CPU == nil {
			s.Linux.Resources.CPU = &specs.LinuxCPU{}
		}
		shares := weight * 1024 / DefaultCPUWeight
		s.Linux.Resources.CPU.Shares = &shares
		return nil
	}
}

// ioUringSyscalls are the whole of io_uring. containerd's default profile
// (v1.7) allows them; Docker's has denied them since 2023: io_uring is one
// of the kernel's most exploited interfaces (CVE-2022-29582,
// CVE-2023-2598, CVE-2024-0582...), and no build needs it (a program that
// probes for it falls back to plain syscalls).
var ioUringSyscalls = []string{"io_uring_setup", "io_uring_enter", "io_uring_register"}

// withoutSyscalls takes names out of the seccomp profile's allow rules,
// so that the profile's default action (EPERM) refuses them. It comes
// after the profile.
func withoutSyscalls(names ...string) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Linux == nil || s.Linux.Seccomp == nil {
			return fmt.Errorf("no seccomp profile to take %v out of", names)
		}
		rules := s.Linux.Seccomp.Syscalls[:0]
		for _, r := range s.Linux.Seccomp.Syscalls {
			if r.Action == specs.ActAllow {
				r.Names = slices.DeleteFunc(slices.Clone(r.Names), func(n string) bool { return slices.Contains(names, n) })
				if len(r.Names) == 0 {
					continue
				}
			}
			rules = append(rules, r)
		}
		s.Linux.Seccomp.Syscalls = rules
		return nil
	}
}

// withNativeSyscallsOnly keeps the profile to the host's own syscall ABI
// (x86_64 on amd64), refusing the others it would allow (x86 and x32 on
// amd64): builds run 64-bit programs, the other ABIs are kernel code few
// programs reach, and every ABI more is a copy of the filter that runc
// compiles for each task (three of them cost ~20 ms a task, most of the
// profile's cost).
func withNativeSyscallsOnly(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	if s.Linux == nil || s.Linux.Seccomp == nil || len(s.Linux.Seccomp.Architectures) == 0 {
		return fmt.Errorf("no seccomp profile to keep to the native syscall ABI")
	}
	s.Linux.Seccomp.Architectures = s.Linux.Seccomp.Architectures[:1]
	return nil
}

// withReadOnlyHostRoot puts the host's "/" first among the mounts, so the
// default /proc, /dev and /sys mounts that follow land on top of it (see
// the package comment for why not oci.WithRootFSPath or oci.WithMounts).
// "rro" makes the mounts below "/" read-only as well; "ro" alone would only
// cover the top one. nosuid and nodev: a setuid binary or device node of
// the host is of no use to a build, and no_new_privs stops the former too.
func withReadOnlyHostRoot(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	if s.Root == nil || s.Root.Path == "" {
		return fmt.Errorf("spec has no rootfs to bind the host root over")
	}
	root := specs.Mount{
		Destination: "/",
		Type:        "bind",
		Source:      "/",
		Options:     []string{"rbind", "ro", "rro", "nosuid", "nodev"},
	}
	s.Mounts = append([]specs.Mount{root}, s.Mounts...)
	return nil
}

// mounts are the task's own mounts, after the default ones:
//
//   - the covers of the hidden paths;
//   - a private tmpfs on /tmp, so concurrent jobs do not see each other's
//     files;
//   - the read-only dirs, then the writable dirs, bound at their own paths
//     so that paths in a build (and in its logs) are the same inside and
//     out; seen wherever they are: a toolchain under a hidden /root, a
//     crate source under /tmp, a job dir under the hidden work dir.
//
// runc makes them in order, so they are sorted parents first (stably: at
// equal depth in the order above). A dir bound below a cover is seen
// through it; a hidden path below a bound dir is covered after the bind.
func mounts(t Task, covers []cover) []specs.Mount {
	var out []specs.Mount
	for _, c := range covers {
		out = append(out, specs.Mount{Destination: c.path, Type: "bind", Source: c.source,
			Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"}})
	}
	out = append(out, specs.Mount{
		Destination: "/tmp",
		Type:        "tmpfs",
		Source:      "tmpfs",
		Options:     []string{"nosuid", "nodev", "mode=1777", "size=" + strconv.FormatInt(t.tmpBytes(), 10)},
	})
	for _, dir := range t.ReadOnlyDirs {
		out = append(out, specs.Mount{Destination: dir, Type: "bind", Source: dir,
			Options: []string{"rbind", "ro", "rro", "nosuid", "nodev"}})
	}
	for _, dir := range t.WritableDirs {
		out = append(out, specs.Mount{Destination: dir, Type: "bind", Source: dir,
			Options: []string{"rbind", "rw", "nosuid", "nodev"}})
	}
	slices.SortStableFunc(out, func(a, b specs.Mount) int {
		return depth(a.Destination) - depth(b.Destination)
	})
	return out
}

func depth(p string) int { return strings.Count(filepath.Clean(p), "/") }

// withOnlyGroup leaves the task its primary group only: WithUIDGID keeps
// none but the primary one anyway; this says so where it matters.
func withOnlyGroup(gid uint32) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		s.Process.User.AdditionalGids = []uint32{gid}
		return nil
	}
}

// withRlimit sets one resource limit, soft and hard.
func withRlimit(kind string, n uint64) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		s.Process.Rlimits = slices.DeleteFunc(s.Process.Rlimits, func(r specs.POSIXRlimit) bool { return r.Type == kind })
		s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: kind, Hard: n, Soft: n})
		return nil
	}
}

// withHostSysfs binds the host's /sys read-only in place of a new sysfs:
// a container in the host's network namespace may not mount one (the
// kernel ties sysfs to the namespace), as `nerdctl run --network host` does.
// "rro" keeps the mounts below it (the cgroup hierarchies under
// /sys/fs/cgroup) read-only too.
func withHostSysfs(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	for i, m := range s.Mounts {
		if m.Destination == "/sys" {
			s.Mounts[i] = specs.Mount{Destination: "/sys", Type: "bind", Source: "/sys",
				Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro", "rro"}}
		}
	}
	return nil
}
