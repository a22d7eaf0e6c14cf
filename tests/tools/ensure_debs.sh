#!/usr/bin/env bash
# Installs the Debian packages that the test suite's local servers need (redis-server, chromium…),
# where they are missing.  Services the packages would start are kept from starting: the tests
# start their own servers on free loopback ports.  A package that cannot be installed is reported;
# the tests that need it skip with the reason printed.
set -uo pipefail
missing=()
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "ensure_debs: not installed: ${missing[*]} (needs root and apt-get); tests that need them skip" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
guard=/usr/sbin/policy-rc.d
made_guard=0
if [ ! -e "$guard" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$guard" && chmod +x "$guard" && made_guard=1
fi
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >/tmp/ensure_debs.log 2>&1; then
    echo "ensure_debs: could not install ${missing[*]} (see /tmp/ensure_debs.log); tests that need them skip" >&2
fi
[ "$made_guard" -eq 1 ] && rm -f "$guard"
exit 0
