package results

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Diff is how the crates of two experiments' reports compare: "is this
// regression new since last week's run?", "which regressions did the fix
// remove?". A crate is matched by name and version, or by name alone when
// each report has one version of it (a newer release built in B).
type Diff struct {
	// A and B are the experiments compared, in that order.
	A string `json:"a"`
	B string `json:"b"`
	// ToolchainsA and ToolchainsB are each report's toolchains, baseline
	// first; Shared those both have.
	ToolchainsA []string `json:"toolchains_a"`
	ToolchainsB []string `json:"toolchains_b"`
	Shared      []string `json:"shared_toolchains"`
	// Changes are the matched crates whose class differs, sorted by name.
	Changes []Change `json:"changes"`
	// Same counts the matched crates whose class is the same; Pending
	// those still pending in either report, which are not compared; OnlyA
	// and OnlyB the crates only one report has.
	Same    int `json:"same"`
	Pending int `json:"pending"`
	OnlyA   int `json:"only_a"`
	OnlyB   int `json:"only_b"`
}

// Change is one crate whose class differs between the two reports.
type Change struct {
	Name     string `json:"name"`
	VersionA string `json:"version_a"`
	VersionB string `json:"version_b"`
	ClassA   Class  `json:"class_a"`
	ClassB   Class  `json:"class_b"`
}

// NewRegression reports whether the crate regressed in B and not in A.
func (c Change) NewRegression() bool { return c.ClassB == ClassRegressed }

// GoneRegression reports whether the crate regressed in A and not in B.
func (c Change) GoneRegression() bool { return c.ClassA == ClassRegressed }

// ErrNoSharedToolchain refuses to compare reports of experiments that have
// no toolchain in common: their classes say nothing of each other.
var ErrNoSharedToolchain = errors.New("the experiments share no toolchain")

// Compare reads two results.json, a's and b's, and returns how their
// crates' classes differ. It holds one entry per crate of a, not the
// files.
func Compare(a, b io.Reader) (*Diff, error) {
	type seen struct {
		version string
		class   Class
	}
	inA := map[string][]seen{}
	headA, err := Read(a, func(c CrateResult, _ json.RawMessage) error {
		inA[c.Name] = append(inA[c.Name], seen{c.Version, c.Class})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the first report: %w", err)
	}
	type crateB struct{ name, version string }
	var inB []CrateResult
	headB, err := Read(b, func(c CrateResult, _ json.RawMessage) error {
		inB = append(inB, CrateResult{Name: c.Name, Version: c.Version, Class: c.Class})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the second report: %w", err)
	}
	d := &Diff{A: headA.Experiment, B: headB.Experiment, ToolchainsA: headA.Toolchains, ToolchainsB: headB.Toolchains}
	for _, tc := range headB.Toolchains {
		if slices.Contains(headA.Toolchains, tc) {
			d.Shared = append(d.Shared, tc)
		}
	}
	if len(d.Shared) == 0 {
		return nil, fmt.Errorf("compare %s (%s) with %s (%s): %w", d.A, strings.Join(d.ToolchainsA, ", "),
			d.B, strings.Join(d.ToolchainsB, ", "), ErrNoSharedToolchain)
	}
	versionsB := map[string]int{}
	for _, c := range inB {
		versionsB[c.Name]++
	}
	matched := map[crateB]bool{} // crates of a that found a match
	for _, c := range inB {
		as := inA[c.Name]
		i := slices.IndexFunc(as, func(s seen) bool { return s.version == c.Version })
		if i < 0 && len(as) == 1 && versionsB[c.Name] == 1 {
			i = 0
		}
		if i < 0 {
			d.OnlyB++
			continue
		}
		s := as[i]
		matched[crateB{c.Name, s.version}] = true
		switch {
		case s.class == ClassPending || c.Class == ClassPending:
			d.Pending++
		case s.class == c.Class:
			d.Same++
		default:
			d.Changes = append(d.Changes, Change{Name: c.Name, VersionA: s.version, VersionB: c.Version, ClassA: s.class, ClassB: c.Class})
		}
	}
	for name, as := range inA {
		for _, s := range as {
			if !matched[crateB{name, s.version}] {
				d.OnlyA++
			}
		}
	}
	slices.SortFunc(d.Changes, func(x, y Change) int { return strings.Compare(x.Name, y.Name) })
	return d, nil
}

// Getter is the part of a store CompareStored reads reports from.
type Getter interface {
	Get(ctx context.Context, key string) (io.ReadCloser, error)
}

// CompareStored compares the reports of experiments a and b kept in st
// (Compare). A report that is not there is an error wrapping the store's
// own, which names the experiment.
func CompareStored(ctx context.Context, st Getter, a, b string) (*Diff, error) {
	var files [2]io.ReadCloser
	for i, exp := range []string{a, b} {
		rc, err := st.Get(ctx, Key(exp))
		if err != nil {
			return nil, fmt.Errorf("experiment %s has no report: %w", exp, err)
		}
		defer rc.Close()
		files[i] = rc
	}
	return Compare(files[0], files[1])
}
