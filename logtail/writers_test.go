package logtail_test

import (
	"bytes"
	"testing"

	"github.com/ejecta-build/ejecta/logtail"
)

func TestStripANSI(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []string // written one after the other
		want string
	}{
		{"plain", []string{"hello\n"}, "hello\n"},
		{"colours", []string{"\x1b[1m\x1b[32m   Compiling\x1b[0m cfg-if\n"}, "   Compiling cfg-if\n"},
		{"sequence split across writes", []string{"a\x1b[3", "1mred\x1b", "[0m b"}, "ared b"},
		{"erase line and carriage return kept", []string{"50%\r\x1b[K100%\n"}, "50%\r100%\n"},
		{"OSC 8 hyperlink", []string{"\x1b]8;;https://x\x1b\\link\x1b]8;;\x07!"}, "link!"},
		{"two-byte escape", []string{"\x1b7saved\x1b8"}, "saved"},
		{"UTF-8 untouched", []string{"héllo → ✓\n"}, "héllo → ✓\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			w := logtail.StripANSI(&out)
			for _, s := range tc.in {
				if n, err := w.Write([]byte(s)); err != nil || n != len(s) {
					t.Fatalf("Write: %d, %v", n, err)
				}
			}
			if out.String() != tc.want {
				t.Fatalf("got %q, want %q", out.String(), tc.want)
			}
		})
	}
}

func TestPrefixerKeepsLinesWhole(t *testing.T) {
	var out bytes.Buffer
	a := logtail.NewPrefixer(&out, "[a] ")
	b := logtail.NewPrefixer(&out, "[b] ")
	a.Write([]byte("one "))
	b.Write([]byte("x\ny"))
	a.Write([]byte("two\nthree\n"))
	b.Flush()
	a.Flush()
	want := "[b] x\n[a] one two\n[a] three\n[b] y\n"
	if out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}
