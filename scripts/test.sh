#!/usr/bin/env bash
# Runs the whole Plexus test suite: installs what is missing, builds, runs `swift test`.
# With arguments, they are passed to one `swift test` run (e.g. `scripts/test.sh --filter CoreLimitsTests`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
# Chromium (dashboard test) and promtool (metrics check): optional, bounded, never fails the run;
# their tests skip with a message without them. PLEXUS_SKIP_OPTIONAL=1 skips the attempt.
bash scripts/install-optional.sh || true

swift build --build-tests
if [ "$#" -gt 0 ]; then
    exec swift test --skip-build "$@"
fi
# Two processes, each bounded in time so that a hang fails the run instead of stalling it:
# the namespace fault scenarios (PlexusFaultTests, synchronous, root) run in a process of their
# own, because async binding tests hung when they ran after them in one process (Docs/reliability.md).
timeout --kill-after=30 1500 swift test --skip-build --skip PlexusFaultTests
timeout --kill-after=30 900 swift test --skip-build --filter PlexusFaultTests
