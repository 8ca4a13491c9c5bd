package builder

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
)

// In the real sandbox, a build may run on every CPU by default and on its
// slot's alone with PinCores, as the kernel tells the build itself: a
// stand-in cargo prints its Cpus_allowed_list into the log.
func TestBuilderCPUsInTheSandbox(t *testing.T) {
	if testing.Short() {
		t.Skip("runs containerd tasks")
	}
	if runtime.NumCPU() < 2 {
		testenv.Unavailable(t, "one CPU: shared and pinned look the same")
	}
	all := strings.TrimSpace(cpusAllowed(t))
	for _, tc := range []struct {
		pin  bool
		want string
	}{{false, all}, {true, "0"}} {
		t.Run("pin="+strconv.FormatBool(tc.pin), func(t *testing.T) {
			nc, js := startJetStream(t, streams.DefaultConfig())
			job := streams.Job{V: 1, BuildKey: streams.BuildKey{Experiment: "cpus", Crate: "quick", Version: "1.0.0", Toolchain: "stable"},
				Mode: streams.ModeCheckOnly, CrateSource: testenv.DebianRegistry}
			publishJob(t, js, job)
			startBuilder(t, nc, Config{ID: "cpus", Slots: 1, CargoPath: cpuCargo(t), PinCores: tc.pin})
			results, err := js.OrderedConsumer(context.Background(), streams.ResultsStream, jetstream.OrderedConsumerConfig{})
			if err != nil {
				t.Fatal(err)
			}
			var r streams.Result
			nextJSON(t, results, time.Minute, &r)
			text := logText(t, js, r.BuildKey, r.Attempt, r.Status)
			if want := "Cpus_allowed_list:\t" + tc.want + "\n"; !strings.Contains(text, want) {
				t.Errorf("build may run on other CPUs than %s:\n%s", tc.want, text)
			}
			line := "cpu shared (all " + strconv.Itoa(runtime.NumCPU()) + " cores, weight 100)"
			if tc.pin {
				line = "cpu 0 (pinned, weight 100)"
			}
			if !strings.Contains(text, line) {
				t.Errorf("sandbox line does not say %q:\n%s", line, text)
			}
		})
	}
}

// cpuCargo is testenv.QuickCargo's kind of stand-in for cargo, which says
// what CPUs it may run on.
func cpuCargo(t *testing.T) string {
	t.Helper()
	quick := testenv.QuickCargo(t) // beside the real rustc, outside /tmp
	script := "#!/bin/sh\necho \"quick task: $*\"\ngrep Cpus_allowed_list /proc/self/status\n"
	if err := os.WriteFile(quick, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Clean(quick)
}

// cpusAllowed is this process's Cpus_allowed_list, which containerd's
// tasks inherit here.
func cpusAllowed(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return v
		}
	}
	t.Fatal("no Cpus_allowed_list in /proc/self/status")
	return ""
}
