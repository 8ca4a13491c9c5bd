package craterview

import (
	"strings"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// Run is what the view keeps of a crate's first run on one toolchain.
type Run struct {
	Toolchain string
	Status    streams.Status
	Reason    streams.Reason
}

// CrateEntry is crate name@version's entry in crater's results.json, its
// runs in the order of the experiment's toolchains (nil: no result yet).
// AppendCrateEntry appends crate name@version's entry in crater's
// results.json to dst, its runs in the order of the experiment's
// toolchains (nil: no result yet). It writes crater's
// CrateResult as json.Marshal of its Rust types' Go twins would
// (results_test.go), without reflection: a crater run's file holds 700k
// entries and is written from the reporter's state every few seconds.
// Crater's optional status (yanked, outdated) needs the crates.io index and
// is left out, as crater's serializer leaves out a None; the crate is its
// Crate enum, externally tagged (ejecta builds registry crates only); each
// run is a BuildTestResult, a TestResult as its string and the log's path
// relative to the report.
func AppendCrateEntry(dst []byte, name, version string, class results.Class, runs [2]*Run) []byte {
	dst = append(dst, `{"name":`...)
	dst = results.AppendString(dst, name+"-"+version)
	dst = append(dst, `,"url":`...)
	dst = results.AppendString(dst, "https://crates.io/crates/"+name+"/"+version)
	dst = append(dst, `,"krate":{"Registry":{"name":`...)
	dst = results.AppendString(dst, name)
	dst = append(dst, `,"version":`...)
	dst = results.AppendString(dst, version)
	dst = append(dst, `}},"res":`...)
	dst = results.AppendString(dst, class.CraterName())
	dst = append(dst, `,"runs":[`...)
	for i, r := range runs {
		if i > 0 {
			dst = append(dst, ',')
		}
		if r == nil {
			dst = append(dst, "null"...)
			continue
		}
		dst = append(dst, `{"res":`...)
		dst = results.AppendString(dst, TestResult(r.Status, r.Reason))
		dst = append(dst, `,"log":`...)
		dst = results.AppendString(dst, LogPath(r.Toolchain, name, version))
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
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
