#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Static analysis: clang-tidy (checks in .clang-tidy) and cppcheck over the
# library sources.  Exits 1 on any finding, so CI can gate on it.
#
#   bash tools/lint.sh              # lib/*.c and lib/*/*.c
#   bash tools/lint.sh FILE.c...    # chosen files (must be in the build)
#
# clang-tidy reads the compile commands of a clang build configured in
# build-lint (nothing is compiled).  cppcheck false positives are
# suppressed in tools/cppcheck-suppressions.txt, each with its reason.
set -uo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=""
command -v clang >/dev/null 2>&1 || missing="$missing clang"
command -v clang-tidy >/dev/null 2>&1 || missing="$missing clang-tidy"
command -v cppcheck >/dev/null 2>&1 || missing="$missing cppcheck"
if [ -n "$missing" ]; then
  echo "installing:$missing"
  $SUDO apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing \
      >/dev/null || exit 2
fi
bash scripts/install-deps.sh || exit 2

if [ $# -gt 0 ]; then
  files=("$@")
else
  files=(lib/*.c lib/*/*.c)
fi

CC=clang cmake -S . -B build-lint -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
  -DHTTPRESP_BENCH=OFF >/dev/null || exit 2

status=0
out=build-lint/lint
mkdir -p "$out"

echo "== clang-tidy (${#files[@]} files)"
: >"$out/clang-tidy.txt"
for f in "${files[@]}"; do
  # One file at a time keeps the report in file order and memory low.
  clang-tidy -p build-lint --quiet --warnings-as-errors='*' "$f" \
    >>"$out/clang-tidy.txt" 2>/dev/null || status=1
done
# A header's finding is reported once per file that includes it.
grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' "$out/clang-tidy.txt" |
  sort -u -t: -k1,1 -k2,2n -k3,3n || true

echo "== cppcheck"
cppcheck --enable=warning,performance,portability --std=c11 \
  --error-exitcode=1 --inline-suppr --quiet \
  --suppressions-list=tools/cppcheck-suppressions.txt \
  -I include -I lib \
  --template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
  "${files[@]}" 2>"$out/cppcheck.txt" || status=1
cat "$out/cppcheck.txt"

if [ "$status" -ne 0 ]; then
  echo "lint: findings above (full output in $out/)" >&2
else
  echo "lint: clean"
fi
exit "$status"
