#!/usr/bin/env bash
# Compares the relay CPU that two `plexus` builds spend on the same fixed work: for each round,
# relay A then relay B (`--dev`, `--http off`), each driven by the SAME plexus-bench binary with
# `--only pubsub --events N` (4 × N events) and then `--only latency --latency-requests 20000`
# (20 000 sequential requests): fixed work, so relay CPU seconds compare directly;
# relay CPU seconds from /proc/PID/stat, pinned: relay on CPU 0, bench on CPU 1 (taskset).
# Used for "metrics cost < 2 % of relay CPU" (issue 13): A = the commit before the core counted
# traffic, B = with every counter.
# Usage: scripts/relay-cpu-ab.sh PLEXUS_A PLEXUS_B PLEXUS_BENCH [ROUNDS (5)] [EVENTS (300000)]
# Prints one line per run and the mean relay CPU of A and B per benchmark.
set -euo pipefail
relay_a="$1"; relay_b="$2"; bench="$3"
rounds="${4:-5}"; events="${5:-300000}"
relay_pid=""
cleanup() { [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null || true; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
tck="$(getconf CLK_TCK)"

run_once() { # $1 = label, $2 = plexus binary, $3 = benchmark (pubsub|throughput)
    local port before after output
    port="$(free_port)"
    taskset -c 0 "$2" relay --dev --port "$port" --http off --log-level warning >/dev/null 2>&1 &
    relay_pid=$!
    for _ in $(seq 1 100); do "$2" publish probe x --port "$port" >/dev/null 2>&1 && break; sleep 0.1; done
    before="$(cpu_ticks "$relay_pid")"
    if [ "$3" = pubsub ]; then
        output="$(taskset -c 1 "$bench" --port "$port" --only pubsub --events "$events" 2>&1)"
    else
        output="$(taskset -c 1 "$bench" --port "$port" --only latency --latency-requests 20000 2>&1)"
    fi
    after="$(cpu_ticks "$relay_pid")"
    kill "$relay_pid"; wait "$relay_pid" 2>/dev/null || true; relay_pid=""
    local rates
    local figures
    figures="$(echo "$output" | grep -o '[0-9,.]* \(events/s\|µs\)' | tr -d ',' | awk '{ printf "%s%s ", $1, $2 }')"
    echo "$1 $3 relay_cpu_s=$(awk -v a="$after" -v b="$before" -v t="$tck" 'BEGIN { printf "%.2f", (a - b) / t }') figures=[ $figures]"
}

results="$(mktemp)"
for round in $(seq 1 "$rounds"); do
    for bench_kind in pubsub latency; do
        run_once A "$relay_a" "$bench_kind" | tee -a "$results"
        run_once B "$relay_b" "$bench_kind" | tee -a "$results"
    done
done
awk '{ split($3, kv, "="); sum[$1" "$2] += kv[2]; n[$1" "$2]++ }
     END { for (k in sum) printf "mean %s relay_cpu_s=%.3f over %d runs\n", k, sum[k] / n[k], n[k] }' "$results" | sort
rm -f "$results"
