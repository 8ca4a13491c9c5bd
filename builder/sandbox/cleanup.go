package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/errdefs"
)

// Cleanup removes what a crashed builder left behind: every container in
// the namespace whose ID starts with idPrefix, with its task (killed if
// still running) and its FIFO directory. An empty prefix means all of them,
// so call it before any Run of this process has started. Removal goes on
// past failures; the error joins them all.
func (c *Containerd) Cleanup(ctx context.Context, idPrefix string) error {
	ctx = namespaces.WithNamespace(ctx, c.namespace)
	ctrs, err := c.client.Containers(ctx)
	if err != nil {
		return fmt.Errorf("sandbox: cleanup %q: list containers: %w", idPrefix, err)
	}
	var errs []error
	for _, ctr := range ctrs {
		if !strings.HasPrefix(ctr.ID(), idPrefix) {
			continue
		}
		if err := removeContainer(ctx, ctr); err != nil {
			errs = append(errs, fmt.Errorf("sandbox: cleanup %s: %w", ctr.ID(), err))
		}
	}
	// FIFO directories can outlive their container: the builder may have
	// died between deleting one and removing the other.
	entries, err := os.ReadDir(c.fifoDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("sandbox: cleanup %q: %w", idPrefix, err))
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), idPrefix) {
			if err := os.RemoveAll(filepath.Join(c.fifoDir, e.Name())); err != nil {
				errs = append(errs, fmt.Errorf("sandbox: cleanup %s: %w", e.Name(), err))
			}
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
