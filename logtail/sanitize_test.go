package logtail_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ejecta-build/ejecta/logtail"
)

// A build log is written by the crate's own code: nothing in it may reach
// the terminal as a control, whichever chunk boundaries cut it.
func TestSanitize(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     string
		colour string // with colours kept
		plain  string // with colours stripped
	}{
		{"plain", "hello\n", "hello\n", "hello\n"},
		{"tab, carriage return, newline", "a\tb\r\nc", "a\tb\r\nc", "a\tb\r\nc"},
		{"UTF-8 untouched", "héllo → ✓ 🦀\n", "héllo → ✓ 🦀\n", "héllo → ✓ 🦀\n"},
		{"SGR colours", "\x1b[1m\x1b[32m   Compiling\x1b[0m cfg-if\n", "\x1b[1m\x1b[32m   Compiling\x1b[0m cfg-if\n", "   Compiling cfg-if\n"},
		{"SGR true colour with colons", "\x1b[38:2::1:2:3;48;5;17mx\x1b[m", "\x1b[38:2::1:2:3;48;5;17mx\x1b[m", "x"},
		{"private mode ending in m is not SGR", "\x1b[>4;2mx", "x", "x"},
		{"SGR with an intermediate is not SGR", "\x1b[1 mx", "x", "x"},
		{"overlong SGR", "\x1b[" + strings.Repeat("1;", 40) + "mx", "x", "x"},
		{"erase line", "50%\r\x1b[K100%\n", "50%\r100%\n", "50%\r100%\n"},
		{"cursor movement", "\x1b[2;5Ha\x1b[3Ab\x1b[10Cc", "abc", "abc"},
		{"screen clear", "\x1b[2J\x1b[3Jx", "x", "x"},
		{"device status query", "\x1b[6nx\x1b[c\x1b[>c", "x", "x"},
		{"title report query", "\x1b[21tx", "x", "x"},
		{"alternate screen, hidden cursor", "\x1b[?1049h\x1b[?25lx", "x", "x"},
		{"OSC title, BEL", "\x1b]0;pwned\x07x", "x", "x"},
		{"OSC title, ST", "\x1b]2;pwned\x1b\\x", "x", "x"},
		{"OSC 52 clipboard write", "\x1b]52;c;cm0gLXJmIH4K\x07x", "x", "x"},
		{"OSC 8 hyperlink keeps its text", "\x1b]8;;https://x\x1b\\link\x1b]8;;\x07!", "link!", "link!"},
		{"ESC inside OSC starts a new sequence", "\x1b]0;t\x1b[31mred", "\x1b[31mred", "red"},
		{"DCS request status string", "\x1bP$q m\x1b\\x", "x", "x"},
		{"DCS tmux passthrough", "\x1bPtmux;\x1b\x1b]52;c;eA==\x07\x1b\\x", "x", "x"},
		{"SOS, PM, APC", "\x1bXa\x1b\\\x1b^b\x1b\\\x1b_c\x07x", "x", "x"},
		{"two-byte escapes", "\x1b7saved\x1b8\x1bc\x1bM", "saved", "saved"},
		{"charset designation", "\x1b(0q\x1b)Bx", "qx", "qx"},
		{"CAN cancels a sequence", "\x1b[31\x18x\x1b]0;t\x1ay", "xy", "xy"},
		{"newline inside CSI acts", "\x1b[3\n1mx", "\n\x1b[31mx", "\nx"},
		{"C0 controls", "a\x00b\x07c\x08d\x0ee\x0ff\x0bg\x0ch\x7fi", "abcdefghi", "abcdefghi"},
		{"UTF-8 C1 controls", "a\xc2\x9b6n\xc2\x9d0;t\xc2\x9cb\xc2\x85c", "a6n0;tbc", "a6n0;tbc"},
		{"raw C1 bytes", "a\x9b6n\x9d0;t\x07b", "a6n0;tb", "a6n0;tb"},
		{"overlong encodings of ESC and CSI", "a\xc0\x9b\xe0\x80\x9bb\xe0\x82\x9bc", "a\xc0\xe0b\xe0c", "a\xc0\xe0b\xe0c"},
		{"invalid UTF-8 above C1 kept", "a\xe9b\xff", "a\xe9b\xff", "a\xe9b\xff"},
		{"unterminated OSC at the end", "text\x1b]0;never ends\nmore", "text", "text"},
		{"unterminated CSI at the end", "text\x1b[31", "text", "text"},
		{"lone ESC at the end", "text\x1b", "text", "text"},
		{"truncated UTF-8 then ESC", "a\xe2\x86\x1b[31mb", "a\xe2\x1b[31mb", "a\xe2b"},
	} {
		for _, colours := range []bool{true, false} {
			want := tc.plain
			if colours {
				want = tc.colour
			}
			t.Run(fmt.Sprintf("%s/colours=%v", tc.name, colours), func(t *testing.T) {
				// Whole, cut in two at every byte, and a byte at a time.
				cuts := [][]string{{tc.in}}
				for i := 1; i < len(tc.in); i++ {
					cuts = append(cuts, []string{tc.in[:i], tc.in[i:]})
				}
				var bytewise []string
				for i := range len(tc.in) {
					bytewise = append(bytewise, tc.in[i:i+1])
				}
				cuts = append(cuts, bytewise)
				for _, writes := range cuts {
					var out bytes.Buffer
					w := logtail.Sanitize(&out, colours)
					for _, s := range writes {
						if n, err := w.Write([]byte(s)); err != nil || n != len(s) {
							t.Fatalf("Write: %d, %v", n, err)
						}
					}
					if out.String() != want {
						t.Fatalf("writes %q: got %q, want %q", writes, out.String(), want)
					}
				}
			})
		}
	}
}

func TestSanitizeWriteError(t *testing.T) {
	boom := errors.New("boom")
	w := logtail.Sanitize(failingWriter{boom}, true)
	if _, err := w.Write([]byte("x")); !errors.Is(err, boom) {
		t.Fatalf("Write: %v, want %v", err, boom)
	}
	// Nothing to pass on, nothing written: no error either.
	if n, err := w.Write([]byte("\x1b]0;t")); err != nil || n != 5 {
		t.Fatalf("Write of a sequence: %d, %v", n, err)
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }
