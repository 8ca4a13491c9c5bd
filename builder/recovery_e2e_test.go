package builder

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
)

// child is a builder running in a process of its own.
type child struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan struct{} // closed when the process has exited
	err    error         // its exit, once done
}

// startChild starts the test binary as a builder process (see TestMain).
func startChild(t *testing.T, spec childSpec) *child {
	t.Helper()
	data, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	c := &child{done: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(), childEnv+"="+string(data))
	c.cmd.Stderr = &c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.err = c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.done
		if t.Failed() {
			t.Logf("builder process %d said:\n%s", c.cmd.Process.Pid, c.stderr.String())
		}
	})
	return c
}

// waitForLog waits until an attempt's log contains s.
func waitForLog(t *testing.T, js jetstream.JetStream, key streams.BuildKey, attempt int, s string, wait time.Duration) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		chunks, _ := buildlogtest.Chunks(t, js, streams.LogSubject(key, attempt), 500*time.Millisecond)
		var b strings.Builder
		for _, c := range chunks {
			b.Write(c.Data)
		}
		if strings.Contains(ansi.ReplaceAllString(b.String(), ""), s) {
			return
		}
	}
	t.Fatalf("attempt %d of %s: no %q in its log within %s", attempt, key, s, wait)
}

// resultsFor returns the results published for key: it waits up to wait
// for the first, then a second for more.
func resultsFor(t *testing.T, js jetstream.JetStream, key streams.BuildKey, wait time.Duration) []streams.Result {
	t.Helper()
	cons, err := js.OrderedConsumer(context.Background(), streams.ResultsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{streams.BuildResultsFilter(key)},
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []streams.Result
	for {
		m, err := cons.Next(jetstream.FetchMaxWait(wait))
		if err != nil {
			return out
		}
		var r streams.Result
		if err := streams.Decode(m.Data(), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
		wait = time.Second
	}
}

func napJob(t *testing.T, exp string) streams.Job {
	return streams.Job{V: 1, BuildKey: streams.BuildKey{Experiment: exp, Crate: "ejecta-nap", Version: "0.1.0", Toolchain: "stable"},
		Mode: streams.ModeCheckOnly, CrateSource: testdataRegistry(t)}
}

// A builder process killed with SIGKILL in the middle of a build: once the
// job's AckWait has passed it is delivered again, a builder started with the
// same ID cleans up the dead one's sandbox and builds it as attempt 2, and
// there is exactly one result. Attempt 1's log has no end marker.
func TestBuilderKilledMidJob(t *testing.T) {
	if testing.Short() {
		t.Skip("runs builder processes and cargo in containerd")
	}
	cfg := streams.DefaultConfig()
	cfg.JobAckWait = 5 * time.Second // the minimum; 45s in production
	srv := testenv.StartNATS(t)
	_, js := srv.Connect(t)
	if err := streams.Ensure(context.Background(), js, cfg); err != nil {
		t.Fatal(err)
	}
	job := napJob(t, "killed")
	publishJob(t, js, job)
	spec := childSpec{
		NATS: srv.URL,
		Sandbox: sandbox.Config{Address: testenv.StartContainerd(t), Namespace: testenv.ContainerdNamespace(t),
			FIFODir: filepath.Join(testenv.DurableTempDir(t), "fifo")},
		Config: Config{ID: "killed", Slots: 1, WorkDir: testenv.DurableTempDir(t), InProgressEvery: time.Second, HeartbeatEvery: time.Second},
	}
	first := startChild(t, spec)
	waitForLog(t, js, job.BuildKey, 1, "Compiling ejecta-nap", time.Minute)
	killed := time.Now()
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.done
	startChild(t, spec)

	res := resultsFor(t, js, job.BuildKey, time.Minute)
	if len(res) != 1 || res[0].Attempt != 2 || res[0].Status != streams.StatusTestPass {
		t.Fatalf("results %+v, want one: attempt 2, test-pass", res)
	}
	t.Logf("result of attempt 2 %s after the kill", time.Since(killed).Round(time.Millisecond))
	if _, end := buildlogtest.Chunks(t, js, streams.LogSubject(job.BuildKey, 1), time.Second); end != nil {
		t.Errorf("the killed attempt's log has an end marker %+v", end)
	}
	logText(t, js, job.BuildKey, 2, streams.StatusTestPass)
}

// SIGTERM drains: the running build finishes and is acknowledged, the
// queued job is not taken; a second SIGTERM during another drain kills the
// build and hands the job back at once.
func TestBuilderDrain(t *testing.T) {
	if testing.Short() {
		t.Skip("runs builder processes and cargo in containerd")
	}
	srv := testenv.StartNATS(t)
	_, js := srv.Connect(t)
	if err := streams.Ensure(context.Background(), js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	spec := childSpec{
		NATS: srv.URL,
		Sandbox: sandbox.Config{Address: testenv.StartContainerd(t), Namespace: testenv.ContainerdNamespace(t),
			FIFODir: filepath.Join(testenv.DurableTempDir(t), "fifo")},
		Config: Config{ID: "drainer", Slots: 1, WorkDir: testenv.DurableTempDir(t), DrainGrace: time.Minute, InProgressEvery: time.Second},
	}
	running, queued := napJob(t, "drain"), napJob(t, "drain-queued")
	publishJob(t, js, running)
	b := startChild(t, spec)
	waitForLog(t, js, running.BuildKey, 1, "Compiling ejecta-nap", time.Minute)
	publishJob(t, js, queued)
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
		if b.err != nil {
			t.Fatalf("builder exited with %v", b.err)
		}
	case <-time.After(time.Minute):
		t.Fatal("builder still draining after a minute")
	}
	if res := resultsFor(t, js, running.BuildKey, time.Second); len(res) != 1 || res[0].Status != streams.StatusTestPass {
		t.Errorf("running build's results %+v, want it finished: test-pass", res)
	}
	cons := jobsConsumer(t, js, queued.BuildKey)
	if info, err := cons.Info(context.Background()); err != nil || info.NumPending != 1 || info.NumAckPending != 0 {
		t.Errorf("jobs consumer after the drain: %+v, %v; want the queued job pending, untouched", info, err)
	}

	// Again, but the second SIGTERM aborts: the queued job is now running.
	b = startChild(t, spec)
	waitForLog(t, js, queued.BuildKey, 1, "Compiling ejecta-nap", time.Minute)
	b.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	b.cmd.Process.Signal(syscall.SIGTERM)
	<-b.done
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("aborted drain took %s; the build sleeps 6s", d)
	}
	m, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
	if err != nil {
		t.Fatalf("aborted job not handed back at once: %v", err)
	}
	if md, _ := m.Metadata(); md == nil || md.NumDelivered != 2 || !strings.Contains(string(m.Data()), `"drain-queued"`) {
		t.Errorf("redelivered %s, metadata %+v", m.Data(), md)
	}
	if res := resultsFor(t, js, queued.BuildKey, 500*time.Millisecond); len(res) != 0 {
		t.Errorf("aborted build published results %+v", res)
	}
}

// A job whose every attempt ended without a result (its builders stopped
// each time) is not built again: the delivery after the last attempt ends
// as an error gave-up(N), with a log saying why, and a dead letter.
func TestBuilderGivesUp(t *testing.T) {
	if testing.Short() {
		t.Skip("runs cargo in containerd")
	}
	cfg := streams.DefaultConfig()
	cfg.JobMaxDeliver = 1
	nc, js := startJetStream(t, cfg)
	job := napJob(t, "giveup")
	publishJob(t, js, job)
	stop := startBuilder(t, nc, Config{ID: "giveup", Slots: 1, InProgressEvery: time.Second})
	waitForLog(t, js, job.BuildKey, 1, "Compiling ejecta-nap", time.Minute)
	if err := stop(); err != nil { // abandons attempt 1
		t.Fatal(err)
	}
	startBuilder(t, nc, Config{ID: "giveup", Slots: 1, InProgressEvery: time.Second})
	res := resultsFor(t, js, job.BuildKey, 30*time.Second)
	if len(res) != 1 || res[0].Attempt != 2 || res[0].Status != streams.StatusError || res[0].Reason != streams.GaveUp(1) {
		t.Fatalf("results %+v, want one: attempt 2, error, %s", res, streams.GaveUp(1))
	}
	if text := logText(t, js, job.BuildKey, 2, streams.StatusError); !strings.Contains(text, "gave up after 1 attempts of ejecta-nap 0.1.0 with stable") {
		t.Errorf("log of the given-up delivery:\n%s", text)
	}
	dead, err := js.OrderedConsumer(context.Background(), streams.DeadStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := dead.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatalf("no dead letter: %v", err)
	}
	var dj streams.Job
	if err := streams.Decode(m.Data(), &dj); err != nil || dj.BuildKey != job.BuildKey ||
		m.Headers().Get(streams.HdrDeadReason) != "gave up after 1 attempts" || m.Subject() != streams.DeadSubject("giveup", streams.AnonymousSender) {
		t.Errorf("dead letter on %s, reason %q, job %s (%v)", m.Subject(), m.Headers().Get(streams.HdrDeadReason), m.Data(), err)
	}
}

// Below the free-disk threshold the builder takes no job and its heartbeat
// says why, with the free space and its version.
func TestBuilderDiskGuard(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a builder over containerd")
	}
	nc, js := startJetStream(t, streams.DefaultConfig())
	job := napJob(t, "disk")
	publishJob(t, js, job)
	startBuilder(t, nc, Config{ID: "fulldisk", Slots: 1, MinFreeDiskBytes: 1 << 60, HeartbeatEvery: 200 * time.Millisecond})
	kv, err := js.KeyValue(context.Background(), streams.BuildersBucket)
	if err != nil {
		t.Fatal(err)
	}
	var hb streams.Heartbeat
	deadline := time.Now().Add(10 * time.Second)
	for hb.Paused == "" && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		if e, err := kv.Get(context.Background(), streams.HeartbeatKey(streams.AnonymousSender, "fulldisk")); err == nil {
			json.Unmarshal(e.Value(), &hb)
		}
	}
	if !strings.HasPrefix(hb.Paused, "low disk: ") || hb.FreeDiskBytes == 0 || hb.Version == "" {
		t.Errorf("heartbeat %+v: want paused for low disk, free disk and version", hb)
	}
	if res := resultsFor(t, js, job.BuildKey, 2*time.Second); len(res) != 0 {
		t.Errorf("a builder short of disk built %+v", res)
	}
	cons := jobsConsumer(t, js, job.BuildKey)
	if info, err := cons.Info(context.Background()); err != nil || info.NumPending != 1 {
		t.Errorf("jobs consumer %+v (%v): want the job still pending", info, err)
	}
}
