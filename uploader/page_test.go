package uploader

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/ejecta-build/ejecta/streams"
)

func TestRing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		size    int
		writes  []string
		want    string
		dropped int
	}{
		{"empty", 4, nil, "", 0},
		{"fits", 4, []string{"ab", "c"}, "abc", 0},
		{"exactly full", 4, []string{"ab", "cd"}, "abcd", 0},
		{"wraps", 4, []string{"abc", "def"}, "cdef", 2},
		{"one write larger than the ring", 4, []string{"a", "bcdefgh"}, "efgh", 4},
		{"many small", 3, []string{"a", "b", "c", "d", "e"}, "cde", 2},
		{"zero size", 0, []string{"abc"}, "", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ring{buf: make([]byte, tc.size)}
			dropped := 0
			for _, w := range tc.writes {
				dropped += r.write([]byte(w))
			}
			if got := string(r.bytes()); got != tc.want || dropped != tc.dropped {
				t.Errorf("ring holds %q, dropped %d; want %q, %d", got, dropped, tc.want, tc.dropped)
			}
		})
	}
}

// render writes log into a page in pieces of step bytes and returns it.
func render(t *testing.T, log []byte, head, tail, step int) (string, *page) {
	t.Helper()
	k := buildKey("exp", "<b>crate</b>")
	p, err := newPage(t.TempDir(), head, tail, "title <i>"+k.Crate+"</i>", linksFor(k, 1, true))
	if err != nil {
		t.Fatal(err)
	}
	defer p.discard()
	for len(log) > 0 {
		n := min(step, len(log))
		p.Write(log[:n])
		log = log[n:]
	}
	f, size, err := p.finish("done <script>")
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(out)) != size {
		t.Errorf("finish said %d bytes, the page has %d", size, len(out))
	}
	return string(out), p
}

func TestPageEscapesAndColours(t *testing.T) {
	log := "<script>alert('x')</script>\n\x1b[1;31merror\x1b[0m: mismatched types\n&amp; \xff\xfe bytes\r\nlast line without newline"
	out, p := render(t, []byte(log), 1<<20, 1<<20, 7)
	if p.truncated() {
		t.Error("small log reported truncated")
	}
	for _, bad := range []string{"<script", "<b>crate", "<i><b>"} {
		if strings.Contains(out, bad) {
			t.Errorf("page holds unescaped %q:\n%s", bad, out)
		}
	}
	for _, want := range []string{
		"&lt;script&gt;alert(&#39;x&#39;)&lt;&#47;script&gt;", // the log's script, as text
		`<span class="term-fg31 term-fg1">error</span>`,       // colours kept
		"&amp;amp;",                 // the log's own entity stays literal
		"last line without newline", // an unfinished line is not lost
		`href="1.log.zst"`, `href="1.json"`, `href="1.log"`,
		"done &lt;script&gt;",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("page lacks %q:\n%s", want, out)
		}
	}
}

func TestPageHeadAndTail(t *testing.T) {
	var log bytes.Buffer
	for i := range 20000 {
		log.WriteString(strings.Repeat("x", i%50))
		log.WriteString(" line\n")
	}
	log.WriteString("the very last line\n")
	data := log.Bytes()
	head, tail := 8<<10, 4<<10
	out, p := render(t, data, head, tail, 1000)
	if !p.truncated() {
		t.Fatal("page of a long log not truncated")
	}
	if !strings.Contains(out, "bytes omitted here") || !strings.Contains(out, "the very last line") {
		t.Errorf("page lacks the omission notice or the log's last line")
	}
	// The page is bounded by what it shows, whatever the log's length.
	if len(out) > 4*(head+tail)+8<<10 {
		t.Errorf("page of a %d-byte log is %d bytes, want about %d", len(data), len(out), head+tail)
	}
	// Every byte is either shown or counted as omitted.
	shown := strings.Count(out, " line\n")
	if shown == 0 || shown > (head+tail)/5 {
		t.Errorf("page shows %d lines", shown)
	}
	if p.omitted >= uint64(len(data)) || p.omitted < uint64(len(data)-head-tail) {
		t.Errorf("omitted %d of %d bytes with head %d and tail %d", p.omitted, len(data), head, tail)
	}
}

func TestPageLinksFollowKeys(t *testing.T) {
	k := streams.BuildKey{Experiment: "e", Crate: "c", Version: "1.0.0", Toolchain: "stable"}
	l := linksFor(k, 3, false)
	if l.raw != "3.log.zst" || l.meta != "3.json" || l.plain != "" {
		t.Errorf("links = %+v", l)
	}
}
