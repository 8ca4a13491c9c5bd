package web

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"

	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// reportFiles are the files of a report the experiment page links to, as
// the reporter names them under the experiment's prefix.
var reportFiles = []string{"index.html", "full.html", "results.json", "markdown.md", "config.json", "retry-regressed-list.txt"}

// reportPolicy is the Content-Security-Policy of stored report files: the
// reporter's pages carry their styles inline and need no script, and a
// sandbox keeps whatever a stored file holds away from this origin.
const reportPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; sandbox allow-popups allow-top-navigation-by-user-activation; frame-ancestors 'none'"

// reportURL is where the UI serves an object of experiment exp's report.
func reportURL(exp, file string) string {
	return "/experiments/" + url.PathEscape(exp) + "/report/" + file
}

// reportFile serves an object under an experiment's prefix in the store (a
// report file, a stored log the report links to) as it is, streamed.
func (s *Server) reportFile(w http.ResponseWriter, r *http.Request) {
	exp, file := r.PathValue("exp"), r.PathValue("file")
	if err := streams.ValidateExperimentName(exp); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := store.ValidateKey(file); err != nil {
		http.Error(w, "report file: "+err.Error(), http.StatusBadRequest)
		return
	}
	key := streams.ExperimentPrefix(exp) + file
	rc, err := s.st.Get(r.Context(), key)
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, "no "+file+" in the report of "+exp+" (yet)", http.StatusNotFound)
		return
	}
	if err != nil {
		s.fail(w, "read report file", err)
		return
	}
	defer rc.Close()
	ct := mime.TypeByExtension(path.Ext(file))
	switch path.Ext(file) {
	case ".log", ".txt", ".md":
		ct = "text/plain; charset=utf-8"
	case ".zst":
		ct = "application/zstd"
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Security-Policy", reportPolicy)
	h.Set("Cache-Control", "no-cache") // rewritten while the experiment runs
	if _, err := io.Copy(w, rc); err != nil {
		s.log.Warn().Err(err).Str("key", key).Msg("report file cut short")
	}
}
