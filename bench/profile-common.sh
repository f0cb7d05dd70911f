# SPDX-License-Identifier: MIT
# Sourced by bench/counts.sh and bench/own.sh (not run by itself): checks
# the arguments "N SIDE..." and that valgrind is there, builds the benchmark
# through bench/run.sh, and sets root, build, bin, n (the operation count;
# the sides stay in "$@" after the caller's `shift`) and tmp (a directory
# removed on exit).  $1 of the caller is N; `me` names the caller.
if [ $# -lt 2 ]; then
  echo "usage: bash bench/$me N SIDE..." >&2
  exit 2
fi
command -v valgrind >/dev/null || {
  echo "$me: valgrind is not installed (apt-get install valgrind)" >&2
  exit 2
}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${HTTPRESP_BENCH_BUILD:-$root/build-bench}"
bash "$root/bench/run.sh" --help >/dev/null # builds, and checks it runs
bin="$build/bench/httpresp-bench"
n=$1
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
