#!/usr/bin/env bash
# Every test again, against binaries built with AddressSanitizer,
# UndefinedBehaviorSanitizer and LeakSanitizer (./build-asan). Part of the
# README's test command (scripts/test.sh), so CI runs it.
#
# A memory error or undefined behaviour aborts the process that hit it; a
# leak makes it exit 23 when it ends. The unit tests and the C++ integration
# tests fail on either; the Python harness fails a test whose daemon does not
# exit 0 on SIGTERM. Reports are also written to a directory, and any report
# there fails this script: a daemon a test killed on purpose, or one whose
# exit code no test looks at, cannot hide one. scripts/lsan-suppressions.txt
# lists the leaks in libraries that are tolerated, with the evidence for each.
#
# glibc's malloc is used here (ASan replaces it; tcmalloc would fight it).
# UBSan's vptr check is off: on a dynamic-type cache miss it tests whether
# the vtable is readable with a pipe(2), so in the tests that run voipd out
# of file descriptors it reported "invalid vptr" inside gRPC's own channel
# teardown (a shared_ptr of gRPC's, released through voipd's copy of the
# template). ASan still checks those accesses.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${JOBS:-$(nproc)}
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
flags="-fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=undefined"
flags+=" -fno-omit-frame-pointer"
cmake -S "$root" -B "$root/build-asan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DVOIPD_BUILD_TESTS=ON -DVOIPD_ALLOCATOR=system \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
ninja -C "$root/build-asan" -j"$jobs"

reports=$(mktemp -d /tmp/voipd-sanitizer-XXXXXX)
export ASAN_OPTIONS="detect_leaks=1:log_path=$reports/asan"
# Known leaks in libraries, each with its evidence (print_suppressions=0: a
# run whose only leaks are suppressed writes no report file).
export LSAN_OPTIONS="suppressions=$root/scripts/lsan-suppressions.txt:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:log_path=$reports/ubsan"
cd "$root/build-asan"
status=0
ctest --output-on-failure -j"${JOBS:-2}" --timeout 900 || status=$?
if compgen -G "$reports/*" >/dev/null; then
  echo "sanitize: reports in $reports:" >&2
  for f in "$reports"/*; do echo "== $f" >&2; head -60 "$f" >&2; done
  exit 1
fi
rm -rf "$reports"
exit "$status"
