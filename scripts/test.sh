#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# README's test command: installs what is missing, builds a Debug build with
# -Werror, AddressSanitizer and UBSan, and runs every suite through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DHTTPRESP_WERROR=ON \
  -DHTTPRESP_SANITIZE=ON -DHTTPRESP_TESTS=ON -DHTTPRESP_BENCH=OFF >/dev/null
cmake --build build-test -j2
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-test --output-on-failure -j2
