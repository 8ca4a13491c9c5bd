package web

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ejecta-build/ejecta/logsearch"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/ejecta-build/ejecta/weblinks"
)

// Bounds of one search from the web UI: a person reads the first hits,
// and a search must not hold the server's cores or a connection for long.
const (
	searchMaxLines = 2000
	searchTimeout  = 2 * time.Minute
	searchMaxQuery = 1024
)

// errEnough ends a search that found searchMaxLines lines to show.
var errEnough = errors.New("enough lines found")

// SearchPath is the search page of experiment exp.
func SearchPath(exp string) string { return ExperimentPath(exp) + "/search" }

// search is `ejecta grep` on the web: the lines of experiment exp's logs,
// stored and live, that match the q parameter (toolchain, crate and
// context narrow it), each linked to its line on its log page. Hits are
// written and flushed log by log as the search finds them.
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	exp := r.PathValue("exp")
	if err := streams.ValidateExperimentName(exp); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	q := r.URL.Query()
	pattern := q.Get("q")
	if len(pattern) > searchMaxQuery {
		http.Error(w, fmt.Sprintf("q: at most %d bytes", searchMaxQuery), http.StatusBadRequest)
		return
	}
	var query logsearch.Query
	if tc := q.Get("toolchain"); tc != "" {
		query.Toolchains = []string{tc}
	}
	if c := q.Get("crate"); c != "" {
		query.Crates = []string{c}
	}
	if c := q.Get("context"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 0 || n > 10 {
			http.Error(w, "context: want 0 to 10 lines", http.StatusBadRequest)
			return
		}
		query.Context = n
	}
	var err error
	if pattern != "" {
		if query.Pattern, err = regexp.Compile("(?m)" + pattern); err != nil {
			http.Error(w, "q: "+err.Error(), http.StatusBadRequest)
			return
		}
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	esc := html.EscapeString
	fmt.Fprintf(w, `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>search %s · ejecta</title>`+
		`<link rel="stylesheet" href="/assets/style.css"></head><body><nav><a href="/">experiments</a> <a href="/builders">builders</a></nav><main>`+
		`<h1>search the logs of <a href="%s">%s</a></h1><form><input name="q" size="60" value="%s" placeholder="a regular expression, e.g. warning: unused">`+
		` <input name="toolchain" size="12" value="%s" placeholder="toolchain"> <input name="crate" size="16" value="%s" placeholder="crate">`+
		` <button>search</button></form>`,
		esc(exp), esc(ExperimentPath(exp)), esc(exp), esc(pattern), esc(q.Get("toolchain")), esc(q.Get("crate")))
	defer fmt.Fprint(w, `</main></body></html>`)
	if query.Pattern == nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), searchTimeout)
	defer cancel()
	lines := 0
	stats, err := logsearch.Search(ctx, s.st, logsearch.StreamLogs{JS: s.js, Reader: s.logs}, exp, query, func(h logsearch.Hits) error {
		var b strings.Builder
		fmt.Fprintf(&b, `<h3>%s %s on %s, attempt %d</h3><pre class="hits">`, esc(h.Crate), esc(h.Version), esc(h.Toolchain), h.Attempt)
		for _, l := range h.Lines {
			sep := "-" // a context line, as grep -C shows it
			if l.Match {
				sep = ":"
			}
			fmt.Fprintf(&b, `<a href="%s">%d</a>%s %s`+"\n", esc(weblinks.LogLine(h.BuildKey, h.Attempt, l.Number)), l.Number, sep, esc(l.Text))
		}
		b.WriteString("</pre>")
		if _, err := fmt.Fprint(w, b.String()); err != nil {
			return err
		}
		_ = rc.Flush()
		if lines += len(h.Lines); lines >= searchMaxLines {
			return errEnough
		}
		return nil
	})
	switch {
	case errors.Is(err, errEnough):
		fmt.Fprintf(w, `<p class="note">The first %d lines found; narrow the search for the rest.</p>`, lines)
	case err != nil:
		fmt.Fprintf(w, `<p class="note">The search stopped: %s.</p>`, esc(err.Error()))
	default:
		fmt.Fprintf(w, `<p class="note">%d of %d logs matched (%.1f MiB searched).</p>`, stats.Matched, stats.Logs, float64(stats.Bytes)/(1<<20))
	}
}
