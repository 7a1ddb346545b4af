#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time.
#   scripts/fuzz.sh TARGET [SECONDS]      (default 60 s)
# Targets:
#   wire     the relay protocol v1 decoders (both directions), with a re-encode round trip check
# Builds with -sanitize=fuzzer,address in its own scratch path (.build-fuzz). Findings and the
# corpus go to fuzz-out/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh

target="${1:-}"
seconds="${2:-60}"
case "$target" in
    wire) product=PlexusWireFuzz ;;
    *) echo "usage: scripts/fuzz.sh wire [SECONDS]" >&2; exit 2 ;;
esac

swift build -c release --scratch-path .build-fuzz --product "$product" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DPLEXUS_FUZZING -Xswiftc -use-ld=lld
binary="$(swift build -c release --scratch-path .build-fuzz --show-bin-path)/$product"

out="fuzz-out/$target"
mkdir -p "$out/corpus" "$out/artifacts"
ASAN_OPTIONS=detect_leaks=0 "$binary" "$out/corpus" \
    -max_total_time="$seconds" -artifact_prefix="$out/artifacts/" -print_final_stats=1 \
    2>&1 | tee "$out/last-run.log" | grep -E "^(#[0-9]+ +(DONE|pulse)|stat::|==|SUMMARY|INFO: Running)" || true
grep -q "ERROR: AddressSanitizer\|ERROR: libFuzzer\|Fatal error" "$out/last-run.log" && { echo "fuzz target $target FAILED; see $out/" >&2; exit 1; }
echo "fuzz target $target: $(grep -E '^stat::number_of_executed_units' "$out/last-run.log" | awk '{print $2}') executions in ${seconds}s"
