package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// NewRegistry returns a registry holding the Go runtime's and the
// process's collectors, for a component to add its own to.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves what g gathers in the Prometheus text format. A collector
// that fails is reported in the response rather than failing the scrape.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// CheckAddr names what is wrong with a --metrics-addr.
func CheckAddr(addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("metrics address %q: want HOST:PORT or :PORT", addr)
	}
	return nil
}

// Listen opens addr for Serve, so that a taken port is an error at start.
func Listen(addr string) (net.Listener, error) {
	if err := CheckAddr(addr); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	return l, nil
}

// ServeOption changes what Serve serves.
type ServeOption func(*serveOptions)

type serveOptions struct {
	wrap   func(http.Handler) http.Handler
	health *Health
}

// Wrap puts every request Serve answers through wrap first: the web UI's
// access token guards its metrics on --metrics-addr as on its own address.
func Wrap(wrap func(http.Handler) http.Handler) ServeOption {
	return func(o *serveOptions) { o.wrap = wrap }
}

// WithHealth serves h's /healthz and /readyz beside /metrics. Wrap does
// not guard them: probers carry no token, and they say only which checks
// fail.
func WithHealth(h *Health) ServeOption {
	return func(o *serveOptions) { o.health = h }
}

// Serve serves /metrics from g on l until ctx ends.
func Serve(ctx context.Context, l net.Listener, g prometheus.Gatherer, log zerolog.Logger, opts ...ServeOption) error {
	var o serveOptions
	for _, opt := range opts {
		opt(&o)
	}
	var metrics http.Handler = Handler(g)
	if o.wrap != nil {
		metrics = o.wrap(metrics)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	if o.health != nil {
		o.health.Route(mux)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// A scrape is bounded: the JetStream collector gives up after
		// scrapeTimeout.
		WriteTimeout: time.Minute,
		IdleTimeout:  2 * time.Minute,
	}
	log.Info().Str("addr", l.Addr().String()).Msg("serving /metrics")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("metrics: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("metrics: shutdown: %w", err)
	}
	return nil
}
