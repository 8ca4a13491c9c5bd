package reporter

import (
	"html/template"
	"net"
	"time"
)

type fullView struct {
	pageView
	Crates int
	Pages  []pageLink
}

type pageLink struct {
	Prefix, Href, First, Last string
	N                         int
}

// fullHTML renders full.html, the list of pages: its cost grows with the
// number of pages (at most a few thousand two-letter prefixes).
func (e *experiment) fullHTML(t *template.Template, now time.Time) ([]byte, error) {
	v := fullView{pageView: pageView{Experiment: e.name, Title: "all crates", Progress: e.progressView(now)},
		Crates: len(e.crates)}
	for _, pfx := range e.prefixes {
		p := e.pages[pfx]
		v.Pages = append(v.Pages, pageLink{Prefix: pfx, Href: pageFileName(pfx), First: p.first(), Last: p.last(), N: len(p.rows)})
	}
	return render(t, "full", v)
}

// pageEnd closes what the "pagestart" template opens.
const pageEnd = "</table>\n</body>\n</html>\n"

// pageHTML returns one page of full.html as parts to write one after the
// other: its head, then its crates' cached rows as they are, then the end.
// Nothing is copied; the rows are never changed, only replaced.
func (e *experiment) pageHTML(t *template.Template, p *page, now time.Time) (net.Buffers, error) {
	head, err := render(t, "pagestart", pageView{Experiment: e.name, Title: "crates " + p.prefix + "…", Progress: e.progressView(now)})
	if err != nil {
		return nil, err
	}
	parts := make(net.Buffers, 0, len(p.rows)+2)
	parts = append(parts, head)
	for _, cs := range p.rows {
		parts = append(parts, cs.rowHTML())
	}
	return append(parts, []byte(pageEnd)), nil
}
