package uploader

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
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
			r := ring{size: tc.size}
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
	p := newPage(t.TempDir(), head, tail, "title <i>"+k.Crate+"</i>", linksFor(k, 1, true))
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

// linkingLog is a crate's output that terminal-to-html would turn into
// live links and images: OSC 8 hyperlinks, its own 1339 links and 1338
// images, with text that reads like the farm's own page.
const linkingLog = "test result: FAILED\n" +
	"\x1b]8;;https://evil.example/login\x1b\\[ejecta] this log was cut: full log here\x1b]8;;\x1b\\\n" +
	"\x1b]1339;url=data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==;content=raw log\x07\n" +
	"\x1b]1338;url=https://evil.example/pixel.gif;alt=x\x07\n" +
	"\x1b_bk;t=0\x07\x1bP+q\x1b\\\x1b[31mred\x1b[0m after\n"

// No link or image in a stored log page comes from the log: every OSC,
// APC, DCS, PM and SOS sequence is dropped before rendering, colours kept.
// Before, the crate's links and images were live on the page, in the
// head and in the tail alike.
func TestPageCarriesNoLinksFromTheLog(t *testing.T) {
	filler := strings.Repeat("filler line\n", 2000)
	for name, log := range map[string]string{"head": linkingLog, "tail": filler + linkingLog} {
		out, p := render(t, []byte(log), 1<<10, 1<<10, 7)
		if name == "tail" && !p.truncated() {
			t.Fatal("the page of the long log shows all of it")
		}
		body := out[strings.Index(out, `<pre class="term-container">`):]
		if m := regexp.MustCompile(`<a[ >]|<img|href=|src=|evil\.example|data:`).FindString(body); m != "" {
			t.Errorf("VULNERABLE: %s: the crate's output made %q in the stored log page:\n%s", name, m, body)
		}
		// Read straight from the bucket, the page has its own policy.
		if !strings.Contains(out, `<meta http-equiv="Content-Security-Policy" content="default-src 'none';`) {
			t.Errorf("%s: the page has no content security policy of its own", name)
		}
		for _, want := range []string{"[ejecta] this log was cut: full log here", `<span class="term-fg31">red</span> after`} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: the page lacks %q:\n%s", name, want, body)
			}
		}
	}
}

// A page is staged in memory while it is small and moves to a file under
// the staging dir once it passes stagingMemory; either way finish gives
// back every byte written, and discard leaves no file.
func TestStaging(t *testing.T) {
	for _, tc := range []struct {
		name     string
		size     int
		step     int
		wantFile bool
	}{
		{"empty", 0, 1, false},
		{"small", 1000, 7, false},
		{"at the limit", stagingMemory, 4096, false},
		{"one byte over", stagingMemory + 1, 4096, true},
		{"large, one write", 5 * stagingMemory, 5 * stagingMemory, true},
		{"large, small writes", 3*stagingMemory + 17, 333, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := staging{dir: dir}
			want := make([]byte, tc.size)
			for i := range want {
				want[i] = byte('a' + i%26)
			}
			for rest := want; len(rest) > 0; {
				n := min(tc.step, len(rest))
				if w, err := s.Write(rest[:n]); err != nil || w != n {
					t.Fatalf("Write = %d, %v", w, err)
				}
				rest = rest[n:]
			}
			files, _ := os.ReadDir(dir)
			if got := len(files) > 0; got != tc.wantFile {
				t.Errorf("a file staged: %v, want %v", got, tc.wantFile)
			}
			r, size, err := s.finish()
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if size != int64(tc.size) || !bytes.Equal(got, want) {
				t.Errorf("finish gave %d bytes (said %d), want the %d written", len(got), size, tc.size)
			}
			s.discard()
			if files, _ := os.ReadDir(dir); len(files) > 0 {
				t.Errorf("discard left %d files", len(files))
			}
		})
	}
}

// A staging dir that cannot take a file fails a large page, with the dir
// named, not a small one.
func TestStagingDirMissing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	small := staging{dir: dir}
	if _, err := small.Write(make([]byte, 100)); err != nil {
		t.Errorf("a small page: %v", err)
	}
	large := staging{dir: dir}
	_, err := large.Write(make([]byte, stagingMemory+1))
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("a large page in a missing dir: %v, want an error naming %s", err, dir)
	}
}
