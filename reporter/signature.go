package reporter

import (
	"cmp"
	"slices"
	"strings"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// firstError is the first error worth reading for cs: the new toolchain's
// for a regression, the baseline's for a fix (what was fixed); else
// whichever run has one.
func (cs *crateState) firstError() *streams.FirstError {
	first, other := cs.runs[1], cs.runs[0]
	if cs.v.Class == results.ClassFixed || cs.v.Class == results.ClassSpuriousFixed {
		first, other = other, first
	}
	for _, r := range []*kept{first, other} {
		if r != nil && r.FirstError != nil {
			return r.FirstError
		}
	}
	return nil
}

// signature is a first error's message with what differs from crate to
// crate masked, so that one change in the compiler reads as one group:
// each `code span` (a type, a name, a path) becomes `_` and each run of
// digits N. "expected `u32`, found `&str`" and "expected `bool`, found
// `u8`" are both "expected `_`, found `_`".
func signature(msg string) string {
	var b strings.Builder
	b.Grow(len(msg))
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		switch {
		case c == '`':
			if j := strings.IndexByte(msg[i+1:], '`'); j >= 0 {
				b.WriteString("`_`")
				i += j + 1
				continue
			}
			b.WriteByte(c)
		case c >= '0' && c <= '9':
			for i+1 < len(msg) && msg[i+1] >= '0' && msg[i+1] <= '9' {
				i++
			}
			b.WriteByte('N')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// signatureGroup is the regressions whose first errors share a code and a
// signature.
type signatureGroup struct {
	Code, Signature string
	// Crates are the first maxGroupCrates of them, "name version", in crate order.
	Crates []string
	// N counts the group's crates; More those not in Crates.
	N, More int
}

// maxGroupCrates bounds the crates a group names; N counts them all.
const maxGroupCrates = 5

// signatureGroups groups the regressions that are root causes (a crate
// failing for a dependency's sake has the dependency's error, counted
// once, with the dependency) by their first error's code and signature:
// the biggest groups first. Regressions without a first error are not in
// any group.
func (e *experiment) signatureGroups() []signatureGroup {
	type key struct{ code, sig string }
	groups := map[key]*signatureGroup{}
	for _, cs := range e.sorted(results.ClassRegressed) {
		fe := cs.firstError()
		if cs.v.Root != "" || fe == nil {
			continue
		}
		k := key{fe.Code, signature(fe.Message)}
		g := groups[k]
		if g == nil {
			g = &signatureGroup{Code: k.code, Signature: k.sig}
			groups[k] = g
		}
		g.N++
		if len(g.Crates) < maxGroupCrates {
			g.Crates = append(g.Crates, cs.key.name+" "+cs.key.version)
		}
	}
	out := make([]signatureGroup, 0, len(groups))
	for _, g := range groups {
		g.More = g.N - len(g.Crates)
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b signatureGroup) int {
		if c := cmp.Compare(b.N, a.N); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.Code, b.Code), cmp.Compare(a.Signature, b.Signature))
	})
	return out
}
