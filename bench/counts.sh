#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Per-operation counts of one or more --profile sides under cachegrind:
# instructions, L1 instruction-cache misses, L1 data-cache misses and
# mispredicted branches of the client process, each side run for N and 2N
# operations and the two runs subtracted (which takes out start-up).
#
#   bash bench/counts.sh N SIDE...    e.g.  bash bench/counts.sh 500 chain-curl chain-httpresp
#
# Cachegrind simulates the caches of this machine's CPU, so the counts repeat
# from run to run where timings do not. It needs valgrind; the build is the
# one bench/run.sh makes (HTTPRESP_BENCH_BUILD overrides it), and
# --nosignal in HTTPRESP_BENCH_ARGS passes that flag to every side.
set -euo pipefail

me=counts.sh
# shellcheck source=bench/profile-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/profile-common.sh"
shift

# The summary line of one event of the client's process.  The server is a
# forked child that writes its own report to the same file; the client's
# pid is the one on the report's first line, printed before the fork.
event() {
  local pid
  pid=$(grep -m1 -oE '^==[0-9]+==' "$1")
  grep -F "$pid" "$1" | grep -E "$2" | awk -F: '{gsub(",", "", $2); print $2 + 0}'
}

printf "%-18s %10s %10s %10s %12s  (per operation)\n" side instr I1-miss D1-miss mispredict
for side in "$@"; do
  for k in "$n" "$((2 * n))"; do
    # shellcheck disable=SC2086
    valgrind --tool=cachegrind --cache-sim=yes --branch-sim=yes \
      --cachegrind-out-file=/dev/null --trace-children=no \
      "$bin" ${HTTPRESP_BENCH_ARGS:-} --profile "$side" "$k" >/dev/null 2>"$tmp/$k"
  done
  row=()
  for ev in "I +refs" "I1 +misses" "D1 +misses" "Mispredicts"; do
    a=$(event "$tmp/$n" "$ev")
    b=$(event "$tmp/$((2 * n))" "$ev")
    row+=("$(((b - a) / n))")
  done
  printf "%-18s %10s %10s %10s %12s\n" "$side" "${row[@]}"
done
