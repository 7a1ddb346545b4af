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
# Three processes, each bounded in time so that a hang fails the run instead of stalling it. The
# binding's integration tests and the namespace fault scenarios each run in a process of their
# own: async binding tests sometimes hung when they ran after the other suites in one process
# (Docs/reliability.md, "An open problem").
timeout --kill-after=30 900 swift test --skip-build --filter PlexusIntegrationTests
timeout --kill-after=30 1500 swift test --skip-build --skip PlexusFaultTests --skip PlexusIntegrationTests
timeout --kill-after=30 900 swift test --skip-build --filter PlexusFaultTests
