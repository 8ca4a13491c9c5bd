#!/usr/bin/env bash
# Installs what ejecta's demo and tests need on a Debian 12 machine, when it
# is missing: containerd and runc, a pinned MinIO server and nats CLI, crate sources from
# Debian's librust-*-dev packages. `make demo` and `make test` both call it.
#
# As root it installs; otherwise it only reports what is missing. With
# EJECTA_REQUIRE_ALL=1 anything still missing at the end is an error.
set -euo pipefail

# MinIO has no semver tags; this pseudo-version is release 2026-02-12.
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
# The stock NATS CLI, for the README's `nats sub|stream ls|kv ls` and their test.
NATSCLI_VERSION=v0.5.1
# Small crates with no or few dependencies: a real corpus for the demo and tests.
CRATE_PACKAGES="librust-cfg-if-dev librust-itoa-dev librust-either-dev librust-scopeguard-dev librust-lazy-static-dev librust-memchr-dev"

log() { printf 'setup: %s\n' "$*" >&2; }
missing=()

apt_install() {
	if [ "$(id -u)" != 0 ]; then
		log "not root: cannot install $*"
		return 1
	fi
	if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit 2>/dev/null)" ] || [ -n "${EJECTA_APT_UPDATE:-}" ]; then
		log "apt-get update"
		apt-get update -qq
	fi
	log "apt-get install $*"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || {
		# A stale package list is the usual cause: refresh once and retry.
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
	}
}

# containerd and runc
if ! command -v containerd >/dev/null || ! command -v runc >/dev/null; then
	apt_install containerd runc || missing+=("containerd runc (apt-get install containerd runc)")
fi

# headless Chromium, for the web UI's browser test
if ! command -v chromium >/dev/null; then
	apt_install chromium || missing+=("chromium (apt-get install chromium)")
fi

# crate sources
need=()
for p in $CRATE_PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	apt_install "${need[@]}" || missing+=("crate sources (apt-get install ${need[*]})")
fi

# MinIO server, for the S3 tests
gobin="$(go env GOPATH)/bin"
if ! command -v minio >/dev/null && [ ! -x "$gobin/minio" ]; then
	log "go install github.com/minio/minio@$MINIO_VERSION (takes a few minutes)"
	go install "github.com/minio/minio@$MINIO_VERSION" || missing+=("minio (go install github.com/minio/minio@$MINIO_VERSION)")
fi

# the stock nats CLI
if ! command -v nats >/dev/null && [ ! -x "$gobin/nats" ]; then
	log "go install github.com/nats-io/natscli/nats@$NATSCLI_VERSION"
	go install "github.com/nats-io/natscli/nats@$NATSCLI_VERSION" || missing+=("nats (go install github.com/nats-io/natscli/nats@$NATSCLI_VERSION)")
fi

# Rust toolchains come with the machine (rustup); they cannot be downloaded here.
export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"
for tc in stable nightly; do
	if ! rustup run "$tc" rustc -V >/dev/null 2>&1; then
		missing+=("rust toolchain $tc (rustup toolchain install $tc)")
	fi
done

if [ ${#missing[@]} -gt 0 ]; then
	for m in "${missing[@]}"; do log "missing: $m"; done
	if [ "${EJECTA_REQUIRE_ALL:-}" = 1 ]; then
		log "EJECTA_REQUIRE_ALL=1: failing"
		exit 1
	fi
	log "tests that need these will be skipped"
fi
exit 0
