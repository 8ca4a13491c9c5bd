package reporter

import (
	"slices"

	"github.com/ejecta-build/ejecta/streams"
)

// page is one part of full.html: every crate whose lower-case name starts
// with prefix (its first two characters), sorted. Crates stay on their page
// for good, so a new crate or a changed one rewrites one page, never the
// pages after it.
type page struct {
	prefix string
	// exp is the experiment's name: what the rows keep of results leaves it out (keep.go).
	exp string
	// web is the web UI's address the page's rows link log lines to; ""
	// for none (Config.WebURL).
	web   string
	rows  []*crateState
	dirty bool
}

// pagePrefix is the page a crate name belongs on. Crate names are ASCII
// letters, digits, '-' and '_' (streams.ValidateCrateName), so the prefix is
// safe in an object key and a link.
func pagePrefix(lower string) string {
	if len(lower) > 2 {
		return lower[:2]
	}
	return lower
}

// pageFileName is the object name of the page with prefix, relative to the
// experiment's prefix. Pages sit beside index.html so that a row's log
// links read the same on every page.
func pageFileName(prefix string) string { return "full-" + streams.EscapeToken(prefix) + ".html" }

// pageFor returns the page cs belongs on, creating it.
func (e *experiment) pageFor(cs *crateState) *page {
	pfx := pagePrefix(cs.lower)
	if p := e.pages[pfx]; p != nil {
		cs.page = p
		return p
	}
	p := &page{prefix: pfx, exp: e.name, web: e.web}
	e.pages[pfx] = p
	i, _ := slices.BinarySearch(e.prefixes, pfx)
	e.prefixes = slices.Insert(e.prefixes, i, pfx)
	cs.page = p
	return p
}

// insert puts cs in its sorted place. A page holds the crates of one
// two-letter prefix, so the move is over a small slice.
func (p *page) insert(cs *crateState) {
	i, _ := slices.BinarySearchFunc(p.rows, cs, compareCrates)
	p.rows = slices.Insert(p.rows, i, cs)
	p.dirty = true
}

// first and last name the page's range for the page list.
func (p *page) first() string { return p.rows[0].key.name }
func (p *page) last() string  { return p.rows[len(p.rows)-1].key.name }
