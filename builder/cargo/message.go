package cargo

import (
	"net/url"
	"path"
	"strings"

	"github.com/ejecta-build/ejecta/streams"
)

// message reads one of rustc's diagnostics, as cargo relayed it in m,
// rendered into the log at line logLine (0: unknown): an ICE, or an error
// with its code (a denied lint's is the lint's name) and the package it is
// in, which is what the reason is made of; the first error is kept.
func (d *diagnostics) message(m *cargoMessage, logLine int) {
	msg := m.Message
	d.mu.Lock()
	defer d.mu.Unlock()
	if strings.Contains(msg.Level, "internal compiler error") {
		d.ice = true
	}
	if !strings.HasPrefix(msg.Level, "error") {
		return // warnings, notes and the closing "aborting due to"
	}
	name, version := packageOf(m.PackageID)
	if name != "" {
		addBounded(d.failed, name)
	}
	code := ""
	if msg.Code != nil && msg.Code.Code != "warnings" {
		code = msg.Code.Code
		addBounded(d.codes, code)
	}
	if d.first == nil {
		file, line := primarySpan(msg.Spans)
		d.first = streams.NewFirstError(code, msg.Message, shortFile(file, m.ManifestPath, name, version), line, logLine)
	}
}

// primarySpan is where a diagnostic points: its first primary span.
func primarySpan(spans []span) (string, int) {
	for _, s := range spans {
		if s.IsPrimary {
			return s.FileName, s.LineStart
		}
	}
	return "", 0
}

// shortFile names a diagnostic's file as a person finds it in the crate's
// source: name-version/src/lib.rs, whether rustc named it relative to the
// package (a path package) or by its path in the sandbox (a registry's).
// A file outside the package (a macro from std) keeps its name.
func shortFile(file, manifest, name, version string) string {
	if file == "" || name == "" {
		return file
	}
	pkg := name
	if version != "" {
		pkg += "-" + version
	}
	if !path.IsAbs(file) {
		return pkg + "/" + path.Clean(file)
	}
	if dir := path.Dir(manifest); manifest != "" && strings.HasPrefix(file, dir+"/") {
		return pkg + "/" + strings.TrimPrefix(file, dir+"/")
	}
	return file
}

// packageOf reads a package's name and version from cargo's package id,
// in either of its spellings: "registry+https://…#name@1.2.3" (a name
// equal to the URL's last segment left out: "path+file:///w/name#1.2.3")
// or, before cargo 1.77, "name 1.2.3 (registry+https://…)".
func packageOf(id string) (name, version string) {
	if source, frag, ok := strings.Cut(id, "#"); ok {
		if name, version, ok = strings.Cut(frag, "@"); ok {
			return name, version
		}
		if u, err := url.Parse(source); err == nil {
			return path.Base(u.Path), frag
		}
		return "", frag
	}
	if f := strings.Fields(id); len(f) >= 2 {
		return f[0], f[1]
	}
	return "", ""
}

// textError reads a first error from one of cargo's own error lines on
// stderr (a dependency that cannot be resolved, a build script that
// failed), or rustc's under a step whose diagnostics are text; nil for
// the summary lines that follow errors already seen.
func textError(l string, logLine int) *streams.FirstError {
	if strings.HasPrefix(l, "error: could not compile") || strings.HasPrefix(l, "error: aborting due to") {
		return nil
	}
	if m := errorCodeRE.FindStringSubmatch(l); m != nil {
		_, msg, _ := strings.Cut(l, "]:")
		return streams.NewFirstError(m[1], msg, "", 0, logLine)
	}
	if msg, ok := strings.CutPrefix(l, "error:"); ok {
		return streams.NewFirstError("", msg, "", 0, logLine)
	}
	return nil
}

// firstError is the step's first error, nil when it printed none.
func (d *diagnostics) firstError() *streams.FirstError {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.first
}
