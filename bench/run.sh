#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The benchmark in one command: configure build-bench/ as a Release build
# (-O2, no sanitizers, no tests or examples), build the benchmark and run it.
#
#   bash bench/run.sh            full run (about a minute)
#   bash bench/run.sh --quick    fewer rounds and operations
#   bash bench/run.sh --check    exit 1 when a target or check is missed
#
# Every other argument goes to the benchmark (see bench/README.md).
# HTTPRESP_BENCH_BUILD overrides the build directory.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${HTTPRESP_BENCH_BUILD:-$root/build-bench}"
log="$build/bench-build.log"
mkdir -p "$build"

if ! { cmake -S "$root" -B "$build" \
         -DCMAKE_BUILD_TYPE=Release \
         "-DCMAKE_C_FLAGS_RELEASE=-O2 -DNDEBUG" \
         -DHTTPRESP_SANITIZE=OFF -DHTTPRESP_BENCH=ON \
         -DHTTPRESP_TESTS=OFF -DHTTPRESP_EXAMPLES=OFF -DHTTPRESP_FUZZ=OFF &&
       cmake --build "$build" --target httpresp-bench -j "$(nproc)"; } \
       >"$log" 2>&1; then
  cat "$log" >&2
  echo "bench/run.sh: the build failed (log above, also in $log)" >&2
  exit 2
fi

exec "$build/bench/httpresp-bench" "$@"
