package builder

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/builder/cargo"
	"github.com/ejecta-build/ejecta/builder/workspace"
	"github.com/ejecta-build/ejecta/streams"
)

// Shared targets: each slot keeps one cargo target dir per toolchain
// (workspace.SharedTarget) that the first runs of its jobs build in, so a
// dependency built by one job is fresh for the next; cargo's fingerprints
// decide what is. A build script may write anything there, so:
//
//   - a confirmation re-run never uses one: it builds in its job dir's own,
//     empty target, and the reporter re-runs every non-same verdict;
//   - every result says whether its attempt used one (streams.Result);
//   - the target is purged after any attempt that did not end by itself
//     (killed for time, silence, disk or memory, stopped, aborted, the
//     sandbox or log failing: any spurious reason), before a build when it
//     holds more than Config.SharedTargetBytes or cannot be measured whole,
//     when the work dir's disk runs low, and whenever the builder starts
//     (a builder that died left its targets in any state);
//   - the builder never reads a file in it nor follows a link in it: it
//     measures it and removes it, no more (workspace.SharedTarget).

// Purge causes, the label of ejecta_builder_shared_target_purges_total.
const (
	purgeSize         = "size"         // past Config.SharedTargetBytes
	purgeUnmeasurable = "unmeasurable" // too deep or unlistable to measure
	purgeDisk         = "disk"         // the work dir's disk runs low
	purgeAbnormal     = "abnormal"     // the attempt that used it was killed or failed spuriously
	purgeStart        = "start"        // the builder started
)

// lowDiskFactor: below MinFreeDiskBytes times this much free disk, a
// shared target is purged before its next build, before the builder has
// to stop taking jobs at MinFreeDiskBytes.
const lowDiskFactor = 2

// sharedTargets are one slot's shared targets by toolchain. A toolchain
// present with a nil target has none any more: purging it failed, and what
// is left of it must not be built in.
type sharedTargets map[string]*workspace.SharedTarget

// openSharedTarget picks the attempt's target: its slot's shared one for
// the job's toolchain, purged first when over its bound or the disk runs
// low, or none (the job dir's own). It tells the log which.
func (a *attempt) openSharedTarget() {
	b, tc := a.b, a.job.Toolchain
	switch {
	case b.cfg.SharedTargetBytes < 0:
		fmt.Fprintf(a.sys, "target: the job's own, empty (shared targets are off)\n")
		return
	case streams.AttemptRound(a.n) > 0:
		fmt.Fprintf(a.sys, "target: the job's own, empty: a confirmation re-run never reuses a shared target\n")
		return
	case a.job.Mode == streams.ModeUnstableFeatures:
		return // no compiler runs
	}
	targets := b.targets[a.slot]
	st, seen := targets[tc]
	if seen && st == nil {
		fmt.Fprintf(a.sys, "target: the job's own, empty (this slot's shared target could not be purged)\n")
		return
	}
	if st == nil {
		uid := int(b.cfg.buildUser(a.slot))
		dir := filepath.Join(workspace.SharedTargetsDir(b.cfg.WorkDir, b.cfg.ID), workspace.SharedTargetName(a.slot, tc))
		var err error
		if st, err = workspace.OpenSharedTarget(dir, uid, uid); err != nil {
			a.log.Error().Err(err).Msg("cannot open the shared target; building in the job's own")
			fmt.Fprintf(a.sys, "target: the job's own, empty (the shared target could not be made)\n")
			return
		}
		targets[tc] = st
	}
	u := st.Size()
	cause := ""
	switch {
	case u.Partial:
		cause = purgeUnmeasurable
	case u.Bytes > b.cfg.SharedTargetBytes:
		cause = purgeSize
	case b.lowDisk():
		cause = purgeDisk
	}
	if cause != "" {
		a.log.Info().Str("cause", cause).Int64("bytes", u.Bytes).Int64("bound_bytes", b.cfg.SharedTargetBytes).Msg("purging the shared target before the build")
		fmt.Fprintf(a.sys, "shared target purged before the build (%s): %d MiB\n", cause, u.Bytes>>20)
		if !b.purgeTarget(a.slot, tc, cause, a.log) {
			fmt.Fprintf(a.sys, "target: the job's own, empty (the shared target could not be purged)\n")
			return
		}
		u = workspace.Usage{}
	}
	b.met.sharedBytes.WithLabelValues(strconv.Itoa(a.slot), tc).Set(float64(u.Bytes))
	a.shared, a.sharedStart = st, u.Bytes
	fmt.Fprintf(a.sys, "target: slot %d's shared %s target, %d MiB built by earlier jobs; cargo rebuilds what it does not find fresh\n", a.slot, tc, u.Bytes>>20)
}

// sharedGrowth is what the attempt added to its shared target so far,
// counted against its job disk quota as if it were in the job dir.
func (a *attempt) sharedGrowth() int64 {
	if a.shared == nil {
		return 0
	}
	return max(a.shared.Size().Bytes-a.sharedStart, 0)
}

// settleSharedTarget purges the attempt's shared target if the attempt
// did not end by itself: killed (cause is why its context ended), given
// up, or failed for a spurious reason; what it left half-written is not
// for the next job to build on.
func (a *attempt) settleSharedTarget(v cargo.Verdict, cause error, stopping bool) {
	if a.shared == nil {
		return
	}
	if cause == nil && !stopping && !v.Abandoned && !streams.Spurious(v.Reason) {
		return
	}
	a.log.Info().AnErr("cause", cause).Str("reason", string(v.Reason)).Msg("attempt ended abnormally; purging its shared target")
	fmt.Fprintf(a.sys, "shared target purged: the attempt did not end by itself\n")
	a.b.purgeTarget(a.slot, a.job.Toolchain, purgeAbnormal, a.log)
}

// purgeTarget empties slot's shared target for toolchain tc: set aside at
// once, removed in the background (Run waits for it). A target that
// cannot be emptied is not built in again by this builder. It reports
// whether the target is empty.
func (b *Builder) purgeTarget(slot int, tc, cause string, log zerolog.Logger) bool {
	st := b.targets[slot][tc]
	if st == nil {
		return false
	}
	start := time.Now()
	b.met.sharedPurges.WithLabelValues(cause).Inc()
	b.met.sharedBytes.WithLabelValues(strconv.Itoa(slot), tc).Set(0)
	aside, err := st.Discard()
	if aside != "" {
		b.removals.Go(func() {
			if err := workspace.RemoveTree(aside); err != nil {
				log.Error().Err(err).Str("dir", aside).Msg("remove purged shared target")
			}
			b.met.sharedPurgeSeconds.Add(time.Since(start).Seconds())
		})
	}
	if err != nil {
		log.Error().Err(err).Str("dir", st.Dir()).Msg("cannot purge the shared target; this slot builds without one on this toolchain")
		b.targets[slot][tc] = nil
		return false
	}
	return true
}

// purgeSlotTargets purges every shared target of slot, which is idle.
func (b *Builder) purgeSlotTargets(slot int, cause string) {
	for tc, st := range b.targets[slot] {
		if st != nil {
			b.log.Info().Int("slot", slot).Str("toolchain", tc).Str("cause", cause).Msg("purging a shared target")
			b.purgeTarget(slot, tc, cause, b.log)
		}
	}
}

// removeSharedTargets removes every shared target of this builder, at
// start: a builder that died may have left them in any state.
func (b *Builder) removeSharedTargets() error {
	dir := workspace.SharedTargetsDir(b.cfg.WorkDir, b.cfg.ID)
	if _, err := os.Lstat(dir); err != nil {
		return nil // none yet
	}
	if err := workspace.RemoveTree(dir); err != nil {
		return fmt.Errorf("remove shared targets: %w", err)
	}
	b.met.sharedPurges.WithLabelValues(purgeStart).Inc()
	return nil
}

// lowDisk reports whether the work dir's disk has less than
// lowDiskFactor × MinFreeDiskBytes free.
func (b *Builder) lowDisk() bool {
	if b.cfg.MinFreeDiskBytes < 0 {
		return false
	}
	free, err := b.freeDisk(b.cfg.WorkDir)
	return err == nil && free < uint64(b.cfg.MinFreeDiskBytes)*lowDiskFactor
}
