package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/ejecta-build/ejecta/logtail"
	"github.com/ejecta-build/ejecta/streams"
)

// buildFromPath reads and checks the build and attempt in a log URL.
func buildFromPath(r *http.Request) (streams.BuildKey, int, error) {
	k := streams.BuildKey{
		Experiment: r.PathValue("exp"), Crate: r.PathValue("crate"),
		Version: r.PathValue("version"), Toolchain: r.PathValue("toolchain"),
	}
	for _, check := range []error{
		streams.ValidateExperimentName(k.Experiment), streams.ValidateCrateName(k.Crate),
		streams.ValidateVersion(k.Version), streams.ValidateToolchain(k.Toolchain),
	} {
		if check != nil {
			return k, 0, check
		}
	}
	attempt, err := strconv.Atoi(r.PathValue("attempt"))
	if err != nil || attempt < 1 {
		return k, 0, fmt.Errorf("attempt %q: want a number from 1", r.PathValue("attempt"))
	}
	return k, attempt, nil
}

// pageBytes is how much of a log the page shows at first from its head and
// from its tail, and how much more each "load more" adds: a few thousand
// lines each, which a browser lays out quickly even on a small machine.
const pageBytes = 256 << 10

func (s *Server) logPage(w http.ResponseWriter, r *http.Request) {
	k, attempt, err := buildFromPath(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	size, err := s.waitForLog(r.Context(), k, attempt)
	if err != nil {
		s.logError(w, r, "size of log", err)
		return
	}
	stored, err := s.storedLog(r.Context(), k, attempt, size)
	if err != nil {
		s.fail(w, "read log metadata", err)
		return
	}
	u := logURL(k, attempt)
	s.render(w, "log", page{
		Title: fmt.Sprintf("%s %s on %s, attempt %d", k.Crate, k.Version, k.Toolchain, attempt),
		Data: struct {
			Build                streams.BuildKey
			Raw, Events, Range   string
			HeadBytes, TailBytes int
			Stored               *storedLog
		}{k, u + "/raw", u + "/events", u + "/range", pageBytes, pageBytes, stored},
	})
}

// logRaw sends the log's bytes as they are, live or stored, as far as they
// exist now.
func (s *Server) logRaw(w http.ResponseWriter, r *http.Request) {
	k, attempt, err := buildFromPath(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if _, err := s.waitForLog(r.Context(), k, attempt); err != nil {
		s.logError(w, r, "size of log", err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`inline; filename="%s-%s-%s-%d.log"`,
		streams.EscapeToken(k.Crate), streams.EscapeToken(k.Version), streams.EscapeToken(k.Toolchain), attempt))
	lw := &lazyWriter{w: w}
	_, err = s.logs.Copy(r.Context(), k, attempt, lw, logtail.Options{})
	switch {
	case errors.Is(err, logtail.ErrNoLog) && !lw.wrote:
		http.Error(w, err.Error(), http.StatusNotFound)
	case err != nil && !lw.wrote:
		s.fail(w, "read log", err)
	case err != nil:
		s.log.Warn().Err(err).Str("build", k.String()).Msg("raw log cut short")
	case !lw.wrote:
		w.WriteHeader(http.StatusOK) // an empty log
	}
}

// lazyWriter remembers whether anything was written, so that an error
// before the first byte can still become an error status.
type lazyWriter struct {
	w     http.ResponseWriter
	wrote bool
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	l.wrote = true
	return l.w.Write(p)
}
