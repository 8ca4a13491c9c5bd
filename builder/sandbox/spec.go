package sandbox

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultTmpBytes caps the private /tmp of a Task that sets no TmpBytes.
// What a job writes there counts against its memory limit as well.
const DefaultTmpBytes = 512 << 20

// specOpts turns t into the OCI spec options for its container, on top of
// containerd's default spec (own pid, ipc, uts, mount and network
// namespaces; default capabilities; no new privileges; /proc, /dev, /sys,
// and a tmpfs on /run, which hides the host's containerd and shim sockets).
// With image, the root is the container's own snapshot of the image, made
// read-only by runc once the mount points are in place; without, it is
// the host's root.
func specOpts(t Task, image bool) []oci.SpecOpts {
	root := withReadOnlyHostRoot
	if image {
		// A view snapshot would be read-only from the start, but then
		// runc could not create the mount points (/tmp, the job dirs) the
		// image lacks; a writable snapshot remounted read-only can.
		root = oci.WithRootFSReadonly()
	}
	opts := []oci.SpecOpts{
		root,
		oci.WithMounts(scratchMounts(t.tmpBytes())),
		oci.WithMounts(writableMounts(t.WritableDirs)),
		oci.WithProcessArgs(t.Args...),
		oci.WithEnv(t.Env),
		oci.WithProcessCwd(t.Dir),
	}
	if t.MemoryBytes > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(t.MemoryBytes)))
	}
	if t.PidsLimit > 0 {
		opts = append(opts, oci.WithPidsLimit(t.PidsLimit))
	}
	if t.CPUs != "" {
		opts = append(opts, oci.WithCPUs(t.CPUs))
	}
	if t.Network {
		opts = append(opts, oci.WithHostNamespace(specs.NetworkNamespace), withHostSysfs)
		if image {
			opts = append(opts, oci.WithHostResolvconf, oci.WithHostHostsFile)
		}
	}
	return opts
}

// withReadOnlyHostRoot puts the host's "/" first among the mounts, so the
// default /proc, /dev and /sys mounts that follow land on top of it (see
// the package comment for why not oci.WithRootFSPath or oci.WithMounts).
// "rro" makes the mounts below "/" read-only as well; "ro" alone would only
// cover the top one.
func withReadOnlyHostRoot(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	if s.Root == nil || s.Root.Path == "" {
		return fmt.Errorf("spec has no rootfs to bind the host root over")
	}
	root := specs.Mount{
		Destination: "/",
		Type:        "bind",
		Source:      "/",
		Options:     []string{"rbind", "ro", "rro"},
	}
	s.Mounts = append([]specs.Mount{root}, s.Mounts...)
	return nil
}

// scratchMounts gives the job a private, empty /tmp, so concurrent jobs do
// not see each other's files. It comes before the writable directories so
// that a job directory under /tmp is not hidden by the tmpfs.
func scratchMounts(size int64) []specs.Mount {
	return []specs.Mount{{
		Destination: "/tmp",
		Type:        "tmpfs",
		Source:      "tmpfs",
		Options:     []string{"nosuid", "nodev", "mode=1777", "size=" + strconv.FormatInt(size, 10)},
	}}
}

// writableMounts binds each directory read-write at its own path, so paths
// in the build (and in its logs) are the same inside and out.
func writableMounts(dirs []string) []specs.Mount {
	mounts := make([]specs.Mount, 0, len(dirs))
	for _, dir := range dirs {
		mounts = append(mounts, specs.Mount{
			Destination: dir,
			Type:        "bind",
			Source:      dir,
			Options:     []string{"rbind", "rw"},
		})
	}
	return mounts
}

// ownMounts are the directories a task gets its own of, hiding the host's.
var ownMounts = []string{"/tmp", "/run", "/dev", "/proc", "/sys"}

// Hides reports whether a host path is out of a task's sight because the
// task has its own directory there (its /tmp, /run, /dev, /proc or /sys).
func Hides(path string) bool {
	for _, m := range ownMounts {
		if path == m || strings.HasPrefix(path, m+"/") {
			return true
		}
	}
	return false
}

// withHostSysfs binds the host's /sys read-only in place of a new sysfs:
// a container in the host's network namespace may not mount one (the
// kernel ties sysfs to the namespace), as `nerdctl run --network host` does.
func withHostSysfs(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	for i, m := range s.Mounts {
		if m.Destination == "/sys" {
			s.Mounts[i] = specs.Mount{Destination: "/sys", Type: "bind", Source: "/sys",
				Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}}
		}
	}
	return nil
}
