#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The audit's disk cache scenarios, repeatable (issue 18, item 3):
#   1. 8 processes on one directory, 8 MiB bound, ~200 SIGKILLs mid-write;
#   2. the same with a 2 MiB bound;
#   3. a read-only directory (a tmpfs remounted read-only as root, chmod
#      otherwise);
#   4. a full filesystem (a 1 MiB tmpfs under an 8 MiB bound; root only).
# Workers fetch checksummed bodies from a loopback server through the
# public API (tools/stress-disk-cache.c); every body served, from the
# network or the cache, is checked.  Prints, per scenario, the directory's
# peak size over max_bytes and whether anything corrupt was served.
# Exits 1 if a scenario failed.  Under 2 minutes; loopback only.
#
#   bash tools/stress-disk-cache.sh          # builds build-stress/ first
#   STRESS_BIN=path/to/stress-disk-cache bash tools/stress-disk-cache.sh
set -uo pipefail
cd "$(dirname "$0")/.."

BIN=${STRESS_BIN:-}
if [ -z "$BIN" ]; then
  cmake -S . -B build-stress -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DHTTPRESP_EXAMPLES=OFF -DHTTPRESP_BENCH=OFF >/dev/null || exit 1
  cmake --build build-stress -j2 --target stress-disk-cache >/dev/null || exit 1
  BIN=build-stress/tests/stress-disk-cache
fi

WORK=$(mktemp -d /tmp/hrstress-XXXXXX)
MOUNTS=()
cleanup() {
  for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null; done
  chmod -R u+w "$WORK" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

FAILED=0
# run NAME ARGS...: one run of the driver, bounded by `timeout`.
run() {
  local name=$1
  shift
  timeout 90 "$BIN" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
  local rc=$?
  local v
  v() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" "$WORK/$name.out" | head -1; }
  if [ ! -s "$WORK/$name.out" ]; then
    echo "$name: FAILED (exit $rc, no report)"
    tail -5 "$WORK/$name.err"
    FAILED=1
    return
  fi
  printf '%-10s %s  peak %s of max %s bytes = %sx (largest file %s)\n' \
    "$name" "$([ $rc = 0 ] && echo ok || echo FAILED)" "$(v peak_bytes)" \
    "$(v max_bytes)" "$(v peak_ratio)" "$(v largest_file)"
  printf '%-10s requests %s (hits %s, stored %s, not stored %s), errors %s, corrupt %s\n' \
    "" "$(v requests)" "$(v hits)" "$(v stored)" "$(v not_stored)" \
    "$(v errors)" "$(v corrupt)"
  printf '%-10s kills %s (%s found writing, %s confirmed mid-write), temp files at stop %s, after a scan %s\n' \
    "" "$(v kills)" "$(v kills_found_writing)" "$(v kills_mid_write)" "$(v at_stop_temps)" \
    "$(v after_scan_temps)"
  if [ $rc != 0 ]; then
    FAILED=1
    grep -m5 -v '^$' "$WORK/$name.err"
  fi
}

MIB=1048576
run 8MiB --dir "$WORK/c8" --max-bytes $((8 * MIB)) --procs 8 --kills 200 --seconds 25
run 2MiB --dir "$WORK/c2" --max-bytes $((2 * MIB)) --procs 8 --kills 200 --seconds 25

# Read-only: filled first, then nothing can be written or removed.
RO="$WORK/ro"
mkdir -p "$RO"
if [ "$(id -u)" = 0 ]; then
  if mount -t tmpfs -o size=32m,mode=0700 tmpfs "$RO" 2>/dev/null; then
    MOUNTS+=("$RO")
    run ro-fill --dir "$RO/c" --max-bytes $((8 * MIB)) --procs 2 --kills 0 --seconds 3 >/dev/null
    if mount -o remount,ro "$RO"; then
      run read-only --dir "$RO/c" --max-bytes $((8 * MIB)) --procs 8 --kills 20 \
        --seconds 6 --expect-no-store
    else
      echo "read-only: skipped (cannot remount the tmpfs read-only)"
    fi
  else
    echo "read-only: skipped (cannot mount a tmpfs)"
  fi
else
  run ro-fill --dir "$RO/c" --max-bytes $((8 * MIB)) --procs 2 --kills 0 --seconds 3 >/dev/null
  chmod 0555 "$RO/c"
  run read-only --dir "$RO/c" --max-bytes $((8 * MIB)) --procs 8 --kills 20 \
    --seconds 6 --expect-no-store
fi

# Full: the filesystem runs out long before the bound.
if [ "$(id -u)" = 0 ]; then
  FULL="$WORK/full"
  mkdir -p "$FULL"
  if mount -t tmpfs -o size=1m,mode=0700 tmpfs "$FULL" 2>/dev/null; then
    MOUNTS+=("$FULL")
    run full-fs --dir "$FULL/c" --max-bytes $((8 * MIB)) --procs 8 --kills 40 \
      --seconds 8 --expect-no-store
  else
    echo "full-fs: skipped (cannot mount a tmpfs)"
  fi
else
  echo "full-fs: skipped (needs root to mount a small tmpfs)"
fi

exit $FAILED
