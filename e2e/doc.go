// Package e2e holds the end-to-end tests: every component together on real
// servers (in-process NATS, a containerd daemon, MinIO) and real cargo.
package e2e
