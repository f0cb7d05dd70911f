#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole test suite under valgrind memcheck: every Criterion executable
# (tests/test_*) and every fuzz-corpus replay (tests/fuzz_replay_*), built
# without sanitizers (ASan and valgrind do not mix) in build-valgrind.
#
#   bash tools/valgrind.sh              # everything
#   bash tools/valgrind.sh hostile url  # only executables whose name
#                                       # contains one of these words
#
# Fails (exit 1) on any memcheck error in any process -- invalid reads or
# writes, uses of uninitialised values, bad frees, definite or indirect
# leaks -- and on any test that fails under valgrind.  Logs, one per
# process, go to build-valgrind/valgrind-logs/<exe>.<pid>.log; the test
# output to build-valgrind/valgrind-logs/<exe>.out.
#
# The examples are built too: tests/test_tool runs the httpresp tool and
# the demo server as programs (found through HTTPRESP_TOOL and
# HTTPRESP_DEMO_SERVER, as tests/tool.cmake tells ctest), and without them
# its tests are all skipped.  Those programs run under memcheck as well.
#
# Criterion runs each test in a worker process that it re-executes from its
# own binary (boxfort), hence --trace-children=yes, and --jobs 1 so that
# workers do not compete under valgrind's serialising scheduler.  Time
# bounds in the suites that honour HTTPRESP_TEST_TIME_SCALE are stretched
# by 10 (valgrind is 20-50x slower on CPU, not on waiting for a timer).
#
# tools/valgrind.supp holds suppressions for third-party noise only, each
# with its reason; errors in lib/ are never suppressed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${HTTPRESP_VALGRIND_BUILD:-$root/build-valgrind}
jobs=${HTTPRESP_VALGRIND_BUILD_JOBS:-2}

if ! command -v valgrind >/dev/null 2>&1; then
  echo "valgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2
  exit 2
fi

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug \
  -DHTTPRESP_SANITIZE=OFF -DHTTPRESP_WERROR=ON -DHTTPRESP_FUZZ=OFF \
  -DHTTPRESP_BENCH=OFF -DHTTPRESP_EXAMPLES=ON -DHTTPRESP_TESTS=ON >/dev/null || exit 2
cmake --build "$build" -j "$jobs" >/dev/null || {
  echo "valgrind.sh: build failed" >&2
  exit 2
}

logs=$build/valgrind-logs
rm -rf "$logs"
mkdir -p "$logs"

vg=(valgrind --tool=memcheck --leak-check=full
  --show-leak-kinds=definite,indirect
  --errors-for-leak-kinds=definite,indirect --error-exitcode=99
  --trace-children=yes --track-fds=no --num-callers=40
  --suppressions="$root/tools/valgrind.supp" --gen-suppressions=all)

export HTTPRESP_SOURCE_DIR=$root
export HTTPRESP_TOOL=$build/examples/httpresp
export HTTPRESP_DEMO_SERVER=$build/examples/httpresp-demo-server
for prog in "$HTTPRESP_TOOL" "$HTTPRESP_DEMO_SERVER"; do
  if [ ! -x "$prog" ]; then
    echo "valgrind.sh: $prog was not built" >&2
    exit 2
  fi
done
export HTTPRESP_TEST_TIME_SCALE=${HTTPRESP_TEST_TIME_SCALE:-10}

wanted() {
  [ $# -eq 1 ] && return 0
  local name=$1 w
  shift
  for w in "$@"; do
    [[ $name == *"$w"* ]] && return 0
  done
  return 1
}

failed_tests=()
ran=0
run() { # name, command...
  local name=$1 rc=0 start=$SECONDS
  shift
  "${vg[@]}" --log-file="$logs/$name.%p.log" "$@" >"$logs/$name.out" 2>&1 ||
    rc=$?
  ran=$((ran + 1))
  local tested skipped
  tested=$(grep -ao 'Tested: .*' "$logs/$name.out" | tail -1)
  skipped=$(grep -ac '\[SKIP\]' "$logs/$name.out")
  printf '%-28s exit %-3d %5ds  %s%s\n' "$name" "$rc" $((SECONDS - start)) \
    "$tested" "$([ "$skipped" -gt 0 ] && echo " | Skipped: $skipped")"
  [ "$rc" -eq 0 ] || failed_tests+=("$name (exit $rc, see $logs/$name.out)")
  # A suite that ran nothing checked nothing (the tool suite without the
  # tool, for one): that is a failure of the run, not a pass.
  if [[ $tested == "Tested: 0 "* ]]; then
    failed_tests+=("$name (ran no tests, see $logs/$name.out)")
  fi
}

for exe in "$build"/tests/test_*; do
  [ -f "$exe" ] && [ -x "$exe" ] || continue
  name=$(basename "$exe")
  wanted "$name" "$@" || continue
  run "$name" "$exe" --jobs 1
done
for exe in "$build"/tests/fuzz_replay_*; do
  [ -f "$exe" ] && [ -x "$exe" ] || continue
  name=$(basename "$exe")
  wanted "$name" "$@" || continue
  run "$name" "$exe" "$root/fuzz/corpus/${name#fuzz_replay_}"
done

# Criterion does not always turn a worker's valgrind exit code into a test
# failure, so the per-process logs are the verdict.
bad_logs=()
for log in "$logs"/*.log; do
  [ -f "$log" ] || continue
  if grep -Eq 'ERROR SUMMARY: [1-9]' "$log"; then
    bad_logs+=("$log")
  fi
done

echo
echo "valgrind.sh: $ran executables, $(ls "$logs"/*.log 2>/dev/null | wc -l) processes checked"
status=0
if [ ${#bad_logs[@]} -gt 0 ]; then
  status=1
  echo "memcheck errors in ${#bad_logs[@]} processes:"
  for log in "${bad_logs[@]}"; do
    echo "--- $log"
    grep -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall param|Mismatched|.*definitely lost|.*indirectly lost|ERROR SUMMARY|Source and destination|Argument)' \
      "$log" | head -20
  done
fi
if [ ${#failed_tests[@]} -gt 0 ]; then
  status=1
  echo "executables that failed under valgrind:"
  printf '  %s\n' "${failed_tests[@]}"
fi
[ $status -eq 0 ] && echo "valgrind.sh: no errors, no leaks"
exit $status
