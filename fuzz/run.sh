#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz and
# runs each one for SECONDS (default 30), one after the other, in a single
# process each (one job, one worker: CI machines are small).
#
#   bash fuzz/run.sh [SECONDS] [TARGET...]      e.g. bash fuzz/run.sh 30
#
# The committed seeds in fuzz/corpus/<target> are read, never written: new
# interesting inputs go to build-fuzz/corpus-new/<target>, and are then
# merged into a minimal set in build-fuzz/corpus-merged/<target> for a human
# to review and commit.  A crash, leak, timeout (10 s) or RSS over 2 GB
# fails the run (exit 1) after every target had its turn; the input is in
# build-fuzz/artifacts/ and a minimised copy beside it, the log in
# build-fuzz/logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-30}
shift || true
case $secs in
'' | *[!0-9]*)
  echo "usage: $0 [SECONDS] [TARGET...]" >&2
  exit 2
  ;;
esac

# ---- toolchain: clang with the libFuzzer runtime -------------------------
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
fuzzer_rt() {
  command -v clang >/dev/null 2>&1 || return 1
  local rt
  rt="$(clang -print-resource-dir)/lib/linux/libclang_rt.fuzzer-$(uname -m).a"
  [ -f "$rt" ]
}
if ! fuzzer_rt; then
  echo "installing clang and the libFuzzer runtime"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clang \
    libclang-rt-14-dev >/dev/null
  fuzzer_rt || {
    echo "clang's libFuzzer runtime is still missing" >&2
    exit 1
  }
fi
# The library's own build dependencies.
bash scripts/install-deps.sh

# ---- build -------------------------------------------------------------------
build=build-fuzz
CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DHTTPRESP_FUZZ=ON -DHTTPRESP_SANITIZE=ON -DHTTPRESP_WERROR=ON \
  -DHTTPRESP_TESTS=OFF -DHTTPRESP_EXAMPLES=OFF -DHTTPRESP_BENCH=OFF >/dev/null
cmake --build "$build" -j2 --target fuzzers

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for bin in "$build"/fuzz/fuzz_*; do
    [ -x "$bin" ] && targets+=("${bin##*/fuzz_}")
  done
fi

# ---- run ---------------------------------------------------------------------
mkdir -p "$build/logs" "$build/artifacts"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
failed=()
summary=()
for t in "${targets[@]}"; do
  bin="$build/fuzz/fuzz_$t"
  seeds="fuzz/corpus/$t"
  new="$build/corpus-new/$t"
  merged="$build/corpus-merged/$t"
  log="$build/logs/$t.log"
  [ -x "$bin" ] || {
    echo "no fuzz target $t" >&2
    exit 2
  }
  mkdir -p "$new" "$merged"
  rm -f "$build/artifacts/$t-"*
  dict=()
  [ -f "fuzz/dict/$t.dict" ] && dict=("-dict=fuzz/dict/$t.dict")
  echo "== $t: ${secs}s"
  rc=0
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" \
    "${dict[@]}" "$new" "$seeds" >"$log" 2>&1 || rc=$?
  stats=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
    grep -E 'ERROR|invariant failed|SUMMARY|Test unit written' "$log" || true
    # A smaller reproducer is easier to report and to turn into a test.
    for a in "$build/artifacts/$t-"*; do
      case $a in *-minimized-*) continue ;; esac
      [ -f "$a" ] || continue
      "$bin" -minimize_crash=1 -max_total_time=60 -timeout=10 \
        -exact_artifact_path="${a%/*}/$t-minimized-${a##*/$t-}" "$a" \
        >>"$log.minimize" 2>&1 || true
    done
    summary+=("$t: FAILED (rc $rc), ${execs:-?} execs; see $log")
  else
    "$bin" -merge=1 "$merged" "$new" >"$log.merge" 2>&1 || true
    summary+=("$t: ok, ${execs:-?} execs, ${stats#*DONE}")
  fi
done

echo
echo "== summary (${secs}s per target)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "crashing targets: ${failed[*]} (inputs in $build/artifacts/)" >&2
  exit 1
fi
