package buildlog_test

import (
	"bytes"
	"testing"

	"github.com/ejecta-build/ejecta/buildlog"
)

func TestPrefixer(t *testing.T) {
	var out bytes.Buffer
	p := buildlog.NewPrefixer(&out, "> ")
	for _, s := range []string{"one\ntw", "o\n", "", "\nthree"} {
		if n, err := p.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if want := "> one\n> two\n> \n> three"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}
