#!/usr/bin/env bash
# Runs a real experiment end to end on this machine: starts containerd if
# needed and `ejecta up` in the background, creates an experiment over five
# crates with stable vs nightly, follows its progress and prints the report.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin:$(go env GOPATH)/bin"

data=${EJECTA_DATA:-$PWD/.data}
port=${EJECTA_DEMO_PORT:-4222}
http=${EJECTA_HTTP:-127.0.0.1:8080}
bin=$PWD/bin/ejecta
name=demo-$(date +%Y%m%d-%H%M%S)
crates=cfg-if,itoa,either,ejecta-demo-nightly-only,ejecta-demo-regress
mkdir -p "$data"
data=$(cd "$data" && pwd)

# Install what the demo uses (containerd, runc, crate sources) while Go
# compiles: on a fresh machine both take a while.
bash scripts/setup.sh demo &
setup=$!
"${GO:-go}" build -buildvcs=auto -o bin/ejecta ./cmd/ejecta || { wait "$setup" || true; exit 1; }
wait "$setup"
sock=$(bash scripts/containerd.sh "$data/containerd")
echo "demo: containerd at $sock"

# One directory registry: Debian's crate sources (links: builds see /usr)
# plus copies of the demo crates. It lies where builds can read it: not in
# the checkout (under /root or /home builds see nothing), not in --data
# (ejecta up hides all of it from builds), not in /tmp (builds have their
# own).
reg=${EJECTA_DEMO_REGISTRY:-/var/tmp/ejecta-demo-$(id -u)/registry}
mkdir -p "$reg"
chmod 755 "$(dirname "$reg")" "$reg"
for d in /usr/share/cargo/registry/*; do
	[ -e "$reg/$(basename "$d")" ] || ln -s "$d" "$reg/"
done
for d in "$PWD"/testdata/crates/*; do
	rm -rf "$reg/$(basename "$d")"
	cp -r "$d" "$reg/"
done

export EJECTA_NATS_URL=nats://127.0.0.1:$port
"$bin" up --data "$data" --nats-port "$port" --http "$http" --containerd "$sock" >"$data/up.log" 2>&1 &
up=$!
stop() {
	kill -INT "$up" 2>/dev/null && wait "$up" 2>/dev/null || true
	if [ -f "$data/containerd/containerd.pid" ]; then
		kill "$(cat "$data/containerd/containerd.pid")" 2>/dev/null || true
		rm -f "$data/containerd/containerd.pid"
	fi
}
trap stop EXIT
for _ in $(seq 100); do
	"$bin" experiment list >/dev/null 2>&1 && break
	kill -0 "$up" 2>/dev/null || { echo "demo: ejecta up exited:"; tail -20 "$data/up.log"; exit 1; }
	sleep 0.2
done
echo "demo: ejecta up is running (log: $data/up.log); web UI: http://$http"
# up's job key: the experiment's jobs carry tickets, so its results count
# only when signed by the builder handed each job.
export EJECTA_JOB_KEY
EJECTA_JOB_KEY=$(cat "$data/job.key")
echo "demo: follow every build live with: bin/ejecta tail $name -f   (or: nats sub 'ejecta.logs.$name.>')"

"$bin" experiment create "$name" --toolchains stable,nightly --mode check-only \
	--crates "$crates" --crate-source "$reg" --log-level warn
"$bin" experiment status "$name" --watch --timeout 15m
echo
"$bin" report "$name"
