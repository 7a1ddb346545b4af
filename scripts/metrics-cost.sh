#!/usr/bin/env bash
# Measures what the HTTP endpoint and metrics cost the relay: the same fixed plexus-bench work
# (pub/sub, a fixed number of events) against a `plexus relay` process with `--http off` and with
# the endpoint on and /metrics scraped every second (15 times Prometheus' default rate), runs
# alternating, relay CPU seconds from /proc/PID/stat. Needs the release build:
#   swift build -c release --product plexus && swift build -c release --product plexus-bench
# Usage: scripts/metrics-cost.sh [ROUNDS (3)] [EVENTS (300000)]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
events="${2:-300000}"
bin="$(swift build -c release --show-bin-path)"
work="$(mktemp -d)"
relay_pid=""
scraper_pid=""
cleanup() {
    [ -n "$scraper_pid" ] && kill "$scraper_pid" 2>/dev/null || true
    [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
ticks_per_second="$(getconf CLK_TCK)"

run_once() { # $1 = off|on
    local port http
    port="$(free_port)"; http="$(free_port)"
    if [ "$1" = off ]; then
        "$bin/plexus" relay --dev --port "$port" --http off --log-level warning >"$work/relay.log" 2>&1 &
    else
        "$bin/plexus" relay --dev --port "$port" --http "127.0.0.1:$http" --log-level warning >"$work/relay.log" 2>&1 &
    fi
    relay_pid=$!
    for _ in $(seq 1 100); do "$bin/plexus" publish probe x --port "$port" >/dev/null 2>&1 && break; sleep 0.1; done
    if [ "$1" = on ]; then
        ( while true; do curl -s -o /dev/null --max-time 2 -H "Authorization: Bearer $(cat "$HOME/.plexus/http-$http.token")" "http://127.0.0.1:$http/metrics"; sleep 1; done ) &
        scraper_pid=$!
    fi
    local before after output
    before="$(cpu_ticks "$relay_pid")"
    output="$("$bin/plexus-bench" --port "$port" --only pubsub --events "$events" 2>&1)"
    after="$(cpu_ticks "$relay_pid")"
    [ -n "$scraper_pid" ] && { kill "$scraper_pid" 2>/dev/null || true; wait "$scraper_pid" 2>/dev/null || true; scraper_pid=""; }
    kill "$relay_pid"; wait "$relay_pid" 2>/dev/null || true; relay_pid=""
    local rates
    rates="$(echo "$output" | grep -o '[0-9,]* events/s' | tr -d ',' | awk '{ printf "%s ", $1 }')"
    echo "$1 relay_cpu_s=$(awk -v a="$after" -v b="$before" -v t="$ticks_per_second" 'BEGIN { printf "%.2f", (a - b) / t }') events_per_s=[ $rates]"
}

for round in $(seq 1 "$rounds"); do
    run_once off
    run_once on
done
