#!/usr/bin/env bash
# The soak of issue 10: three relays in network namespaces for SOAK_MINUTES minutes (default 30)
# with all four patterns running (requests, events, broadcasts, tunnels) and churn cycling through
# kill -9 and restart, partition and heal, 5 % loss at every relay, and SIGSTOP. Prints the
# faults with detection and recovery times, relay RSS and CPU over time, and the counts that show
# nothing was lost or duplicated ("SOAK" lines). Needs root, `ip` and `nft`.
#   scripts/soak.sh                    # 30 minutes
#   SOAK_MINUTES=5 scripts/soak.sh     # shorter
# Not part of scripts/test.sh. It runs from a copy of the built test bundle, `plexus` and
# `PlexusFaultLoad` (.build/soak-bin), so building again while it runs changes nothing it uses.
# Output: the terminal, and .build/soak-<date>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
minutes="${SOAK_MINUTES:-30}"
swift build --build-tests
products="$(swift build --show-bin-path)"
copy=".build/soak-bin"
rm -rf "$copy"
mkdir -p "$copy"
cp -R "$products/PlexusPackageTests.xctest" "$products/plexus" "$products/PlexusFaultLoad" "$copy/"
log=".build/soak-$(date -u +%Y%m%dT%H%M%SZ).log"
echo "soak: $minutes minutes; log in $log"
# Bounded: the soak's minutes plus 10 minutes for set-up and counting.
PLEXUS_SOAK_MINUTES="$minutes" timeout "$(( ${minutes%.*} * 60 + 600 ))" \
    "$copy/PlexusPackageTests.xctest" PlexusFaultTests.SoakFaultTests 2>&1 | tee "$log" | grep -E "SOAK|error|Executed|skipped"
