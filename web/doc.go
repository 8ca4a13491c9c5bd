// Package web is ejecta's read-only web UI: the experiments and their
// progress; one experiment's counts by class, its regressions so far (read
// from the reporter's results.json, with links to both logs) and its stored
// report files; the live builders; and a log page.
//
// The log page renders a build's ANSI colours as escaped HTML with line
// numbers and, for a live log, each line's time (that of the chunk holding
// its first byte). A big log is never sent whole: the page loads its head
// from a range endpoint, follows its tail over Server-Sent Events (resuming
// after a reconnect from the Last-Event-ID the browser sends back, with
// keep-alive pings), and loads the bytes between on demand.
//
// A live log stream holds a connection and an ordered consumer on the NATS
// server, so streams are capped, in all and per client address
// (streamlimits.go), and each ends after a lifetime, from which the
// browser resumes (sse.go); a log that does not exist is a 404 after a
// short wait (logwait.go). With Config.AccessToken every route, /metrics
// included, requires the token, as a bearer token or as the cookie a first
// visit with ?token= sets (access.go).
//
// No endpoint changes state; templates, styles and the one script are
// embedded in the binary, and every response carries a
// Content-Security-Policy that allows no inline script.
package web
