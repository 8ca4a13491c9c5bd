package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/internal/testfarm"
	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/status"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// The e2e test binary doubles as the setuid-root program a hostile crate
// runs (see ejecta-hostile-setuid): it says which user it runs as.
const helperEnv = "EJECTA_E2E_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "euid" {
		fmt.Printf("euid %d\n", os.Geteuid())
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// hostileClass is what each crate of testdata/hostile must come out as,
// as crater would have it: the attacks fail quietly (the build goes on and
// passes its test) or the crate fails its own build to print what it
// found into its log.
var hostileClass = map[string]string{
	"ejecta-hostile-symlink": "same-test-pass",
	"ejecta-hostile-config":  "same-test-pass",
	"ejecta-hostile-cgroup":  "same-test-pass",
	"ejecta-hostile-linger":  "same-test-pass",
	"ejecta-hostile-secrets": "same-build-fail",
	"ejecta-hostile-setuid":  "same-build-fail",
	"ejecta-hostile-escape":  "same-build-fail",
	"ejecta-hostile-uid":     "same-build-fail",
	// Only from the registry: its manifest's other sources are left out.
	"ejecta-hostile-fetch": "same-test-pass",
}

// TestHostileCrates runs the crates of testdata/hostile, each an attack on
// the builder host, through real experiments (containerd, cargo, stable
// and nightly) in build-and-test and check-only mode, from a directory
// source and from a sparse registry (whose resolution has the network),
// and checks on the host that every attack failed: no file written outside
// the job dirs, no connection to a host listener, no secret in any stored
// log, no cgroup made, no root, no privilege from a setuid program, no
// process a build script left running when the tests run; and
// that every crate gets the verdict crater would give it.
func TestHostileCrates(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: slow")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	h := newHostileHost(t)

	var st store.Store
	f := startFarmWith(t, ctx, testfarm.Config{Name: "hostile", WorkDir: h.workDir, Hide: h.hidden}, fileStore(&st))
	local := h.registry(t, "", "ejecta-hostile-symlink", "ejecta-hostile-config", "ejecta-hostile-cgroup",
		"ejecta-hostile-secrets", "ejecta-hostile-setuid", "ejecta-hostile-escape", "ejecta-hostile-uid", "ejecta-hostile-linger")
	remote := testenv.ServeSparseRegistry(t, h.registry(t, "sparse", "ejecta-hostile-config", "ejecta-hostile-symlink", "ejecta-hostile-fetch"))
	before := listing(t, local)

	all := strings.Join(slices.DeleteFunc(slices.Sorted(maps.Keys(hostileClass)), func(c string) bool { return c == "ejecta-hostile-fetch" }), ",")
	exps := []producer.Request{
		{Name: "hostile-test", Mode: string(streams.ModeBuildAndTest), Crates: all, CrateSource: local},
		{Name: "hostile-check", Mode: string(streams.ModeCheckOnly), Crates: all, CrateSource: local},
		{Name: "hostile-registry", Mode: string(streams.ModeBuildAndTest), Crates: "ejecta-hostile-config,ejecta-hostile-fetch,ejecta-hostile-symlink", CrateSource: remote.Source},
	}
	p := producer.New(f.js, f.log)
	for i := range exps {
		exps[i].Toolchains = []string{"stable", "nightly"}
		if _, err := p.Create(ctx, exps[i]); err != nil {
			t.Fatalf("create %s: %v", exps[i].Name, err)
		}
	}

	var logs []string // every stored log and page of every experiment
	for _, e := range exps {
		rep := waitReport(ctx, t, f, st, e.Name, 2*len(strings.Split(e.Crates, ",")))
		for _, c := range rep.Crates {
			if want := hostileClass[c.Name]; c.Class != want {
				t.Errorf("%s: %s is %s, want %s (%+v)", e.Name, c.Name, c.Class, want, c.Results)
			}
			for _, r := range c.Results {
				text, err := readObject(ctx, t, st, streams.ExperimentPrefix(e.Name)+r.Log)
				if err != nil {
					t.Fatalf("%s: log of %s on %s: %v", e.Name, c.Name, r.Toolchain, err)
				}
				page, err := readObject(ctx, t, st, streams.ExperimentPrefix(e.Name)+strings.TrimSuffix(r.Log, ".log")+".html")
				if err != nil {
					t.Fatalf("%s: page of %s on %s: %v", e.Name, c.Name, r.Toolchain, err)
				}
				logs = append(logs, text, page)
				h.checkLog(t, e.Name+"/"+c.Name+"/"+r.Toolchain, c.Name, text, page)
			}
		}
	}

	// Nothing reached the host.
	if n := h.connections.Load(); n != 0 {
		t.Errorf("the host's listener accepted %d connections from builds", n)
	}
	if ents, _ := os.ReadDir(h.target); len(ents) != 0 {
		t.Errorf("%d files written into %s, outside every job dir", len(ents), h.target)
	}
	if after := listing(t, local); !slices.Equal(before, after) {
		t.Errorf("the crate source changed:\nbefore %v\nafter  %v", before, after)
	}
	agents, _ := filepath.Glob("/sys/fs/cgroup/*/release_agent")
	for _, a := range agents {
		if b, _ := os.ReadFile(a); strings.Contains(string(b), "ejecta-hostile") {
			t.Errorf("a build set %s to %q", a, b)
		}
	}
	if thp, _ := os.ReadFile(thpPath); string(thp) != string(h.thp) {
		t.Errorf("a build changed %s from %q to %q", thpPath, h.thp, thp)
	}
	if made, _ := filepath.Glob("/sys/fs/cgroup/*/ejecta-hostile-cgroup-made"); len(made) != 0 {
		t.Errorf("builds made cgroups %v", made)
	}
	if name, _ := os.Hostname(); name == "ejecta-hostile" {
		t.Error("a build changed the host name")
	}
	for _, text := range logs {
		if strings.Contains(text, h.canary) {
			t.Fatalf("a secret of the host is in a stored log:\n%s", text)
		}
	}
	// The secrets crate did look, and saw its own job dir only.
	if !slices.ContainsFunc(logs, func(s string) bool {
		return strings.Contains(s, "HOSTILE secrets: everything this build script could read")
	}) {
		t.Error("no log of the secrets crate's findings: the test proves nothing")
	}
}

// hostileHost is what the attacks aim at on the host, and the evidence.
type hostileHost struct {
	workDir string   // the builder's work dir, with another job's dir in it
	target  string   // a host dir the symlink attack tries to have written
	hidden  []string // the builder's credentials and key, as a deployment has them
	canary  string   // in every secret: must appear in no log
	addrs   []string // where the host listens: builds must not connect
	// connections counts what the listener accepted.
	connections atomic.Int64
	thp         []byte // the host's transparent huge page setting, before
}

// thpPath is a kernel setting of the host's the cgroup crate tries.
const thpPath = "/sys/kernel/mm/transparent_hugepage/enabled"

func newHostileHost(t *testing.T) *hostileHost {
	t.Helper()
	var r [8]byte
	rand.Read(r[:])
	h := &hostileHost{canary: "EJECTA-CANARY-" + hex.EncodeToString(r[:])}
	h.thp, _ = os.ReadFile(thpPath)
	base := testenv.DurableTempDir(t)
	h.workDir = filepath.Join(base, "jobs")
	h.target = filepath.Join(base, "target")
	for _, d := range []string{h.workDir, h.target} {
		if err := os.Mkdir(d, 0o777); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o777) // writable by anyone: only the sandbox stands in the way
	}
	// Secrets readable by all, where a deployment keeps them and where the
	// defaults hide them, plus another job's dir in the work dir.
	secret := "EJECTA_NATS_PASSWORD=" + h.canary + "\n"
	creds, key := filepath.Join(base, "builder.env"), filepath.Join(base, "client-key.pem")
	h.hidden = []string{creds, key}
	plant(t, creds, secret)
	plant(t, key, secret)
	plant(t, filepath.Join(h.workDir, "other-0-1-deadbeef", "target", "secret.txt"), secret)
	suffix := hex.EncodeToString(r[:4])
	for _, dir := range []string{"/etc/ejecta", "/home", "/var/lib/ejecta"} {
		plantOnHost(t, dir, "hostile-canary-"+suffix, secret)
	}

	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.connections.Add(1)
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	h.addrs = []string{fmt.Sprintf("127.0.0.1:%d", port)}
	if ip := hostIP(); ip != "" {
		h.addrs = append(h.addrs, net.JoinHostPort(ip, fmt.Sprint(port)))
	}
	return h
}

// plant writes a secret file, readable by all.
func plant(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// plantOnHost puts a secret file named name into dir, a host directory
// the sandbox hides by default, creating dir if need be; both go when t
// ends.
func plantOnHost(t *testing.T, dir, name, text string) {
	t.Helper()
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(dir) })
	}
	p := filepath.Join(dir, name)
	plant(t, p, text)
	t.Cleanup(func() { os.Remove(p) })
}

// hostIP is an address of the host's other than loopback, if it has one.
func hostIP() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}

// registry makes a directory source of the named crates of
// testdata/hostile, each told in its hostile.txt what to aim at, and the
// setuid crate given its setuid-root program.
func (h *hostileHost) registry(t *testing.T, name string, crates ...string) string {
	t.Helper()
	dir := filepath.Join(testenv.DurableTempDir(t), "registry"+name)
	params := "target=" + h.target + "\n"
	for _, a := range h.addrs {
		params += "addr=" + a + "\n"
	}
	for _, s := range append(slices.Clone(h.hidden), "/etc/ejecta", "/home", "/var/lib/ejecta") {
		params += "secret=" + s + "\n"
	}
	for _, c := range crates {
		src := filepath.Join(testenv.RepoRoot(t), "testdata", "hostile", c+"-0.1.0")
		dst := filepath.Join(dir, c+"-0.1.0")
		if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
			t.Fatal(err)
		}
		plant(t, filepath.Join(dst, "hostile.txt"), params)
		plant(t, filepath.Join(dst, ".cargo-checksum.json"), `{"package":"","files":{}}`)
		switch c {
		case "ejecta-hostile-setuid":
			setuidRoot(t, filepath.Join(dst, "suid-euid"))
		case "ejecta-hostile-fetch":
			// Sources only the host's network reaches: a git repository on
			// its loopback, for a [patch] and a dev-dependency, and a
			// registry there.
			f, err := os.OpenFile(filepath.Join(dst, "Cargo.toml"), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(f, "\n[dev-dependencies]\nhost-service = { git = \"http://%s/private.git\" }\n"+
				"\n[patch.crates-io]\nhost-patched = { git = \"http://%s/patched.git\" }\n", h.addrs[0], h.addrs[0])
			f.Close()
		}
	}
	return dir
}

// setuidRoot copies the test binary to path as a setuid-root program.
func setuidRoot(t *testing.T, path string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o4755); err != nil {
		t.Fatal(err)
	}
}

var (
	uidLineRE  = regexp.MustCompile(`HOSTILE uid: Uid:\s+(\d+)\s`)
	capsLineRE = regexp.MustCompile(`HOSTILE uid: CapEff:\s+(\S+)`)
	euidRE     = regexp.MustCompile(`says euid (\d+)`)
)

// checkLog checks what one build of crate logged: what the crates that
// report (by failing their build) found, and that the page shows no
// terminal control of the log raw.
func (h *hostileHost) checkLog(t *testing.T, what, crate, text, page string) {
	t.Helper()
	if strings.Contains(page, "\x1b") {
		t.Errorf("%s: the log page holds a raw escape character", what)
	}
	switch crate {
	case "ejecta-hostile-uid":
		m, c := uidLineRE.FindStringSubmatch(text), capsLineRE.FindStringSubmatch(text)
		if m == nil || m[1] == "0" || c == nil || c[1] != "0000000000000000" {
			t.Errorf("%s: uid %v, capabilities %v; want a build user with none:\n%s", what, m, c, text)
		}
	case "ejecta-hostile-setuid":
		ms := euidRE.FindAllStringSubmatch(text, -1)
		if len(ms) == 0 {
			t.Errorf("%s: the setuid program did not report:\n%s", what, text)
		}
		for _, m := range ms {
			if m[1] == "0" {
				t.Errorf("%s: a setuid program ran as root:\n%s", what, text)
			}
		}
	case "ejecta-hostile-escape":
		// The log keeps the bytes the build printed; only renderings
		// (the page, `ejecta tail`) defuse them.
		if !strings.Contains(text, "\x1b]0;HOSTILE-TITLE\x07") {
			t.Errorf("%s: the log lost the bytes the build printed:\n%q", what, text)
		}
	}
}

// waitReport waits until experiment exp has n results and every log is
// stored, and returns its report.
func waitReport(ctx context.Context, t *testing.T, f *farm, st store.Store, exp string, n int) report {
	t.Helper()
	for {
		if ctx.Err() != nil {
			s, _ := status.Get(context.Background(), f.js, exp)
			t.Fatalf("%s not done in time: %+v", exp, s)
		}
		time.Sleep(500 * time.Millisecond)
		data, err := readObject(ctx, t, st, results.Key(exp))
		if err != nil {
			continue
		}
		var rep report
		if err := json.Unmarshal([]byte(data), &rep); err != nil {
			t.Fatalf("results.json of %s: %v", exp, err)
		}
		if countResults(rep) == n && logsStored(ctx, t, st, rep) {
			return rep
		}
	}
}

// listing names every file under dir, with its size and mode.
func listing(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil {
			if fi, err := d.Info(); err == nil {
				out = append(out, fmt.Sprintf("%s %d %v", p, fi.Size(), fi.Mode()))
			}
		}
		return nil
	})
	return out
}
