#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The policy layer's own instructions per operation, a figure that repeats
# where bench/counts.sh's totals move by a few thousand from run to run
# (libcurl's own work inside curl_easy_perform varies with timing).
#
#   bash bench/own.sh N SIDE...    e.g.  bash bench/own.sh 300 plain-httpresp
#
# Runs each side under callgrind for N and 2N operations, subtracts, and
# prints per operation: all instructions, those inside curl_easy_perform,
# those of our header and write callbacks (which run inside it), and "own":
# everything outside curl_easy_perform plus the callbacks.  For a raw
# libcurl side (plain-curl, chain-curl) "own" is its loop's setopt and
# getinfo calls, so the policy layer's cost is the difference of the two.
# Only blocking sides (plain-*, chain-*, hit-*, reval-*) make sense here.
set -euo pipefail

me=own.sh
# shellcheck source=bench/profile-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/profile-common.sh"
shift

# Inclusive instructions of function $2 in the client's callgrind file $1
# (the largest of the run's files: the server's is smaller).
incl() {
  callgrind_annotate --inclusive=yes --auto=no --threshold=100 "$1" 2>/dev/null |
    awk -v fn="$2" '
      { line = $0; sub(/^ +/, "", line) }
      line ~ /^[0-9,]+ / {
        v = line; sub(/ .*/, "", v); gsub(",", "", v)
        name = line; sub(/^[0-9,]+ +(\([^)]*\) +)?/, "", name)
        sub(/ \[.*$/, "", name); sub(/^.*:/, "", name)
        if (name == fn || (fn == "TOTALS" && line ~ /PROGRAM TOTALS/)) s += v
      }
      END { print s + 0 }'
}

printf "%-18s %10s %12s %10s %10s  (per operation)\n" side instr in-perform callbacks own
for side in "$@"; do
  for k in "$n" "$((2 * n))"; do
    rm -f "$tmp"/cg.*
    # shellcheck disable=SC2086
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" \
      "$bin" ${HTTPRESP_BENCH_ARGS:-} --profile "$side" "$k" >/dev/null 2>&1
    f=$(ls -S "$tmp"/cg.* | head -1)
    echo "$(incl "$f" TOTALS) $(incl "$f" curl_easy_perform) $(incl "$f" hr_xfer_header_cb) $(incl "$f" hr_xfer_write_cb)" >"$tmp/r.$k"
  done
  read -r t1 p1 h1 w1 <"$tmp/r.$n"
  read -r t2 p2 h2 w2 <"$tmp/r.$((2 * n))"
  t=$(((t2 - t1) / n)) p=$(((p2 - p1) / n)) c=$(((h2 - h1 + w2 - w1) / n))
  printf "%-18s %10s %12s %10s %10s\n" "$side" "$t" "$p" "$c" "$((t - p + c))"
done
