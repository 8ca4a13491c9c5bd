package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// ComparePath is the page comparing experiments a and b's reports, as
// `ejecta experiment compare A B` does.
func ComparePath(a, b string) string {
	return "/compare/" + url.PathEscape(a) + "/" + url.PathEscape(b)
}

// compare shows the crates whose class changed from experiment a's report
// to b's (results.Compare).
func (s *Server) compare(w http.ResponseWriter, r *http.Request) {
	a, b := r.PathValue("a"), r.PathValue("b")
	for _, name := range []string{a, b} {
		if err := streams.ValidateExperimentName(name); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	d, err := results.CompareStored(r.Context(), s.st, a, b)
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, err.Error()+" (yet)", http.StatusNotFound)
		return
	}
	if errors.Is(err, results.ErrNoSharedToolchain) {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err != nil {
		s.fail(w, "compare the reports", err)
		return
	}
	s.render(w, "compare", page{Title: fmt.Sprintf("%s → %s", d.A, d.B), Data: d})
}
