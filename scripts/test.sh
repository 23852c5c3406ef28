#!/usr/bin/env bash
# Command 2 of the README (and CI): set up, build, and run every test.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh" --test
"$root/scripts/build.sh" -DVOIPD_BUILD_TESTS=ON
cd "$root/build"
# Integration tests start real daemons on loopback port 0, so they may run in parallel.
ctest --output-on-failure -j"${JOBS:-2}" --timeout 600
# The same tests again under ASan, UBSan and LSan (memory errors, undefined
# behaviour, leaks): see scripts/sanitize.sh.
"$root/scripts/sanitize.sh"
