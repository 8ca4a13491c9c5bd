package web

import (
	"net/url"

	"github.com/ejecta-build/ejecta/streams"
)

// LogPath is the path of one attempt's log page, for links to the web UI
// from elsewhere (`ejecta report`).
func LogPath(k streams.BuildKey, attempt int) string { return logURL(k, attempt) }

// ExperimentPath is the path of an experiment's page.
func ExperimentPath(exp string) string { return "/experiments/" + url.PathEscape(exp) }
