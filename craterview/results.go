package craterview

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// crateResult is crater's CrateResult. Crater's optional status (yanked,
// outdated) needs the crates.io index and is left out, as crater's
// serializer leaves out a None.
type crateResult struct {
	Name  string  `json:"name"`
	URL   string  `json:"url"`
	Krate krate   `json:"krate"`
	Res   string  `json:"res"`
	Runs  [2]*run `json:"runs"`
}

// krate is crater's Crate enum, externally tagged; ejecta builds registry
// crates only.
type krate struct {
	Registry registryCrate `json:"Registry"`
}

type registryCrate struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// run is crater's BuildTestResult: a TestResult as its string and the
// log's path relative to the report.
type run struct {
	Res string `json:"res"`
	Log string `json:"log"`
}

// Run is what the view keeps of a crate's first run on one toolchain.
type Run struct {
	Toolchain string
	Status    streams.Status
	Reason    streams.Reason
}

// CrateEntry is crate name@version's entry in crater's results.json, its
// runs in the order of the experiment's toolchains (nil: no result yet).
func CrateEntry(name, version string, class results.Class, runs [2]*Run) ([]byte, error) {
	c := crateResult{
		Name:  name + "-" + version,
		URL:   "https://crates.io/crates/" + name + "/" + version,
		Krate: krate{registryCrate{name, version}},
		Res:   class.CraterName(),
	}
	for i, r := range runs {
		if r != nil {
			c.Runs[i] = &run{Res: TestResult(r.Status, r.Reason), Log: LogPath(r.Toolchain, name, version)}
		}
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode crater entry of %s@%s: %w", name, version, err)
	}
	return b, nil
}

// Retried reports whether crater's retry-regressed-list.txt names a crate
// of class c: regressed, spurious-regressed and prepare-fail, as crater's
// gen_retry_list takes them.
func Retried(c results.Class) bool {
	switch c.CraterName() {
	case string(results.ClassRegressed), string(results.ClassSpuriousRegressed), string(results.ClassPrepareFail):
		return true
	}
	return false
}

// TestResult is a result as crater's TestResult prints it:
// "build-fail:compiler-error(E0308)", "test-pass". Crater's parser refuses
// a reason on a status that takes none ("error:oom") and a reason it does
// not know, so a reason crater has no name for is its unknown.
func TestResult(s streams.Status, r streams.Reason) string {
	switch s {
	case streams.StatusBroken:
		// ejecta does not tell crater's broken reasons (cargo-toml,
		// yanked, ...) apart.
		return "broken:unknown"
	case streams.StatusPrepareFail, streams.StatusBuildFail, streams.StatusTestFail:
		return string(s) + ":" + failureReason(r)
	}
	return string(s)
}

// failureReason is r as crater's FailureReason prints it: its crater name,
// with compiler-error's codes joined by ", " and depends-on's crates as
// crater's crate ids (reg/<name>/<version>). A dependency named without a
// version has no crater id and is left out; with none left, or for a
// reason crater does not have, it is unknown.
//
// Crater prints compiler-diagnostic-change but its parser does not read it
// back, so that one is unknown too: the view must decode with crater's own
// types.
func failureReason(r streams.Reason) string {
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
