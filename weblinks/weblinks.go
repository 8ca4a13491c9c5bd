// Package weblinks spells the paths of the web UI's pages that other parts
// link to: the reporter's pages and `ejecta report` point at a line of a
// log on the web UI, which serves it (package web). One spelling, so the
// links and the routes cannot drift apart.
package weblinks

import (
	"net/url"
	"strconv"

	"github.com/ejecta-build/ejecta/streams"
)

// LogPage is the path of the page of one attempt's log.
func LogPage(k streams.BuildKey, attempt int) string {
	return "/logs/" + url.PathEscape(k.Experiment) + "/" + url.PathEscape(k.Crate) + "/" +
		url.PathEscape(k.Version) + "/" + url.PathEscape(k.Toolchain) + "/" + strconv.Itoa(attempt)
}

// LogLine is the path of line n of that page.
func LogLine(k streams.BuildKey, attempt, n int) string {
	return LogPage(k, attempt) + "#L" + strconv.Itoa(n)
}
