package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/web"
)

// The compare page shows the crates whose class changed between two
// reports, new and gone regressions named, and refuses what it cannot
// compare.
func TestComparePage(t *testing.T) {
	e := start(t, web.Config{})
	put := func(exp string, toolchains []string, crates ...results.CrateResult) {
		t.Helper()
		data, _ := json.Marshal(results.File{V: results.FileVersion, Experiment: exp, Toolchains: toolchains, Crates: append([]results.CrateResult{}, crates...)})
		if err := e.st.Put(context.Background(), results.Key(exp), bytes.NewReader(data), int64(len(data)), ""); err != nil {
			t.Fatal(err)
		}
	}
	put("before", []string{"stable", "nightly-1"},
		results.CrateResult{Name: "alpha", Version: "1.0.0", Class: results.ClassSameTestPass},
		results.CrateResult{Name: "beta", Version: "1.0.0", Class: results.ClassRegressed})
	put("after", []string{"stable", "nightly-2"},
		results.CrateResult{Name: "alpha", Version: "1.0.0", Class: results.ClassRegressed},
		results.CrateResult{Name: "beta", Version: "1.0.0", Class: results.ClassSameTestPass})
	put("other", []string{"beta", "1.80.0"})
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(e.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	code, body := get(web.ComparePath("before", "after"))
	for _, want := range []string{"<td>alpha</td>", "new regression", "<td>beta</td>", "regression gone", "sharing stable"} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("compare page (%d) lacks %q:\n%s", code, want, body)
		}
	}
	for path, want := range map[string]int{
		web.ComparePath("before", "other"):   http.StatusBadRequest,
		web.ComparePath("before", "missing"): http.StatusNotFound,
		"/compare/before/..%2Fx":             http.StatusBadRequest,
	} {
		if code, body := get(path); code != want {
			t.Errorf("%s: %d, want %d: %s", path, code, want, body)
		}
	}
}
