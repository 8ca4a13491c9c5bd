package producer

import (
	"bufio"
	"cmp"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Downloads maps a crate name to its download count, as read from a
// downloads file (see ReadDownloads).
type Downloads map[string]int64

// ReadDownloads reads a downloads file: one crate per line, its name and
// its download count separated by a comma, tab or spaces ("serde,123456").
// A header line whose count is not a number is skipped only when it is the
// first line (crates.io dump exports start with one); anywhere else it is
// an error naming the line, because a silently dropped crate would skew
// top-N.
func ReadDownloads(path string) (Downloads, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("downloads: %w", err)
	}
	defer f.Close()
	out := Downloads{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == '\t' || r == ' ' })
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 2 {
			return nil, fmt.Errorf("downloads: %s line %d: want \"name,count\", have %q", path, n, line)
		}
		count, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil || count < 0 {
			if n == 1 {
				continue // header
			}
			return nil, fmt.Errorf("downloads: %s line %d: count %q is not a non-negative integer", path, n, fields[1])
		}
		out[fields[0]] = count
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("downloads: read %s: %w", path, err)
	}
	return out, nil
}

// popularity ranks crate names by downloads when a downloads file was
// given, else by how many other crates of the source depend on them (the
// only popularity measure an offline registry holds). Crates missing from
// the downloads file count as 0.
func (s *Source) popularity(dl Downloads) map[string]int64 {
	out := make(map[string]int64, len(s.crates))
	if dl != nil {
		for name := range s.crates {
			out[name] = dl[name]
		}
		return out
	}
	for name := range s.crates {
		out[name] = int64(len(s.rdeps[name]))
	}
	return out
}

// topN returns the newest version of the n most popular of the candidate
// names, most popular first; ties are broken by name so the answer is
// reproducible. Asking for more crates than there are candidates is an
// error: "top-500" that quietly yields 300 crates would be mistaken for a
// full run.
func (s *Source) topN(names []string, n int, dl Downloads) ([]Crate, error) {
	if n > len(names) {
		return nil, fmt.Errorf("crates: top-%d: crate source %s holds only %d crates to choose from", n, s.Dir, len(names))
	}
	pop := s.popularity(dl)
	names = slices.Clone(names)
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(pop[b], pop[a]), cmp.Compare(a, b))
	})
	return s.newest(names[:n]), nil
}

// names returns every crate name, sorted.
func (s *Source) names() []string {
	names := make([]string, 0, len(s.crates))
	for name := range s.crates {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// newest returns the newest version of each name.
func (s *Source) newest(names []string) []Crate {
	out := make([]Crate, len(names))
	for i, name := range names {
		vers := s.crates[name]
		out[i] = Crate{Name: name, Version: vers[len(vers)-1]}
	}
	return out
}
