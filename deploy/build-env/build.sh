#!/usr/bin/env bash
# Builds the build environment image: Debian (bookworm) with the packages
# listed in deploy/build-env/packages, made with debootstrap from Debian's
# own archive, written as an OCI image layout tarball that a builder
# imports with --rootfs image:PATH. Builds then see this image as their
# root, read-only, and not the host's; the builder binds the toolchains,
# the crate source and the job dir into it at their host paths.
#
#   sudo deploy/build-env/build.sh /var/lib/ejecta/build-env.tar
#   sudo deploy/build-env/build.sh --packages deploy/build-env/packages-minimal out.tar
#
# Needs root, debootstrap, tar, gzip and sha256sum. MIRROR and SUITE choose
# the archive (default http://deb.debian.org/debian, bookworm). The image
# is made anew each time: rebuild it for security updates.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
packages="$here/packages"
if [ "${1:-}" = --packages ]; then
	packages="$2"
	shift 2
fi
if [ $# -ne 1 ]; then
	echo "usage: $0 [--packages FILE] OUT.tar" >&2
	exit 2
fi
out="$(realpath -m "$1")"
mirror="${MIRROR:-http://deb.debian.org/debian}"
suite="${SUITE:-bookworm}"
arch="$(dpkg --print-architecture)"

log() { printf 'build-env: %s\n' "$*" >&2; }
[ "$(id -u)" = 0 ] || { log "needs root (debootstrap)"; exit 1; }
command -v debootstrap >/dev/null || { log "needs debootstrap (apt-get install debootstrap)"; exit 1; }

include="$(grep -v '^[[:space:]]*\(#\|$\)' "$packages" | tr -s '[:space:]' ',' | sed 's/,$//')"
work="$(mktemp -d "${TMPDIR:-/var/tmp}/ejecta-build-env.XXXXXX")"
trap 'rm -rf "$work"' EXIT
root="$work/root"

log "debootstrap $suite ($arch) from $mirror with: $include"
debootstrap --variant=minbase --arch="$arch" --include="$include" "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
	tail -n 30 "$work/debootstrap.log" >&2
	[ -f "$root/debootstrap/debootstrap.log" ] && tail -n 30 "$root/debootstrap/debootstrap.log" >&2
	exit 1
}

# What a build needs and what it must not find. Builds run as a user of
# their own, and the builder binds the toolchains at their host paths (for
# rustup, /root/.rustup): the user must pass through /root. /dev, /proc,
# /sys, /run and /tmp are each build's own. No package caches, no apt lists,
# no machine id.
chmod 0755 "$root/root"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/* "$root"/tmp/* "$root"/dev/*
: >"$root/etc/machine-id"
{
	echo "ejecta build environment: Debian $suite ($arch), made $(date -u +%Y-%m-%dT%H:%M:%SZ) from $mirror"
	grep -v '^[[:space:]]*\(#\|$\)' "$packages"
} >"$root/etc/ejecta-build-env"

# The OCI image layout: one gzipped layer holding the root, its config, a
# manifest and the index a builder imports.
log "writing $out"
blobs="$work/oci/blobs/sha256"
mkdir -p "$blobs"
tar --numeric-owner --xattrs --acls -C "$root" -cf "$work/layer.tar" .
diff_id="$(sha256sum "$work/layer.tar" | cut -d' ' -f1)"
gzip -n -1 "$work/layer.tar"
layer="$(sha256sum "$work/layer.tar.gz" | cut -d' ' -f1)"
mv "$work/layer.tar.gz" "$blobs/$layer"

blob() { # blob FILE: moves FILE into blobs, prints its digest and size
	local d s
	d="$(sha256sum "$1" | cut -d' ' -f1)"
	s="$(stat -c %s "$1")"
	mv "$1" "$blobs/$d"
	echo "$d $s"
}
printf '{"architecture":"%s","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
	"$arch" "$diff_id" >"$work/config.json"
read -r config config_size < <(blob "$work/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
	"$config" "$config_size" "$layer" "$(stat -c %s "$blobs/$layer")" >"$work/manifest.json"
read -r manifest manifest_size < <(blob "$work/manifest.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"%s","os":"linux"},"annotations":{"org.opencontainers.image.ref.name":"ejecta-build-env"}}]}' \
	"$manifest" "$manifest_size" "$arch" >"$work/oci/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$work/oci/oci-layout"
mkdir -p "$(dirname "$out")"
tar --numeric-owner -C "$work/oci" -cf "$out.tmp" oci-layout index.json blobs
mv "$out.tmp" "$out"
log "done: $(du -h "$out" | cut -f1); use it with: ejecta builder --rootfs image:$out"
