package reporter

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"net/url"
	"strings"
	"time"
)

//go:embed index.html.tmpl
var indexTemplateText string

// parseIndexTemplate parses index.html.tmpl. html/template escapes every
// value for its context, so a hostile reason or crate name stays text.
func parseIndexTemplate() (*template.Template, error) {
	t, err := template.New("index.html").Parse(indexTemplateText)
	if err != nil {
		return nil, fmt.Errorf("parse index template: %w", err)
	}
	return t, nil
}

// indexPage is what index.html.tmpl renders: a self-contained page (inline
// CSS, relative links only) that works opened straight from disk.
type indexPage struct {
	Experiment    string
	Baseline, New string
	Mode          string
	Done, Total   int
	Updated       string
	Counts        []classCount
	Sections      []section
}

type classCount struct {
	Class Class
	N     int
}

type section struct {
	Class Class
	Rows  []row
}

type row struct {
	Name, Version string
	Class         Class
	Note          string
	Runs          [2]*runCell // baseline, new; nil while not done
}

type runCell struct {
	RunResult
	Href string // link to the log, relative to index.html
}

// newIndexPage arranges f for reading: the class counts, then one section
// per class in the order of Classes, regressions first.
func newIndexPage(f *ResultsFile) *indexPage {
	p := &indexPage{
		Experiment: f.Experiment,
		Baseline:   f.Toolchains[0],
		New:        f.Toolchains[1],
		Mode:       string(f.Mode),
		Done:       f.DoneJobs,
		Total:      f.TotalJobs,
		Updated:    f.Updated.Format(time.RFC3339),
	}
	byClass := make(map[Class][]row)
	for _, c := range f.Crates {
		r := row{Name: c.Name, Version: c.Version, Class: c.Class, Note: c.Note}
		for i := range c.Results {
			run := &c.Results[i]
			for j, tc := range f.Toolchains {
				if run.Toolchain == tc {
					r.Runs[j] = &runCell{RunResult: *run, Href: logHref(run.Log)}
				}
			}
		}
		byClass[c.Class] = append(byClass[c.Class], r)
	}
	for _, cl := range Classes {
		rows := byClass[cl]
		if len(rows) == 0 {
			continue
		}
		p.Counts = append(p.Counts, classCount{cl, len(rows)})
		p.Sections = append(p.Sections, section{cl, rows})
	}
	return p
}

// logHref turns a log's object key into a link. Keys hold %XX escapes
// (streams.EscapeToken), and a browser would decode "1%2E0%2E0" to "1.0.0"
// and miss the file, so every segment is escaped once more.
func logHref(key string) string {
	if key == "" {
		return ""
	}
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

func renderIndex(w io.Writer, t *template.Template, f *ResultsFile) error {
	if err := t.Execute(w, newIndexPage(f)); err != nil {
		return fmt.Errorf("render index.html: %w", err)
	}
	return nil
}
