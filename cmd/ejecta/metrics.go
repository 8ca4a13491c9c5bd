package main

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/ejecta-build/ejecta/metrics"
)

// metricsFlag registers --metrics-addr: where a component serves /metrics.
func metricsFlag(fs *pflag.FlagSet, dst *string, what string) {
	fs.StringVar(dst, "metrics-addr", "",
		"serve Prometheus metrics on http://ADDR/metrics, e.g. :9090"+what+"; empty: off")
}

// checkMetricsAddr names a bad --metrics-addr before anything starts.
func checkMetricsAddr(addr string) error {
	if addr == "" {
		return nil
	}
	if err := metrics.CheckAddr(addr); err != nil {
		return badInput(fmt.Errorf("--metrics-addr: %w", err))
	}
	return nil
}

// runWithMetrics runs a component's run(ctx) while serving reg's metrics
// on addr ("": not served), as opts say. The metrics outlive ctx until run
// returns, so a builder draining after SIGTERM can still be watched.
func runWithMetrics(ctx context.Context, addr string, reg *prometheus.Registry, log zerolog.Logger, run func(context.Context) error, opts ...metrics.ServeOption) error {
	if addr == "" {
		return run(ctx)
	}
	l, err := metrics.Listen(addr)
	if err != nil {
		return fmt.Errorf("--metrics-addr: %w", err)
	}
	mctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() { served <- metrics.Serve(mctx, l, reg, log, opts...) }()
	err = run(ctx)
	stop()
	if serr := <-served; serr != nil {
		log.Error().Err(serr).Msg("serving metrics")
	}
	return err
}
