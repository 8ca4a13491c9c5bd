package producer

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// randomN returns the newest version of n of the candidate names (sorted),
// drawn without replacement by a PCG generator seeded with seed: the same
// seed on the same source always selects the same crates, on any machine,
// because math/rand/v2's PCG is specified, not an implementation detail.
func (s *Source) randomN(names []string, n int, seed uint64) ([]Crate, error) {
	if n > len(names) {
		return nil, fmt.Errorf("crates: random-%d: crate source %s holds only %d crates to choose from", n, s.Dir, len(names))
	}
	names = slices.Clone(names)
	r := rand.New(rand.NewPCG(seed, 0))
	// A partial Fisher-Yates shuffle: only the first n places are drawn.
	for i := range n {
		j := i + r.IntN(len(names)-i)
		names[i], names[j] = names[j], names[i]
	}
	return s.newest(names[:n]), nil
}
