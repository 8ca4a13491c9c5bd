package logtail_test

import (
	"bytes"
	"testing"

	"github.com/ejecta-build/ejecta/logtail"
)

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
