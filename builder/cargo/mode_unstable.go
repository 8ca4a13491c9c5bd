package cargo

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ejecta-build/ejecta/builder/workspace"
	"github.com/ejecta-build/ejecta/streams"
)

// maxScanBytes skips source files larger than this in the unstable-features
// scan: generated tables of megabytes hold no crate attributes.
const maxScanBytes = 16 << 20

// unstableFeatures lists the unstable features the crate's sources enable,
// as crater's unstable-features mode does: no compiler runs, every .rs
// file (hidden directories skipped) is scanned for #![feature(...)], and
// the result is test-pass with one "unstable-feature: NAME" line per
// feature in the log.
func (b *Build) unstableFeatures() Verdict {
	dir, err := workspace.FindCrate(b.crateSource(), b.Job.Crate, b.Job.Version)
	if err != nil {
		return b.WorkspaceError(err)
	}
	fmt.Fprintf(b.Log.System, "scanning %s %s for #![feature(...)]\n", b.Job.Crate, b.Job.Version)
	features, err := scanFeatures(dir)
	if err != nil {
		return b.WorkspaceError(err)
	}
	for _, f := range features {
		fmt.Fprintf(b.Log.System, "unstable-feature: %s\n", f)
	}
	fmt.Fprintf(b.Log.System, "%d unstable features\n", len(features))
	return Verdict{Status: streams.StatusTestPass}
}

// scanFeatures returns the sorted, distinct features named in
// #![feature(...)] (or #[feature(...)]) attributes of the .rs files under dir.
func scanFeatures(dir string) ([]string, error) {
	seen := map[string]bool{}
	// A registry of symlinks: walk what the crate's link points to.
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("scan crate sources: %w", err)
	}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		// Crater takes every name containing ".rs" (src.rs.in templates too).
		if !d.Type().IsRegular() || !strings.Contains(d.Name(), ".rs") {
			return nil
		}
		if fi, err := d.Info(); err != nil || fi.Size() > maxScanBytes {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, f := range parseFeatures(string(src)) {
			seen[f] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan crate sources: %w", err)
	}
	out := make([]string, 0, len(seen))
	for f := range seen {
		out = append(out, f)
	}
	slices.Sort(out)
	return out, nil
}

// parseFeatures finds, after every '#', an optional '!', then '[', the word
// feature and a parenthesised comma-separated list, whitespace allowed
// between the tokens, as crater's parser does.
func parseFeatures(src string) []string {
	var out []string
	for rest := src; ; {
		i := strings.IndexByte(rest, '#')
		if i < 0 {
			return out
		}
		rest = rest[i+1:]
		s := strings.TrimLeftFunc(rest, isSpace)
		s = strings.TrimPrefix(s, "!")
		s, ok := eat(s, "[")
		if ok {
			s, ok = eat(s, "feature")
		}
		if ok {
			s, ok = eat(s, "(")
		}
		if !ok {
			continue
		}
		end := strings.IndexByte(s, ')')
		if end < 0 {
			continue
		}
		for f := range strings.SplitSeq(s[:end], ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
	}
}

// eat skips whitespace, then tok.
func eat(s, tok string) (string, bool) {
	return strings.CutPrefix(strings.TrimLeftFunc(s, isSpace), tok)
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }
