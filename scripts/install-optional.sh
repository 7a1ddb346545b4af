#!/usr/bin/env bash
# Installs the optional tools some tests use, if missing: chromium (the dashboard test, headless)
# and prometheus (its `promtool check metrics`). Those tests skip with a message without them.
# Never fails the caller: a slow or offline apt only means the tests skip. Bounded by
# PLEXUS_OPTIONAL_TIMEOUT seconds (default 300).
set -uo pipefail

optional=(chromium prometheus)
missing=()
for package in "${optional[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
[ "${PLEXUS_SKIP_OPTIONAL:-0}" = "1" ] && { echo "PLEXUS_SKIP_OPTIONAL=1: not installing ${missing[*]}"; exit 0; }

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo -n)
limit="${PLEXUS_OPTIONAL_TIMEOUT:-300}"
echo "Installing optional test tools (at most ${limit} s): ${missing[*]}"
if ! timeout "$limit" "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing[@]}" >/tmp/plexus-install-optional.log 2>&1; then
    timeout "$limit" "${sudo_cmd[@]}" apt-get update >>/tmp/plexus-install-optional.log 2>&1 \
        && timeout "$limit" "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y --no-install-recommends "${missing[@]}" >>/tmp/plexus-install-optional.log 2>&1 \
        || echo "optional tools not installed (see /tmp/plexus-install-optional.log); their tests will skip"
fi
exit 0
