#!/usr/bin/env bash
# Runs the whole Plexus test suite: installs what is missing, builds, runs `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh

swift build --build-tests
swift test --skip-build "$@"
