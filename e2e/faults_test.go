package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/status"
	"github.com/ejecta-build/ejecta/streams"
)

// faultCrates is the small real experiment every fault case runs: a crate
// slow enough to inject a fault while it builds, a regression, and two
// ordinary crates.
const faultCrates = "ejecta-fault-slow,ejecta-demo-regress,cfg-if,itoa"

// faultCase injects one fault into a running experiment. It starts what it
// needs beyond the builder, uploader and reporter every case starts.
type faultCase struct {
	name string
	// inject runs once the experiment is created and the slow crate's
	// build is under way; it returns when the farm is whole again.
	inject func(ctx context.Context, t *testing.T, f *procFarm, c *components)
	// interrupted, when set, says the fault interrupts the slow crate's
	// first attempt, whose result then comes from a later one, and what is
	// wrong with how the interrupted attempt's log is stored ("" if
	// nothing).
	interrupted func(streams.LogMeta) string
	// cluster runs the case on three nats-server processes, with every
	// component on its role and TLS, instead of one in-process server.
	cluster bool
}

// components are the farm's running processes, replaced when restarted.
type components struct {
	builder, uploader, reporter *proc
}

// TestFaults runs the same small experiment without a fault, then once per
// fault, each on a fresh farm of separate processes (one case on a 3-node
// NATS cluster with roles and TLS), and checks that every
// faulted run ends as the fault-free one: the same class for every crate,
// every stored log byte-identical to what its task wrote (the sha256 in the
// builder's end marker), no result counted twice, no job or upload left.
// `make faults` runs only this test.
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("fault suite: minutes of real builds")
	}
	daemon := testenv.StartContainerdDaemon(t)
	containerd := daemon.Address
	minio := testenv.StartMinIO(t)
	t.Setenv("EJECTA_S3_ACCESS_KEY", minio.AccessKey)
	t.Setenv("EJECTA_S3_SECRET_KEY", minio.SecretKey)
	registry := testenv.CrateRegistry(t)
	bin := buildEjecta(t, t.TempDir())

	var baseline map[string]results.Class
	run := func(t *testing.T, fc faultCase, bucket string) {
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		defer cancel()
		var cluster *natsCluster
		if fc.cluster {
			cluster = startCluster(t)
		}
		f := newProcFarm(t, bin, containerd, minio, registry, bucket, cluster)
		c := &components{builder: f.builder()}
		f.waitBuilderLive(ctx, c.builder, "fault")
		c.uploader, c.reporter = f.uploader("u1"), f.reporter()
		exp := "fault-" + bucket
		f.create(ctx, exp, faultCrates)
		if fc.inject != nil {
			f.waitForChunk(ctx, exp, "ejecta-fault-slow")
			fc.inject(ctx, t, f, c)
		}
		rf := f.waitFinished(ctx, exp)
		got := crateClasses(rf)
		if baseline == nil {
			baseline = got
			t.Logf("fault-free classes: %v", got)
		} else if !maps.Equal(got, baseline) {
			t.Errorf("classes after the fault:\n%v\nwithout a fault:\n%v", got, baseline)
		}
		f.checkLogs(ctx, exp, rf)
		if fc.interrupted != nil {
			f.checkInterrupted(ctx, exp, rf, fc.interrupted)
		}
		f.checkNothingLeft(ctx)
		f.checkNoViolations()
	}

	cases := []faultCase{
		{name: "none"},
		{name: "builder-killed", interrupted: func(m streams.LogMeta) string {
			if !m.Abandoned {
				return "the builder was killed, yet it is not marked abandoned"
			}
			return ""
		}, inject: func(ctx context.Context, t *testing.T, f *procFarm, c *components) {
			time.Sleep(time.Second) // into the build script's sleep
			c.builder.kill(t)
			c.builder = f.builder()
		}},
		{name: "uploader-killed", inject: func(ctx context.Context, t *testing.T, f *procFarm, c *components) {
			// A second replica goes on while the first is dead; the first
			// comes back later, as an operator's restart would.
			f.uploader("u2")
			waitDone(ctx, t, f, 1)
			c.uploader.kill(t)
			time.Sleep(3 * time.Second)
			c.uploader = f.uploader("u1")
		}},
		{name: "reporter-killed", inject: func(ctx context.Context, t *testing.T, f *procFarm, c *components) {
			waitDone(ctx, t, f, 2)
			c.reporter.kill(t)
			time.Sleep(2 * time.Second)
			c.reporter = f.reporter()
		}},
		{name: "minio-down", inject: func(ctx context.Context, t *testing.T, f *procFarm, c *components) {
			f.minio.Stop(t)
			t.Log("MinIO stopped for 30s")
			time.Sleep(30 * time.Second)
			f.minio.Start(t)
		}},
		{name: "nats-restarted", inject: func(ctx context.Context, t *testing.T, f *procFarm, c *components) {
			f.restartNATS(3 * time.Second)
		}},
		{name: "cluster-node-killed", cluster: true, inject: func(ctx context.Context, t *testing.T, f *procFarm, c *components) {
			// Node 2 dies without a word to its peers or clients while
			// builds publish chunks, and comes back on its old store.
			f.cluster.killAndRestart(t, 1, 5*time.Second)
		}},
		{name: "containerd-restarted", interrupted: func(m streams.LogMeta) string {
			if m.Abandoned || m.Status != streams.StatusError {
				return "its sandbox died; want a complete log with status error"
			}
			return ""
		}, inject: func(ctx context.Context, t *testing.T, f *procFarm, c *components) {
			time.Sleep(time.Second) // into the build script's sleep
			daemon.Restart(t, 3*time.Second)
		}},
		{name: "disk-full", inject: func(ctx context.Context, t *testing.T, f *procFarm, c *components) {
			// The builder restarts believing its disk is full: it must say
			// so and take nothing until it has room again. SIGTERM with no
			// drain grace hands its running builds back at once.
			c.builder.stop(t)
			c.builder = f.builder("--min-free-disk", "1000000GiB")
			waitPaused(ctx, t, f, c.builder, "fault")
			c.builder.stop(t)
			c.builder = f.builder()
		}},
	}
	for _, fc := range cases {
		if !t.Run(fc.name, func(t *testing.T) { run(t, fc, fc.name) }) && baseline == nil {
			t.Fatal("the fault-free run failed; the fault cases have nothing to compare with")
		}
	}
}

// waitDone waits until the farm's one experiment has n results.
func waitDone(ctx context.Context, t *testing.T, f *procFarm, n int) {
	t.Helper()
	for {
		lctx, cancel := context.WithTimeout(ctx, lookTimeout)
		exps, err := status.List(lctx, f.js)
		if err == nil && len(exps) == 1 {
			var st status.Status
			if st, err = status.Get(lctx, f.js, exps[0].Name); err == nil && st.Done >= n {
				cancel()
				return
			}
		}
		cancel()
		select {
		case <-ctx.Done():
			t.Fatalf("fewer than %d results: %v", n, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitPaused waits for builder id's heartbeat to say that it takes no jobs
// for lack of disk, then checks that it stays without a job for a while.
func waitPaused(ctx context.Context, t *testing.T, f *procFarm, p *proc, id string) {
	t.Helper()
	for {
		hb := f.waitBuilderLive(ctx, p, id)
		if hb.Paused != "" {
			t.Logf("builder %s says: %s", id, hb.Paused)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(3 * time.Second)
	if hb := f.waitBuilderLive(ctx, p, id); len(hb.Running) > 0 {
		t.Errorf("builder %s paused for disk still runs %v", id, hb.Running)
	}
}

// checkLogs checks every result's log: stored, complete, and byte-identical
// to what the builder saw its task write (the sha256 of its end marker).
func (f *procFarm) checkLogs(ctx context.Context, exp string, rf *results.File) {
	t := f.t
	t.Helper()
	ends := f.ends()
	checked := 0
	for _, c := range rf.Crates {
		runs := slices.Clone(c.Results)
		for _, round := range c.Reruns {
			runs = append(runs, round...)
		}
		if len(c.Results) != 2 {
			t.Errorf("%s@%s: %d results, want one per toolchain", c.Name, c.Version, len(c.Results))
		}
		for _, r := range runs {
			k := streams.BuildKey{Experiment: exp, Crate: c.Name, Version: c.Version, Toolchain: r.Toolchain}
			end, ok := ends[streams.LogSubject(k, r.Attempt)]
			if !ok {
				t.Errorf("%s attempt %d: the builder never logged its end", k, r.Attempt)
				continue
			}
			meta := f.meta(ctx, k, r.Attempt)
			if meta.Abandoned || meta.SHA256 != end.SHA256 || meta.Bytes != end.Bytes {
				t.Errorf("%s attempt %d: stored %+v, builder wrote %d bytes sha256 %s", k, r.Attempt, meta, end.Bytes, end.SHA256)
				continue
			}
			if sum := f.rawSHA256(ctx, k, r.Attempt); sum != end.SHA256 {
				t.Errorf("%s attempt %d: stored log has sha256 %s, the task wrote %s", k, r.Attempt, sum, end.SHA256)
				continue
			}
			checked++
		}
	}
	t.Logf("%d logs byte-identical to what their tasks wrote", checked)
}

// checkInterrupted checks the first attempt of the slow crate's build whose
// result came from a later attempt: the one the fault interrupted. Its
// stored log's metadata must satisfy want.
func (f *procFarm) checkInterrupted(ctx context.Context, exp string, rf *results.File, want func(streams.LogMeta) string) {
	t := f.t
	t.Helper()
	for _, c := range rf.Crates {
		if c.Name != "ejecta-fault-slow" {
			continue
		}
		for _, r := range c.Results {
			if r.Attempt < 2 {
				continue
			}
			k := streams.BuildKey{Experiment: exp, Crate: c.Name, Version: c.Version, Toolchain: r.Toolchain}
			meta := f.meta(ctx, k, 1)
			if problem := want(meta); problem != "" {
				t.Errorf("%s attempt 1 is stored as %+v: %s", k, meta, problem)
			}
			return
		}
		t.Errorf("%s@%s: no result from a second attempt; did the fault hit it mid-build? results %+v", c.Name, c.Version, c.Results)
	}
}

// storeWait bounds how long a finished experiment's logs may take to be
// stored: an upload claimed by a killed replica is redelivered after the
// uploads consumer's AckWait (a minute), an abandoned attempt is noticed by
// the next sweep (a minute), and uploads retry with back-off after an
// outage.
const storeWait = 3 * time.Minute

// meta waits up to storeWait for the metadata of an attempt's stored log:
// it is written last, so once it exists every object of the log does.
func (f *procFarm) meta(ctx context.Context, k streams.BuildKey, attempt int) streams.LogMeta {
	f.t.Helper()
	deadline := time.Now().Add(storeWait)
	for {
		var meta streams.LogMeta
		r, err := f.st.Get(ctx, streams.ExperimentPrefix(k.Experiment)+streams.LogMetaKey(k, attempt))
		if err == nil {
			err = json.NewDecoder(r).Decode(&meta)
			r.Close()
			if err != nil {
				f.t.Errorf("%s attempt %d: log metadata: %v", k, attempt, err)
			}
			return meta
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			f.t.Errorf("%s attempt %d: log not stored %s after the experiment finished: %v", k, attempt, storeWait, err)
			return meta
		}
		time.Sleep(time.Second)
	}
}

func (f *procFarm) rawSHA256(ctx context.Context, k streams.BuildKey, attempt int) string {
	f.t.Helper()
	r, err := f.st.Get(ctx, streams.ExperimentPrefix(k.Experiment)+streams.LogRawKey(k, attempt))
	if err != nil {
		return fmt.Sprintf("(not stored: %v)", err)
	}
	defer r.Close()
	zr, err := zstd.NewReader(r)
	if err != nil {
		return fmt.Sprintf("(not zstd: %v)", err)
	}
	defer zr.Close()
	h := sha256.New()
	if _, err := io.Copy(h, zr); err != nil {
		return fmt.Sprintf("(unreadable: %v)", err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// checkNothingLeft checks that no job and no upload request waits or is
// unacknowledged once the experiment finished: a lost ack would run a build
// twice, a lost upload would leave a log unstored.
func (f *procFarm) checkNothingLeft(ctx context.Context) {
	f.t.Helper()
	var left []string
	deadline := time.Now().Add(storeWait)
	for {
		left = left[:0]
		lctx, cancel := context.WithTimeout(ctx, lookTimeout)
		for _, name := range []string{streams.JobsStream, streams.UploadsStream} {
			s, err := f.js.Stream(lctx, name)
			if err == nil {
				_, err = s.Info(lctx)
			}
			if err != nil {
				left = append(left, fmt.Sprintf("stream %s: %v", name, err))
				continue
			}
			info := s.CachedInfo()
			if info.State.Msgs > 0 {
				left = append(left, fmt.Sprintf("%s holds %d messages", name, info.State.Msgs))
			}
			for ci := range s.ListConsumers(lctx).Info() {
				if ci.NumAckPending > 0 || ci.NumPending > 0 {
					left = append(left, fmt.Sprintf("consumer %s/%s: %d pending, %d unacknowledged", name, ci.Name, ci.NumPending, ci.NumAckPending))
				}
			}
		}
		cancel()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			f.t.Errorf("work left after the experiment finished: %v", left)
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// checkNoViolations checks that no component was refused anything it needs
// by the server's permissions (a refused request only times out, and a
// refused publish is reported only in the log).
func (f *procFarm) checkNoViolations() {
	f.t.Helper()
	for _, p := range f.procs {
		b, err := os.ReadFile(p.log)
		if err != nil {
			f.t.Error(err)
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(strings.ToLower(line), "permissions violation") {
				f.t.Errorf("%s was refused what it needs: %s", p.name, line)
				break
			}
		}
	}
}
