package sandbox

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// Rootfs is what a build log's sandbox line says about "/": the host's
// root, an image tarball, or an image by reference (here the name the
// tarball was imported as), each read-only.
func TestRootfsDescription(t *testing.T) {
	if testing.Short() {
		t.Skip("imports an image into containerd")
	}
	img, tarball := newImageEnv(t)
	host := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	byRef, err := New(ctx, Config{Address: img.address, Namespace: img.cfg.Namespace,
		FIFODir: filepath.Join(t.TempDir(), "fifo"), Rootfs: "image:" + importedName(tarball)})
	if err != nil {
		t.Fatal(err)
	}
	defer byRef.Close()
	for _, tt := range []struct {
		name string
		sb   *Containerd
		want string
	}{
		{"host", host.sb, "host root read-only"},
		{"tarball", img.sb, "image tarball " + tarball + " as root, read-only"},
		{"reference", byRef, "image import:" + tarball + " as root, read-only"},
	} {
		if got := tt.sb.Rootfs(); got != tt.want {
			t.Errorf("%s: Rootfs() = %q, want %q", tt.name, got, tt.want)
		}
	}
}
