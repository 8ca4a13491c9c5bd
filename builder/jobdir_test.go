package builder

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sys/unix"

	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/streams"
)

// A job dir left by a crashed builder that cannot be removed (here: made
// immutable) does not keep the builder from starting; the others go.
func TestStartWithUnremovableJobDir(t *testing.T) {
	work := t.TempDir()
	stuck := filepath.Join(work, "fake-0-3-0123abcd")
	gone := filepath.Join(work, "fake-0-4-0123abcd")
	for _, d := range []string{stuck, gone} {
		if err := os.MkdirAll(filepath.Join(d, "target"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := setImmutable(filepath.Join(stuck, "target"), true); err != nil {
		t.Skipf("cannot make a directory immutable here: %v", err)
	}
	t.Cleanup(func() { setImmutable(filepath.Join(stuck, "target"), false) })

	r := &fakeRunner{step: func(context.Context, string, sandbox.Task) (sandbox.Exit, error) { return sandbox.Exit{}, nil }}
	job := fakeJob("after", streams.ModeCheckOnly)
	res, _ := runFake(t, r, Config{WorkDir: work}, 1, func(js jetstream.JetStream) { publishJob(t, js, job) })
	if res[0].Crate != "after" || res[0].Status != streams.StatusTestPass {
		t.Errorf("result %+v: the builder did not work after failing to remove a leftover job dir", res[0])
	}
	if _, err := os.Stat(gone); !os.IsNotExist(err) {
		t.Errorf("the removable leftover job dir is still there: %v", err)
	}
	if _, err := os.Stat(stuck); err != nil && !strings.Contains(err.Error(), "no such") {
		t.Errorf("stat %s: %v", stuck, err)
	}
}

// setImmutable sets or clears a directory's immutable flag (chattr +i).
func setImmutable(dir string, on bool) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err != nil {
		return err
	}
	if on {
		flags |= fsImmutable
	} else {
		flags &^= fsImmutable
	}
	return unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags))
}

// fsImmutable is the kernel's FS_IMMUTABLE_FL (linux/fs.h).
const fsImmutable = 0x00000010
