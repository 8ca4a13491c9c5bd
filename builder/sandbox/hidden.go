package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// DefaultHidden are host paths no build sees on the host root, whatever
// the configuration adds: where ejecta's own credentials and state live
// (`ejecta auth init` writes to /etc/ejecta), home directories, TLS keys,
// and the state of containerd and a NATS server that may share the host.
// Builds run as an unprivileged user, so files only root may read are
// out of reach anyway; hiding also covers what is readable by all.
var DefaultHidden = []string{
	"/etc/ejecta",
	"/var/lib/ejecta",
	"/root",
	"/home",
	"/etc/ssl/private",
	"/var/lib/containerd",
	"/var/lib/nats",
}

// hiddenPath is one host path a task must not see.
type hiddenPath struct {
	path string
	file bool // covered by /dev/null; a directory by an empty one
	// open: others may read the file, or list or pass through the
	// directory. A closed one needs no cover unless a task's own dir is
	// bound below it: the task's user is nobody on the host.
	open bool
}

// hiddenPaths resolves DefaultHidden and extra (absolute, cleaned; Config
// checks them) into what to cover. A path that does not exist on the host
// has nothing to hide; one below a hidden directory, or below a directory
// the task has its own of (/tmp, ...), is hidden already. It is worked
// out for every task: a work dir or a credentials file may appear after
// New. The host's paths are looked at below hostRoot (Config.HostRoot).
func hiddenPaths(hostRoot string, extra []string) []hiddenPath {
	all := slices.Concat(DefaultHidden, extra)
	slices.Sort(all) // a parent sorts before its children
	var out []hiddenPath
	for _, p := range slices.Compact(all) {
		if ownedByTask(p) || slices.ContainsFunc(out, func(h hiddenPath) bool { return !h.file && within(p, h.path) }) {
			continue
		}
		fi, err := os.Stat(filepath.Join(hostRoot, p))
		if err != nil {
			continue
		}
		out = append(out, hiddenPath{path: p, file: !fi.IsDir(), open: fi.Mode().Perm()&0o005 != 0})
	}
	return out
}

// A cover hides one host path from a task: a file behind /dev/null, a
// directory behind a read-only bind of an empty directory that holds only
// the mount points of the task's own dirs below it (a toolchain in a
// hidden /root, a job dir in the hidden work dir), made for the task.
// Not a tmpfs: runc gives a tmpfs the mode of the directory it covers, so
// a hidden /root (mode 0700) would keep the task out of the toolchain
// bound below it.
type cover struct {
	path   string
	source string // the empty directory, or "/dev/null"
}

// makeCovers makes, under dir, the cover of each hidden path of a task
// whose own dirs (bound later) are binds. dir is removed with the task.
func makeCovers(dir string, hidden []hiddenPath, binds []string) ([]cover, error) {
	out := make([]cover, 0, len(hidden))
	for i, h := range hidden {
		if !h.open && !slices.ContainsFunc(binds, func(b string) bool { return within(b, h.path) }) {
			continue // nothing to see, nothing to reach through it
		}
		if h.file {
			out = append(out, cover{path: h.path, source: "/dev/null"})
			continue
		}
		src := filepath.Join(dir, strconv.Itoa(i))
		if err := mkdirSearchable(src, "."); err != nil {
			return nil, fmt.Errorf("cover %s: %w", h.path, err)
		}
		for _, b := range binds {
			if b == h.path || !within(b, h.path) {
				continue
			}
			rel, err := filepath.Rel(h.path, b)
			if err != nil {
				return nil, fmt.Errorf("cover %s: %w", h.path, err)
			}
			if err := mkdirSearchable(src, rel); err != nil {
				return nil, fmt.Errorf("cover %s: %w", h.path, err)
			}
		}
		out = append(out, cover{path: h.path, source: src})
	}
	return out, nil
}

// mkdirSearchable makes root/rel and the directories between them with
// mode 0755, whatever the umask: the task's user must pass through.
func mkdirSearchable(root, rel string) error {
	if err := os.MkdirAll(filepath.Join(root, rel), 0o755); err != nil {
		return err
	}
	for p := rel; ; p = filepath.Dir(p) {
		if err := os.Chmod(filepath.Join(root, p), 0o755); err != nil {
			return err
		}
		if p == "." {
			return nil
		}
	}
}

// unsearchable returns, for each of dirs, its topmost ancestor that the
// task's user may not search (no execute bit for others; the builder's
// directories belong to root), if it has one. A bound dir below such an
// ancestor could not be reached, so the ancestor is covered like a hidden
// path: the user could not have read it anyway, and the tmpfs over it
// lets runc make the mount points of the binds below. "/" is never one.
// The host's directories are looked at below hostRoot.
func unsearchable(hostRoot string, dirs []string) []string {
	var out []string
	for _, d := range dirs {
		// Walk down from the top so the topmost blocker is found first.
		parts := strings.Split(strings.TrimPrefix(d, "/"), "/")
		p := ""
		for _, part := range parts[:len(parts)-1] {
			p += "/" + part
			fi, err := os.Stat(filepath.Join(hostRoot, p))
			if err == nil && fi.Mode().Perm()&0o001 == 0 {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// taskMounts are the directories a task has its own of, which hide the
// host's: its /tmp, /run, /dev, /proc and /sys.
var taskMounts = []string{"/tmp", "/run", "/dev", "/proc", "/sys"}

// ownedByTask reports whether a host path is out of a task's sight anyway,
// below a directory the task has its own of. Covering it would be undone
// by that mount, and runc would fail to make the cover read-only.
func ownedByTask(path string) bool {
	return slices.ContainsFunc(taskMounts, func(m string) bool { return within(path, m) })
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// checkHidden validates Config.Hide.
func checkHidden(paths []string) error {
	for i, p := range paths {
		if !filepath.IsAbs(p) || filepath.Clean(p) != p || p == "/" {
			return fmt.Errorf("sandbox: Config.Hide[%d] %q: want a clean absolute path below /", i, p)
		}
	}
	return nil
}
