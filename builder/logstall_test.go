package builder

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/streams"
)

// The quiet period stands still while paused, and goes on from there.
func TestWatchdogPause(t *testing.T) {
	w := newWatchdog()
	t0 := time.Now()
	w.last = t0
	for _, c := range []struct {
		at   time.Duration
		do   func(time.Time)
		want time.Duration
	}{
		{2 * time.Second, nil, 2 * time.Second},
		{2 * time.Second, w.pause, 2 * time.Second},
		{9 * time.Second, nil, 2 * time.Second},
		{10 * time.Second, w.resume, 2 * time.Second},
		{11 * time.Second, nil, 3 * time.Second},
		{11 * time.Second, w.resume, 3 * time.Second}, // not paused: nothing to resume
	} {
		now := t0.Add(c.at)
		if c.do != nil {
			c.do(now)
		}
		if got := w.quiet(now); got != c.want {
			t.Errorf("at %s: quiet for %s, want %s", c.at, got, c.want)
		}
	}
}

// runStalled is runFake over a LogsStream of logMax bytes (1 MiB fills in
// a moment), with the log block limit set to limit and the builder's
// metrics in reg.
func runStalled(t *testing.T, r *fakeRunner, cfg Config, logMax int64, limit time.Duration, n int, publish func(js jetstream.JetStream)) ([]streams.Result, jetstream.JetStream, *prometheus.Registry) {
	t.Helper()
	scfg := streams.DefaultConfig()
	scfg.LogMaxBytes = logMax
	reg := prometheus.NewRegistry()
	cfg.Metrics = reg
	res, js := runFakeWith(t, r, cfg, scfg, func(b *Builder) { b.logBlockLimit = limit }, n, publish)
	return res, js, reg
}

// printing is a cargo step that prints lines, a 16 KiB write every pause,
// until it has printed total bytes (0: until killed); then it exits 0, or
// stays silent until killed. A write that fails (the log given up) leaves
// it waiting to be killed, like a task whose pipe is no longer read.
// printed counts the bytes its writes took.
func printing(total int, pause time.Duration, thenSilent bool, printed *atomic.Int64) func(context.Context, sandbox.Task) (sandbox.Exit, error) {
	killed := func(ctx context.Context) (sandbox.Exit, error) {
		<-ctx.Done()
		return sandbox.Exit{Code: 137}, fmt.Errorf("sandbox: killed: %w", ctx.Err())
	}
	return func(ctx context.Context, t sandbox.Task) (sandbox.Exit, error) {
		line := append(bytes.Repeat([]byte("x"), 1023), '\n')
		block := bytes.Repeat(line, 16)
		for total == 0 || printed.Load() < int64(total) {
			if ctx.Err() != nil {
				return killed(ctx)
			}
			n, err := t.Stdout.Write(block)
			printed.Add(int64(n))
			if err != nil {
				return killed(ctx)
			}
			time.Sleep(pause)
		}
		if thenSilent {
			return killed(ctx)
		}
		return sandbox.Exit{}, nil
	}
}

// whenLogsFull calls then, in its own goroutine, once LogsStream has been
// full (within a chunk of its max bytes) for hold.
func whenLogsFull(t *testing.T, js jetstream.JetStream, hold time.Duration, then func()) {
	go func() {
		ctx := context.Background()
		for {
			s, err := js.Stream(ctx, streams.LogsStream)
			if err != nil {
				t.Error(err)
				return
			}
			if s.CachedInfo().State.Bytes+2*buildlog.MaxChunkBytes >= uint64(s.CachedInfo().Config.MaxBytes) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(hold)
		then()
	}()
}

// growLogs makes room on LogsStream, as uploaders storing logs would.
func growLogs(t *testing.T, js jetstream.JetStream, maxBytes int64) {
	ctx := context.Background()
	s, err := js.Stream(ctx, streams.LogsStream)
	if err != nil {
		t.Error(err)
		return
	}
	sc := s.CachedInfo().Config
	sc.MaxBytes = maxBytes
	if _, err := js.UpdateStream(ctx, sc); err != nil {
		t.Error(err)
	}
}

// blockedSeconds is ejecta_builder_log_blocked_seconds_total.
func blockedSeconds(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "ejecta_builder_log_blocked_seconds_total" {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no ejecta_builder_log_blocked_seconds_total")
	return 0
}

// A task that prints continuously into a full LogsStream waits on its pipe
// for longer than the no-output timeout: the watchdog is paused meanwhile,
// so the build goes on once room is made, and its verdict is its own.
// Silence after the wait is still silence.
func TestLogBlockedPausesNoOutputTimeout(t *testing.T) {
	const total = 3 << 20 // three times the stream
	for _, tc := range []struct {
		name       string
		thenSilent bool
		wantStatus streams.Status
		wantReason streams.Reason
	}{
		{"prints and exits", false, streams.StatusTestPass, ""},
		{"prints then falls silent", true, streams.StatusBuildFail, "no-output-timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var printed atomic.Int64
			r := &fakeRunner{step: func(ctx context.Context, sub string, task sandbox.Task) (sandbox.Exit, error) {
				if sub == "check" {
					return printing(total, 0, tc.thenSilent, &printed)(ctx, task)
				}
				return sandbox.Exit{}, nil
			}}
			job := fakeJob("noisy", streams.ModeCheckOnly)
			var grown atomic.Int64 // printed when room was made
			res, js, reg := runStalled(t, r, Config{NoOutputTimeout: time.Second}, 1<<20, time.Minute, 1, func(js jetstream.JetStream) {
				publishJob(t, js, job)
				// Blocked for 3s, three times the no-output timeout.
				whenLogsFull(t, js, 3*time.Second, func() {
					grown.Store(printed.Load())
					growLogs(t, js, 256<<20)
				})
			})
			if res[0].Status != tc.wantStatus || res[0].Reason != tc.wantReason || res[0].Attempt != 1 {
				t.Errorf("result %s %q of attempt %d, want %s %q of attempt 1", res[0].Status, res[0].Reason, res[0].Attempt, tc.wantStatus, tc.wantReason)
			}
			if g := grown.Load(); g == 0 || g >= total || printed.Load() < total {
				t.Errorf("%d bytes printed when room was made, %d in all: the task was not held up and then let go", g, printed.Load())
			}
			text := logText(t, js, job.BuildKey, 1, tc.wantStatus)
			if !strings.Contains(text, buildlog.SystemPrefix+"log stream blocked for ") {
				t.Errorf("log does not say it was blocked:\n%s", tail(text))
			}
			if got := blockedSeconds(t, reg); got < 2.5 {
				t.Errorf("ejecta_builder_log_blocked_seconds_total %.2f, want about 3", got)
			}
		})
	}
}

// A log that stays blocked past the limit ends the build as an
// infrastructure error, never as the crate's timeout: every attempt but
// the last is handed back without a result, and the last publishes error
// log-unavailable.
func TestLogBlockedTooLongIsInfrastructureError(t *testing.T) {
	var printed atomic.Int64
	r := &fakeRunner{step: func(ctx context.Context, sub string, task sandbox.Task) (sandbox.Exit, error) {
		if sub == "check" {
			return printing(0, 0, false, &printed)(ctx, task)
		}
		return sandbox.Exit{}, nil
	}}
	job := fakeJob("noisy", streams.ModeCheckOnly)
	cfg := Config{NoOutputTimeout: time.Second, Timeout: 20 * time.Second, SandboxRetryDelay: 100 * time.Millisecond}
	start := time.Now()
	res, _, reg := runStalled(t, r, cfg, 1<<20, 1500*time.Millisecond, 1, func(js jetstream.JetStream) { publishJob(t, js, job) })
	if res[0].Status != streams.StatusError || res[0].Reason != "log-unavailable" || res[0].Attempt != 3 {
		t.Errorf("result %s %q of attempt %d, want error log-unavailable of attempt 3", res[0].Status, res[0].Reason, res[0].Attempt)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("three attempts took %s: the blocked log was not given up at its limit", took)
	}
	if got := blockedSeconds(t, reg); got < 3*1.5 {
		t.Errorf("ejecta_builder_log_blocked_seconds_total %.2f, want at least 4.5", got)
	}
}

// A wall timeout that kills the build while its output waits on a full
// LogsStream is not the crate's: the attempt is handed back with its log
// saying why. The next attempt, with room on the stream, times out on its
// own, and that verdict stands.
func TestTimeoutWhileLogBlocked(t *testing.T) {
	var printed atomic.Int64
	r := &fakeRunner{step: func(ctx context.Context, sub string, task sandbox.Task) (sandbox.Exit, error) {
		if sub == "check" {
			return printing(0, 2*time.Millisecond, false, &printed)(ctx, task)
		}
		return sandbox.Exit{}, nil
	}}
	job := fakeJob("noisy", streams.ModeCheckOnly)
	cfg := Config{Timeout: time.Second, NoOutputTimeout: 30 * time.Second, SandboxRetryDelay: 100 * time.Millisecond}
	res, js, _ := runStalled(t, r, cfg, 1<<20, 30*time.Second, 1, func(js jetstream.JetStream) {
		publishJob(t, js, job)
		// Full well past the 1s timeout, then room for good.
		whenLogsFull(t, js, 2500*time.Millisecond, func() { growLogs(t, js, 256<<20) })
	})
	if res[0].Status != streams.StatusBuildFail || res[0].Reason != "timeout" || res[0].Attempt != 2 {
		t.Errorf("result %s %q of attempt %d, want build-fail timeout of attempt 2", res[0].Status, res[0].Reason, res[0].Attempt)
	}
	text := logText(t, js, job.BuildKey, 1, streams.StatusError)
	for _, want := range []string{
		buildlog.SystemPrefix + "timed out after 1s",
		buildlog.SystemPrefix + "log stream blocked for ",
		"the timeout is not the crate's",
		buildlog.SystemPrefix + "finished: error (log-unavailable)",
		"no result: the job is handed back",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("log of attempt 1 lacks %q:\n%s", want, tail(text))
		}
	}
}

// A task that prints nothing is still killed for it.
func TestSilentTaskNoOutputTimeout(t *testing.T) {
	r := &fakeRunner{step: func(ctx context.Context, sub string, task sandbox.Task) (sandbox.Exit, error) {
		if sub == "check" {
			task.Stdout.Write([]byte("thinking\n"))
			<-ctx.Done()
			return sandbox.Exit{Code: 137}, ctx.Err()
		}
		return sandbox.Exit{}, nil
	}}
	job := fakeJob("silent", streams.ModeCheckOnly)
	res, js, _ := runStalled(t, r, Config{NoOutputTimeout: time.Second}, 1<<20, 0, 1, func(js jetstream.JetStream) { publishJob(t, js, job) })
	if res[0].Status != streams.StatusBuildFail || res[0].Reason != "no-output-timeout" || res[0].Attempt != 1 {
		t.Errorf("result %s %q of attempt %d, want build-fail no-output-timeout of attempt 1", res[0].Status, res[0].Reason, res[0].Attempt)
	}
	if text := logText(t, js, job.BuildKey, 1, streams.StatusBuildFail); strings.Contains(text, "log stream blocked") {
		t.Errorf("log of a silent build speaks of a blocked log:\n%s", tail(text))
	}
}

// tail is the end of a log's text, with the system lines, for a failure
// message: the task output in these tests is megabytes of x.
func tail(text string) string {
	var keep []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, buildlog.SystemPrefix) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// The time of a check is taken before its lock, so a block can start
// after it: accounting such a check adds nothing, rather than a negative
// duration, which would make the counter panic and take the builder down.
func TestLogStallAccountsACheckOlderThanTheBlock(t *testing.T) {
	blocked := prometheus.NewCounter(prometheus.CounterOpts{Name: "blocked_seconds_total", Help: "-"})
	s := newLogStall(newWatchdog(), blocked, func(error) {})
	before := time.Now()
	time.Sleep(time.Millisecond)
	s.Block()
	s.mu.Lock()
	s.account(before)
	s.mu.Unlock()
	s.Unblock(nil)
	var m dto.Metric
	if err := blocked.Write(&m); err != nil {
		t.Fatal(err)
	}
	if v := m.GetCounter().GetValue(); v < 0 {
		t.Errorf("blocked seconds %v, want none below 0", v)
	}
}
