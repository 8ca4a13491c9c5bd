package builder

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/ejecta-build/ejecta/backoff"
)

// diskCheckEvery is how often a builder short of disk looks again.
const diskCheckEvery = 5 * time.Second

// freeDisk is the space an unprivileged writer could still use on dir's
// file system.
func freeDisk(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// waitForDisk returns once WorkDir's disk has MinFreeDiskBytes free, or
// with ctx's error. Meanwhile the builder takes no new jobs and its
// heartbeat says why: a full disk would fail every build as "no-space"
// (crater #700, #762), which is worse than building nothing. The waiting
// slot's shared targets are purged first: they are the space the builder
// can give back.
func (b *Builder) waitForDisk(ctx context.Context, slot int) error {
	if b.cfg.MinFreeDiskBytes < 0 {
		return nil
	}
	warned := false
	for {
		free, err := freeDisk(b.cfg.WorkDir)
		if err != nil || free >= uint64(b.cfg.MinFreeDiskBytes) {
			// A disk we cannot measure is not a reason to stop building.
			b.setPaused("")
			if warned {
				b.log.Info().Uint64("free_bytes", free).Msg("enough free disk again; taking jobs")
			}
			return nil
		}
		why := fmt.Sprintf("low disk: %d MiB free in %s, want %d MiB", free>>20, b.cfg.WorkDir, b.cfg.MinFreeDiskBytes>>20)
		b.setPaused(why)
		if !warned {
			b.purgeSlotTargets(slot, purgeDisk)
			b.log.Warn().Uint64("free_bytes", free).Int64("min_free_bytes", b.cfg.MinFreeDiskBytes).Msg("low disk: taking no new jobs")
			warned = true
		}
		if err := backoff.Sleep(ctx, diskCheckEvery); err != nil {
			return err
		}
	}
}
