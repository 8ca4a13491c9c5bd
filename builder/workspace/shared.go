package workspace

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/ejecta-build/ejecta/streams"
)

// SharedTarget is one builder slot's cargo target dir for one toolchain,
// kept from job to job so that common dependencies are built once; cargo's
// fingerprints tell what is still fresh. It lives outside every job dir,
// under the builder's own SharedTargetsDir:
//
//	<work dir>/targets-<builder id>/<slot>-<toolchain>
//
// # Hostile contents
//
// Every build of the slot on that toolchain writes into it as the slot's
// user, build scripts included, so the builder treats what is below it as
// a job dir after crate code ran: it never reads a file there and never
// follows a link there. It only measures the tree (Size: fstatat relative
// to directory descriptors opened with O_NOFOLLOW, nothing resolved by
// path) and removes it (Purge, RemoveTree). The dir itself and its parent
// are the builder's (root's), so no build can replace them with a link.
type SharedTarget struct {
	dir      string
	uid, gid int
}

// SharedTargetsDir is where builder id keeps its slots' shared targets.
func SharedTargetsDir(workDir, id string) string {
	return filepath.Join(workDir, "targets-"+id)
}

// SharedTargetName is the name of slot's shared target for toolchain tc.
// A toolchain name is a safe file name already (streams.ValidateToolchain);
// a toolchain directory is named by a hash of its path.
func SharedTargetName(slot int, tc string) string {
	if streams.IsToolchainPath(tc) {
		h := sha256.Sum256([]byte(tc))
		tc = "path-" + hex.EncodeToString(h[:8])
	}
	return strconv.Itoa(slot) + "-" + tc
}

// OpenSharedTarget returns the shared target at dir (made by the builder
// under SharedTargetsDir), creating it, owned by the build user uid:gid,
// if it is missing. Anything else found there (not a directory, another
// owner) is removed and replaced by an empty one.
func OpenSharedTarget(dir string, uid, gid int) (*SharedTarget, error) {
	t := &SharedTarget{dir: dir, uid: uid, gid: gid}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("shared target: %w", err)
	}
	var st unix.Stat_t
	err := unix.Lstat(dir, &st)
	switch {
	case err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR && int(st.Uid) == uid && int(st.Gid) == gid:
		return t, nil
	case err == nil:
		if err := RemoveTree(dir); err != nil {
			return nil, fmt.Errorf("shared target: replace %s: %w", dir, err)
		}
	case !errors.Is(err, unix.ENOENT):
		return nil, fmt.Errorf("shared target: %w", err)
	}
	if err := t.create(); err != nil {
		return nil, err
	}
	return t, nil
}

// Dir is the shared target's path, CARGO_TARGET_DIR of the builds that
// use it.
func (t *SharedTarget) Dir() string { return t.dir }

// create makes the empty dir, owned by the build user.
func (t *SharedTarget) create() error {
	if err := os.Mkdir(t.dir, 0o755); err != nil {
		return fmt.Errorf("shared target: %w", err)
	}
	if err := os.Lchown(t.dir, t.uid, t.gid); err != nil {
		return fmt.Errorf("shared target: %w", err)
	}
	return nil
}

// Purge empties the shared target: removed whole (RemoveTree follows no
// link), then made again, empty.
func (t *SharedTarget) Purge() error {
	aside, err := t.Discard()
	if aside != "" {
		if rerr := RemoveTree(aside); rerr != nil && err == nil {
			err = fmt.Errorf("purge shared target: %w", rerr)
		}
	}
	return err
}

// Discard empties the shared target at once: the tree is renamed aside,
// within its parent (which builds cannot see), and an empty dir made in its
// place. aside is the tree to remove (RemoveTree), "" if there was none;
// removing thousands of files is left to the caller, so that a slot need
// not wait for it.
func (t *SharedTarget) Discard() (aside string, err error) {
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("purge shared target: %w", err)
	}
	aside = filepath.Join(filepath.Dir(t.dir), discardedPrefix+filepath.Base(t.dir)+"-"+hex.EncodeToString(r[:]))
	switch err := os.Rename(t.dir, aside); {
	case errors.Is(err, os.ErrNotExist):
		aside = ""
	case err != nil:
		return "", fmt.Errorf("purge shared target: %w", err)
	}
	return aside, t.create()
}

// discardedPrefix names the trees Discard set aside.
const discardedPrefix = ".purged-"

// Usage is what Size found.
type Usage struct {
	// Bytes is the disk space the tree takes (allocated blocks, every
	// link of a hard-linked file counted, no symlink's target).
	Bytes int64
	// Partial says some of the tree was not measured: deeper than
	// maxQuotaDepth, or a directory that could not be opened or listed.
	// What a build hid from the measure, the builder purges.
	Partial bool
}

// Size measures the shared target without following any link and without
// reading any file: each directory is opened relative to its parent's
// descriptor with O_NOFOLLOW, each entry stat'ed with fstatat and
// AT_SYMLINK_NOFOLLOW.
func (t *SharedTarget) Size() Usage {
	fd, err := unix.Open(t.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return Usage{Partial: true}
	}
	var u Usage
	sizeAt(fd, 0, &u)
	unix.Close(fd)
	return u
}

// sizeAt adds what the directory open as fd holds to u; it leaves fd open.
func sizeAt(fd, depth int, u *Usage) {
	if depth > maxQuotaDepth {
		u.Partial = true
		return
	}
	ents, err := readDirFD(fd)
	if err != nil {
		u.Partial = true
	}
	for _, e := range ents {
		var st unix.Stat_t
		if err := unix.Fstatat(fd, e.Name(), &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			continue // gone meanwhile
		}
		u.Bytes += st.Blocks * 512
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue
		}
		sub, err := unix.Openat(fd, e.Name(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			u.Partial = true
			continue
		}
		sizeAt(sub, depth+1, u)
		unix.Close(sub)
	}
}
