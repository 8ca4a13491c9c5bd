package workspace

import (
	"io/fs"
	"os"
	"syscall"
)

// maxQuotaDepth bounds how deep the measure goes: a real target dir is a
// dozen levels, a hostile one may be a million.
const maxQuotaDepth = 64

// DiskUsed is the disk space the job dir takes, measured through its
// root, following no link out of it. It is the one look into a job dir
// the builder takes after crate code ran in it: it lists and stats, and
// reads nothing a build wrote.
func (w *Workspace) DiskUsed() int64 { return diskUsed(w.root, 0) }

// diskUsed adds up the disk space the files under root take (allocated
// blocks: a sparse file takes what it holds), counting every link of a
// hard-linked file and no symlink's target. What it cannot read it skips:
// the figure is for a limit, and a build that hides its files from it
// hides them from nothing else.
func diskUsed(root *os.Root, depth int) int64 {
	if depth > maxQuotaDepth {
		return 0
	}
	dir, err := root.Open(".")
	if err != nil {
		return 0
	}
	ents, _ := dir.ReadDir(-1)
	dir.Close()
	var used int64
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			continue
		}
		used += allocated(fi)
		if e.Type()&fs.ModeType != fs.ModeDir {
			continue
		}
		if sub, err := root.OpenRoot(e.Name()); err == nil {
			used += diskUsed(sub, depth+1)
			sub.Close()
		}
	}
	return used
}

// allocated is the disk space fi's file takes.
func allocated(fi fs.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}
