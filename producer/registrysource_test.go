package producer_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/producer"
	"github.com/rs/zerolog"
)

// TestCreateFromRegistry selects crates from a sparse registry served on
// loopback: names resolve to the newest release in its index, pins to
// their version, and what the index cannot answer is refused by name.
func TestCreateFromRegistry(t *testing.T) {
	ctx, js, p := setup(t)
	src := fakeRegistry(t, "a@1.0.0", "a@1.2.0", "a@2.0.0-rc.1", "b-c@0.1.0", "d@2.0.0")
	reg := testenv.ServeSparseRegistry(t, src)
	req := producer.Request{Name: "from-registry", Toolchains: []string{"stable", "nightly"}, Mode: "check-only",
		Crates: "a, b-c, a@1.0.0, d", Skip: "d", CrateSource: reg.Source}
	out, err := p.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, j := range jobs(ctx, t, js) {
		if j.Toolchain == "stable" {
			keys = append(keys, j.Crate+"@"+j.Version)
		}
		if j.CrateSource != reg.Source {
			t.Errorf("job %s@%s: crate source %q, want the registry", j.Crate, j.Version, j.CrateSource)
		}
	}
	if got, want := strings.Join(keys, " "), "a@1.0.0 a@1.2.0 b-c@0.1.0"; got != want || out.Experiment.CrateSource != reg.Source {
		t.Errorf("jobs %s, want %s (the newest release of a, not its rc; d skipped); experiment source %q", got, want, out.Experiment.CrateSource)
	}

	for _, tc := range []struct{ name, crates, source, want string }{
		{"unknown crate", "a,nope,zzz@1.0.0", reg.Source, "crates: unknown crate(s) nope, zzz@1.0.0: not in crate source " + reg.Source},
		{"unknown version", "a@9.9.9", reg.Source, "unknown crate(s) a@9.9.9"},
		{"all", "all", reg.Source, `crates: "all" needs the list of every crate`},
		{"top-N", "top-10", reg.Source, `crates: "top-10" needs the list of every crate`},
		{"bad name", "../etc", reg.Source, `crate name "../etc"`},
		{"no trailing slash", "a", strings.TrimSuffix(reg.Source, "/"), "ends with '/'"},
		{"not sparse", "a", "https://index.crates.io/", "crate-source"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := req
			r.Name, r.Crates, r.Skip, r.CrateSource = "fresh", tc.crates, "", tc.source
			_, err := p.Create(ctx, r)
			wantInvalid(t, err, tc.want)
		})
	}

	// A registry that does not answer is not the request's fault.
	r := req
	r.Name, r.CrateSource = "fresh", "sparse+http://127.0.0.1:1/index/"
	_, err = p.Create(ctx, r)
	var ie *producer.InvalidError
	if err == nil || errors.As(err, &ie) || !errors.Is(err, producer.ErrRegistryUnreadable) {
		t.Errorf("unreachable registry: %v, want ErrRegistryUnreadable and not an InvalidError", err)
	}
}

// A registry read over plain HTTP is accepted with a warning naming it, in
// the outcome and in the producer's log; a directory source gets none.
func TestCreateWarnsOfPlainHTTPRegistry(t *testing.T) {
	ctx, js, _ := setup(t)
	var logged bytes.Buffer
	p := producer.New(js, zerolog.New(&logged))
	src := fakeRegistry(t, "a@1.0.0")
	reg := testenv.ServeSparseRegistry(t, src)
	req := producer.Request{Name: "plain-http", Toolchains: []string{"stable", "nightly"}, Mode: "check-only",
		Crates: "a", CrateSource: reg.Source, NoToolchainCheck: true}
	out, err := p.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Warnings) != 1 || !strings.Contains(out.Warnings[0], reg.Source) || !strings.Contains(out.Warnings[0], "only as trustworthy as the index") {
		t.Errorf("warnings %q, want one naming %s", out.Warnings, reg.Source)
	}
	if l := logged.String(); !strings.Contains(l, `"level":"warn"`) || !strings.Contains(l, `"crate_source":"`+reg.Source+`"`) {
		t.Errorf("log %q, want a warning with the crate source", l)
	}

	logged.Reset()
	req.Name, req.CrateSource = "from-dir", src
	if out, err = p.Create(ctx, req); err != nil || len(out.Warnings) != 0 || strings.Contains(logged.String(), "warn") {
		t.Errorf("directory source: %v, warnings %q, log %q; want none", err, out.Warnings, logged.String())
	}
}
