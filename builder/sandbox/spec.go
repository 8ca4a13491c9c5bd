package sandbox

import (
	"context"
	"fmt"

	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TmpSize caps the private /tmp. What a job writes there counts against
// its memory limit as well.
const TmpSize = "512m"

// specOpts turns t into the OCI spec options for its container, on top of
// containerd's default spec (own pid, ipc, uts, mount and network
// namespaces; default capabilities; no new privileges; /proc, /dev, /sys,
// and a tmpfs on /run, which hides the host's containerd and shim sockets).
func specOpts(t Task) []oci.SpecOpts {
	opts := []oci.SpecOpts{
		withReadOnlyHostRoot,
		oci.WithMounts(scratchMounts()),
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
func scratchMounts() []specs.Mount {
	return []specs.Mount{{
		Destination: "/tmp",
		Type:        "tmpfs",
		Source:      "tmpfs",
		Options:     []string{"nosuid", "nodev", "mode=1777", "size=" + TmpSize},
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
