#!/usr/bin/env bash
# Prints the address of a containerd daemon that answers, starting a private
# one under $1 (a state directory) when none does. The private daemon's pid is
# written to $1/containerd.pid so the caller can stop it.
set -euo pipefail
state=${1:?usage: containerd.sh STATE_DIR}
sys=/run/containerd/containerd.sock
answers() { ctr --address "$1" version >/dev/null 2>&1; }

if [ -S "$sys" ] && answers "$sys"; then
	echo "$sys"
	exit 0
fi
mkdir -p "$state"
state=$(cd "$state" && pwd)
# Unix socket paths are limited to 108 bytes: keep the socket short.
sock=/run/ejecta/containerd-$(printf '%s' "$state" | md5sum | cut -c1-8).sock
if [ -S "$sock" ] && answers "$sock"; then
	echo "$sock"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "containerd.sh: no containerd answers on $sys and only root can start one" >&2
	exit 1
fi
mkdir -p /run/ejecta
cat >"$state/containerd.toml" <<TOML
version = 2
disabled_plugins = ["io.containerd.grpc.v1.cri"]
TOML
containerd --config "$state/containerd.toml" --root "$state/root" --state "$state/run" \
	--address "$sock" >"$state/containerd.log" 2>&1 &
echo $! >"$state/containerd.pid"
for _ in $(seq 50); do
	if answers "$sock"; then
		echo "$sock"
		exit 0
	fi
	sleep 0.2
done
echo "containerd.sh: containerd did not start; see $state/containerd.log" >&2
tail -20 "$state/containerd.log" >&2
exit 1
