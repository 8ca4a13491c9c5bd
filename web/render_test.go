package web

import (
	"fmt"
	"strings"
	"testing"
)

func TestLineRenderer(t *testing.T) {
	long := strings.Repeat("x", 5000)
	for _, tc := range []struct {
		name   string
		writes []string
		skip   uint64
		want   []string // every line, in order, then the rest if any
	}{
		{"colour carried to the next line", []string{"\x1b[32mgreen\nstill\x1b[0m plain\n"}, 0,
			[]string{`<span class="term-fg32">green</span>`, `<span class="term-fg32">still</span> plain`}},
		{"escaped", []string{"<script>&\n"}, 0, []string{"&lt;script&gt;&amp;"}},
		{"empty lines counted", []string{"a\n\n\nb\n"}, 0, []string{"a", "&nbsp;", "&nbsp;", "b"}},
		{"carriage return rewrites", []string{"50%\r100%\n"}, 0, []string{"100%"}},
		{"line split across writes", []string{"par", "tial\nnext"}, 0, []string{"partial", "next"}},
		{"a line longer than the screen stays one line", []string{long + "\nend\n"}, 0, []string{long, "end"}},
		{"skip what a viewer saw", []string{"a\nb\nc\n"}, 4, []string{"c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lr, err := newLineRenderer()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			first := 0
			for _, w := range tc.writes {
				b := lr.write([]byte(w), tc.skip)
				if first == 0 {
					first = b.First
				}
				got = append(got, b.HTML...)
			}
			if _, rest, ok := lr.rest(); ok {
				got = append(got, rest)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				for i := range got {
					if len(got[i]) > 80 {
						got[i] = fmt.Sprintf("%.40s... (%d bytes)", got[i], len(got[i]))
					}
				}
				t.Fatalf("lines\n%q\nwant\n%q", got, tc.want)
			}
			if tc.skip == 4 && first != 3 {
				t.Fatalf("first line after skip %d, want 3", first)
			}
		})
	}
}
