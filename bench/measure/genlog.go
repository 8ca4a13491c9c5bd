package measure

import "math/rand/v2"

// Generated is an endless log: 1 MiB of random bytes (which do not
// compress), then 1 MiB of repetitive compiler output (which does), and so
// on. The same seed gives the same bytes.
type Generated struct {
	rnd *rand.ChaCha8
	pos int64
}

// NewGenerated returns a Generated seeded with seed.
func NewGenerated(seed byte) *Generated {
	return &Generated{rnd: rand.NewChaCha8([32]byte{seed})}
}

// CompilerOutput is a few lines of what cargo prints, colours included.
var CompilerOutput = []byte("   Compiling serde v1.0.210\n\x1b[0m\x1b[1m\x1b[33mwarning\x1b[0m: unused variable: `x`\n  --> src/lib.rs:12:9\n   |\n12 |     let x = 5;\n   |         ^ help: if this is intentional, prefix it with an underscore: `_x`\n")

// Read fills p; it never fails.
func (g *Generated) Read(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		inMiB := 1<<20 - g.pos%(1<<20)
		n := int(min(int64(len(p)), inMiB))
		if (g.pos>>20)%2 == 0 {
			g.rnd.Read(p[:n])
		} else {
			for i := range n {
				p[i] = CompilerOutput[(g.pos+int64(i))%int64(len(CompilerOutput))]
			}
		}
		g.pos += int64(n)
		p = p[n:]
	}
	return total, nil
}
