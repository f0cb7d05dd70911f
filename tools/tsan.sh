#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The suites whose threads share one client, one cache and one store, built
# with clang's ThreadSanitizer (HTTPRESP_TSAN, never together with ASan) in
# build-tsan, and run.  clang and its sanitizer runtimes are installed if
# missing.
#
#   bash tools/tsan.sh                 # the suites below
#   bash tools/tsan.sh cache retry     # only test_cache and test_retry
#
# Fails (exit 1) on any ThreadSanitizer report (data race, lock-order
# inversion, use of a destroyed mutex, ...) in any process, and on any test
# that fails under TSan.  TSan halts the process at its first report, so
# Criterion counts that test as failed; the report itself is in
# build-tsan/tsan-logs/<suite>.<pid>.  Nothing is suppressed.
#
# Why these suites: test_cache and test_retry have threads sharing one
# client (its quiet times) and one memory cache, through both drivers (an
# httpresp_multi per thread over one client); test_store has threads
# sharing each store backend; test_multi runs hundreds of transfers through
# the non-blocking driver; test_status looks the status table up from
# threads.  Every suite also runs the loopback server's threads beside the
# client's.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${HTTPRESP_TSAN_BUILD:-$root/build-tsan}

suites=(cache retry store multi status)
[ $# -gt 0 ] && suites=("$@")

# ---- toolchain: clang with the TSan runtime ---------------------------------
tsan_rt() {
  command -v clang >/dev/null 2>&1 || return 1
  [ -f "$(clang -print-resource-dir)/lib/linux/libclang_rt.tsan-$(uname -m).a" ]
}
if ! tsan_rt; then
  echo "installing clang and its sanitizer runtimes"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clang \
    libclang-rt-14-dev >/dev/null
  tsan_rt || {
    echo "tsan.sh: clang's ThreadSanitizer runtime is still missing" >&2
    exit 2
  }
fi
bash scripts/install-deps.sh

# ---- build: only the suites that run ------------------------------------------
CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DHTTPRESP_TSAN=ON -DHTTPRESP_SANITIZE=OFF -DHTTPRESP_WERROR=ON \
  -DHTTPRESP_FUZZ=OFF -DHTTPRESP_BENCH=OFF -DHTTPRESP_EXAMPLES=OFF >/dev/null
targets=()
for s in "${suites[@]}"; do targets+=("test_$s"); done
cmake --build "$build" -j2 --target "${targets[@]}" >/dev/null

# ---- run -------------------------------------------------------------------------
logs=$build/tsan-logs
rm -rf "$logs"
mkdir -p "$logs"
export HTTPRESP_SOURCE_DIR=$root
failed=()
for s in "${suites[@]}"; do
  name=test_$s
  start=$SECONDS
  rc=0
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 log_path=$logs/$name" \
    "$build/tests/$name" --jobs 2 >"$logs/$name.out" 2>&1 || rc=$?
  printf '%-14s exit %-3d %4ds  %s\n' "$name" "$rc" $((SECONDS - start)) \
    "$(grep -ao 'Tested: .*' "$logs/$name.out" | tail -1)"
  [ "$rc" -eq 0 ] || failed+=("$name (exit $rc, see $logs/$name.out)")
done

# A report in a process whose exit status got lost still fails the run.
reports=()
for f in "$logs"/test_*.[0-9]*; do
  [ -f "$f" ] && reports+=("$f")
done
status=0
if [ ${#reports[@]} -gt 0 ]; then
  status=1
  echo "ThreadSanitizer reports in ${#reports[@]} processes:"
  for f in "${reports[@]}"; do
    echo "--- $f"
    grep -E '^(WARNING|SUMMARY): ThreadSanitizer|^    #[0-3] ' "$f" | head -24 || true
  done
fi
if [ ${#failed[@]} -gt 0 ]; then
  status=1
  echo "suites that failed under TSan:"
  printf '  %s\n' "${failed[@]}"
fi
[ $status -eq 0 ] && echo "tsan.sh: ${#suites[@]} suites, no reports"
exit $status
