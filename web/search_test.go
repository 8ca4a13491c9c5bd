package web_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/ejecta-build/ejecta/streams"
	"github.com/ejecta-build/ejecta/web"
)

// The search page finds the matching lines of an experiment's stored logs,
// escaped, each linked to its line on its log page, and refuses a bad
// pattern.
func TestSearchPage(t *testing.T) {
	e := start(t, web.Config{})
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string, data []byte) {
		t.Helper()
		if err := e.st.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), ""); err != nil {
			t.Fatal(err)
		}
	}
	k := streams.BuildKey{Experiment: "s", Crate: "alpha", Version: "1.0.0", Toolchain: "nightly"}
	put(streams.ExperimentPrefix("s")+streams.LogRawKey(k, 1), enc.EncodeAll([]byte("   Compiling alpha\n\x1b[31merror[E0308]\x1b[0m: mismatched <types>\n"), nil))
	put(streams.ExperimentPrefix("s")+streams.LogMetaKey(k, 1), []byte(`{"v":1}`))
	get := func(query string) (int, string) {
		t.Helper()
		resp, err := http.Get(e.url + web.SearchPath("s") + "?" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	code, body := get("q=" + url.QueryEscape(`error\[E\d+\]`))
	want := `<a href="/logs/s/alpha/1.0.0/nightly/1#L2">2</a>: error[E0308]: mismatched &lt;types&gt;`
	if code != http.StatusOK || !strings.Contains(body, want) || !strings.Contains(body, "1 of 1 logs matched") {
		t.Errorf("search (%d) lacks %q:\n%s", code, want, body)
	}
	if code, body := get("q=" + url.QueryEscape("nothing like it")); code != http.StatusOK || !strings.Contains(body, "0 of 1 logs matched") {
		t.Errorf("search without a hit (%d):\n%s", code, body)
	}
	if code, _ := get("q=" + url.QueryEscape("error[")); code != http.StatusBadRequest {
		t.Errorf("a bad pattern: %d, want 400", code)
	}
	if code, _ := get("q=x&context=99"); code != http.StatusBadRequest {
		t.Errorf("context 99: %d, want 400", code)
	}
}
