package metrics

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// probeTimeout bounds one check of a /readyz request: a probe that hangs
// on an unreachable server must not hang the prober (Docker, Kubernetes,
// a load balancer) past its own timeout.
const probeTimeout = 4 * time.Second

// A Check is one thing a component needs to do its work: NATS, its
// streams, the store, containerd. /readyz probes every check.
type Check struct {
	Name  string
	Probe func(context.Context) error
}

// Health answers /healthz (the process serves HTTP: it is alive) and
// /readyz (every check passes: it can do its work). A failing check is
// named in the answer; its error, which may name hosts and buckets, goes
// to the log only, once per change, since the endpoints need no token.
type Health struct {
	log    zerolog.Logger
	checks []Check

	mu     sync.Mutex
	failed map[string]string // the last error logged, by check
}

// NewHealth returns the health endpoints of a component with checks.
func NewHealth(log zerolog.Logger, checks ...Check) *Health {
	return &Health{log: log, checks: checks, failed: map[string]string{}}
}

// Route registers GET /healthz and GET /readyz on mux.
func (h *Health) Route(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", h.readyz)
}

func (h *Health) readyz(w http.ResponseWriter, r *http.Request) {
	results := h.Probe(r.Context())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	var body strings.Builder
	ready := true
	for _, c := range h.checks {
		state := "ok"
		if results[c.Name] != nil {
			state, ready = "failing", false
		}
		fmt.Fprintf(&body, "%s: %s\n", c.Name, state)
	}
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprint(w, body.String())
}

// Probe runs every check at once, each within probeTimeout, and returns
// each check's error (nil: passed) by name.
func (h *Health) Probe(ctx context.Context) map[string]error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	errs := make([]error, len(h.checks))
	var wg sync.WaitGroup
	for i, c := range h.checks {
		wg.Go(func() { errs[i] = c.Probe(ctx) })
	}
	wg.Wait()
	out := make(map[string]error, len(h.checks))
	for i, c := range h.checks {
		out[c.Name] = errs[i]
		h.logChange(c.Name, errs[i])
	}
	return out
}

// logChange logs a check that starts failing, fails otherwise, or passes
// again: a prober asking every few seconds does not flood the log.
func (h *Health) logChange(name string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	last, wasFailing := h.failed[name]
	switch {
	case err == nil && wasFailing:
		delete(h.failed, name)
		h.log.Info().Str("check", name).Msg("ready again")
	case err != nil && err.Error() != last:
		h.failed[name] = err.Error()
		h.log.Warn().Err(err).Str("check", name).Msg("not ready")
	}
}

// NATSConnected passes while nc is connected; it fails while the client
// reconnects.
func NATSConnected(nc *nats.Conn) Check {
	return Check{Name: "nats", Probe: func(context.Context) error {
		if s := nc.Status(); s != nats.CONNECTED {
			return fmt.Errorf("nats connection %s", s)
		}
		return nil
	}}
}

// StreamsPresent passes while every stream and bucket this version uses
// exists as it expects (streams.Lookup).
func StreamsPresent(js jetstream.JetStream) Check {
	return Check{Name: "streams", Probe: func(ctx context.Context) error { return streams.Lookup(ctx, js) }}
}

// StoreReachable passes while st answers.
func StoreReachable(st store.Store) Check {
	return Check{Name: "store", Probe: func(ctx context.Context) error { return store.Ping(ctx, st) }}
}
