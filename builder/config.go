package builder

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ejecta-build/ejecta/builder/cargo"
	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/streams"
)

// Config is one builder's configuration. Zero fields take the defaults
// documented on them (see withDefaults).
type Config struct {
	// ID names the builder: its heartbeat key, and part of its job dirs and
	// container IDs, so that a restarted builder with the same ID can clean
	// up what its predecessor left behind.
	ID string
	// Slots is how many builds run at once; default runtime.NumCPU().
	Slots int
	// PinCores pins slot s's builds to CPU s mod runtime.NumCPU() (a
	// cpuset). By default every build may run on every CPU, all at the
	// sandbox's one CPU weight: busy slots get equal shares, and a slot
	// whose build waits (on a link, on the log stream, between steps)
	// leaves its share to the others instead of idling a core.
	PinCores bool
	// WorkDir holds the job dirs; it should be on a disk with room for
	// Slots target directories.
	WorkDir string
	// CargoPath is the cargo binary (normally rustup's proxy); default:
	// cargo from PATH, made absolute.
	CargoPath string
	// RustupHome is mounted read-only into every build; default
	// $RUSTUP_HOME or $HOME/.rustup.
	RustupHome string
	// MemoryBytes limits each build; default 1536 MiB (crater's 1.5 GB).
	MemoryBytes int64
	// Timeout bounds a whole attempt, prepare included; default 15m.
	// MemoryBytes, Timeout and NoOutputTimeout are defaults: a job's
	// streams.Limits override them.
	Timeout time.Duration
	// NoOutputTimeout kills an attempt whose tasks print nothing for this
	// long (a hung build); default 5m.
	NoOutputTimeout time.Duration
	// DrainGrace is how long running builds may go on once Run's context
	// ends; they are then killed and left for redelivery. Abort ends it
	// early. Default 0: stop at once.
	DrainGrace time.Duration
	// MinFreeDiskBytes: below this much free space on WorkDir's disk the
	// builder takes no new jobs (and says so in its heartbeat); default
	// 2 GiB, negative to disable.
	MinFreeDiskBytes int64
	// Version is reported in the heartbeat; default the module version
	// the binary was built from.
	Version string
	// LogWindow is how many log chunks of one build may be published and
	// not yet acknowledged; when that many are, the build's output waits.
	// Default 64 (2 MiB of 32 KiB chunks); 1 publishes synchronously.
	LogWindow int
	// TmpBytes sizes each build's private /tmp, a tmpfs that counts against
	// its memory limit too; default sandbox.DefaultTmpBytes (512 MiB). A
	// job's streams.Limits override it.
	TmpBytes int64
	// ToolchainPaths are toolchain directories (rustup's custom toolchains:
	// bin/rustc, bin/cargo, lib/) the builder offers besides rustup's own,
	// for experiments that name them by path, e.g. a compiler built from a
	// branch. Builds see them read-only through the host root.
	ToolchainPaths []string
	// MaxLogBytes caps the task output a build log keeps: past it only the
	// last part of each step's output is logged (see buildlog.Cap); default 64
	// MiB, -1 for no cap.
	MaxLogBytes int64
	// CrateCacheDir keeps the .crate files downloaded from remote
	// registries, for every slot of this builder (only one builder may use
	// it); default <WorkDir>/crate-cache-<ID>. CrateCacheBytes bounds it:
	// past it the least recently used files go; default 4 GiB.
	CrateCacheDir   string
	CrateCacheBytes int64
	// PidsLimit bounds processes per build; default 4096.
	PidsLimit int64
	// JobDiskBytes bounds what a build may keep in its job dir, which
	// shares a disk with every other slot's: past it the build is killed
	// and fails with reason no-space; default 20 GiB, negative for no
	// bound. Measured every few seconds, so a build may briefly pass it.
	JobDiskBytes int64
	// SharedTargetBytes bounds each slot's shared target dir per toolchain
	// (sharedtarget.go), where first runs build so that dependencies built
	// by an earlier job are reused: one past it is purged before its next
	// build. Default DefaultSharedTargetBytes; negative: no shared target,
	// every attempt builds in its job dir's own.
	SharedTargetBytes int64
	// BuildUID is the first of the unprivileged users builds run as:
	// slot s runs as user and group BuildUID+s, which own nothing on the
	// host but the directories of their job dir that builds write to
	// (builder/workspace). Default DefaultBuildUID; it must not be a real
	// user's, and builders sharing a host need ranges of their own.
	BuildUID uint32
	// InProgressEvery is how often a running job's ack deadline is pushed
	// back; default 15s. It must stay well under the consumer's AckWait.
	InProgressEvery time.Duration
	// SandboxRetryDelay is how long a job whose sandbox failed waits
	// before it is delivered again: long enough for a restarted containerd
	// to be back.
	SandboxRetryDelay time.Duration
	// HeartbeatEvery is how often the heartbeat is renewed; default 5s, well
	// under streams.HeartbeatTTL.
	HeartbeatEvery time.Duration
	// Metrics is where the builder registers its collectors (metrics.go);
	// nil: nowhere.
	Metrics prometheus.Registerer
}

// minBuildUID keeps builds clear of system and login users.
const minBuildUID = 100_000

// buildUser is the user and group slot's builds run as.
func (c Config) buildUser(slot int) uint32 { return c.BuildUID + uint32(slot) }

// host is the cargo and rustup builds use.
func (c Config) host() cargo.Host {
	return cargo.Host{CargoPath: c.CargoPath, RustupHome: c.RustupHome}
}

// toolchains lists what the builder offers: rustup's toolchains and the
// toolchain directories it was given that hold a rustc.
func (c Config) toolchains() []string { return cargo.Toolchains(c.RustupHome, c.ToolchainPaths) }

// offers reports whether the builder builds with toolchain tc: one rustup
// has, or one of its toolchain directories. Any other directory is not
// offered, whatever it holds: an experiment cannot point builders at
// arbitrary host paths.
func (c Config) offers(tc string) bool { return cargo.Offers(c.RustupHome, c.ToolchainPaths, tc) }

// HiddenPaths are the builder's own host paths that builds must not see
// (sandbox.Config.Hide): its work dir, with every other job's dir, and its
// download cache. The caller adds its credentials and keys.
func (c Config) HiddenPaths() []string {
	c = c.withDefaults()
	return []string{c.WorkDir, c.CrateCacheDir}
}

// containerIDRE is what containerd accepts as a container ID.
var containerIDRE = regexp.MustCompile(`^[A-Za-z0-9]+(?:[_-][A-Za-z0-9]+)*$`)

// Defaults.
const (
	DefaultMemoryBytes       = 1536 << 20
	DefaultTimeout           = 15 * time.Minute
	DefaultNoOutputTimeout   = 5 * time.Minute
	DefaultMinFreeDisk       = 2 << 30
	DefaultPidsLimit         = 4096
	DefaultJobDiskBytes      = 20 << 30
	DefaultSharedTargetBytes = 8 << 30
	DefaultLogWindow         = 64
	DefaultMaxLogBytes       = 64 << 20
	DefaultCrateCacheBytes   = 4 << 30
	DefaultInProgressEvery   = 15 * time.Second
	DefaultSandboxRetryDelay = 10 * time.Second
	DefaultHeartbeatEvery    = 5 * time.Second
	// DefaultBuildUID is far above the ranges login users, system users
	// and subordinate ids (user namespaces) are given.
	DefaultBuildUID = 2_000_000_000
)

// withDefaults fills zero fields. Looking up cargo can fail; that is
// reported by Validate as a bad CargoPath.
func (c Config) withDefaults() Config {
	if c.Slots == 0 {
		c.Slots = runtime.NumCPU()
	}
	if c.CargoPath == "" {
		if p, err := exec.LookPath("cargo"); err == nil {
			c.CargoPath = p
		}
	}
	if c.CargoPath != "" && !filepath.IsAbs(c.CargoPath) {
		if p, err := filepath.Abs(c.CargoPath); err == nil {
			c.CargoPath = p
		}
	}
	if c.RustupHome == "" {
		c.RustupHome = os.Getenv("RUSTUP_HOME")
	}
	if c.RustupHome == "" {
		if home, err := os.UserHomeDir(); err == nil {
			c.RustupHome = filepath.Join(home, ".rustup")
		}
	}
	if c.MemoryBytes == 0 {
		c.MemoryBytes = DefaultMemoryBytes
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.NoOutputTimeout == 0 {
		c.NoOutputTimeout = DefaultNoOutputTimeout
	}
	if c.MinFreeDiskBytes == 0 {
		c.MinFreeDiskBytes = DefaultMinFreeDisk
	}
	if c.Version == "" {
		c.Version = "(unknown)"
		if bi, ok := debug.ReadBuildInfo(); ok {
			c.Version = bi.Main.Version
		}
	}
	if c.PidsLimit == 0 {
		c.PidsLimit = DefaultPidsLimit
	}
	if c.JobDiskBytes == 0 {
		c.JobDiskBytes = DefaultJobDiskBytes
	}
	if c.SharedTargetBytes == 0 {
		c.SharedTargetBytes = DefaultSharedTargetBytes
	}
	if c.BuildUID == 0 {
		c.BuildUID = DefaultBuildUID
	}
	if c.LogWindow == 0 {
		c.LogWindow = DefaultLogWindow
	}
	if c.TmpBytes == 0 {
		c.TmpBytes = sandbox.DefaultTmpBytes
	}
	if c.MaxLogBytes == 0 {
		c.MaxLogBytes = DefaultMaxLogBytes
	}
	if c.CrateCacheDir == "" && c.WorkDir != "" {
		c.CrateCacheDir = filepath.Join(c.WorkDir, "crate-cache-"+c.ID)
	}
	if c.CrateCacheBytes == 0 {
		c.CrateCacheBytes = DefaultCrateCacheBytes
	}
	if c.SandboxRetryDelay == 0 {
		c.SandboxRetryDelay = DefaultSandboxRetryDelay
	}
	if c.InProgressEvery == 0 {
		c.InProgressEvery = DefaultInProgressEvery
	}
	if c.HeartbeatEvery == 0 {
		c.HeartbeatEvery = DefaultHeartbeatEvery
	}
	return c
}

// CheckConfig checks c as New would, defaults applied, and names the first
// bad field.
func CheckConfig(c Config) error {
	return c.withDefaults().Validate()
}

// Validate checks a configuration (after defaults) and names the first bad field.
func (c Config) Validate() error {
	if err := streams.ValidateBuilderID(c.ID); err != nil {
		return fmt.Errorf("id: %w", err)
	}
	// The ID is also part of container IDs, which containerd keeps shorter
	// and stricter than builder IDs: check the longest one we would make.
	if longest := containerPrefix(c.ID) + "9999-99999999999"; len(longest) > 64 || !containerIDRE.MatchString(longest) {
		return fmt.Errorf("id %q: want at most 40 characters, '_' and '-' only between letters or digits (it names containers)", c.ID)
	}
	switch {
	case c.Slots < 1:
		return fmt.Errorf("slots %d: want at least 1", c.Slots)
	case c.WorkDir == "" || !filepath.IsAbs(c.WorkDir):
		return fmt.Errorf("work dir %q: want an absolute path", c.WorkDir)
	case c.CargoPath == "":
		return errors.New("cargo path: empty and no cargo in PATH")
	case !filepath.IsAbs(c.CargoPath):
		return fmt.Errorf("cargo path %q: want an absolute path", c.CargoPath)
	case c.RustupHome == "" || !filepath.IsAbs(c.RustupHome):
		return fmt.Errorf("rustup home %q: want an absolute path", c.RustupHome)
	case c.MemoryBytes < 64<<20:
		return fmt.Errorf("memory bytes %d: want at least 64 MiB", c.MemoryBytes)
	case c.Timeout < time.Second:
		return fmt.Errorf("timeout %s: want at least 1s", c.Timeout)
	case c.NoOutputTimeout < time.Second:
		return fmt.Errorf("no-output timeout %s: want at least 1s", c.NoOutputTimeout)
	case c.DrainGrace < 0:
		return fmt.Errorf("drain grace %s: want 0 or more", c.DrainGrace)
	case c.LogWindow < 1 || c.LogWindow > 4096:
		return fmt.Errorf("log window %d: want 1 to 4096", c.LogWindow)
	case c.TmpBytes < streams.MinTmpBytes || c.TmpBytes > streams.MaxTmpBytes:
		return fmt.Errorf("tmp bytes %d: want 1 MiB to 1 TiB", c.TmpBytes)
	case c.MaxLogBytes != -1 && (c.MaxLogBytes < 1<<20 || c.MaxLogBytes > 1<<40):
		return fmt.Errorf("max log bytes %d: want 1 MiB to 1 TiB", c.MaxLogBytes)
	case !filepath.IsAbs(c.CrateCacheDir):
		return fmt.Errorf("crate cache dir %q: want an absolute path", c.CrateCacheDir)
	case c.CrateCacheBytes < 1<<20:
		return fmt.Errorf("crate cache bytes %d: want at least 1 MiB", c.CrateCacheBytes)
	case c.JobDiskBytes >= 0 && c.JobDiskBytes < 64<<20:
		return fmt.Errorf("job disk bytes %d: want at least 64 MiB, or negative for no bound", c.JobDiskBytes)
	case c.SharedTargetBytes >= 0 && c.SharedTargetBytes < 64<<20:
		return fmt.Errorf("shared target bytes %d: want at least 64 MiB, or negative for no shared target", c.SharedTargetBytes)
	case c.PidsLimit < 16:
		return fmt.Errorf("pids limit %d: want at least 16", c.PidsLimit)
	case c.BuildUID < minBuildUID || uint64(c.BuildUID)+uint64(c.Slots) > math.MaxInt32:
		return fmt.Errorf("build uid %d: want %d to %d less the slots, a range no real user has", c.BuildUID, minBuildUID, math.MaxInt32)
	case c.SandboxRetryDelay < 0:
		return fmt.Errorf("sandbox retry delay %s: want 0 or more", c.SandboxRetryDelay)
	case c.InProgressEvery < 100*time.Millisecond:
		return fmt.Errorf("in-progress every %s: want at least 100ms", c.InProgressEvery)
	case c.HeartbeatEvery < 100*time.Millisecond || c.HeartbeatEvery >= streams.HeartbeatTTL:
		return fmt.Errorf("heartbeat every %s: want 100ms to %s", c.HeartbeatEvery, streams.HeartbeatTTL)
	}
	for _, p := range c.ToolchainPaths {
		if err := streams.ValidateToolchain(p); err != nil || !streams.IsToolchainPath(p) {
			return fmt.Errorf("toolchain path %s: want the absolute path of a toolchain directory", streams.Bounded(p))
		}
		if _, err := os.Stat(filepath.Join(p, "bin", "rustc")); err != nil {
			return fmt.Errorf("toolchain path %s: no bin/rustc in it: %w", p, err)
		}
	}
	if fi, err := os.Stat(c.CargoPath); err != nil || fi.IsDir() {
		return fmt.Errorf("cargo path %q: not a file", c.CargoPath)
	}
	return nil
}
