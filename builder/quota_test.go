package builder

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/streams"
)

// A build that fills its job dir past the quota is killed and fails for
// want of space; the log says why.
func TestJobDiskQuota(t *testing.T) {
	fill := func(ctx context.Context, task sandbox.Task) (sandbox.Exit, error) {
		// In the job dir proper: a first run's job dir has no target of
		// its own (it builds in its slot's shared one).
		f, err := os.Create(filepath.Join(task.WritableDirs[0], "home", "fill"))
		if err != nil {
			return sandbox.Exit{}, err
		}
		defer f.Close()
		chunk := make([]byte, 1<<20)
		for i := 0; i < 200; i++ {
			chunk[0] = byte(i) // real blocks, not a sparse file
			if _, err := f.Write(chunk); err != nil {
				return sandbox.Exit{}, err
			}
		}
		f.Sync()
		<-ctx.Done()
		return sandbox.Exit{Code: 137}, ctx.Err()
	}
	r := &fakeRunner{step: func(ctx context.Context, sub string, task sandbox.Task) (sandbox.Exit, error) {
		if sub == "check" {
			return fill(ctx, task)
		}
		return sandbox.Exit{}, nil
	}}
	job := fakeJob("filler", streams.ModeCheckOnly)
	res, js := runFakeWith(t, r, Config{JobDiskBytes: 64 << 20}, streams.DefaultConfig(), func(b *Builder) { b.diskQuotaEvery = 50 * time.Millisecond }, 1,
		func(js jetstream.JetStream) { publishJob(t, js, job) })
	if res[0].Status != streams.StatusBuildFail || res[0].Reason != streams.ReasonNoSpace {
		t.Errorf("result %s %q, want build-fail %q", res[0].Status, res[0].Reason, streams.ReasonNoSpace)
	}
	if text := logText(t, js, job.BuildKey, 1, streams.StatusBuildFail); !strings.Contains(text, "past its 64 MiB disk quota; the build was killed") {
		t.Errorf("log does not say the quota killed the build:\n%s", text)
	}
}
