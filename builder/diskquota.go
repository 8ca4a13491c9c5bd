package builder

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// errDiskQuota is the cause of an attempt ended because its job dir grew
// past Config.JobDiskBytes: the build is killed before it fills a disk
// other builds share, and fails for want of space (no-space).
var errDiskQuota = errors.New("job dir over its disk quota")

// diskQuotaEvery is how often a running attempt's job dir is measured.
const diskQuotaEvery = 5 * time.Second

// maxQuotaDepth bounds how deep the measure goes: a real target dir is a
// dozen levels, a hostile one may be a million.
const maxQuotaDepth = 64

// watchDisk measures the job dir every period until stop is called, and
// calls over once with what it holds when that passes max bytes. It reads
// the dir only through root, following no link out of it.
func watchDisk(ctx context.Context, root *os.Root, max int64, period time.Duration, over func(used int64)) (stop func()) {
	return poll(ctx, period, func(time.Time) bool {
		used := diskUsed(root, 0)
		if used <= max {
			return false
		}
		over(used)
		return true
	})
}

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

// watchQuota starts the job dir's disk quota, ending the attempt (kill)
// when it is passed; a negative Config.JobDiskBytes turns it off.
func (a *attempt) watchQuota(ctx context.Context) (stop func()) {
	limit := a.b.cfg.JobDiskBytes
	if limit < 0 {
		return func() {}
	}
	return watchDisk(ctx, a.ws.root, limit, a.b.diskQuotaEvery, func(used int64) {
		a.log.Warn().Int64("used_bytes", used).Int64("quota_bytes", limit).Msg("job dir over its disk quota; stopping the build")
		fmt.Fprintf(a.sys, "the job dir holds %d MiB, past its %d MiB disk quota; the build was killed\n", used>>20, limit>>20)
		a.kill(errDiskQuota)
	})
}
