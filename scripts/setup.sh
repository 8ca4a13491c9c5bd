#!/usr/bin/env bash
# Installs what ejecta needs on a Debian 12 machine, when it is missing.
#
#   setup.sh demo   what `make demo` uses: containerd and runc, the demo's
#                   crate sources (Debian's librust-*-dev packages), and
#                   checks the Rust toolchains
#   setup.sh        (or `setup.sh test`) what `make test` uses: the above,
#                   more crate sources, headless Chromium (the web UI's
#                   browser test), a pinned MinIO server (the S3 tests),
#                   the stock nats CLI, Docker and compose (the compose
#                   test), debootstrap (the build environment's) and
#                   promtool (the alert rules')
#   setup.sh bench  what `make bench` uses: the demo's, and the crates row's
#                   corpus (about 90 crates of Debian's librust-*-dev
#                   packages and their dependencies)
#
# As root it installs; otherwise it only reports what is missing. With
# EJECTA_REQUIRE_ALL=1 (as .ci/run sets it) anything of the chosen set still
# missing at the end is an error.
set -euo pipefail

what=${1:-test}
case "$what" in
demo | test | bench) ;;
*)
	echo "usage: $0 [demo|test|bench]" >&2
	exit 2
	;;
esac

# MinIO has no semver tags; this pseudo-version is release 2026-02-12.
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
# The stock NATS CLI, for the README's `nats sub|stream ls|kv ls` and their test.
NATSCLI_VERSION=v0.5.1
# Small crates with no or few dependencies: a real corpus. The demo builds
# the first three; the tests use them all.
DEMO_CRATE_PACKAGES="librust-cfg-if-dev librust-itoa-dev librust-either-dev"
TEST_CRATE_PACKAGES="$DEMO_CRATE_PACKAGES librust-scopeguard-dev librust-lazy-static-dev librust-memchr-dev"
# The crates row of make bench (bench/crates.go): common small crates whose
# packages bring in some 90 crates in all, proc macros and build scripts
# among them, as a real experiment's share of crates.io would.
BENCH_CRATE_PACKAGES="$TEST_CRATE_PACKAGES librust-serde-json-dev librust-regex-dev librust-rand-dev
	librust-log-dev librust-bitflags-dev librust-smallvec-dev librust-once-cell-dev librust-byteorder-dev
	librust-hex-dev librust-base64-dev librust-bytes-dev librust-unicode-width-dev librust-semver-dev
	librust-anyhow-dev librust-thiserror-dev librust-crossbeam-utils-dev librust-num-traits-dev
	librust-fnv-dev librust-heck-dev librust-strsim-dev librust-glob-dev librust-same-file-dev
	librust-walkdir-dev librust-humantime-dev"

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
	# The demo needs no recommended package; leaving them out saves time.
	# APT_OPTS: more options for this install.
	local opts=(-y -qq)
	[ "$what" = demo ] && opts+=(--no-install-recommends)
	# shellcheck disable=SC2206 # APT_OPTS: options, word-split on purpose
	opts+=(${APT_OPTS:-})
	log "apt-get install $*"
	DEBIAN_FRONTEND=noninteractive apt-get install "${opts[@]}" "$@" >/dev/null || {
		# A stale package list is the usual cause: refresh once and retry.
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install "${opts[@]}" "$@" >/dev/null
	}
}

# without_services runs a command (an install) with Debian's service start-up
# turned off: a docker.io package would otherwise start a dockerd with its
# defaults (iptables rules, a docker0 bridge, IP forwarding on) on a machine
# others share. The compose test starts a private one that changes none of
# it. An existing policy-rc.d is the machine's own and is left alone.
without_services() {
	if [ -e /usr/sbin/policy-rc.d ] || [ "$(id -u)" != 0 ]; then
		"$@"
		return
	fi
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	local rc=0
	"$@" || rc=$?
	rm -f /usr/sbin/policy-rc.d
	return $rc
}

# One apt-get for every package missing: each run of apt costs seconds.
packages=()
command -v containerd >/dev/null || packages+=(containerd)
command -v runc >/dev/null || packages+=(runc)
crates=$DEMO_CRATE_PACKAGES
if [ "$what" = bench ]; then
	crates=$BENCH_CRATE_PACKAGES
fi
if [ "$what" = test ]; then
	crates=$TEST_CRATE_PACKAGES
	command -v chromium >/dev/null || packages+=(chromium)
fi
for p in $crates; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || packages+=("$p")
done
if [ ${#packages[@]} -gt 0 ]; then
	apt_install "${packages[@]}" || missing+=("apt-get install ${packages[*]}")
fi

if [ "$what" = test ]; then
	gobin="$(go env GOPATH)/bin"
	# MinIO server, for the S3 tests. Static (CGO_ENABLED=0), as `make
	# image-minio` builds it for the compose test: that build then only links.
	if ! command -v minio >/dev/null && [ ! -x "$gobin/minio" ]; then
		log "go install github.com/minio/minio@$MINIO_VERSION (takes a few minutes)"
		CGO_ENABLED=0 go install "github.com/minio/minio@$MINIO_VERSION" || missing+=("minio (CGO_ENABLED=0 go install github.com/minio/minio@$MINIO_VERSION)")
	fi
	# the stock nats CLI
	if ! command -v nats >/dev/null && [ ! -x "$gobin/nats" ]; then
		log "go install github.com/nats-io/natscli/nats@$NATSCLI_VERSION"
		go install "github.com/nats-io/natscli/nats@$NATSCLI_VERSION" || missing+=("nats (go install github.com/nats-io/natscli/nats@$NATSCLI_VERSION)")
	fi
	# dockerd and its client, docker-compose the (v1) compose.
	# (Without recommends: no AppArmor, no needrestart.)
	have_compose() { command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1; }
	if ! command -v dockerd >/dev/null || ! have_compose; then
		APT_OPTS=--no-install-recommends without_services apt_install docker.io docker-compose ||
			missing+=("docker (apt-get install docker.io docker-compose)")
	fi
	# debootstrap, to make the build environment image (deploy/build-env).
	if ! command -v debootstrap >/dev/null; then
		apt_install debootstrap || missing+=("debootstrap (apt-get install debootstrap)")
	fi
	# promtool, to check and unit-test the alert rules (deploy/prometheus);
	# Debian ships it in prometheus, whose server is not started.
	if ! command -v promtool >/dev/null; then
		APT_OPTS=--no-install-recommends without_services apt_install prometheus || missing+=("promtool (apt-get install prometheus)")
	fi
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
	if [ "$what" = test ]; then
		log "tests that need these will be skipped"
	fi
fi
exit 0
