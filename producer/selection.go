package producer

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/ejecta-build/ejecta/streams"
)

// SelectOptions refine a selection.
type SelectOptions struct {
	// Skip excludes crates, in the syntax of a list selection (a,b@1.2.3 or
	// @FILE): a bare name excludes every version of it.
	Skip string
	// Downloads ranks top-N; nil ranks by reverse-dependency count.
	Downloads Downloads
}

// Select resolves a selection spec against src with no exclusions; see
// SelectWith.
func Select(spec string, src *Source) ([]Crate, error) {
	return SelectWith(spec, src, SelectOptions{})
}

// SelectWith resolves a crate selection against src:
//
//	a,b@1.2.3,c     names, each optionally pinned to a version (else the newest)
//	@FILE           the same, one per line; blank lines and '#' comments ignored
//	all             every crate version in the source
//	top-N           the newest version of the N most popular crates: by
//	                opts.Downloads if given, else by how many crates of the
//	                source depend on them
//	random-N:SEED   the newest version of N crates drawn reproducibly by SEED
//
// Exclusions (opts.Skip) are applied before top-N and random-N draw, so
// "top-10" skipping one crate still yields ten. Unknown crates, in the
// selection or the exclusions, are an error naming every one of them.
// Duplicates are removed; the result is sorted.
func SelectWith(spec string, src *Source, opts SelectOptions) ([]Crate, error) {
	spec = strings.TrimSpace(spec)
	skip, err := parseSkip(opts.Skip, src)
	if err != nil {
		return nil, err
	}
	var out []Crate
	switch {
	case spec == "":
		return nil, errors.New("crates: selection is empty")
	case spec == "all":
		out = src.All()
	case strings.HasPrefix(spec, "top-"):
		n, err := count(spec, strings.TrimPrefix(spec, "top-"))
		if err != nil {
			return nil, err
		}
		if out, err = src.topN(skip.names(src), n, opts.Downloads); err != nil {
			return nil, err
		}
	case strings.HasPrefix(spec, "random-"):
		ns, seeds, ok := strings.Cut(strings.TrimPrefix(spec, "random-"), ":")
		if !ok {
			return nil, fmt.Errorf("crates: %q: want random-N:SEED, e.g. random-100:42", spec)
		}
		n, err := count(spec, ns)
		if err != nil {
			return nil, err
		}
		seed, err := strconv.ParseUint(seeds, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("crates: %q: seed %q is not a non-negative integer", spec, seeds)
		}
		if out, err = src.randomN(skip.names(src), n, seed); err != nil {
			return nil, err
		}
	default:
		items, err := listItems(spec)
		if err != nil {
			return nil, err
		}
		picks, err := lookupAll("crates", items, src)
		if err != nil {
			return nil, err
		}
		for _, p := range picks {
			out = append(out, p.Crate)
		}
	}
	out = slices.DeleteFunc(out, skip.excludes)
	if len(out) == 0 {
		if len(skip) > 0 {
			return nil, fmt.Errorf("crates: selection is empty once --skip is applied to %q", spec)
		}
		return nil, fmt.Errorf("crates: selection is empty: %q matches no crate of crate source %s", spec, src.Dir)
	}
	slices.SortFunc(out, compareCrates)
	return slices.Compact(out), nil
}

// count parses the N of top-N and random-N.
func count(spec, s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("crates: %q: count %q is not a positive integer", spec, s)
	}
	return n, nil
}

// listItems splits a list selection (a,b@v or @FILE) into its items.
func listItems(spec string) ([]string, error) {
	if strings.HasPrefix(spec, "@") {
		return readList(spec[1:])
	}
	return strings.Split(spec, ","), nil
}

// pick is one resolved item of a list: a crate, and whether the item
// pinned its version (a bare name resolves to the newest).
type pick struct {
	Crate
	pinned bool
}

// lookupAll resolves name[@version] items against src; what ("crates",
// "skip") starts every error so that it names the flag.
func lookupAll(what string, items []string, src *Source) ([]pick, error) {
	var out []pick
	var unknown []string
	for _, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, version, _ := strings.Cut(item, "@")
		if err := streams.ValidateCrateName(name); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if version != "" {
			if err := streams.ValidateVersion(version); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", what, name, err)
			}
		}
		c, err := src.Lookup(name, version)
		if err != nil {
			unknown = append(unknown, item)
			continue
		}
		out = append(out, pick{Crate: c, pinned: version != ""})
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%s: unknown crate(s) %s: not in crate source %s", what, strings.Join(unknown, ", "), src.Dir)
	}
	return out, nil
}

// skipSet is a parsed --skip: whole crates by name, single versions by
// name@version.
type skipSet map[string]string // name → version, "" for every version

func parseSkip(spec string, src *Source) (skipSet, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, nil
	}
	items, err := listItems(spec)
	if err != nil {
		return nil, fmt.Errorf("skip: %w", err)
	}
	picks, err := lookupAll("skip", items, src)
	if err != nil {
		return nil, err
	}
	set := skipSet{}
	for _, p := range picks {
		if p.pinned {
			set[p.Name] = p.Version
		} else {
			set[p.Name] = ""
		}
	}
	return set, nil
}

func (s skipSet) excludes(c Crate) bool {
	v, ok := s[c.Name]
	return ok && (v == "" || v == c.Version)
}

// names returns the crate names of src that top-N and random-N may draw
// from: every name whose newest version is not excluded.
func (s skipSet) names(src *Source) []string {
	var out []string
	for _, c := range src.newest(src.names()) {
		if !s.excludes(c) {
			out = append(out, c.Name)
		}
	}
	return out
}

func readList(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("crates: read list: %w", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("crates: read list %s: %w", path, err)
	}
	return lines, nil
}
