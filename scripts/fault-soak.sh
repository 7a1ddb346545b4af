#!/usr/bin/env bash
# The longer run of the fault-bed scenarios (root; network namespaces): the partition/heal
# scenario with 10 cycles instead of CI's 3 (PLEXUS_FAULT_CYCLES), then the other faults.
# Usage: scripts/fault-soak.sh [cycles]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
swift build --build-tests
PLEXUS_FAULT_CYCLES="${1:-10}" swift test --skip-build --filter PlexusFaultTests 2>&1 | tee /tmp/plexus-fault-soak.log | grep -E "fault-bed|error|passed|failed|skipped"
