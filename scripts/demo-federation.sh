#!/usr/bin/env bash
# Two "clouds" on loopback: overlay eu and overlay us (each its own network key), one relay each,
# which is also its overlay's gateway; the us gateway dials eu's through a userspace proxy that
# adds 40 ms each way (Docs/federation.md). A service of cluster "echo" runs in us, a client in eu.
# Prints the route the request takes (from `plexus status`) and the round trips.
#   scripts/demo-federation.sh            # builds `plexus` and the proxy (release), runs, stops everything
#   FEDERATION_DEMO_BUILD=debug scripts/demo-federation.sh    # the same with a debug build
# Everything it starts (processes, the temporary directory with keys and data) is removed on
# exit, on error and on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

configuration="${FEDERATION_DEMO_BUILD:-release}"
source scripts/install-deps.sh
swift build -c "$configuration" --product plexus
swift build -c "$configuration" --product PlexusDelayProxy
bindir="$(swift build -c "$configuration" --show-bin-path)"
bin="$bindir/plexus"
proxy="$bindir/PlexusDelayProxy"

work="$(mktemp -d "${TMPDIR:-/tmp}/plexus-federation-demo.XXXXXX")"
pids=()
cleanup() {
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

taken=" "
free_port() {
    for _ in $(seq 1 100); do
        port=$(( 20000 + RANDOM % 40000 ))
        case "$taken" in *" $port "*) continue ;; esac
        [ -z "$(ss -Hlntu "sport = :$port" 2>/dev/null)" ] || continue
        taken="$taken$port "
        return
    done
    echo "no free port" >&2
    exit 1
}

for name in eu us federation; do "$bin" keygen --out "$work/$name.key" >/dev/null; done
free_port; eu_client=$port; free_port; eu_peer=$port; free_port; eu_http=$port; free_port; eu_gateway=$port
free_port; us_client=$port; free_port; us_peer=$port; free_port; us_http=$port; free_port; us_gateway=$port
free_port; proxy_port=$port

# Polls (every 0.1 s, at most $1 seconds) until the command after it succeeds.
wait_for() {
    local limit=$(( $1 * 10 )); shift
    for _ in $(seq 1 "$limit"); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "timed out waiting for: $*" >&2
    tail -n 20 "$work"/*.log >&2
    exit 1
}

"$proxy" "127.0.0.1:$proxy_port" "127.0.0.1:$eu_gateway" 40 > "$work/proxy.log" 2>&1 &
pids+=($!)
"$bin" relay --key "$work/eu.key" --overlay eu --data-dir "$work/data-eu" --port "$eu_client" \
    --peer-host 127.0.0.1 --peer-port "$eu_peer" --advertise 127.0.0.1 --http "127.0.0.1:$eu_http" \
    --gateway-port "$eu_gateway" --federation-key "$work/federation.key" > "$work/eu.log" 2>&1 &
pids+=($!)
"$bin" relay --key "$work/us.key" --overlay us --data-dir "$work/data-us" --port "$us_client" \
    --peer-host 127.0.0.1 --peer-port "$us_peer" --advertise 127.0.0.1 --http "127.0.0.1:$us_http" \
    --gateway-port "$us_gateway" --federation-key "$work/federation.key" \
    --gateway-join "127.0.0.1:$proxy_port" > "$work/us.log" 2>&1 &
pids+=($!)
wait_for 30 "$bin" status --http "127.0.0.1:$eu_http" --data-dir "$work/data-eu"
wait_for 30 "$bin" status --http "127.0.0.1:$us_http" --data-dir "$work/data-us"
"$bin" serve echo --echo --port "$us_client" > "$work/service.log" 2>&1 &
pids+=($!)

echo "== waiting until overlay eu learns that us serves cluster echo"
wait_for 30 "$bin" request echo probe --port "$eu_client" --timeout 1000
echo "== route (plexus status of the eu relay):"
"$bin" status --http "127.0.0.1:$eu_http" --data-dir "$work/data-eu" | grep -E "overlay|link to"
echo "== a client in eu → gateway eu → (40 ms) → gateway us → member of echo in us, and back:"
for i in 1 2 3 4 5; do
    start=$(date +%s%N)
    reply=$("$bin" request echo "hello-$i" --port "$eu_client")
    end=$(date +%s%N)
    echo "   request $i: reply \"$reply\", $(( (end - start) / 1000000 )) ms (including starting the plexus process)"
done
