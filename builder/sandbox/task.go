package sandbox

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Task is one command to run in a fresh sandbox.
type Task struct {
	ID           string   // container id, unique while it runs: [A-Za-z0-9_-], <= 64 chars
	Args         []string // argv; Args[0] absolute path or looked up in Env's PATH
	Env          []string // KEY=VALUE, the whole environment
	Dir          string   // working directory inside the sandbox (a host path that is also mounted)
	WritableDirs []string // host directories bind-mounted read-write (nosuid, nodev) at the same path
	// ReadOnlyDirs are host directories bind-mounted read-only at the same
	// path, seen wherever they are (under a hidden path or /tmp): the
	// toolchains and the crate source a build reads.
	ReadOnlyDirs []string
	// UID and GID the task runs as. Never 0: a task is unprivileged, and
	// can write only where the caller gave that user the right to (its
	// job dir's own directories).
	UID, GID    uint32
	MemoryBytes int64  // 0 = no limit
	CPUs        string // cpuset such as "0" or "1"; "" = every CPU, shared at Config.CPUWeight
	PidsLimit   int64  // 0 = no limit
	TmpBytes    int64  // size of the private tmpfs /tmp; 0 = DefaultTmpBytes
	// Network shares the host's network namespace. Only steps that run no
	// code of the crate may have it (resolving against a remote registry);
	// everything else runs in a namespace with no interface but loopback.
	Network bool
	Stdout  io.Writer // required; written from its own goroutine
	Stderr  io.Writer // required; written from its own goroutine, concurrently with Stdout
}

// Exit is how a task ended.
type Exit struct {
	Code      int  // exit status (128+signal when killed by a signal)
	OOMKilled bool // the cgroup saw an OOM kill (from containerd's /tasks/oom event, never guessed from 137)
	// Steps is how long each part of Run took, as far as it got.
	Steps Steps
}

// Steps splits the time of one Run: the cost of the sandbox is all but Ran.
type Steps struct {
	// Create is creating the container (its spec, and its snapshot with an
	// image) and subscribing to its events.
	Create time.Duration
	// NewTask is starting the task's shim, which creates the container's
	// namespaces and cgroup with runc, and its output FIFOs.
	NewTask time.Duration
	// Start is starting the task's process.
	Start time.Duration
	// Ran is from the start to the exit seen.
	Ran time.Duration
	// Teardown is deleting the task (its shim stops) and the container.
	Teardown time.Duration
}

// Overhead is the sandbox's share: every step but Ran.
func (s Steps) Overhead() time.Duration { return s.Create + s.NewTask + s.Start + s.Teardown }

// ErrInvalidTask is wrapped by the errors Run returns for a Task it refuses
// to run; the message names the field.
var ErrInvalidTask = errors.New("sandbox: invalid task")

// maxIDLen keeps the ID usable as a cgroup and FIFO directory name.
const maxIDLen = 64

var (
	// idPattern is the brief's [A-Za-z0-9_-] narrowed to what containerd's
	// identifiers accept: separators only between alphanumerics.
	idPattern     = regexp.MustCompile(`^[A-Za-z0-9]+(?:[_-][A-Za-z0-9]+)*$`)
	cpusetPattern = regexp.MustCompile(`^[0-9]+(?:-[0-9]+)?(?:,[0-9]+(?:-[0-9]+)?)*$`)
)

// validate checks t without touching containerd, so a caller's mistake is
// reported as such and not as a sandbox failure halfway through a run.
func (t *Task) validate() error {
	switch {
	case !idPattern.MatchString(t.ID) || len(t.ID) > maxIDLen:
		return invalid("ID %q: want 1-%d of [A-Za-z0-9], '_' or '-' between them", t.ID, maxIDLen)
	case len(t.Args) == 0:
		return invalid("Args is empty")
	case t.Args[0] == "":
		return invalid("Args[0] is empty")
	case !strings.Contains(t.Args[0], "/") && !hasPath(t.Env):
		return invalid("Args[0] %q is not a path and Env has no PATH to look it up in", t.Args[0])
	case strings.Contains(t.Args[0], "/") && !filepath.IsAbs(t.Args[0]):
		return invalid("Args[0] %q: relative path", t.Args[0])
	case !filepath.IsAbs(t.Dir):
		return invalid("Dir %q: want an absolute path", t.Dir)
	case t.UID == 0 || t.GID == 0:
		return invalid("UID %d, GID %d: want an unprivileged user, never root", t.UID, t.GID)
	case t.UID > math.MaxInt32 || t.GID > math.MaxInt32:
		return invalid("UID %d, GID %d: want at most %d (runc's bound)", t.UID, t.GID, math.MaxInt32)
	case t.MemoryBytes < 0:
		return invalid("MemoryBytes %d: negative", t.MemoryBytes)
	case t.PidsLimit < 0:
		return invalid("PidsLimit %d: negative", t.PidsLimit)
	case t.TmpBytes < 0:
		return invalid("TmpBytes %d: negative", t.TmpBytes)
	case t.CPUs != "" && !cpusetPattern.MatchString(t.CPUs):
		return invalid("CPUs %q: want a cpuset such as 0 or 0-3,6", t.CPUs)
	case t.Stdout == nil:
		return invalid("Stdout is nil")
	case t.Stderr == nil:
		return invalid("Stderr is nil")
	}
	for i, kv := range t.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return invalid("Env[%d] %q: want KEY=VALUE", i, kv)
		}
	}
	if err := checkDirs("WritableDirs", t.WritableDirs); err != nil {
		return err
	}
	return checkDirs("ReadOnlyDirs", t.ReadOnlyDirs)
}

// checkDirs checks the host directories of a Task field.
func checkDirs(field string, dirs []string) error {
	for i, dir := range dirs {
		if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir || dir == "/" {
			return invalid("%s[%d] %q: want a clean absolute path below /", field, i, dir)
		}
		// runc would fail on a missing source too, but later and as a
		// sandbox error; this is the caller's mistake.
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return invalid("%s[%d] %q: not a directory on the host", field, i, dir)
		}
	}
	return nil
}

// tmpBytes is the size of the task's /tmp.
func (t *Task) tmpBytes() int64 {
	if t.TmpBytes == 0 {
		return DefaultTmpBytes
	}
	return t.TmpBytes
}

func hasPath(env []string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			return true
		}
	}
	return false
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidTask, fmt.Sprintf(format, args...))
}
