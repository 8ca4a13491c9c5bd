package logsearch

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// collect runs a scan and returns its lines as "N:text" (match) or
// "N-text" (context).
func collect(t *testing.T, re string, around int, log string, blocks bool) []string {
	t.Helper()
	s := newScanner(regexp.MustCompile("(?m)"+re), around)
	var out []string
	scan := s.scan
	if !blocks {
		scan = s.scanLines
	}
	n, err := scan(context.Background(), strings.NewReader(log), func(l line) error {
		sep := "-"
		if l.match {
			sep = ":"
		}
		out = append(out, fmt.Sprintf("%d%s%s", l.n, sep, printable(nil, l.text)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(log)) {
		t.Errorf("read %d bytes of %d", n, len(log))
	}
	return out
}

func TestScan(t *testing.T) {
	const log = "   Compiling foo v1.0.0\n" +
		"\x1b[0m\x1b[1m\x1b[33mwarning\x1b[0m\x1b[0m\x1b[1m: unused variable: `x`\x1b[0m\n" +
		"error[E0308]: mismatched types\n" +
		"  --> src/lib.rs:3:5\n" +
		"\x1b]8;;https://evil.example\x07link\x1b]8;;\x07 and a \x07bell\n" +
		"warning: 1 warning emitted\n" +
		"last line without newline: error"
	for _, c := range []struct {
		name    string
		re      string
		context int
		want    []string
	}{
		{"a match across colours", `warning: unused`, 0, []string{"2:warning: unused variable: `x`"}},
		{"several lines", `warning`, 0, []string{"2:warning: unused variable: `x`", "6:warning: 1 warning emitted"}},
		{"anchored per line", `^error`, 0, []string{"3:error[E0308]: mismatched types"}},
		{"end anchor", `error$`, 0, []string{"7:last line without newline: error"}},
		{"no match across lines", `types\s+-->`, 0, nil},
		{"escapes gone, controls not shown", `link and a`, 0, []string{"5:link and a bell"}},
		{"context", `E0308`, 1, []string{"2-warning: unused variable: `x`", "3:error[E0308]: mismatched types", "4-  --> src/lib.rs:3:5"}},
		{"context overlapping", `warning`, 2, []string{"1-   Compiling foo v1.0.0", "2:warning: unused variable: `x`", "3-error[E0308]: mismatched types",
			"4-  --> src/lib.rs:3:5", "5-link and a bell", "6:warning: 1 warning emitted", "7-last line without newline: error"}},
		{"nothing", `panicked at`, 0, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := collect(t, c.re, c.context, log, true)
			if !slices.Equal(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
			if c.context == 0 {
				if lines := collect(t, c.re, 0, log, false); !slices.Equal(lines, c.want) {
					t.Errorf("line by line: %q, want %q", lines, c.want)
				}
			}
		})
	}
}

// The block scan finds what a line-by-line scan finds, line numbers
// included, across block boundaries, escape sequences and lines longer
// than a block.
func TestScanBlocksAgreesWithLines(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	words := []string{"error", "warning", "E0308", "\x1b[31m", "\x1b[0m", "needle", "hay", " ", "\t", "\r"}
	for round := range 4 {
		var b bytes.Buffer
		for b.Len() < 3*blockBytes {
			n := rnd.IntN(40)
			if rnd.IntN(500) == 0 {
				n = blockBytes/4 + rnd.IntN(2*blockBytes) // an overlong line
			}
			for range n {
				if n > 1000 {
					b.WriteByte('x')
					continue
				}
				b.WriteString(words[rnd.IntN(len(words))])
			}
			if rnd.IntN(7) == 0 {
				b.WriteString("needle")
			}
			b.WriteByte('\n')
		}
		log := b.String()
		for _, re := range []string{`needle`, `^error`, `E0308\s*$`, `x{10}needle`} {
			blocks, lines := collect(t, re, 0, log, true), collect(t, re, 0, log, false)
			if !slices.Equal(blocks, lines) {
				t.Errorf("round %d, %q: blocks found %d lines, line by line %d", round, re, len(blocks), len(lines))
				for i := range min(len(blocks), len(lines)) {
					if blocks[i] != lines[i] {
						t.Errorf("first difference: %.80q vs %.80q", blocks[i], lines[i])
						break
					}
				}
			}
		}
	}
}
