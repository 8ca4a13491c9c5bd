package reporter

import (
	"cmp"
	"fmt"
	"html/template"
	"maps"
	"slices"
	"time"

	"github.com/ejecta-build/ejecta/results"
)

// indexClasses are the classes index.html lists crate by crate, in order;
// the others are only counted there (full.html has every crate).
var indexClasses = []results.Class{results.ClassRegressed, results.ClassFlaky, results.ClassSpuriousRegressed, results.ClassFixed, results.ClassSpuriousFixed, results.ClassUnknown}

type indexView struct {
	pageView
	Counts   []classCount
	Sections []sectionView
	// Signatures are the regressions grouped by first error.
	Signatures []signatureGroup
}

type classCount struct {
	Class results.Class
	N     int
	Shown bool
	// Archive links the class's log archive once it is built.
	Archive string
}

type sectionView struct {
	Class  results.Class
	N      int
	Groups []groupView
}

// groupView is a root cause and the crates it explains. Label is empty for
// a root cause that nothing depends on.
type groupView struct {
	Label string
	Rows  []template.HTML
}

// sorted returns the crates index.html shows for class c, in crate order.
// The lists hold regressions and fixes, a small part of an experiment.
func (e *experiment) sorted(c results.Class) []*crateState {
	return slices.SortedFunc(maps.Keys(e.shown[c]), compareCrates)
}

// rootGroups groups crates by root cause: a crate whose failure is its own
// is a root; a crate that failed because of dependency d (depends-on(d)) is
// one of d's dependents. Root causes come first, those explaining the most
// dependents first; then dependencies that are not themselves in the list.
func rootGroups(crates []*crateState, verb string) ([]groupView, error) {
	type group struct {
		name        string
		roots, deps []*crateState
	}
	byName := make(map[string]*group)
	get := func(name string) *group {
		g := byName[name]
		if g == nil {
			g = &group{name: name}
			byName[name] = g
		}
		return g
	}
	for _, cs := range crates {
		if cs.v.Root == "" {
			get(cs.key.name).roots = append(get(cs.key.name).roots, cs)
		} else {
			get(cs.v.Root).deps = append(get(cs.v.Root).deps, cs)
		}
	}
	groups := slices.SortedFunc(maps.Values(byName), func(a, b *group) int {
		if ra, rb := len(a.roots) > 0, len(b.roots) > 0; ra != rb {
			if ra {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(len(b.deps), len(a.deps)); c != 0 {
			return c
		}
		return cmp.Compare(a.name, b.name)
	})
	out := make([]groupView, 0, len(groups))
	for _, g := range groups {
		var gv groupView
		switch n := len(g.deps); {
		case n > 0 && len(g.roots) > 0:
			gv.Label = fmt.Sprintf("root cause %s: %d dependent%s %s because it did", g.name, n, plural(n), verb)
		case n > 0:
			gv.Label = fmt.Sprintf("dependency %s (not %s itself in this experiment): %d dependent%s", g.name, verb, n, plural(n))
		}
		for _, cs := range append(g.roots, g.deps...) {
			gv.Rows = append(gv.Rows, cs.htmlRow())
		}
		out = append(out, gv)
	}
	return out, nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// counts lists every class with crates, in the order of Classes, pending
// last (crates with only one result so far).
func (e *experiment) counts() []classCount {
	var out []classCount
	listed := 0
	for _, c := range results.Classes {
		if n := e.classes[c]; n > 0 && c != results.ClassPending {
			out = append(out, classCount{c, n, slices.Contains(indexClasses, c), e.archiveHref(c)})
			listed += n
		}
	}
	if n := len(e.crates) - listed; n > 0 {
		out = append(out, classCount{Class: results.ClassPending, N: n})
	}
	return out
}

// indexHTML renders index.html: progress, the class counts, then the
// regressions and fixes grouped by root cause and the other classes worth
// a look. Its cost grows with those lists, not with the experiment.
func (e *experiment) indexHTML(t *template.Template, now time.Time) ([]byte, error) {
	v := indexView{pageView: pageView{Experiment: e.name, Progress: e.progressView(now)}, Counts: e.counts(),
		Signatures: e.signatureGroups()}
	for _, c := range indexClasses {
		crates := e.sorted(c)
		if len(crates) == 0 {
			continue
		}
		verb := "regressed"
		if c == results.ClassFixed || c == results.ClassSpuriousFixed {
			verb = "fixed"
		}
		var groups []groupView
		var err error
		if c == results.ClassRegressed || c == results.ClassFixed {
			groups, err = rootGroups(crates, verb)
		} else {
			groups, err = plainGroup(crates)
		}
		if err != nil {
			return nil, err
		}
		v.Sections = append(v.Sections, sectionView{Class: c, N: len(crates), Groups: groups})
	}
	return render(t, "index", v)
}

func plainGroup(crates []*crateState) ([]groupView, error) {
	var g groupView
	for _, cs := range crates {
		g.Rows = append(g.Rows, cs.htmlRow())
	}
	return []groupView{g}, nil
}
