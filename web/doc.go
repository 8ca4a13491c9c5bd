// Package web is ejecta's read-only web UI: the experiments and their
// progress, one experiment's builds, the live builders, and a log page that
// renders a build's ANSI colours as escaped HTML and streams new lines live
// over Server-Sent Events, resuming after a reconnect from the Last-Event-ID
// the browser sends back. No endpoint changes state; templates, styles and
// the one script are embedded in the binary, and every response carries a
// Content-Security-Policy that allows no inline script.
package web
