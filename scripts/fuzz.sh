#!/usr/bin/env bash
# Builds and runs one libFuzzer target for a bounded time.
#   scripts/fuzz.sh session-frames 600     # transport decoder: lengths, auth, types, reassembly
#   scripts/fuzz.sh handshake 600          # responder handling of the first handshake bytes
# Builds in .build-fuzz (separate scratch path, release, -sanitize=fuzzer,address, lld:
# gold crashes linking ASan-instrumented Swift).
# Corpus and crash artifacts go to fuzz-out/<target>/. Runs as root on a fresh Debian machine.
set -euo pipefail

target="${1:?usage: scripts/fuzz.sh session-frames|handshake [seconds] [extra libFuzzer flags...]}"
seconds="${2:-600}"
shift $(( $# >= 2 ? 2 : 1 ))

case "$target" in
    session-frames) product=PlexusFuzzSessionFrames ;;
    handshake) product=PlexusFuzzHandshake ;;
    *) echo "unknown fuzz target '$target' (expected session-frames or handshake)" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."

if ! pkg-config --exists libsodium 2>/dev/null; then
    echo "installing libsodium-dev and pkg-config" >&2
    apt-get update
    apt-get install -y libsodium-dev pkg-config
fi
command -v swift >/dev/null || { echo "swift toolchain not found on PATH" >&2; exit 1; }

swift build -c release --scratch-path .build-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DPLEXUS_FUZZING -Xswiftc -use-ld=lld \
    --product "$product"

out="fuzz-out/$target"
mkdir -p "$out/corpus" "$out/artifacts"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
exec ".build-fuzz/release/$product" \
    -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=4096 \
    -artifact_prefix="$out/artifacts/" "$@" "$out/corpus"
