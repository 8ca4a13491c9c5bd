package builder

import (
	"context"
	"fmt"
	"time"

	"github.com/ejecta-build/ejecta/builder/cargo"
)

// diskQuotaEvery is how often a running attempt's job dir is measured.
const diskQuotaEvery = 5 * time.Second

// watchQuota measures the job dir every Builder.diskQuotaEvery
// (workspace's DiskUsed), with what the attempt added to its shared target
// if it has one, and ends the attempt (kill) once they hold more than
// Config.JobDiskBytes, with cargo.ErrDiskQuota: the build is killed
// before it fills a disk other builds share, and fails for want of space
// (no-space). A negative JobDiskBytes turns it off.
func (a *attempt) watchQuota(ctx context.Context) (stop func()) {
	limit := a.b.cfg.JobDiskBytes
	if limit < 0 {
		return func() {}
	}
	return poll(ctx, a.b.diskQuotaEvery, func(time.Time) bool {
		used := a.ws.DiskUsed() + a.sharedGrowth()
		if used <= limit {
			return false
		}
		a.log.Warn().Int64("used_bytes", used).Int64("quota_bytes", limit).Msg("job dir over its disk quota; stopping the build")
		fmt.Fprintf(a.sys, "the job dir holds %d MiB, past its %d MiB disk quota; the build was killed\n", used>>20, limit>>20)
		a.kill(cargo.ErrDiskQuota)
		return true
	})
}
