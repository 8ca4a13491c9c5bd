package reporter

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// The crater view: under <exp>/crater/, the files crater's report publishes
// that the Rust release team's tools read, in the shapes of crater's serde
// definitions (rust-lang/crater src/report/mod.rs, src/experiments.rs,
// src/toolchain.rs), so that those tools work on an ejecta experiment
// unchanged. They hold only what crater knows: a crate's verdict and its
// first run. Confirmation re-runs, first errors and root causes stay in
// ejecta's own files.
const (
	craterDir               = "crater/"
	craterResultsFileName   = craterDir + "results.json"
	craterConfigFileName    = craterDir + "config.json"
	craterRetryListFileName = craterDir + "retry-regressed-list.txt"
)

// craterCrateResult is crater's CrateResult. Crater's optional status
// (yanked, outdated) needs the crates.io index and is left out, as crater's
// serializer leaves out a None.
type craterCrateResult struct {
	Name  string        `json:"name"`
	URL   string        `json:"url"`
	Krate craterKrate   `json:"krate"`
	Res   string        `json:"res"`
	Runs  [2]*craterRun `json:"runs"`
}

// craterKrate is crater's Crate enum, externally tagged; ejecta builds
// registry crates only.
type craterKrate struct {
	Registry craterRegistryCrate `json:"Registry"`
}

type craterRegistryCrate struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// craterRun is crater's BuildTestResult: a TestResult as its string and
// the log's path relative to the report.
type craterRun struct {
	Res string `json:"res"`
	Log string `json:"log"`
}

// craterEntry is cs's entry in crater's results.json, encoded once per
// change.
func (cs *crateState) craterEntry() ([]byte, error) {
	if cs.crater == nil {
		k := cs.key
		c := craterCrateResult{
			Name:  k.name + "-" + k.version,
			URL:   "https://crates.io/crates/" + k.name + "/" + k.version,
			Krate: craterKrate{craterRegistryCrate{k.name, k.version}},
			Res:   cs.v.Class.CraterName(),
		}
		for i, r := range cs.runs {
			if r != nil {
				c.Runs[i] = &craterRun{Res: craterTestResult(r.Status, r.Reason), Log: craterLogPath(r.Toolchain, k.name, k.version)}
			}
		}
		b, err := json.Marshal(c)
		if err != nil {
			return nil, fmt.Errorf("encode crater entry of %s@%s: %w", k.name, k.version, err)
		}
		cs.crater = b
	}
	return cs.crater, nil
}

// craterResults returns crater's results.json as parts to write one after
// the other, and its retry-regressed-list.txt: the names of the crates
// crater would retry (regressed, spurious-regressed, prepare-fail), one a
// line, in the order of results.json, as crater's gen_retry_list writes
// them. Crates come in the report's order, not sorted by crater's crate id:
// crater's readers key on the fields, not the order.
func (e *experiment) craterResults() (net.Buffers, []byte, error) {
	parts := make(net.Buffers, 0, 2*len(e.crates)+2)
	parts = append(parts, []byte(`{"crates":[`))
	var retry strings.Builder
	n := 0
	for _, pfx := range e.prefixes {
		for _, cs := range e.pages[pfx].rows {
			b, err := cs.craterEntry()
			if err != nil {
				return nil, nil, err
			}
			if n > 0 {
				parts = append(parts, comma)
			}
			parts = append(parts, b)
			n++
			switch cs.v.Class.CraterName() {
			case string(results.ClassRegressed), string(results.ClassSpuriousRegressed), string(results.ClassPrepareFail):
				retry.WriteString(cs.key.name + "\n")
			}
		}
	}
	return append(parts, []byte("]}")), []byte(retry.String()), nil
}

// craterTestResult is a result as crater's TestResult prints it:
// "build-fail:compiler-error(E0308)", "test-pass". Crater's parser refuses
// a reason on a status that takes none ("error:oom") and a reason it does
// not know, so a reason crater has no name for is its unknown.
func craterTestResult(s streams.Status, r streams.Reason) string {
	switch s {
	case streams.StatusBroken:
		// ejecta does not tell crater's broken reasons (cargo-toml,
		// yanked, ...) apart.
		return "broken:unknown"
	case streams.StatusPrepareFail, streams.StatusBuildFail, streams.StatusTestFail:
		return string(s) + ":" + craterReason(r)
	}
	return string(s)
}

// craterReason is r as crater's FailureReason prints it: its crater name,
// with compiler-error's codes joined by ", " and depends-on's crates as
// crater's crate ids (reg/<name>/<version>). A dependency named without a
// version has no crater id and is left out; with none left, or for a
// reason crater does not have, it is unknown.
//
// Crater prints compiler-diagnostic-change but its parser does not read it
// back, so that one is unknown too: the view must decode with crater's own
// types.
func craterReason(r streams.Reason) string {
	name := r.CraterName()
	switch name {
	case "", string(streams.ReasonCompilerDiagnosticChange):
		return string(streams.ReasonUnknown)
	case string(streams.ReasonCompilerError):
		return name + "(" + strings.Join(r.Args(), ", ") + ")"
	case string(streams.ReasonDependsOn):
		var ids []string
		for _, a := range r.Args() {
			if dep, version, ok := splitPackage(a); ok {
				ids = append(ids, "reg/"+dep+"/"+version)
			}
		}
		if len(ids) == 0 {
			return string(streams.ReasonUnknown)
		}
		return name + "(" + strings.Join(ids, ", ") + ")"
	}
	return name
}

// splitPackage splits a depends-on argument as builders write it
// ("name@version", "name version", "name vversion") into name and
// version; ok is false when it has no version.
func splitPackage(p string) (name, version string, ok bool) {
	if name, version, ok = strings.Cut(p, "@"); ok {
		return name, version, version != ""
	}
	if name, version, ok = strings.Cut(p, " "); ok {
		version = strings.TrimPrefix(version, "v")
		return name, version, version != ""
	}
	return p, "", false
}

// craterLogPath is where crater's results.json says a crate's log on
// toolchain tc is: <toolchain>/reg/<name>-<version>, each component
// percent-encoded as crater's report encodes URLs (REPORT_ENCODE_SET).
func craterLogPath(tc, name, version string) string {
	return percentEncode(tc) + "/reg/" + percentEncode(name+"-"+version)
}

// percentEncode encodes s with crater's REPORT_ENCODE_SET: control bytes,
// every byte outside ASCII, and ` "#<>`?{}+`.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || strings.IndexByte(" \"#<>`?{}+", c) >= 0 {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// craterExperiment is crater's Experiment as its config.json holds it.
// Fields ejecta has no value for are crater's empty ones.
type craterExperiment struct {
	Name            string             `json:"name"`
	Toolchains      [2]craterToolchain `json:"toolchains"`
	Mode            string             `json:"mode"`
	CapLints        string             `json:"cap_lints"`
	Priority        int                `json:"priority"`
	CreatedAt       time.Time          `json:"created_at"`
	StartedAt       *time.Time         `json:"started_at"`
	CompletedAt     *time.Time         `json:"completed_at"`
	GitHubIssue     *struct{}          `json:"github_issue"`
	Status          string             `json:"status"`
	AssignedTo      *string            `json:"assigned_to"`
	ReportURL       *string            `json:"report_url"`
	IgnoreBlacklist bool               `json:"ignore_blacklist"`
	Requirement     *string            `json:"requirement"`
}

// craterToolchain is crater's Toolchain. ejecta's toolchains are rustup
// names (or toolchain directories), so each is a dist toolchain of that
// name, without crater's flags or patches.
type craterToolchain struct {
	Source       craterToolchainSource `json:"source"`
	Target       *string               `json:"target"`
	Rustflags    *string               `json:"rustflags"`
	Rustdocflags *string               `json:"rustdocflags"`
	Cargoflags   *string               `json:"cargoflags"`
	CITry        bool                  `json:"ci_try"`
	Patches      []struct{}            `json:"patches"`
}

// craterToolchainSource is rustwide's Toolchain, internally tagged.
type craterToolchainSource struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// craterConfigJSON is crater's config.json for e. It changes when the
// experiment completes, so it is written with every report, not once.
func (e *experiment) craterConfigJSON() ([]byte, error) {
	rec := e.rec
	c := craterExperiment{
		Name:      rec.Name,
		Mode:      string(rec.Mode),
		CapLints:  rec.CapLints,
		Priority:  rec.Priority,
		CreatedAt: rec.CreatedAt.UTC(),
		Status:    "running",
	}
	if c.CapLints == "" {
		// Lints not capped: capping at forbid, the highest level, changes
		// nothing, and crater wants a level.
		c.CapLints = "forbid"
	}
	for i := range c.Toolchains {
		if i < len(rec.Toolchains) {
			c.Toolchains[i] = craterToolchain{Source: craterToolchainSource{"dist", rec.Toolchains[i]}, Patches: []struct{}{}}
		}
	}
	// Crater has no aborted status; an aborted experiment gets no more
	// results, which is what completed tells a tool.
	if e.finished() || rec.State == streams.ExperimentAborted {
		c.Status = "completed"
		if !e.lastFinished.IsZero() {
			at := e.lastFinished.UTC()
			c.CompletedAt = &at
		}
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode crater config.json of %s: %w", e.name, err)
	}
	return b, nil
}
