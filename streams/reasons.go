package streams

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Reason is why an attempt failed: crater's FailureReason, as builders
// publish it in Result.Reason and LogEnd.Reason and reports show it. It is
// a name ("oom"), or a name and arguments in parentheses, comma-separated
// ("compiler-error(E0277,E0308)", "depends-on(serde)"). The empty Reason is
// no reason (test-pass, broken).
//
// This file is the whole vocabulary: every reason any component produces or
// treats specially is a constant or a constructor here, with crater's name
// for it where crater has one, and Spurious says which ones are probably
// not the compiler's fault.
//
// A reason is one of three kinds of thing:
//
//   - the crate failed: the compiler's verdict on the crate (unknown, ice,
//     compiler-error, depends-on, undefined-behavior). Never spurious: a
//     change between toolchains here is what an experiment looks for;
//   - a limit was hit: the build ran out of memory, disk or time, or tried
//     the network the sandbox does not have. The crate may be to blame, but
//     a change between toolchains is as likely load or luck: spurious, as in
//     crater;
//   - the farm failed: the sandbox, the log stream, the builder's toolchain,
//     the registry, the builder's own setup. Nothing was learnt about the
//     crate: spurious. These mostly come with status error, which Compare
//     never calls a regression anyway; a prepare step that ends with one is
//     not taken as proof the crate is broken.
type Reason string

// Reasons whose name is all there is to them.
const (
	// ReasonUnknown: the build failed and no more precise reason was found
	// (crater: unknown).
	ReasonUnknown Reason = "unknown"
	// ReasonICE: an internal compiler error, rustc panicked (crater: ice).
	// Any other build failure turning into an ICE is a regression.
	ReasonICE Reason = "ice"
	// ReasonUndefinedBehavior: Miri found undefined behaviour while running
	// the crate's tests (crater has no Miri mode; crater-at-home reports it).
	ReasonUndefinedBehavior Reason = "undefined-behavior"

	// ReasonOOM: the build was killed for exceeding its memory limit
	// (crater: oom). Spurious.
	ReasonOOM Reason = "oom"
	// ReasonNoSpace: the disk, the job's disk quota or /tmp filled up
	// (crater: no-space). Spurious.
	ReasonNoSpace Reason = "no-space"
	// ReasonTimeout: the attempt ran past its wall-clock limit and was
	// killed (crater: timeout). Spurious.
	ReasonTimeout Reason = "timeout"
	// ReasonNoOutputTimeout: the build printed nothing for the no-output
	// timeout and was killed. Crater calls this a timeout too; ejecta keeps
	// it apart in the log and the report, and it is just as spurious: a
	// build that hangs silently under one toolchain must not become a
	// confirmed regression.
	ReasonNoOutputTimeout Reason = "no-output-timeout"
	// ReasonNetworkAccess: the build tried to reach the network, which the
	// sandbox does not have (crater: network-access). Spurious.
	ReasonNetworkAccess Reason = "network-access"
	// ReasonCompilerDiagnosticChange: crater's name for a failure whose only
	// change is in the compiler's diagnostics. Spurious. No ejecta component
	// produces it; it is here so that a result carrying it is read as crater
	// reads it.
	ReasonCompilerDiagnosticChange Reason = "compiler-diagnostic-change"

	// ReasonSandboxError: the sandbox itself failed (containerd restarted,
	// a shim died); crater calls it docker. Status error; spurious.
	ReasonSandboxError Reason = "sandbox-error"
	// ReasonLogUnavailable: the build's log could not be published (the
	// logs stream full, NATS unreachable) for so long that the attempt says
	// nothing about the crate. Status error; spurious.
	ReasonLogUnavailable Reason = "log-unavailable"
	// ReasonToolchainMissing: rustup on the builder does not have the job's
	// toolchain. Status error; spurious.
	ReasonToolchainMissing Reason = "toolchain-missing"
	// ReasonDownloadFailed: a remote registry could not be read, or a
	// .crate file could not be downloaded from it. Status prepare-fail;
	// spurious: the registry's fault, not the crate's.
	ReasonDownloadFailed Reason = "download-failed"
	// ReasonChecksumMismatch: a downloaded .crate file does not match the
	// sha256 the registry's index gives for it. Status prepare-fail;
	// spurious: the registry (or what stands between it and the builder)
	// served bytes its own index disowns, which says nothing of the crate.
	ReasonChecksumMismatch Reason = "checksum-mismatch"
	// ReasonCrateSourceUnreadable: builds cannot read the job's directory
	// crate source (missing, or closed to their user): the builder's setup
	// is wrong. Status error; spurious.
	ReasonCrateSourceUnreadable Reason = "crate-source-unreadable"
	// ReasonWorkspaceError: the builder could not set up the job's
	// directory. Status error; spurious.
	ReasonWorkspaceError Reason = "workspace-error"
	// ReasonUnsupportedMode: the builder does not implement the job's mode
	// (a builder older than the producer). Status error; spurious.
	ReasonUnsupportedMode Reason = "unsupported-mode"
	// ReasonExperimentAborted: the build was stopped because its experiment
	// was aborted or deleted. It ends the log; no result is published.
	// Spurious.
	ReasonExperimentAborted Reason = "experiment-aborted"
	// ReasonDisputed: results of one build from two builder users
	// disagree on its verdict, so the reporter takes neither: one of
	// those builders, or its credential, cannot be trusted. Only the
	// reporter gives it. Status error; spurious.
	ReasonDisputed Reason = "disputed"
)

// The names of the reasons that take arguments, as Kind returns them. Build
// those reasons with their constructors (CompilerError, DependsOn,
// ComponentMissing, GaveUp); alone, these names are not reasons.
const (
	// ReasonCompilerError: the crate failed with these error codes and
	// denied lints (crater: compiler-error). Not spurious.
	ReasonCompilerError Reason = "compiler-error"
	// ReasonDependsOn: these dependencies failed to build, not the crate
	// itself (crater: depends-on); reports group such crates under the
	// dependency. Not spurious.
	ReasonDependsOn Reason = "depends-on"
	// ReasonComponentMissing: the builder's toolchain lacks a rustup
	// component the mode needs (clippy, miri). Status error; spurious.
	ReasonComponentMissing Reason = "component-missing"
	// ReasonGaveUp: the job was delivered more times than it has attempts
	// and none of them ended (the builder running it was killed or stopped
	// each time); the argument is the number of attempts. Status error;
	// spurious: it says nothing about either toolchain.
	ReasonGaveUp Reason = "gave-up"
)

// reasonDef is what the vocabulary knows about one reason name.
type reasonDef struct {
	crater   string // crater's name for it, "" if crater has none
	spurious bool
	args     bool // takes arguments
}

// vocabulary is every reason name, with crater's name and whether it is
// spurious. Spurious is crater's set (oom, no-space, timeout,
// network-access, docker, compiler-diagnostic-change), with the no-output
// timeout counted as the timeout it is in crater, plus ejecta's failures of
// the farm, none of which is ever the crate's.
var vocabulary = map[Reason]reasonDef{
	ReasonUnknown:           {crater: "unknown"},
	ReasonICE:               {crater: "ice"},
	ReasonCompilerError:     {crater: "compiler-error", args: true},
	ReasonDependsOn:         {crater: "depends-on", args: true},
	ReasonUndefinedBehavior: {},

	ReasonOOM:                      {crater: "oom", spurious: true},
	ReasonNoSpace:                  {crater: "no-space", spurious: true},
	ReasonTimeout:                  {crater: "timeout", spurious: true},
	ReasonNoOutputTimeout:          {crater: "timeout", spurious: true},
	ReasonNetworkAccess:            {crater: "network-access", spurious: true},
	ReasonCompilerDiagnosticChange: {crater: "compiler-diagnostic-change", spurious: true},

	ReasonSandboxError:          {crater: "docker", spurious: true},
	ReasonLogUnavailable:        {spurious: true},
	ReasonToolchainMissing:      {spurious: true},
	ReasonComponentMissing:      {spurious: true, args: true},
	ReasonDownloadFailed:        {spurious: true},
	ReasonChecksumMismatch:      {spurious: true},
	ReasonCrateSourceUnreadable: {spurious: true},
	ReasonWorkspaceError:        {spurious: true},
	ReasonUnsupportedMode:       {spurious: true},
	ReasonExperimentAborted:     {spurious: true},
	ReasonDisputed:              {spurious: true},
	ReasonGaveUp:                {spurious: true, args: true},
}

// Reasons lists every reason name of the vocabulary, sorted.
func Reasons() []Reason {
	out := make([]Reason, 0, len(vocabulary))
	for r := range vocabulary {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// Spurious reports whether a failure for reason r is probably not the
// compiler's fault, so that a change between toolchains caused by it is
// reported apart (spurious-regressed, spurious-fixed) and nobody bisects
// rustc for an out-of-memory kill. A reason this build does not know is
// not spurious: crater adds reasons, and a failure is the crate's until
// shown otherwise.
func Spurious(r Reason) bool { return vocabulary[r.Kind()].spurious }

// Known reports whether r's name is in this build's vocabulary.
func (r Reason) Known() bool {
	_, ok := vocabulary[r.Kind()]
	return ok
}

// CraterName is what crater calls r's kind of failure ("docker" for
// sandbox-error, "timeout" for no-output-timeout), or "" if crater has no
// such reason.
func (r Reason) CraterName() string { return vocabulary[r.Kind()].crater }

// Kind is r's name without its arguments: "compiler-error" for
// "compiler-error(E0308)", "oom" for "oom".
func (r Reason) Kind() Reason {
	if _, ok := legacyGaveUp(string(r)); ok {
		return ReasonGaveUp
	}
	if i := strings.IndexByte(string(r), '('); i >= 0 {
		return r[:i]
	}
	return r
}

// Args are r's arguments ("E0277", "E0308" of "compiler-error(E0277,
// E0308)"), white space around each trimmed; nil if it has none.
func (r Reason) Args() []string {
	if n, ok := legacyGaveUp(string(r)); ok {
		return []string{strconv.Itoa(n)}
	}
	i := strings.IndexByte(string(r), '(')
	if i < 0 || !strings.HasSuffix(string(r), ")") {
		return nil
	}
	args := strings.Split(string(r[i+1:len(r)-1]), ",")
	for i := range args {
		args[i] = strings.TrimSpace(args[i])
	}
	return args
}

// MaxReasonBytes bounds a reason. The longest a builder makes are a
// compiler-error listing many codes and lints and a depends-on listing many
// crates; the constructors cut their lists to fit.
const MaxReasonBytes = 4 << 10

// ellipsis ends an argument list a constructor had to cut.
const ellipsis = "..."

// CompilerError is the reason of a crate that failed with these error codes
// or denied lints: sorted, each once. With no valid code it is
// ReasonUnknown.
func CompilerError(codes ...string) Reason { return withArgs(ReasonCompilerError, codes) }

// DependsOn is the reason of a crate whose dependencies (package names,
// "name@version", "name version" or "name vversion") failed to build:
// sorted, each once. Anything else is left out: the names come from what a
// build printed, and a report must not name whatever the crate chose (an
// "@org/team" its markdown would mention). With no valid name it is
// ReasonUnknown.
func DependsOn(crates ...string) Reason {
	var ok []string
	for _, c := range crates {
		if c = strings.TrimSpace(c); isPackage(c) {
			ok = append(ok, c)
		}
	}
	return withArgs(ReasonDependsOn, ok)
}

// isPackage reports whether s names a package as cargo prints one: a
// crate name, optionally with its version after '@', ' ' or " v".
func isPackage(s string) bool {
	name, version, ok := strings.Cut(s, "@")
	if !ok {
		if name, version, ok = strings.Cut(s, " "); ok {
			version = strings.TrimPrefix(version, "v")
		}
	}
	return ValidateCrateName(name) == nil && (!ok || ValidateVersion(version) == nil)
}

// ComponentMissing is the reason of a job whose toolchain lacks the rustup
// component name ("clippy", "miri").
func ComponentMissing(name string) Reason { return withArgs(ReasonComponentMissing, []string{name}) }

// GaveUp is the reason of a job given up after attempts attempts, none of
// which ended.
func GaveUp(attempts int) Reason {
	return withArgs(ReasonGaveUp, []string{strconv.Itoa(attempts)})
}

// withArgs makes kind(args...), args sorted and each once. Arguments a
// reason cannot carry (empty, or with a parenthesis, a comma or a control
// byte: what a crate printed is not to be trusted) are left out; a list too
// long for MaxReasonBytes is cut and ends in "...". Without any argument
// left it is ReasonUnknown: a reason that needs arguments is not one
// without them.
func withArgs(kind Reason, args []string) Reason {
	var ok []string
	for _, a := range args {
		if a = strings.TrimSpace(a); validArg(a) {
			ok = append(ok, a)
		}
	}
	slices.Sort(ok)
	ok = slices.Compact(ok)
	if len(ok) == 0 {
		return ReasonUnknown
	}
	var b strings.Builder
	b.WriteString(string(kind))
	b.WriteByte('(')
	for i, a := range ok {
		// Room for this argument with its comma, and after it for the
		// closing parenthesis or, if more follow, for ",...)": what the
		// previous argument left room for is always there.
		need := len(a) + 1
		if i > 0 {
			need++
		}
		if i < len(ok)-1 {
			need += len("," + ellipsis)
		}
		if b.Len()+need > MaxReasonBytes {
			if i == 0 {
				return ReasonUnknown
			}
			b.WriteString("," + ellipsis)
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(a)
	}
	b.WriteByte(')')
	return Reason(b.String())
}

// validArg reports whether a can be an argument of a reason: printable
// ASCII without parentheses or commas, not empty, not starting or ending
// with a space.
func validArg(a string) bool {
	if a == "" || a[0] == ' ' || a[len(a)-1] == ' ' {
		return false
	}
	for i := 0; i < len(a); i++ {
		if c := a[i]; c < ' ' || c > '~' || c == '(' || c == ')' || c == ',' {
			return false
		}
	}
	return true
}

// validName reports whether n can be a reason's name: a lower-case letter,
// then up to 63 lower-case letters, digits and '-', as every crater and
// ejecta reason is spelled.
func validName(n string) bool {
	return isToken(n, 64, true, "-") && n[0] >= 'a' && n[0] <= 'z'
}

// legacyGaveUp reads "gave up after N attempts", how builders wrote
// ReasonGaveUp before it was gave-up(N): such results may still be in the
// results stream.
func legacyGaveUp(s string) (int, bool) {
	rest, ok := strings.CutPrefix(s, "gave up after ")
	if !ok {
		return 0, false
	}
	rest, ok = strings.CutSuffix(rest, " attempts")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil && n >= 0 && strconv.Itoa(n) == rest
}

// ParseReason checks a reason read from the wire and returns it as it is.
// The empty string is no reason and valid.
//
// A reason this build does not know but that is spelled as reasons are (a
// name of lower-case letters, digits and '-', then optionally arguments in
// parentheses) is accepted and kept: crater adds reasons, and a newer
// builder may know more than this reporter; such a reason is shown as it
// is and is not spurious. What is not spelled as a reason (upper case,
// white space or control bytes in the name, unbalanced parentheses, an
// empty argument, more than MaxReasonBytes), a known name without the
// arguments it takes, or with arguments it does not take, is refused:
// that is no builder's output, and a report must not show it.
func ParseReason(s string) (Reason, error) {
	if s == "" {
		return "", nil
	}
	if len(s) > MaxReasonBytes {
		return "", fmt.Errorf("reason %s: longer than %d bytes", Bounded(s), MaxReasonBytes)
	}
	if _, ok := legacyGaveUp(s); ok {
		return Reason(s), nil
	}
	name, args, hasArgs := strings.Cut(s, "(")
	if !validName(name) {
		return "", fmt.Errorf("reason %s: want a name of a-z, 0-9 and '-' starting with a letter, then optionally (arguments)", Bounded(s))
	}
	if hasArgs {
		inner, ok := strings.CutSuffix(args, ")")
		if !ok {
			return "", fmt.Errorf("reason %s: arguments not closed by ')' at the end", Bounded(s))
		}
		for a := range strings.SplitSeq(inner, ",") {
			if !validArg(strings.TrimLeft(a, " ")) {
				return "", fmt.Errorf("reason %s: bad argument %s: want printable ASCII without '(', ')' or ','", Bounded(s), Bounded(a))
			}
		}
	}
	if def, known := vocabulary[Reason(name)]; known && def.args != hasArgs {
		if def.args {
			return "", fmt.Errorf("reason %s: %s takes arguments", Bounded(s), name)
		}
		return "", fmt.Errorf("reason %s: %s takes no arguments", Bounded(s), name)
	}
	return Reason(s), nil
}
