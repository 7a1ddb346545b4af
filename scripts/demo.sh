#!/usr/bin/env bash
# Three relays on loopback joined into one overlay, a service on relay 1, a request from a
# client of relay 3. Installs what is missing and builds `plexus` (release) first.
#   scripts/demo.sh          # run the demo, then stop everything
#   scripts/demo.sh --keep   # leave the three relays and the service running; Ctrl-C stops them
# Everything it starts (processes, the temporary directory with the key and data) is removed on
# exit, on error and on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

keep=0
case "${1:-}" in
    "") ;;
    --keep) keep=1 ;;
    *) echo "usage: scripts/demo.sh [--keep]" >&2; exit 2 ;;
esac

source scripts/install-deps.sh
swift build -c release --product plexus
bin="$(swift build -c release --show-bin-path)/plexus"

work="$(mktemp -d "${TMPDIR:-/tmp}/plexus-demo.XXXXXX")"
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

# A port no socket on this host listens on (TCP or UDP, checked with `ss`), random in
# 20000-59999, distinct from the ports already handed out; sets $port (no subshell, so the
# list of ports handed out is kept).
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

"$bin" keygen --out "$work/network.key" >/dev/null
declare -a client peer http
for i in 1 2 3; do
    free_port; client[$i]=$port
    free_port; peer[$i]=$port
    free_port; http[$i]=$port
done

# Polls (every 0.1 s, at most $1 seconds) until the command after it succeeds.
wait_for() {
    local limit=$(( $1 * 10 )); shift
    for _ in $(seq 1 "$limit"); do
        "$@" >/dev/null 2>&1 && return 0
        for pid in "${pids[@]}"; do
            kill -0 "$pid" 2>/dev/null || { echo "a process exited; logs:" >&2; tail -n 20 "$work"/*.log >&2; exit 1; }
        done
        sleep 0.1
    done
    echo "timed out waiting for: $*" >&2
    tail -n 20 "$work"/*.log >&2
    exit 1
}

start_relay() {
    local i=$1; shift
    "$bin" relay --key "$work/network.key" --data-dir "$work/data-$i" --zone "zone-$i" \
        --port "${client[$i]}" --peer-port "${peer[$i]}" --http "127.0.0.1:${http[$i]}" \
        --peer-host 127.0.0.1 --advertise 127.0.0.1 --log-level warning "$@" \
        >"$work/relay-$i.log" 2>&1 &
    pids+=($!)
}
# Relay 1 first (the seed), so the others' first join attempt finds it listening.
start_relay 1
wait_for 10 "$bin" status --http "127.0.0.1:${http[1]}" --data-dir "$work/data-1"
start_relay 2 --join "127.0.0.1:${peer[1]}"
start_relay 3 --join "127.0.0.1:${peer[1]}"
echo "relays: 1 on 127.0.0.1:${client[1]}, 2 on 127.0.0.1:${client[2]}, 3 on 127.0.0.1:${client[3]} (logs in $work)"

# The relays' HTTP endpoints need their token (in each data directory): --data-dir finds it.
alive_members() { "$bin" status --json --http "127.0.0.1:${http[$1]}" --data-dir "$work/data-$1" | grep -o '"state" *: *"alive"' | wc -l; }
three_alive() { for i in 1 2 3; do [ "$(alive_members "$i")" -ge 3 ] || return 1; done; }
wait_for 20 three_alive
echo "overlay formed: each relay sees 3 alive members"

"$bin" serve echo --echo --port "${client[1]}" >"$work/serve.log" 2>&1 &
pids+=($!)
# Relay 3 lists cluster "echo" on relay 1 in its directory (gossip: ~1-2 s).
echo_visible() { "$bin" status --json --http "127.0.0.1:${http[3]}" --data-dir "$work/data-3" | tr -d ' \n' | grep -q '"name":"echo"'; }
wait_for 20 echo_visible
echo "relay 3 sees the echo service of relay 1"

echo
echo "\$ plexus request echo \"hello from relay 3\" --port ${client[3]}"
# The first request may race the relay-to-relay session setup: up to 5 attempts.
answer=""
for attempt in 1 2 3 4 5; do
    if answer="$("$bin" request echo "hello from relay 3" --port "${client[3]}" --timeout 2000)"; then break; fi
    answer=""
    [ "$attempt" -lt 5 ] && sleep 0.5
done
if [ -z "$answer" ]; then echo "no answer from the echo service through relay 3" >&2; exit 1; fi
echo "$answer"
echo
echo "\$ plexus status --http 127.0.0.1:${http[3]} --data-dir $work/data-3"
"$bin" status --http "127.0.0.1:${http[3]}" --data-dir "$work/data-3"

if [ "$keep" -eq 0 ]; then
    echo
    echo "demo done; stopping the relays (run with --keep to try more)"
    exit 0
fi

cat <<TXT

Three relays are running (client ports ${client[1]}, ${client[2]}, ${client[3]}; HTTP endpoints 127.0.0.1:${http[1]}, :${http[2]}, :${http[3]}),
and an echo service on relay 1. Try, from another terminal:

  $bin request echo "hi" --port ${client[2]}                        # answered by relay 1's service
  $bin serve upper --exec 'tr a-z A-Z' --port ${client[2]} &
  $bin request upper "loud" --port ${client[3]}                     # → LOUD
  $bin subscribe news --port ${client[2]} &
  $bin publish news "extra!" --port ${client[3]}
  $bin broadcast echo "to every member" --port ${client[3]}
  $bin status --http 127.0.0.1:${http[1]} --data-dir $work/data-1     # members, clusters, topics, counters
  curl -s -H "Authorization: Bearer \$(cat $work/data-1/http.token)" http://127.0.0.1:${http[1]}/metrics   # Prometheus metrics
  open http://127.0.0.1:${http[1]}/?token=\$(cat $work/data-1/http.token) once: the dashboard

Press Ctrl-C to stop everything.
TXT
wait "${pids[0]}"
