package workspace

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// Stock holds the builder's own files that many job dirs have alike: the
// wrapper's empty library, its cargo config for a directory source. Each is
// written once, and New links it into a job dir rather than writing it
// anew: a new file is a new inode, on some disks the dearest call the
// builder makes per job (BENCHMARKS.md, "The no-op job row"), and a link
// is none. A stock file is the builder's and read-only, as the file New
// would write is: a build can read it through its link, not change it,
// nor unlink it from a package dir that is the builder's. The stock dir
// itself is in the work dir, hidden from builds.
type Stock struct {
	dir *os.File

	mu   sync.Mutex
	made map[string]bool // names of the files written so far
}

// StockDir is where builder id keeps its stock.
func StockDir(workDir, id string) string {
	return filepath.Join(workDir, "stock-"+id)
}

// NewStock makes dir, empty, as the stock: what a builder before left
// there is removed, not trusted.
func NewStock(dir string) (*Stock, error) {
	if err := RemoveTree(dir); err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("make stock dir: %w", err)
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open stock dir: %w", err)
	}
	return &Stock{dir: f, made: map[string]bool{}}, nil
}

// Close releases the stock dir's handle.
func (s *Stock) Close() error { return s.dir.Close() }

// file returns the name of the stock file holding text, writing it the
// first time.
func (s *Stock) file(text string) (string, error) {
	sum := sha256.Sum256([]byte(text))
	name := hex.EncodeToString(sum[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.made[name] {
		return name, nil
	}
	fd, err := unix.Openat(int(s.dir.Fd()), name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return "", err
	}
	f := os.NewFile(uintptr(fd), name)
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", errors.Join(err, unix.Unlinkat(int(s.dir.Fd()), name, 0))
	}
	s.made[name] = true
	return name, nil
}

// link makes rel, in the job dir root, a link to the stock file holding
// text. The directory rel goes in is opened through root, so the link
// lands in the job dir whatever is there.
func (s *Stock) link(root *os.Root, rel, text string) error {
	name, err := s.file(text)
	if err != nil {
		return err
	}
	dir, err := root.Open(filepath.Dir(rel))
	if err != nil {
		return err
	}
	defer dir.Close()
	// Flags 0: the stock file itself is linked, never followed.
	if err := unix.Linkat(int(s.dir.Fd()), name, int(dir.Fd()), filepath.Base(rel), 0); err != nil {
		return &fs.PathError{Op: "link", Path: rel, Err: err}
	}
	return nil
}
