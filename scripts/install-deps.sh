#!/usr/bin/env bash
# Installs the system packages Plexus needs to build and test, if any is missing.
# Safe to run repeatedly: it does nothing when everything is present.
set -euo pipefail

needed=(libsodium-dev pkg-config iproute2 nftables)
missing=()
for package in "${needed[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done

if [ "${#missing[@]}" -gt 0 ]; then
    echo "Installing missing system packages: ${missing[*]}"
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y "${missing[@]}"
fi

if ! command -v swift >/dev/null 2>&1; then
    for candidate in /opt/swift/usr/bin /usr/share/swift/usr/bin; do
        [ -x "$candidate/swift" ] && export PATH="$candidate:$PATH"
    done
fi
command -v swift >/dev/null 2>&1 || { echo "error: the Swift toolchain (6.1 or later) is not installed" >&2; exit 1; }
