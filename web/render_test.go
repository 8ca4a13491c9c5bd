package web

import (
	"fmt"
	"strings"
	"testing"
	"time"
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
		{"start inside a line: the next line", []string{"aaa\nbb\nc\n"}, 5, []string{"c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lr, err := newLineRenderer(tc.skip)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			first := 0
			for _, w := range tc.writes {
				b := lr.write([]byte(w), time.Time{})
				if first == 0 {
					first = b.First
				}
				got = append(got, b.HTML...)
			}
			if b, ok := lr.rest(); ok {
				got = append(got, b.HTML...)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				for i := range got {
					if len(got[i]) > 80 {
						got[i] = fmt.Sprintf("%.40s... (%d bytes)", got[i], len(got[i]))
					}
				}
				t.Fatalf("lines\n%q\nwant\n%q", got, tc.want)
			}
			if tc.skip >= 4 && first != 3 {
				t.Fatalf("first line after skip %d, want 3", first)
			}
		})
	}
}

// TestLineTimes: a line's time is that of the chunk holding its first
// byte, and a range renderer numbers lines from where it starts.
func TestLineTimes(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	lr, err := newLineRenderer(0)
	if err != nil {
		t.Fatal(err)
	}
	var all batch
	all.merge(lr.write([]byte("one\ntw"), at(1)))
	all.merge(lr.write([]byte("o\nthree\nfo"), at(2)))
	all.merge(lr.write([]byte("ur\n"), at(3)))
	want := []time.Time{at(1), at(1), at(2), at(2)}
	if len(all.Times) != len(want) || all.First != 1 || all.End != 19 {
		t.Fatalf("batch %+v", all)
	}
	for i := range want {
		if !all.Times[i].Equal(want[i]) {
			t.Errorf("line %d (%s): time %s, want %s", i+1, all.HTML[i], all.Times[i], want[i])
		}
	}

	lr, err = newRendererAt(100, 42, 100)
	if err != nil {
		t.Fatal(err)
	}
	b := lr.write([]byte("x\ny\n"), time.Time{})
	if b.First != 42 || b.Offset != 100 || b.End != 104 || len(b.HTML) != 2 {
		t.Fatalf("range batch %+v", b)
	}
}

// No link or image in a line of the web UI's log page comes from the log:
// every OSC, APC, DCS, PM and SOS sequence is dropped before rendering,
// colours kept. Before, an OSC 8 hyperlink was a live <a href> with the
// crate's text ("full log here") and URL.
func TestRenderedLinesCarryNoLinks(t *testing.T) {
	log := "test result: FAILED\n" +
		"\x1b]8;;https://evil.example/login\x1b\\[ejecta] log cut: full log here\x1b]8;;\x1b\\\n" +
		"\x1b]1339;url=data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==;content=raw log\x07\n" +
		"\x1b]1338;url=https://evil.example/pixel.gif;alt=x\x07\n" +
		"\x1b_bk;t=0\x07\x1bP+q\x1b\\\x1b[31mred\x1b[0m after\n"
	for _, step := range []int{len(log), 3} {
		lr, err := newLineRenderer(0)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for p := []byte(log); len(p) > 0; {
			n := min(step, len(p))
			lines = append(lines, lr.write(p[:n], time.Time{}).HTML...)
			p = p[n:]
		}
		all := strings.Join(lines, "\n")
		for _, bad := range []string{"<a", "<img", "href", "src=", "evil.example", "data:"} {
			if strings.Contains(all, bad) {
				t.Errorf("VULNERABLE: written %d bytes at a time, the crate's output made %q in the lines served:\n%s", step, bad, all)
			}
		}
		if len(lines) != 5 || lines[1] != "[ejecta] log cut: full log here" || lines[4] != `<span class="term-fg31">red</span> after` {
			t.Errorf("written %d bytes at a time: lines %q", step, lines)
		}
	}
}

// A line written to expand (every byte its own colour) is cut once its
// HTML reaches maxLineHTML, whatever its length, and the lines after it
// render as usual: a live log stream sends each line whole, in one event.
func TestLongExpandingLineIsCut(t *testing.T) {
	lr, err := newLineRenderer(0)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("\x1b[1;3;4;9;31;42m<\x1b[0m>", (4<<20)/22)
	var lines []string
	for p := []byte(line + "\nnext\n"); len(p) > 0; {
		n := min(32<<10, len(p))
		lines = append(lines, lr.write(p[:n], time.Time{}).HTML...)
		p = p[n:]
	}
	if len(lines) != 2 || lines[1] != "next" {
		t.Fatalf("%d lines, the last %.80q", len(lines), lines[len(lines)-1])
	}
	if n := len(lines[0]); n > maxLineHTML+(renderPiece+4096)*100 || !strings.HasSuffix(lines[0], lineCut) {
		t.Errorf("a %d-byte line rendered to %d bytes of HTML (ending %q), want about %d and a note", len(line), n, lines[0][max(0, n-80):], maxLineHTML)
	}
}
