#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Heap bytes per request in flight in case 9's setting (1,000 requests in
# flight over curl_multi): the libhttpresp side against raw libcurl.
#
#   bash bench/heap.sh [N]     N requests per side (default 2000, >= 1000)
#
# Runs `--profile many-curl N` and `--profile many-httpresp N` under
# valgrind's DHAT, which counts every byte the measured process asked
# malloc for (not malloc's own overhead, not the server, which runs in a
# child process of its own), and prints the peak heap (DHAT's t-gmax) of
# each side divided by the requests in flight, and the difference: the
# heap the library holds per request in flight beyond what libcurl holds.
set -euo pipefail

me=heap.sh
n=${1:-2000}
inflight=1000 # MANY_INFLIGHT in bench/bench.h
set -- "$n" many-curl many-httpresp
# shellcheck source=bench/profile-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/profile-common.sh"
if [ "$n" -lt "$inflight" ]; then
  echo "$me: N must be at least $inflight" >&2
  exit 2
fi

# Peak heap bytes of side $1 (the measured process's DHAT log: its pid is
# valgrind's own; the forked server writes another).
peak() {
  rm -f "$tmp"/dh.* "$tmp"/log.*
  valgrind --tool=dhat --dhat-out-file="$tmp/dh.%p" --log-file="$tmp/log.%p" \
    "$bin" --profile "$1" "$n" >/dev/null 2>&1 &
  local pid=$!
  wait "$pid"
  sed -n 's/.*At t-gmax: *\([0-9,]*\) bytes.*/\1/p' "$tmp/log.$pid" | tr -d ,
}

c=$(peak many-curl)
h=$(peak many-httpresp)
printf "%-16s %12s %14s   (%d requests, %d in flight)\n" side "peak heap" \
  "per in flight" "$n" "$inflight"
printf "%-16s %12d %14d\n" many-curl "$c" "$((c / inflight))"
printf "%-16s %12d %14d\n" many-httpresp "$h" "$((h / inflight))"
printf "%-16s %12s %14d B\n" difference "" "$(((h - c) / inflight))"
