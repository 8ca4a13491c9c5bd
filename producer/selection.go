package producer

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/ejecta-build/ejecta/streams"
)

// Select resolves a crate selection against src:
//
//	a,b@1.2.3,c   names, each optionally pinned to a version (else the newest)
//	@FILE         the same, one per line; blank lines and '#' comments ignored
//	all           every crate version in the source
//
// Unknown crates are an error naming every one of them. Duplicates are
// removed; the result is sorted.
func Select(spec string, src *Source) ([]Crate, error) {
	spec = strings.TrimSpace(spec)
	var items []string
	switch {
	case spec == "":
		return nil, errors.New("crates: selection is empty")
	case spec == "all":
		all := src.All()
		if len(all) == 0 {
			return nil, fmt.Errorf("crates: selection is empty: crate source %s holds no crate", src.Dir)
		}
		return all, nil
	case strings.HasPrefix(spec, "@"):
		lines, err := readList(spec[1:])
		if err != nil {
			return nil, err
		}
		items = lines
	default:
		items = strings.Split(spec, ",")
	}
	var out []Crate
	var unknown []string
	for _, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, version, _ := strings.Cut(item, "@")
		if err := streams.ValidateCrateName(name); err != nil {
			return nil, fmt.Errorf("crates: %w", err)
		}
		if version != "" {
			if err := streams.ValidateVersion(version); err != nil {
				return nil, fmt.Errorf("crates: %s: %w", name, err)
			}
		}
		c, err := src.Lookup(name, version)
		if err != nil {
			unknown = append(unknown, item)
			continue
		}
		out = append(out, c)
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("crates: unknown crate(s) %s: not in crate source %s", strings.Join(unknown, ", "), src.Dir)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("crates: selection %q is empty", spec)
	}
	slices.SortFunc(out, compareCrates)
	return slices.Compact(out), nil
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
