package reporter

import (
	"bytes"
	_ "embed"
	"fmt"
	"html"
	"html/template"
	"net/url"
	"strings"
	"time"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/ejecta-build/ejecta/weblinks"
)

//go:embed report.html.tmpl
var reportTemplateText string

// parseTemplates parses report.html.tmpl. html/template escapes every value
// for its context, so a hostile reason or crate name stays text. The only
// template.HTML values are rows this same template rendered.
func parseTemplates() (*template.Template, error) {
	t, err := template.New("report").Parse(reportTemplateText)
	if err != nil {
		return nil, fmt.Errorf("parse report template: %w", err)
	}
	return t, nil
}

// progressView is the progress block every page carries.
type progressView struct {
	Baseline, New, Mode string
	Done, Total         int
	Percent             string
	Rate                string // builds per minute; empty while unknown
	ETA                 string
	Updated             string
	// Aborted is set once `experiment abort` stopped the experiment.
	Aborted bool
}

func (e *experiment) progressView(now time.Time) progressView {
	rate, eta := e.rate()
	p := progressView{
		Baseline: e.rec.Toolchains[0], New: e.rec.Toolchains[1], Mode: string(e.rec.Mode),
		Done: e.done, Total: e.rec.Jobs, Percent: "0%",
		Updated: now.UTC().Format(time.RFC3339),
		Aborted: e.rec.State == streams.ExperimentAborted,
	}
	if e.rec.Jobs > 0 {
		p.Percent = fmt.Sprintf("%.1f%%", 100*float64(e.done)/float64(e.rec.Jobs))
	}
	if rate > 0 {
		p.Rate = fmt.Sprintf("%.1f", rate)
		p.ETA = (time.Duration(eta) * time.Second).String()
	}
	return p
}

// pageView is what the "head" template needs.
type pageView struct {
	Experiment string
	Title      string
	Progress   progressView
}

// htmlRow is cs's table row for a template (index.html).
func (cs *crateState) htmlRow() template.HTML {
	return template.HTML(cs.rowHTML()) //nolint:gosec // every value in it is escaped
}

// rowHTML is cs's table row, rendered once per change. Every page lives in
// the experiment's prefix, so the same row serves index.html and
// full-*.html; a page of full.html is its rows as they are cached, not a
// copy of them. Rows are the one piece of HTML made per result, so they are
// written directly rather than through html/template; every value passes
// through html.EscapeString, in text or in a double-quoted attribute.
func (cs *crateState) rowHTML() []byte {
	if cs.row == nil {
		var b bytes.Buffer
		b.Grow(512)
		esc := func(s string) { b.WriteString(html.EscapeString(s)) }
		b.WriteString(`<tr class="`)
		esc(string(cs.v.Class))
		b.WriteString(`"><td>`)
		esc(cs.key.name)
		b.WriteString(`</td><td>`)
		esc(cs.key.version)
		b.WriteString(`</td><td>`)
		esc(string(cs.v.Class))
		if cs.v.Confirmation != "" {
			b.WriteString(" (")
			esc(cs.v.Confirmation)
			b.WriteString(")")
		}
		if k := cs.known(); k != "" {
			b.WriteString(`<br><span class="known">known from `)
			esc(k)
			b.WriteString(`</span>`)
		}
		for _, r := range cs.runs {
			b.WriteString(`</td><td>`)
			cs.writeCell(&b, r)
			if triaged(cs.v.Class) {
				cs.writeFirstError(&b, r)
			}
		}
		b.WriteString(`</td><td class="note">`)
		esc(cs.v.Note)
		for i := range cs.reruns {
			fmt.Fprintf(&b, "<br>re-run %d: ", i+1)
			cs.writeCell(&b, cs.reruns[i][0])
			b.WriteString("; ")
			cs.writeCell(&b, cs.reruns[i][1])
		}
		b.WriteString("</td></tr>\n")
		// The buffer grew past the row; a crater run keeps 700k rows.
		cs.row = bytes.Clone(b.Bytes())
	}
	return cs.row
}

// writeCell writes one attempt: status, reason, attempt number, log link.
func (cs *crateState) writeCell(b *bytes.Buffer, r *kept) {
	if r == nil {
		b.WriteString("&mdash;")
		return
	}
	b.WriteString(html.EscapeString(string(r.Status)))
	if r.Reason != "" {
		b.WriteString(" (")
		b.WriteString(html.EscapeString(string(r.Reason)))
		b.WriteString(")")
	}
	if r.Attempt > 1 {
		fmt.Fprintf(b, ", attempt %d", r.Attempt)
	}
	if r.SharedTarget {
		b.WriteString(`, <span title="built in its builder slot's shared target dir, which earlier crates' build scripts could write to; a verdict other than same-* is confirmed by a re-run in a clean target">shared target</span>`)
	}
	if href := logHref(logKey(cs.resultLog(r))); href != "" {
		b.WriteString(` <a href="`)
		b.WriteString(html.EscapeString(href))
		b.WriteString(`">log</a>`)
		// The uploader also renders each log as a page with its colours.
		b.WriteString(` <a href="`)
		b.WriteString(html.EscapeString(logHref(streams.LogPageKey(cs.build(r), r.Attempt))))
		b.WriteString(`">page</a>`)
	}
}

// triaged says whether crates of class c show their first errors: every
// class in which the toolchains differed or a build could not be judged.
func triaged(c results.Class) bool { return !c.Same() && c != results.ClassPending }

// writeFirstError writes the first error of attempt r, if it has one,
// below its cell: code, message, where it is in the source and in the log.
// The stored log page has no line anchors: the log line links to the web
// UI's log page, which numbers its lines, when there is one (web), and is
// given as a number otherwise.
func (cs *crateState) writeFirstError(b *bytes.Buffer, r *kept) {
	if r == nil || r.FirstError == nil {
		return
	}
	web := cs.page.web
	e := r.FirstError
	b.WriteString(`<div class="first-error">`)
	if e.Code != "" {
		b.WriteString(`<code>`)
		b.WriteString(html.EscapeString(e.Code))
		b.WriteString(`</code> `)
	}
	b.WriteString(html.EscapeString(e.Message))
	if loc := e.Location(); loc != "" {
		b.WriteString(` <span class="at">at <code>`)
		b.WriteString(html.EscapeString(loc))
		b.WriteString(`</code></span>`)
	}
	switch {
	case e.LogLine > 0 && web != "":
		fmt.Fprintf(b, ` <span class="at">(<a href="%s">log line %d</a>)</span>`,
			html.EscapeString(web+weblinks.LogLine(cs.build(r), r.Attempt, e.LogLine)), e.LogLine)
	case e.LogLine > 0:
		fmt.Fprintf(b, ` <span class="at">(log line %d)</span>`, e.LogLine)
	}
	b.WriteString(`</div>`)
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

func render(t *template.Template, name string, data any) ([]byte, error) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}
