package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/snapshots"
	"github.com/containerd/errdefs"
)

// Cleanup removes what a crashed builder left behind: every container in
// the namespace whose ID owns accepts, with its task (killed if still
// running), its snapshot and its FIFO directory, and, with an image root,
// any snapshot of such an ID that outlived its container. owns decides by
// the caller's whole ID scheme, not by a prefix: builder "b1" must not
// take the tasks of builder "b1-x". A nil owns means all of them, so call
// it before any Run of this process has started. Removal goes on past
// failures; the error joins them all.
func (c *Containerd) Cleanup(ctx context.Context, owns func(id string) bool) error {
	if owns == nil {
		owns = func(string) bool { return true }
	}
	ctx = namespaces.WithNamespace(ctx, c.namespace)
	ctrs, err := c.client.Containers(ctx)
	if err != nil {
		return fmt.Errorf("sandbox: cleanup: list containers: %w", err)
	}
	var errs []error
	for _, ctr := range ctrs {
		if !owns(ctr.ID()) {
			continue
		}
		if err := removeContainer(ctx, ctr); err != nil {
			errs = append(errs, fmt.Errorf("sandbox: cleanup %s: %w", ctr.ID(), err))
		}
	}
	if c.image != nil {
		errs = append(errs, c.removeSnapshots(ctx, owns))
	}
	// FIFO directories can outlive their container: the builder may have
	// died between deleting one and removing the other.
	entries, err := os.ReadDir(c.fifoDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("sandbox: cleanup: %w", err))
	}
	for _, e := range entries {
		if owns(e.Name()) {
			if err := os.RemoveAll(filepath.Join(c.fifoDir, e.Name())); err != nil {
				errs = append(errs, fmt.Errorf("sandbox: cleanup %s: %w", e.Name(), err))
			}
		}
	}
	return errors.Join(errs...)
}

// removeSnapshots removes the task snapshots owns accepts that no
// container holds any more: a builder that died while creating a container
// leaves its snapshot under a lease that lasts a day. The image's own
// layers are committed snapshots named by digest, never a task ID.
func (c *Containerd) removeSnapshots(ctx context.Context, owns func(string) bool) error {
	sn := c.client.SnapshotService(c.snapshotter)
	var keys []string
	err := sn.Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		if info.Kind != snapshots.KindCommitted && owns(info.Name) {
			keys = append(keys, info.Name)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sandbox: cleanup: list snapshots of %s: %w", c.snapshotter, err)
	}
	var errs []error
	for _, k := range keys {
		if err := sn.Remove(ctx, k); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("sandbox: cleanup: remove snapshot %s: %w", k, err))
		}
	}
	return errors.Join(errs...)
}

// removeContainer kills and deletes the container's task, if it has one,
// then the container.
func removeContainer(ctx context.Context, ctr containerd.Container) error {
	// nil attach: the FIFOs' reader (the crashed builder) is gone, and
	// nobody wants the output now.
	task, err := ctr.Task(ctx, nil)
	switch {
	case errdefs.IsNotFound(err):
	case err != nil && !isGone(err):
		return fmt.Errorf("load task: %w", err)
	case err == nil:
		if err := deleteTask(ctx, task); err != nil {
			return err
		}
	}
	return deleteContainer(ctx, ctr)
}
