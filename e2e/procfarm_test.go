package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/status"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// procFarm is a build farm of separate `ejecta` processes, so that a test
// can SIGKILL any of them as an operator's machine would lose them: an
// in-process NATS server it can stop and restart on the same data (or a
// cluster of nats-server processes), a private containerd and a real
// MinIO. The test's own client reconnects forever, like the components.
type procFarm struct {
	t          *testing.T
	bin        string // the ejecta binary
	dir        string // logs of the processes, NATS data
	natsDir    string
	natsPort   int
	nats       *testenv.NATS // nil on a cluster
	cluster    *natsCluster  // nil on the single in-process server
	url        string        // every server's client URL, comma-separated
	nc         *nats.Conn
	js         jetstream.JetStream
	containerd string
	namespace  string
	minio      testenv.MinIO
	storeURL   string
	st         store.Store
	registry   string
	work       string // builders' work dirs live below
	seq        int    // numbers process log files
	procs      []*proc
}

// proc is one running ejecta process.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// buildEjecta compiles the ejecta binary into dir.
func buildEjecta(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "ejecta")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/ejecta")
	cmd.Dir = testenv.RepoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/ejecta: %v\n%s", err, out)
	}
	return bin
}

// newProcFarm opens the farm's bucket in minio and starts a NATS server of
// its own for the farm, or, given a cluster, runs every component on it as
// its role; the components are started by the test.
func newProcFarm(t *testing.T, bin, containerd string, minio testenv.MinIO, registry, bucket string, cluster *natsCluster) *procFarm {
	t.Helper()
	f := &procFarm{t: t, bin: bin, dir: t.TempDir(), containerd: containerd, minio: minio, registry: registry,
		namespace: testenv.ContainerdNamespace(t), work: testenv.DurableTempDir(t),
		storeURL: minio.StoreURL(bucket), cluster: cluster}
	if cluster != nil {
		f.url = cluster.auth.url
		f.nc = cluster.auth.connect(t, streams.RoleAdmin, cluster.tls).nc
	} else {
		f.natsDir = filepath.Join(f.dir, "nats")
		f.nats = testenv.StartNATSAt(t, f.natsDir, -1)
		f.natsPort = f.nats.Server.Addr().(*net.TCPAddr).Port
		f.url = f.nats.URL
		nc, err := nats.Connect(f.url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		f.nc = nc
	}
	var err error
	if f.js, err = jetstream.New(f.nc); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if f.st, err = store.Open(ctx, f.storeURL); err != nil {
		t.Fatal(err)
	}
	return f
}

// connArgs are the flags an ejecta process of role needs to reach the
// farm's NATS.
func (f *procFarm) connArgs(role streams.Role) []string {
	args := []string{"--nats", f.url}
	if f.cluster != nil {
		args = append(args, f.cluster.roleArgs(role)...)
	}
	return args
}

// start runs `ejecta args...` as role against the farm's NATS until it is
// killed or the test ends; its output goes to a file shown on failure.
func (f *procFarm) start(name string, role streams.Role, args ...string) *proc {
	f.t.Helper()
	f.seq++
	p := &proc{name: name, log: filepath.Join(f.dir, fmt.Sprintf("%02d-%s.log", f.seq, name)), done: make(chan struct{})}
	out, err := os.Create(p.log)
	if err != nil {
		f.t.Fatal(err)
	}
	p.cmd = exec.Command(f.bin, append(args, f.connArgs(role)...)...)
	p.cmd.Env = append(os.Environ(), "EJECTA_LOG_FORMAT=json", "EJECTA_LOG_LEVEL=debug")
	p.cmd.Stdout, p.cmd.Stderr = out, out
	// A test binary killed by its timeout must not leave components behind.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		f.t.Fatalf("start ejecta %s: %v", name, err)
	}
	go func() { p.cmd.Wait(); out.Close(); close(p.done) }()
	f.procs = append(f.procs, p)
	f.t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		if f.t.Failed() {
			f.t.Logf("ejecta %s (%s), last lines:\n%s", name, p.log, lastLines(p.log, 25))
		}
	})
	return p
}

// kill SIGKILLs p and waits for it to be gone.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s: %v", p.name, err)
	}
	<-p.done
	t.Logf("killed %s (pid %d) with SIGKILL", p.name, p.cmd.Process.Pid)
}

// stop sends p SIGTERM and waits for it to exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("stop %s: %v", p.name, err)
	}
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		t.Fatalf("%s still running a minute after SIGTERM", p.name)
	}
}

// builder starts the farm's builder (id "fault", two slots); extra flags
// come last so they override.
func (f *procFarm) builder(extra ...string) *proc {
	return f.start("builder", streams.RoleBuilder, append([]string{"builder", "--builder-id", "fault", "--slots", "2",
		"--work-dir", filepath.Join(f.work, "jobs"), "--containerd", f.containerd,
		"--containerd-namespace", f.namespace, "--min-free-disk", "0", "--drain-grace", "0s"}, extra...)...)
}

func (f *procFarm) uploader(name string) *proc {
	return f.start("uploader-"+name, streams.RoleUploader, "uploader", "--store", f.storeURL, "--name", name)
}

func (f *procFarm) reporter() *proc {
	return f.start("reporter", streams.RoleReporter, "reporter", "--store", f.storeURL)
}

// restartNATS stops the server as a crash would (no goodbye to clients),
// keeps it down for down, and starts it again on the same port and data.
func (f *procFarm) restartNATS(down time.Duration) {
	f.t.Helper()
	f.nats.Server.Shutdown()
	f.nats.Server.WaitForShutdown()
	f.t.Logf("NATS server stopped for %s", down)
	time.Sleep(down)
	f.nats = testenv.StartNATSAt(f.t, f.natsDir, f.natsPort)
	f.t.Logf("NATS server restarted on port %d", f.natsPort)
}

// waitBuilderLive waits until the heartbeat of builder id (process p) is
// in the bucket.
func (f *procFarm) waitBuilderLive(ctx context.Context, p *proc, id string) streams.Heartbeat {
	f.t.Helper()
	for {
		select {
		case <-p.done:
			f.t.Fatalf("builder %s exited: %s", id, lastLines(p.log, 5))
		default:
		}
		lctx, cancel := context.WithTimeout(ctx, lookTimeout)
		hbs, err := status.Builders(lctx, f.js)
		cancel()
		if err == nil {
			for _, hb := range hbs {
				if hb.ID == id {
					return hb
				}
			}
		}
		if ctx.Err() != nil {
			f.t.Fatalf("builder %s never sent a heartbeat (last error: %v)", id, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// create runs `ejecta experiment create` and fails the test unless it
// succeeds.
func (f *procFarm) create(ctx context.Context, exp, crates string) {
	f.t.Helper()
	cmd := exec.CommandContext(ctx, f.bin, append([]string{"experiment", "create", exp, "--toolchains", "stable,nightly",
		"--mode", "check-only", "--crates", crates, "--crate-source", f.registry}, f.connArgs(streams.RoleProducer)...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		f.t.Fatalf("experiment create %s: %v\n%s", exp, err, out)
	}
}

// ends returns the end marker of every attempt the builders finished, by
// log subject, from the builders' own logs ("log ended"): a witness of
// what each task wrote that does not go through NATS, whose faults are
// what the suite injects.
func (f *procFarm) ends() map[string]streams.LogEnd {
	f.t.Helper()
	out := map[string]streams.LogEnd{}
	for _, p := range f.procs {
		if p.name != "builder" {
			continue
		}
		data, err := os.ReadFile(p.log)
		if err != nil {
			f.t.Fatalf("read builder log: %v", err)
		}
		for line := range strings.Lines(string(data)) {
			var rec struct {
				Message, Log, SHA256 string
				Chunks, Bytes        uint64
			}
			if json.Unmarshal([]byte(line), &rec) != nil || rec.Message != "log ended" {
				continue
			}
			out[rec.Log] = streams.LogEnd{Chunks: rec.Chunks, Bytes: rec.Bytes, SHA256: rec.SHA256}
		}
	}
	return out
}

// lookTimeout bounds each request of the test's own polling: a request in
// flight when its server dies, or sent while a cluster elects a leader,
// may never be answered, and the JetStream client applies its own timeout
// only to contexts without a deadline.
const lookTimeout = 10 * time.Second

// waitFinished waits until the experiment has nothing left to do and its
// report says so: every job done.
func (f *procFarm) waitFinished(ctx context.Context, exp string) *results.File {
	f.t.Helper()
	var last string
	for {
		lctx, cancel := context.WithTimeout(ctx, lookTimeout)
		st, err := status.Get(lctx, f.js, exp)
		cancel()
		if err == nil && st.Finished() {
			if rf, err := f.results(ctx, exp); err == nil && rf.DoneJobs == rf.TotalJobs && rf.TotalJobs == st.Total {
				return rf
			}
		}
		if err == nil {
			last = fmt.Sprintf("%+v", st)
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			f.t.Fatalf("experiment %s did not finish; last status: %s\n%s", exp, last, f.dumpStacks())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// dumpStacks has every running component print its goroutines (SIGQUIT
// makes a Go program do that and exit) and keeps the outputs where they
// outlive the test, for a case that hangs; it returns where they are.
func (f *procFarm) dumpStacks() string {
	dir, err := os.MkdirTemp("/var/tmp", "ejecta-fault-stacks-")
	if err != nil {
		return err.Error()
	}
	for _, p := range f.procs {
		select {
		case <-p.done:
			continue
		default:
		}
		p.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
		}
		if b, err := os.ReadFile(p.log); err == nil {
			os.WriteFile(filepath.Join(dir, filepath.Base(p.log)), b, 0o644)
		}
	}
	return "goroutines of the components that were running: " + dir
}

// results reads the experiment's results.json from the store.
func (f *procFarm) results(ctx context.Context, exp string) (*results.File, error) {
	r, err := f.st.Get(ctx, streams.ExperimentPrefix(exp)+"results.json")
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var rf results.File
	if err := json.NewDecoder(r).Decode(&rf); err != nil {
		return nil, fmt.Errorf("decode results.json: %w", err)
	}
	return &rf, nil
}

// lastLines returns the last n lines of a file.
func lastLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// waitForChunk waits until some attempt of crate has published its first
// log bytes, that is until its build is under way.
func (f *procFarm) waitForChunk(ctx context.Context, exp, crate string) {
	f.t.Helper()
	for {
		lctx, cancel := context.WithTimeout(ctx, lookTimeout)
		// The build is under way for as long as its log is on the stream:
		// the uploader removes it only once the end marker is there.
		info, err := f.js.Stream(lctx, streams.LogsStream)
		if err == nil {
			si, err := info.Info(lctx, jetstream.WithSubjectFilter(streams.LogsFilter))
			if err == nil {
				for subj := range si.State.Subjects {
					k, _, err := streams.ParseLogSubject(subj)
					if err == nil && k.Experiment == exp && k.Crate == crate {
						cancel()
						return
					}
				}
			}
		}
		cancel()
		select {
		case <-ctx.Done():
			f.t.Fatalf("no build of %s started in %s", crate, exp)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// crateClasses maps name@version to its comparison class.
func crateClasses(rf *results.File) map[string]results.Class {
	out := map[string]results.Class{}
	for _, c := range rf.Crates {
		out[c.Name+"@"+c.Version] = c.Class
	}
	return out
}
