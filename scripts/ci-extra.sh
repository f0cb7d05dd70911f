#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CI's hardening steps after the tests: lib/'s include graph (no cycle, the
# pure core reaches neither libcurl nor the stores), static analysis over
# lib/, the suites that share a client and a cache across threads under
# ThreadSanitizer, each libFuzzer target for 30 seconds (clang is installed
# if missing), and a quick benchmark run whose checks must hold.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== include graph: no cycle, the parsers and the core stay pure"
bash tools/check-includes.sh
echo "== lint: clang-tidy and cppcheck over lib/"
bash tools/lint.sh
echo "== tsan: the suites whose threads share a client and a cache"
bash tools/tsan.sh
echo "== fuzz: each target for 30 s"
bash fuzz/run.sh 30
# The benchmark's targets are reported, not gated (loopback timing varies);
# its checks are: every answer right, redirects reuse the connection, cache
# hits send nothing.
echo "== bench: a quick run, its checks must hold"
bash bench/run.sh --quick --check-premises
