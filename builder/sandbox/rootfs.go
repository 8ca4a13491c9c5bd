package sandbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/errdefs"
)

// rootfsSource is a parsed Config.Rootfs.
type rootfsSource struct {
	image string // "" for the host root; else a tarball path or an image reference
	file  bool   // image is a tarball on the host
}

// parseRootfs reads Config.Rootfs: "" or "host", or "image:PATH_OR_REF".
// An argument naming an existing file is a tarball; anything else must be
// an image already in containerd, which loadImage checks.
func parseRootfs(s string) (rootfsSource, error) {
	if s == "" || s == "host" {
		return rootfsSource{}, nil
	}
	arg, ok := strings.CutPrefix(s, "image:")
	if !ok || arg == "" {
		return rootfsSource{}, fmt.Errorf("sandbox: Config.Rootfs %q: want \"host\" or \"image:PATH_OR_REF\"", s)
	}
	fi, err := os.Stat(arg)
	switch {
	case err == nil && fi.Mode().IsRegular():
		abs, err := filepath.Abs(arg)
		if err != nil {
			return rootfsSource{}, fmt.Errorf("sandbox: Config.Rootfs %q: %w", s, err)
		}
		return rootfsSource{image: abs, file: true}, nil
	case err == nil:
		return rootfsSource{}, fmt.Errorf("sandbox: Config.Rootfs %q: %s is not a regular file (want an image tarball or a reference)", s, arg)
	case filepath.IsAbs(arg) || strings.HasPrefix(arg, "."):
		// Meant as a path: a missing file is a mistake, not a reference.
		return rootfsSource{}, fmt.Errorf("sandbox: Config.Rootfs %q: image tarball: %w", s, err)
	}
	return rootfsSource{image: arg}, nil
}

// String says what tasks see as "/", for the line every build log starts
// with: which root the build had is part of what it ran on.
func (s rootfsSource) String() string {
	switch {
	case s.image == "":
		return "host root read-only"
	case s.file:
		return "image tarball " + s.image + " as root, read-only"
	}
	return "image " + s.image + " as root, read-only"
}

// Rootfs says what tasks see as "/": the host's root or which image, and
// that it is read-only.
func (c *Containerd) Rootfs() string { return c.rootfs.String() }

// importedName is the image record a tarball is imported as: one per path,
// so importing a changed file again replaces what the name points to.
func importedName(path string) string { return "import:" + path }

// loadImage imports the tarball (or looks up the reference) and unpacks
// the image into c's snapshotter for the host's platform, so that every
// task's root is a cheap snapshot on top of it. It runs once, at New.
func (c *Containerd) loadImage(ctx context.Context, src rootfsSource) (containerd.Image, error) {
	ctx = namespaces.WithNamespace(ctx, c.namespace)
	name := src.image
	if src.file {
		name = importedName(src.image)
		f, err := os.Open(src.image)
		if err != nil {
			return nil, fmt.Errorf("open image tarball: %w", err)
		}
		defer f.Close()
		// The index itself is named: it resolves to the host's platform at
		// unpack, for OCI layouts and `docker save` archives alike.
		if _, err := c.client.Import(ctx, f, containerd.WithIndexName(name)); err != nil {
			return nil, fmt.Errorf("import image tarball %s: %w", src.image, err)
		}
	}
	img, err := c.client.GetImage(ctx, name)
	if errdefs.IsNotFound(err) {
		return nil, fmt.Errorf("image %q: not in containerd namespace %s and not a file", name, c.namespace)
	}
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", name, err)
	}
	unpacked, err := img.IsUnpacked(ctx, c.snapshotter)
	if err != nil {
		return nil, fmt.Errorf("image %q: check unpacked: %w", name, err)
	}
	if !unpacked {
		if err := img.Unpack(ctx, c.snapshotter); err != nil {
			return nil, fmt.Errorf("image %q: unpack with snapshotter %s: %w", name, c.snapshotter, err)
		}
	}
	return img, nil
}
