package sandbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/identifiers"
)

// Config says which containerd to use and where the task FIFOs go.
type Config struct {
	Address   string // containerd socket, default "/run/containerd/containerd.sock"
	Namespace string // containerd namespace, default "ejecta"
	FIFODir   string // directory for the task's FIFOs (created; removable on cleanup), default "/run/ejecta/fifo"
	// Rootfs is what tasks see as "/": "" or "host" for the host's root,
	// read-only; "image:PATH" for an OCI or docker image tarball, imported
	// into containerd by New; "image:REF" for an image already in the
	// namespace. See rootfs.go.
	Rootfs string
	// Snapshotter unpacks the image and holds each task's root; default
	// containerd's default for the platform (overlayfs on Linux). Unused
	// with the host root.
	Snapshotter string
	// Hide are host paths tasks do not see on the host root, besides
	// DefaultHidden: the builder's work dir (other jobs' directories), its
	// credentials and keys. Each is covered by an empty directory or file.
	Hide []string
	// HostRoot is where this process sees the host's root, to tell which
	// host paths exist and which a task's user can pass through: "/" (the
	// default) unless the builder runs in a container of its own, which
	// then mounts the host's root there read-only (compose.yaml: /host).
	// Every path a task binds (job dirs, toolchains, FIFOs) must still be
	// at the same path here as on the host.
	HostRoot string
	// CPUWeight is every task's share of the CPUs it may run on, as cgroup
	// v2's cpu.weight counts (1 to 10000; v1's cpu.shares in proportion,
	// 100 being 1024); default DefaultCPUWeight. Tasks of equal weight
	// that all want CPU get equal parts of it, and one takes what the
	// others leave idle: a weight is a share, not a bound.
	CPUWeight uint64
}

// DefaultCPUWeight is the kernel's own default weight (cgroup v2's
// cpu.weight; 1024 cpu.shares on v1): tasks weigh as much as any other
// process on the host.
const DefaultCPUWeight = 100

const (
	defaultAddress   = "/run/containerd/containerd.sock"
	defaultNamespace = "ejecta"
	defaultFIFODir   = "/run/ejecta/fifo"

	// connectTimeout bounds the dial when ctx has no earlier deadline: the
	// containerd client dials with its own timeout, not with a context.
	connectTimeout = 10 * time.Second
)

// Containerd runs tasks as containers of one containerd namespace. It is safe
// for concurrent use; each Run is its own container.
type Containerd struct {
	client      *containerd.Client
	namespace   string
	fifoDir     string
	snapshotter string
	image       containerd.Image // nil: the host's root
	rootfs      rootfsSource
	hide        []string
	hostRoot    string
	// cgroups: whether the host's cgroups can limit swap (cgroup v1
	// needs swap accounting for it; v2 always can), so tasks get none;
	// which version they are; the CPU weight of every task.
	cgroups cgroups
	tcp     tcpMemory // how tasks' TCP buffers are bounded (tcpmem.go)
}

// New connects to containerd and checks that it answers.
func New(ctx context.Context, cfg Config) (*Containerd, error) {
	if cfg.Address == "" {
		cfg.Address = defaultAddress
	}
	if cfg.Namespace == "" {
		cfg.Namespace = defaultNamespace
	}
	if cfg.FIFODir == "" {
		cfg.FIFODir = defaultFIFODir
	}
	if cfg.Snapshotter == "" {
		cfg.Snapshotter = containerd.DefaultSnapshotter
	}
	if cfg.HostRoot == "" {
		cfg.HostRoot = "/"
	}
	if cfg.CPUWeight == 0 {
		cfg.CPUWeight = DefaultCPUWeight
	}
	if cfg.CPUWeight > 10000 {
		return nil, fmt.Errorf("sandbox: Config.CPUWeight %d: want 1 to 10000", cfg.CPUWeight)
	}
	if fi, err := os.Stat(cfg.HostRoot); err != nil || !fi.IsDir() || !filepath.IsAbs(cfg.HostRoot) {
		return nil, fmt.Errorf("sandbox: Config.HostRoot %q: want the absolute path of a directory", cfg.HostRoot)
	}
	src, err := parseRootfs(cfg.Rootfs)
	if err != nil {
		return nil, err
	}
	if err := checkHidden(cfg.Hide); err != nil {
		return nil, err
	}
	if err := identifiers.Validate(cfg.Namespace); err != nil {
		return nil, fmt.Errorf("sandbox: Config.Namespace: %w", err)
	}
	if !filepath.IsAbs(cfg.FIFODir) {
		return nil, fmt.Errorf("sandbox: Config.FIFODir %q: want an absolute path", cfg.FIFODir)
	}
	if err := os.MkdirAll(cfg.FIFODir, 0o700); err != nil {
		return nil, fmt.Errorf("sandbox: Config.FIFODir: %w", err)
	}

	timeout := connectTimeout
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = max(time.Until(d), time.Millisecond)
	}
	client, err := containerd.New(cfg.Address,
		containerd.WithDefaultNamespace(cfg.Namespace),
		containerd.WithTimeout(timeout),
	)
	if err != nil {
		return nil, fmt.Errorf("sandbox: connect to containerd at %s: %w", cfg.Address, err)
	}
	if _, err := client.Version(ctx); err != nil {
		client.Close()
		return nil, fmt.Errorf("sandbox: containerd at %s: version: %w", cfg.Address, err)
	}
	c := &Containerd{client: client, namespace: cfg.Namespace, fifoDir: cfg.FIFODir, snapshotter: cfg.Snapshotter, rootfs: src,
		hide: slices.Clone(cfg.Hide), hostRoot: cfg.HostRoot, tcp: probeTCPMemory(),
		cgroups: cgroups{noSwap: canLimitSwap(), v2: cgroupV2(), cpuWeight: cfg.CPUWeight}}
	if src.image != "" {
		if c.image, err = c.loadImage(ctx, src); err != nil {
			client.Close()
			return nil, fmt.Errorf("sandbox: Config.Rootfs %q: %w", cfg.Rootfs, err)
		}
	}
	return c, nil
}

// canLimitSwap reports whether runc can limit a task's swap here: on cgroup
// v2 always (it ignores a swap limit of 0 where swap is off), on v1 only
// with swap accounting (memory.memsw.*), without which the limit fails
// the task.
func canLimitSwap() bool {
	if cgroupV2() {
		return true
	}
	_, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
	return err == nil
}

// cgroupV2 reports whether the host's cgroups are the unified hierarchy
// (v2), as runc tells: by its root's cgroup.controllers.
func cgroupV2() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}

// CPUWeight is the CPU weight every task runs at (Config.CPUWeight), for
// the line each build log starts with.
func (c *Containerd) CPUWeight() uint64 { return c.cgroups.cpuWeight }

// Hidden are the host paths tasks do not see: DefaultHidden and
// Config.Hide. A caller binding a directory a message named (a crate
// source) checks it against them: a bind comes after the covers and
// would show what they hide.
func (c *Containerd) Hidden() []string { return slices.Concat(DefaultHidden, c.hide) }

// Hardening says what every task runs under besides its root (Rootfs)
// and its own user, for the line each build log starts with.
func (c *Containerd) Hardening() string {
	s := "no capabilities, seccomp, no new privileges"
	if c.image == nil {
		s += ", secrets hidden"
	}
	if c.tcp == tcpUnbounded {
		s += ", TCP buffers not limited (no kmem.tcp in this kernel's cgroups)"
	}
	if c.cgroups.noSwap {
		return s + ", no swap"
	}
	return s + ", swap not limited (no swap accounting in this kernel's cgroups)"
}

// Close closes the connection to containerd. Runs in progress fail.
func (c *Containerd) Close() error {
	return c.client.Close()
}
