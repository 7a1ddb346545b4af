#!/usr/bin/env bash
# Builds and runs one libFuzzer target for a bounded time.
#   scripts/fuzz.sh wire 600               # relay protocol v1 decoders, both directions, re-encode round trip
#   scripts/fuzz.sh session-frames 600     # session transport decoder: lengths, auth, types, reassembly
#   scripts/fuzz.sh handshake 600          # responder handling of the first handshake messages
#   scripts/fuzz.sh peer-frames 600        # relay-to-relay batches and frames, re-encode round trip
#   scripts/fuzz.sh cluster-keys 600       # sealed payloads and directory claims from other relays
#   scripts/fuzz.sh relay-core 600         # the relay core driven by sequences of client operations, invariants
#   scripts/fuzz.sh TARGET SECONDS [extra libFuzzer flags...]
# Builds in .build-fuzz (its own scratch path: release, -sanitize=fuzzer,address, linked with lld
# because gold crashes linking ASan-instrumented Swift). Corpus, crash artifacts and the log of the
# last run go to fuzz-out/TARGET/. Exits non-zero if the fuzzer found a crash.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${1:?usage: scripts/fuzz.sh wire|session-frames|handshake|peer-frames|cluster-keys|relay-core [seconds] [extra libFuzzer flags...]}"
seconds="${2:-600}"
shift $(( $# >= 2 ? 2 : 1 ))

case "$target" in
    wire) product=PlexusWireFuzz ;;
    session-frames) product=PlexusFuzzSessionFrames ;;
    handshake) product=PlexusFuzzHandshake ;;
    peer-frames) product=PlexusFuzzPeerFrames ;;
    cluster-keys) product=PlexusFuzzClusterKeys ;;
    relay-core) product=PlexusFuzzRelayCore ;;
    *) echo "unknown fuzz target '$target' (expected wire, session-frames, handshake, peer-frames, cluster-keys or relay-core)" >&2; exit 2 ;;
esac

source scripts/install-deps.sh

swift build -c release --scratch-path .build-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DPLEXUS_FUZZING -Xswiftc -use-ld=lld \
    --product "$product"

out="fuzz-out/$target"
mkdir -p "$out/corpus" "$out/artifacts"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
status=0
".build-fuzz/release/$product" \
    -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=4096 \
    -artifact_prefix="$out/artifacts/" "$@" "$out/corpus" 2>&1 | tee "$out/last-run.log" \
    | grep -E "^(#[0-9]+ +(DONE|pulse)|stat::|==[0-9]+==|SUMMARY|INFO: Seed)" || true
status=${PIPESTATUS[0]}
executions=$(grep -E '^stat::number_of_executed_units' "$out/last-run.log" | awk '{print $2}')
if [ "$status" -ne 0 ]; then
    echo "fuzz target $target FAILED (exit $status); see $out/artifacts and $out/last-run.log" >&2
    exit "$status"
fi
echo "fuzz target $target: ${executions:-?} executions in ${seconds}s, no crash"
