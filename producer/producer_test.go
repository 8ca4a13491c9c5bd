package producer_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// fakeRegistry writes a directory registry of the given name@version crates.
func fakeRegistry(t *testing.T, crates ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, c := range crates {
		name, ver, _ := strings.Cut(c, "@")
		d := filepath.Join(dir, name+"-"+ver)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		manifest := "[package]\nname = \"" + name + "\"\nversion = \"" + ver + "\"\n"
		if err := os.WriteFile(filepath.Join(d, "Cargo.toml"), []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// wantInvalid fails t unless err is an InvalidError, the kind of error
// for bad input, and its message contains want.
func wantInvalid(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Create: %v\nwant an error containing %q", err, want)
	}
	var ie *producer.InvalidError
	if !errors.As(err, &ie) {
		t.Errorf("error %v is not an InvalidError", err)
	}
}

func setup(t *testing.T) (context.Context, jetstream.JetStream, *producer.Producer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	_, js := testenv.StartNATS(t).Connect(t)
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	return ctx, js, producer.New(js, zerolog.Nop())
}

func jobs(ctx context.Context, t *testing.T, js jetstream.JetStream) []streams.Job {
	t.Helper()
	s, err := js.Stream(ctx, streams.JobsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []streams.Job
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		var j streams.Job
		if err := streams.Decode(m.Data, &j); err != nil {
			t.Fatalf("job %d: %v", seq, err)
		}
		// First runs on the job subject, re-runs on their own.
		want := streams.JobSubject(j.BuildKey)
		if streams.AttemptRound(j.AttemptBase+1) > 0 {
			want = streams.RerunSubject(j.BuildKey)
		}
		if m.Subject != want {
			t.Errorf("job %v (base %d) on subject %s, want %s", j.BuildKey, j.AttemptBase, m.Subject, want)
		}
		out = append(out, j)
	}
	return out
}

func TestCreatePublishesOneJobPerCrateAndToolchainOnce(t *testing.T) {
	ctx, js, p := setup(t)
	src := fakeRegistry(t, "a@1.0.0", "a@1.2.0", "b-c@0.1.0", "d@2.0.0")
	req := producer.Request{Name: "exp1", Toolchains: []string{"stable", "nightly"}, Mode: "check-only",
		Crates: "a, b-c, a@1.0.0", CrateSource: src, CapLints: "warn"}
	out, err := p.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if out.Added != 6 || out.Existed || out.Experiment.Jobs != 6 || out.Experiment.Published != 6 {
		t.Fatalf("Create = %+v, want 6 new jobs", out)
	}
	got := jobs(ctx, t, js)
	var keys []string
	for _, j := range got {
		keys = append(keys, j.Crate+"@"+j.Version+"/"+j.Toolchain)
		if j.Mode != streams.ModeCheckOnly || j.CapLints != "warn" || j.CrateSource != src {
			t.Errorf("job %+v: mode, cap-lints or source not passed through", j)
		}
	}
	want := "a@1.0.0/stable a@1.0.0/nightly a@1.2.0/stable a@1.2.0/nightly b-c@0.1.0/stable b-c@0.1.0/nightly"
	if strings.Join(keys, " ") != want {
		t.Errorf("jobs %s\nwant %s", strings.Join(keys, " "), want)
	}

	// The same command again adds nothing.
	again, err := p.Create(ctx, req)
	if err != nil || again.Added != 0 || !again.Existed {
		t.Fatalf("repeat Create = %+v, %v; want existing, 0 added", again, err)
	}
	if n := len(jobs(ctx, t, js)); n != 6 {
		t.Errorf("after repeat: %d jobs, want 6", n)
	}
	// A resumed create (record says 2 of 6 published) publishes the rest
	// once: the jobs already there are dropped by their Msg-Id.
	kv, _ := js.KeyValue(ctx, streams.ExperimentsBucket)
	e, _ := kv.Get(ctx, "exp1")
	var rec streams.Experiment
	_ = json.Unmarshal(e.Value(), &rec)
	rec.Published = 2
	data, _ := json.Marshal(rec)
	if _, err := kv.Put(ctx, "exp1", data); err != nil {
		t.Fatal(err)
	}
	resumed, err := p.Create(ctx, req)
	if err != nil || resumed.Added != 0 || resumed.Experiment.Published != 6 {
		t.Fatalf("resumed Create = %+v, %v", resumed, err)
	}
	if n := len(jobs(ctx, t, js)); n != 6 {
		t.Errorf("after resume: %d jobs, want 6", n)
	}
}

func TestCreateRefusesBadRequestsNamingTheField(t *testing.T) {
	ctx, _, p := setup(t)
	src := fakeRegistry(t, "a@1.0.0", "b@0.1.0")
	list := filepath.Join(t.TempDir(), "list.txt")
	if err := os.WriteFile(list, []byte("# comment\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ok := producer.Request{Name: "taken", Toolchains: []string{"stable", "nightly"}, Mode: "check-only", Crates: "a", CrateSource: src}
	if _, err := p.Create(ctx, ok); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		mut  func(*producer.Request)
		want string
	}{
		{"unknown mode", func(r *producer.Request) { r.Mode = "fuzz" }, `mode: unknown mode "fuzz" (accepted: build-and-test, build-only, check-only, clippy, rustdoc, unstable-features, fix, miri)`},
		{"one toolchain", func(r *producer.Request) { r.Toolchains = []string{"stable"} }, "toolchains: want exactly two"},
		{"three toolchains", func(r *producer.Request) { r.Toolchains = []string{"a", "b", "c"} }, "toolchains: want exactly two"},
		{"same toolchain", func(r *producer.Request) { r.Toolchains = []string{"stable", "stable"} }, "two different toolchains"},
		{"empty selection", func(r *producer.Request) { r.Crates = " , " }, "crates: selection"},
		{"empty list file", func(r *producer.Request) { r.Crates = "@" + list }, "crates: selection"},
		{"missing list file", func(r *producer.Request) { r.Crates = "@/nonexistent/list" }, "crates: read list"},
		{"unknown crate", func(r *producer.Request) { r.Crates = "a,nope,zzz@1.0.0" }, "crates: unknown crate(s) nope, zzz@1.0.0"},
		{"unknown version", func(r *producer.Request) { r.Crates = "a@9.9.9" }, "unknown crate(s) a@9.9.9"},
		{"bad crate name", func(r *producer.Request) { r.Crates = "../etc" }, `crate name "../etc"`},
		{"crate name with a slash", func(r *producer.Request) { r.Crates = "a/b" }, `crate name "a/b"`},
		{"crate name with a star", func(r *producer.Request) { r.Crates = "a*" }, `crate name "a*"`},
		{"crate name with a subject wildcard", func(r *producer.Request) { r.Crates = "a.>" }, `crate name "a.>"`},
		{"crate name with a space", func(r *producer.Request) { r.Crates = "a b" }, `crate name "a b"`},
		{"crate name not ASCII", func(r *producer.Request) { r.Crates = "naïve" }, `crate name "naïve"`},
		{"crate name with a NUL", func(r *producer.Request) { r.Crates = "a\x00" }, `crate name "a\x00"`},
		{"crate name of 1 KB", func(r *producer.Request) { r.Crates = strings.Repeat("k", 1024) }, `crate name "` + strings.Repeat("k", 64) + `"... (1024 bytes)`},
		{"name taken", func(r *producer.Request) { r.Name = "taken"; r.Mode = "build-only" }, `name: experiment name taken: "taken"`},
		{"bad name", func(r *producer.Request) { r.Name = "Bad Name" }, `name: experiment name "Bad Name"`},
		{"cap lints", func(r *producer.Request) { r.CapLints = "loud" }, `cap-lints: unknown level "loud"`},
		{"priority", func(r *producer.Request) { r.Priority = 1000 }, "priority: 1000"},
		{"crate source", func(r *producer.Request) { r.CrateSource = "/nonexistent" }, `crate-source: "/nonexistent" is not a directory`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			r.Name = "fresh"
			tc.mut(&r)
			_, err := p.Create(ctx, r)
			wantInvalid(t, err, tc.want)
		})
	}
}

func TestSelectAllAndNewest(t *testing.T) {
	src, err := producer.ScanSource(fakeRegistry(t, "a@1.0.0", "a@1.10.0", "a@1.9.0", "b@0.1.0"))
	if err != nil {
		t.Fatal(err)
	}
	all, err := producer.Select("all", src)
	if err != nil || len(all) != 4 {
		t.Fatalf("all = %v, %v", all, err)
	}
	newest, err := producer.Select("a", src)
	if err != nil || len(newest) != 1 || newest[0].Version != "1.10.0" {
		t.Fatalf("newest a = %v, %v; want 1.10.0", newest, err)
	}
}
