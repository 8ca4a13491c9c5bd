package sandbox

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// A builder in a container sees the host's root at Config.HostRoot: which
// host paths exist, and which the task's user cannot pass through, are
// read there, not in the builder's own root (an image that has no /home
// and whose /root the runtime made for a mount).
func TestHiddenPathsBelowHostRoot(t *testing.T) {
	host := t.TempDir()
	for dir, mode := range map[string]os.FileMode{
		"home/someone": 0o755, "etc/ejecta/nats": 0o755, "root/.rustup": 0o755, "srv/site-secrets": 0o755,
	} {
		if err := os.MkdirAll(filepath.Join(host, dir), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(host, "root"), 0o700); err != nil {
		t.Fatal(err)
	}

	var got []string
	for _, h := range hiddenPaths(host, []string{"/srv/site-secrets", "/srv/not-there"}) {
		got = append(got, h.path)
	}
	if want := []string{"/etc/ejecta", "/home", "/root", "/srv/site-secrets"}; !slices.Equal(got, want) {
		t.Errorf("hidden below the host root %v, want %v (what exists there, nothing else)", got, want)
	}
	if got := unsearchable(host, []string{"/root/.rustup", "/home/someone"}); !slices.Equal(got, []string{"/root"}) {
		t.Errorf("unsearchable below the host root %v, want [/root]", got)
	}
}
