package builder

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go/jetstream"
)

// weighedRunner is a fakeRunner that tells its tasks' CPU weight, as
// *sandbox.Containerd does.
type weighedRunner struct{ *fakeRunner }

func (weighedRunner) CPUWeight() uint64 { return 100 }

// By default a slot's tasks may run on every CPU, and its log says so;
// PinCores pins them to the slot's CPU. (builder/sandbox tests what the
// kernel then enforces.)
func TestBuilderCPUs(t *testing.T) {
	for _, tc := range []struct {
		pin      bool
		wantCPUs string
		wantLine string
	}{
		{false, "", "cpu shared (all " + strconv.Itoa(runtime.NumCPU()) + " cores, weight 100)"},
		{true, "0", "cpu 0 (pinned, weight 100)"},
	} {
		t.Run("pin="+strconv.FormatBool(tc.pin), func(t *testing.T) {
			r := &fakeRunner{step: func(context.Context, string, sandbox.Task) (sandbox.Exit, error) { return sandbox.Exit{}, nil }}
			job := fakeJob("crate", streams.ModeCheckOnly)
			res, js := runFake(t, weighedRunner{r}, Config{PinCores: tc.pin}, 1, func(js jetstream.JetStream) { publishJob(t, js, job) })
			for _, task := range r.tasks {
				if task.CPUs != tc.wantCPUs {
					t.Errorf("task %q: CPUs %q, want %q", task.Args, task.CPUs, tc.wantCPUs)
				}
			}
			text := logText(t, js, job.BuildKey, 1, res[0].Status)
			if !strings.Contains(text, "no network (loopback only), "+tc.wantLine+", memory") {
				t.Errorf("sandbox line does not say %q:\n%s", tc.wantLine, text)
			}
		})
	}
}
