#!/usr/bin/env bash
# CI's hardening steps after the tests: static analysis over lib/ and each
# libFuzzer target for 30 seconds (clang is installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== lint: clang-tidy and cppcheck over lib/"
bash tools/lint.sh
echo "== fuzz: each target for 30 s"
bash fuzz/run.sh 30
