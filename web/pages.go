package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/ejecta-build/ejecta/logtail"
	"github.com/ejecta-build/ejecta/reporter"
	"github.com/ejecta-build/ejecta/status"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/ejecta-build/ejecta/weblinks"
)

// page is what every template gets.
type page struct {
	Title   string
	Refresh int // seconds; 0: none
	Data    any
}

var pageNames = []string{"experiments", "experiment", "builders", "log", "compare"}

func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"logURL":        logURL,
		"regressionLog": regressionLog,
		"reportURL":     reportURL,
		"duration":      func(secs int64) string { return (time.Duration(secs) * time.Second).String() },
		"join":          strings.Join,
		"age":           func(t time.Time) string { return time.Since(t).Round(time.Second).String() },
	}
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// logURL is the log page of one attempt.
func logURL(k streams.BuildKey, attempt int) string { return weblinks.LogPage(k, attempt) }

// render executes a page into a buffer first, so that a template error is
// a clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, name string, p page) {
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		s.log.Error().Err(err).Str("page", name).Msg("render page")
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

func (s *Server) fail(w http.ResponseWriter, what string, err error) {
	s.log.Error().Err(err).Msg(what)
	http.Error(w, what+": "+err.Error(), http.StatusBadGateway)
}

func (s *Server) experiments(w http.ResponseWriter, r *http.Request) {
	exps, err := status.List(r.Context(), s.js)
	if err != nil {
		s.fail(w, "list experiments", err)
		return
	}
	sts := make([]status.Status, 0, len(exps))
	for _, e := range exps {
		st, err := status.Get(r.Context(), s.js, e.Name)
		if err != nil {
			s.fail(w, "status of "+e.Name, err)
			return
		}
		sts = append(sts, st)
	}
	s.render(w, "experiments", page{Title: "experiments", Refresh: 5, Data: sts})
}

func (s *Server) experiment(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("exp")
	if err := streams.ValidateExperimentName(name); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	st, err := status.Get(r.Context(), s.js, name)
	if errors.Is(err, status.ErrUnknownExperiment) {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	if err != nil {
		s.fail(w, "status of "+name, err)
		return
	}
	atts, err := logtail.Attempts(r.Context(), s.js, name)
	if err != nil {
		s.fail(w, "builds of "+name, err)
		return
	}
	// The list is read again only when results.json changed; a reporter
	// that does not say when it did rewrote it with every summary.
	resultsAt := st.ResultsUpdated
	if resultsAt.IsZero() {
		resultsAt = st.ReportUpdated
	}
	regs, err := s.regressions(r.Context(), name, resultsAt)
	if err != nil {
		s.fail(w, "regressions of "+name, err)
		return
	}
	files := make([]reportLink, 0, len(reportFiles))
	for _, f := range reportFiles {
		files = append(files, reportLink{Name: f, URL: reportURL(name, f)})
	}
	s.render(w, "experiment", page{Title: "experiment " + name, Refresh: refreshSeconds(st), Data: struct {
		Status      status.Status
		Attempts    []logtail.Attempt
		Report      string
		Files       []reportLink
		Regressions regressions
		Shown       int
	}{st, atts, s.st.Location(reporter.IndexKey(name)), files, regs, len(regs.Crates)}})
}

// reportLink is a stored report file the UI serves.
type reportLink struct{ Name, URL string }

// refreshSeconds is how often the experiment page reloads: while anything
// can still change, often; once the experiment is finished, rarely.
func refreshSeconds(st status.Status) int {
	if st.Finished() {
		return 60
	}
	return 3
}

func (s *Server) builders(w http.ResponseWriter, r *http.Request) {
	hbs, err := status.Builders(r.Context(), s.js)
	if err != nil {
		s.fail(w, "list builders", err)
		return
	}
	s.render(w, "builders", page{Title: "builders", Refresh: 5, Data: hbs})
}
