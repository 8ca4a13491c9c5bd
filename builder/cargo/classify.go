package cargo

import (
	"bytes"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/ejecta-build/ejecta/builder/workspace"
	"github.com/ejecta-build/ejecta/streams"
)

// maxDiagLine bounds how much of one line is kept for matching; the
// patterns below all sit at the start of a line, and a minified-JSON line of
// megabytes must not become a megabyte allocation.
const maxDiagLine = 4 << 10

var (
	// errorCodeRE matches rustc's "error[E0308]: mismatched types" header.
	errorCodeRE = regexp.MustCompile(`^error\[(E[0-9]{4})\]`)
	// couldNotCompileRE matches cargo's "error: could not compile `x` (lib) due to ...".
	couldNotCompileRE = regexp.MustCompile("could not compile `([^`]+)`")
	// toolchainMissingRE matches rustup's refusal under RUSTUP_AUTO_INSTALL=0.
	toolchainMissingRE = regexp.MustCompile(`^error: toolchain '[^']*' is not installed`)
	// componentMissingRE matches rustup's refusal to run a tool (cargo-clippy,
	// cargo-miri) whose component the toolchain lacks.
	componentMissingRE = regexp.MustCompile(`^error: '([A-Za-z0-9_-]+)' is not installed for the toolchain`)
	// lintNoteRE matches the note naming the denied lint behind an error:
	// "`#[deny(clippy::approx_constant)]` on by default", "`-D unused-variables`
	// implied by `-D warnings`". Warnings carry #[warn(...)] notes, never these.
	lintNoteRE = regexp.MustCompile("`(?:#!?\\[(?:deny|forbid)\\(([A-Za-z0-9_:-]+)\\)\\]|-[DF] ([A-Za-z0-9_:-]+))`")
	// lintLevelSourceRE matches the quoted source line after "the lint level
	// is defined here": `3 | #![deny(rustdoc::broken_intra_doc_links)]`.
	lintLevelSourceRE = regexp.MustCompile(`\|\s*#!?\[(?:deny|forbid)\(([A-Za-z0-9_:, -]+)\)`)
	// testsRunningRE matches libtest's "running 3 tests" header, one per test
	// binary and one for the doc-tests.
	testsRunningRE = regexp.MustCompile(`^running ([0-9]+) tests?$`)
	// noSpaceRE matches ENOSPC as Rust, C tools and the linker print it.
	noSpaceRE = regexp.MustCompile(`No space left on device|os error 28\b|Disk quota exceeded`)
	// networkRE matches what a connection attempt prints in a sandbox that
	// has only a loopback interface and no resolver it can reach.
	networkRE = regexp.MustCompile(`Network is unreachable|os error 101\b|Temporary failure in name resolution|failed to lookup address information|Could not resolve host|Couldn't resolve host`)
	// registryDownRE matches cargo failing to reach a remote registry (the
	// one step that has the network): the registry's fault, not the crate's.
	registryDownRE = regexp.MustCompile(`Couldn't connect to server|failed to get successful HTTP response|download of \S+ failed|Timeout was reached|spurious network error`)
	// sourceUnreadableRE matches cargo failing to list a directory source.
	sourceUnreadableRE = regexp.MustCompile(`failed to read root of directory source`)
)

// diagnostics reads a step's output as it streams past (it is an
// io.Writer, fed alongside the log) and keeps only the facts a failure
// reason is made of, never the output itself.
type diagnostics struct {
	mu  sync.Mutex
	ice bool
	// noSpace, network: the output said the disk was full, or a
	// connection could not be made.
	noSpace, network bool
	// remote: the step reads a remote registry, whose failures
	// registryDown records; other steps skip those patterns.
	remote, registryDown bool
	codes                map[string]bool
	failed               map[string]bool // packages cargo could not compile
	// noToolchain: rustup refused to run cargo at all.
	noToolchain bool
	// resolving: the step only resolves (generate-lockfile), runs no crate
	// code, so what it prints about the crate source is cargo's own; noSource
	// records that it could not read the directory source.
	resolving, noSource bool
	// ub: Miri reported undefined behaviour.
	ub bool
	// noComponent: the tool rustup said the toolchain does not have.
	noComponent string
	// lintSource counts down the lines after "the lint level is defined
	// here" in which the quoted #![deny(...)] is looked for.
	lintSource int
	// testBinaries and tests count libtest's "running N tests" headers and
	// their N: a test step that ran zero tests means the crate has none.
	testBinaries, tests int
	// json: the step ran under jsonFormat, rustc's diagnostics are read
	// from its messages (message), not from their text.
	json bool
	// first is the step's first error, from a diagnostic or else from
	// cargo's own error line.
	first *streams.FirstError
	// launched counts the test binaries cargo started ("Running ...",
	// "Doc-tests ..."): one more than testBinaries is a test without
	// libtest's harness (harness = false), which ran and printed no header.
	launched int
}

func newDiagnostics() *diagnostics {
	return &diagnostics{codes: map[string]bool{}, failed: map[string]bool{}}
}

// writer returns a line-splitting writer for one stream. Each stream needs
// its own: stdout and stderr lines interleave but never share a line.
func (d *diagnostics) writer() io.Writer { return &diagLines{d: d} }

type diagLines struct {
	d       *diagnostics
	partial []byte
	// errors: the stream is stderr, where cargo prints its own errors
	// (firstError's fallback when the compiler printed none).
	errors bool
	// inLine: partial holds the start of a line, which began on the log
	// line at (0: unknown).
	inLine bool
	at     int
}

func (w *diagLines) Write(p []byte) (int, error) {
	w.write(p, 0)
	return len(p), nil
}

// write splits p into lines, p's first byte having gone to log line at
// (0: unknown).
func (w *diagLines) write(p []byte, at int) {
	for len(p) > 0 {
		if !w.inLine {
			w.inLine, w.at = true, at
		}
		i := bytes.IndexByte(p, '\n')
		piece := p
		if i >= 0 {
			piece = p[:i]
		}
		if room := maxDiagLine - len(w.partial); room > 0 {
			w.partial = append(w.partial, piece[:min(room, len(piece))]...)
		}
		if i < 0 {
			break
		}
		w.d.lineAt(w.partial, w.at, w.errors)
		w.partial = w.partial[:0]
		w.inLine = false
		if at > 0 {
			at++
		}
		p = p[i+1:]
	}
}

func (d *diagnostics) line(raw []byte) { d.lineAt(raw, 0, false) }

// lineAt reads one line of text output, which is on log line at (0:
// unknown); errors says it is on stderr.
func (d *diagnostics) lineAt(raw []byte, at int, errors bool) {
	// Every line of every log passes here, and most are "Compiling x" or
	// test output that no pattern can match: a cheap literal test guards
	// each regexp, and ANSI codes are stripped only from lines that have
	// an escape.
	var l string
	if bytes.IndexByte(raw, '\x1b') >= 0 {
		l = stripANSI(raw)
	} else {
		l = string(raw)
	}
	l = strings.TrimRight(l, "\r")
	d.mu.Lock()
	defer d.mu.Unlock()
	if strings.Contains(l, "internal compiler error") || strings.Contains(l, "the compiler unexpectedly panicked") {
		d.ice = true
	}
	if mayMatchNoSpace(l) && noSpaceRE.MatchString(l) {
		d.noSpace = true
	}
	if mayMatchNetwork(l) && networkRE.MatchString(l) {
		d.network = true
	}
	if d.remote && (strings.Contains(l, "connect") || strings.Contains(l, "HTTP") || strings.Contains(l, "download of") ||
		strings.Contains(l, "Timeout") || strings.Contains(l, "network error")) && registryDownRE.MatchString(l) {
		d.registryDown = true
	}
	if strings.HasPrefix(l, "error") {
		// Under jsonFormat rustc's errors come as JSON (message); what
		// is left on stderr is cargo's own.
		if m := errorCodeRE.FindStringSubmatch(l); m != nil && !d.json {
			addBounded(d.codes, m[1])
		}
		if toolchainMissingRE.MatchString(l) {
			d.noToolchain = true
		}
		if m := componentMissingRE.FindStringSubmatch(l); m != nil {
			d.noComponent = strings.TrimPrefix(m[1], "cargo-")
		}
		if errors && d.first == nil {
			d.first = textError(l, at)
		}
	}
	if d.resolving && sourceUnreadableRE.MatchString(l) {
		d.noSource = true
	}
	if !d.json && strings.Contains(l, "could not compile `") {
		if m := couldNotCompileRE.FindStringSubmatch(l); m != nil {
			addBounded(d.failed, m[1])
		}
	}
	if strings.Contains(l, "Undefined Behavior:") {
		d.ub = true
	}
	if !d.json {
		d.lints(l)
	}
	if t := strings.TrimLeft(l, " "); strings.HasPrefix(t, "Running ") || strings.HasPrefix(t, "Doc-tests ") {
		d.launched++
	}
	if strings.HasPrefix(l, "running ") {
		if m := testsRunningRE.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			d.testBinaries++
			d.tests += n
		}
	}
}

// stripANSI removes the escape sequences cargo emits with
// CARGO_TERM_COLOR=always (CSI: ESC [ params intermediates final), as the
// regexp "\x1b\[[0-9;?]*[ -/]*[@-~]" would, without a regexp: it runs on
// every coloured line of every log.
func stripANSI(s []byte) string {
	var b strings.Builder
	b.Grow(len(s))
	for {
		i := bytes.IndexByte(s, 0x1b)
		if i < 0 {
			b.Write(s)
			return b.String()
		}
		b.Write(s[:i])
		s = s[i:]
		if n := csiLen(s); n > 0 {
			s = s[n:]
			continue
		}
		b.WriteByte(s[0])
		s = s[1:]
	}
}

// csiLen is the length of the escape sequence s starts with, 0 if s does
// not start with a whole one.
func csiLen(s []byte) int {
	if len(s) < 2 || s[0] != 0x1b || s[1] != '[' {
		return 0
	}
	j := 2
	for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == ';' || s[j] == '?') {
		j++
	}
	for j < len(s) && s[j] >= ' ' && s[j] <= '/' {
		j++
	}
	if j < len(s) && s[j] >= '@' && s[j] <= '~' {
		return j + 1
	}
	return 0
}

// mayMatchNoSpace is false for a line noSpaceRE cannot match.
func mayMatchNoSpace(l string) bool {
	return strings.Contains(l, "No space") || strings.Contains(l, "os error") || strings.Contains(l, "quota")
}

// mayMatchNetwork is false for a line networkRE cannot match.
func mayMatchNetwork(l string) bool {
	return strings.Contains(l, "unreachable") || strings.Contains(l, "os error") ||
		strings.Contains(l, "resol") || strings.Contains(l, "lookup address")
}

// lints records the denied lints behind errors as crater does (it reads
// them from the JSON diagnostics' code): their names join the error codes,
// so a clippy failure reads compiler-error(clippy::approx_constant).
func (d *diagnostics) lints(l string) {
	if strings.Contains(l, "the lint level is defined here") {
		d.lintSource = 4
		return
	}
	if d.lintSource > 0 {
		d.lintSource--
		if m := lintLevelSourceRE.FindStringSubmatch(l); m != nil {
			for name := range strings.SplitSeq(m[1], ",") {
				d.addLint(name)
			}
			d.lintSource = 0
		}
	}
	if !strings.Contains(l, "deny(") && !strings.Contains(l, "forbid(") && !strings.Contains(l, "`-D ") && !strings.Contains(l, "`-F ") {
		return // lintNoteRE cannot match
	}
	for _, m := range lintNoteRE.FindAllStringSubmatch(l, 1) {
		d.addLint(m[1] + m[2])
	}
}

// addLint normalises a lint name as rustc's JSON spells it: "-D
// clippy::needless-return" is the lint clippy::needless_return.
func (d *diagnostics) addLint(name string) {
	if name = strings.TrimSpace(name); name != "" && name != "warnings" {
		addBounded(d.codes, strings.ReplaceAll(name, "-", "_"))
	}
}

// Bounds on the names a step's diagnostics keep: a build prints what it
// likes, as much as it likes, and the builder's memory is not its to
// fill. A reason names a few crates or codes (streams.MaxReasonBytes
// cuts it anyway); a real failure rarely names more than a dozen.
const (
	maxDiagNames   = 64
	maxDiagNameLen = 128
)

// addBounded adds name to set, unless it is too long or set is full.
func addBounded(set map[string]bool, name string) {
	if len(name) <= maxDiagNameLen && len(set) < maxDiagNames {
		set[name] = true
	}
}

// missingComponent is the component rustup said the toolchain lacks, or "".
func (d *diagnostics) missingComponent() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.noComponent
}

// undefinedBehavior reports whether Miri said it found undefined behaviour.
func (d *diagnostics) undefinedBehavior() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ub
}

// noTests reports whether the output was a test run in which libtest ran
// no test at all (every binary said "running 0 tests", and cargo started no
// binary without the harness).
func (d *diagnostics) noTests() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.testBinaries > 0 && d.tests == 0 && d.launched <= d.testBinaries
}

// registryUnreachable says cargo could not read the remote registry.
func (d *diagnostics) registryUnreachable() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.registryDown
}

// sourceUnreadable reports whether cargo, resolving, could not read the
// directory crate source.
func (d *diagnostics) sourceUnreadable() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.noSource
}

// toolchainMissing reports whether rustup said the toolchain is not installed.
func (d *diagnostics) toolchainMissing() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.noToolchain
}

// reason is the failure reason of a step that failed while building crate
// (wrapper being the builder's own wrapper package, never to blame):
// a full disk first, since every later error may be its consequence; an
// ICE next, since it is the compiler's bug whatever else happened; then a
// refused network access (a build script downloading something); then
// failed dependencies, since the crate's own errors may only be knock-on;
// then the crate's own error codes.
func (d *diagnostics) reason(crate string) streams.Reason {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.noSpace:
		return streams.ReasonNoSpace
	case d.ice:
		return streams.ReasonICE
	case d.network:
		return streams.ReasonNetworkAccess
	}
	var deps []string
	for name := range d.failed {
		if !samePackage(name, crate) && !samePackage(name, workspace.WrapperPackage) {
			deps = append(deps, name)
		}
	}
	// A name no reason can carry (a crate printed it) is left out.
	if r := streams.DependsOn(deps...); r != streams.ReasonUnknown {
		return r
	}
	if len(d.codes) > 0 {
		codes := make([]string, 0, len(d.codes))
		for c := range d.codes {
			codes = append(codes, c)
		}
		return streams.CompilerError(codes...)
	}
	return streams.ReasonUnknown
}

// samePackage compares package names as crates.io does: '-' and '_' are
// the same character and case does not matter.
func samePackage(a, b string) bool {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "-")) }
	return norm(a) == norm(b)
}
