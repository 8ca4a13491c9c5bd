// Package metrics exposes ejecta's Prometheus metrics: Handler and Serve
// put a registry on HTTP, and JetStream is a collector that reads the
// state of every ejecta stream, durable consumer and KV bucket from the
// server when it is scraped.
//
// Each component defines its own collectors (builder/metrics.go,
// uploader/metrics.go, ...) and registers them in the registry its Config
// names; nothing registers in the global registry.
package metrics
