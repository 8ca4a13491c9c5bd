package measure

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// CPUGroup is a cgroup of its own that processes are put in to measure
// the CPU time they and every process they start use, wherever those are
// reparented to: containerd's shims daemonize, and runc runs as the
// shims' child. A process another cgroup claims (a container's, which
// runc moves its processes to) is counted there instead.
type CPUGroup struct {
	path   string // relative to the hierarchy's root, for CgroupCPU
	dir    string // the group's directory
	parent string // where Close moves what is left
}

// NewCPUGroup makes the cgroup /name in the CPU accounting hierarchy:
// cgroup v2's unified one where the machine has no v1 cpuacct, else v1's.
func NewCPUGroup(name string) (*CPUGroup, error) {
	for _, root := range []string{"/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup"} {
		if root == "/sys/fs/cgroup" {
			if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err != nil {
				continue // not a unified hierarchy
			}
		} else if _, err := os.Stat(filepath.Join(root, "cpuacct.usage")); err != nil {
			continue
		}
		dir := filepath.Join(root, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, fmt.Errorf("cgroup for CPU accounting: %w", err)
		}
		return &CPUGroup{path: "/" + name, dir: dir, parent: root}, nil
	}
	return nil, errors.New("cgroup for CPU accounting: no cpuacct or unified hierarchy under /sys/fs/cgroup")
}

// Add moves the process pid into the group; the processes it starts from
// then on are born in it.
func (g *CPUGroup) Add(pid int) error {
	return writeProcs(g.dir, pid)
}

// Used is the CPU time the group's processes have used so far.
func (g *CPUGroup) Used() (time.Duration, error) { return CgroupCPU(g.path) }

// Close moves what still runs in the group to the hierarchy's root and
// removes the group.
func (g *CPUGroup) Close() error {
	data, err := os.ReadFile(filepath.Join(g.dir, "cgroup.procs"))
	if err != nil {
		return fmt.Errorf("close CPU group: %w", err)
	}
	for f := range strings.FieldsSeq(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil {
			// A process may have exited since: nothing to move.
			_ = writeProcs(g.parent, pid)
		}
	}
	if err := os.Remove(g.dir); err != nil {
		return fmt.Errorf("close CPU group: %w", err)
	}
	return nil
}

func writeProcs(dir string, pid int) error {
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("move process %d to cgroup %s: %w", pid, dir, err)
	}
	return nil
}
