package workspace

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// RemoveTree removes dir and everything below it, a job dir a build
// shaped as it liked. os.RemoveAll does it in the common case, but it
// holds a file open per level: a build can make a tree deeper than the
// builder may open files, and the dir would stay for ever. Then the tree
// is taken apart from the top with two files open at a time: each level
// is emptied by moving its subdirectories up into dir, so the depth goes
// down by one a round. No link is followed, and nothing writes to the
// tree any more (its build is over).
func RemoveTree(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	return takeApart(dir)
}

// takeApart is RemoveTree's way for trees of any depth.
func takeApart(dir string) error {
	hoisted := 0
	for {
		top, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("remove %s: %w", dir, err)
		}
		ents, err := readDirFD(top)
		if err == nil && len(ents) == 0 {
			unix.Close(top)
			return os.Remove(dir)
		}
		for _, e := range ents {
			if err != nil {
				break
			}
			if !e.IsDir() {
				err = unix.Unlinkat(top, e.Name(), 0)
				continue
			}
			err = emptyInto(top, e.Name(), &hoisted)
			if err == nil {
				err = unix.Unlinkat(top, e.Name(), unix.AT_REMOVEDIR)
			}
		}
		unix.Close(top)
		if err != nil {
			return fmt.Errorf("remove %s: %w", dir, err)
		}
	}
}

// emptyInto empties the directory name of top: its files are removed, its
// subdirectories moved up into top under new names.
func emptyInto(top int, name string, hoisted *int) error {
	fd, err := unix.Openat(top, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ents, err := readDirFD(fd)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.IsDir() {
			if err := unix.Unlinkat(fd, e.Name(), 0); err != nil {
				return err
			}
			continue
		}
		for {
			*hoisted++
			err := unix.Renameat2(fd, e.Name(), top, fmt.Sprintf(".removing-%d", *hoisted), unix.RENAME_NOREPLACE)
			if !errors.Is(err, unix.EEXIST) {
				if err != nil {
					return err
				}
				break
			}
		}
	}
	return nil
}

// readDirFD lists the directory open as fd, which it leaves open.
func readDirFD(fd int) ([]os.DirEntry, error) {
	dup, err := unix.Dup(fd)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dup), "dir")
	defer f.Close()
	return f.ReadDir(-1)
}
