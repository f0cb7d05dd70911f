#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks the reference pages in docs/man:
#  - every exported httpresp_ function has docs/man/man3/<function>.3 (the
#    list comes from `nm -D` of the built shared library when a build
#    directory is given, else from the public header), and no page is left
#    for a function that no longer exists;
#  - each page names its function and has NAME, SYNOPSIS, DESCRIPTION,
#    EXAMPLE, RETURN VALUE and SEE ALSO;
#  - each page (man3 and man1) renders without a warning, through both
#    `groff -man -ww -z` and `man -l`;
#  - each page's EXAMPLE compiles as printed, with -Wall -Wextra -Werror,
#    and links when a build directory is given.
#
#   bash tools/check-man.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-}

if ! command -v groff >/dev/null || ! command -v man >/dev/null; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq groff-base man-db >/dev/null
fi

fail=0
bad() { echo "check-man: $*" >&2; fail=1; }

lib=""
if [ -n "$build" ]; then
  lib=$(find "$build" -maxdepth 2 -name 'libhttpresp.so' | head -n1)
  [ -n "$lib" ] || { echo "check-man: no libhttpresp.so in $build" >&2; exit 2; }
  funcs=$(nm -D --defined-only "$lib" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' |
    grep '^httpresp_' | sort -u)
else
  funcs=$(grep -o 'HTTPRESP_EXTERN[^(]*(' include/httpresp/httpresp.h |
    grep -o 'httpresp_[a-z0-9_]*($' | tr -d '(' | sort -u)
fi
[ -n "$funcs" ] || { echo "check-man: no functions found" >&2; exit 2; }

# Every function has its page, and the page is about it.
for f in $funcs; do
  page=docs/man/man3/$f.3
  if [ ! -f "$page" ]; then
    bad "$f has no page ($page)"
    continue
  fi
  grep -q "^\.TH $f 3 " "$page" || bad "$page: .TH does not name $f"
  grep -q "^$f \\\\- " "$page" || bad "$page: NAME does not start with '$f \\- '"
  for s in NAME SYNOPSIS DESCRIPTION EXAMPLE "RETURN VALUE" "SEE ALSO"; do
    grep -q "^\.SH $s\$" "$page" || bad "$page: no $s section"
  done
  grep -q "$f(" "$page" || bad "$page: SYNOPSIS lacks $f()"
done
# No page for a function that is gone.
for page in docs/man/man3/*.3; do
  name=$(basename "$page" .3)
  [ "$name" = libhttpresp ] && continue
  grep -qx "$name" <<<"$funcs" || bad "$page: no exported function $name"
done
[ -f docs/man/man3/libhttpresp.3 ] || bad "docs/man/man3/libhttpresp.3 is missing"
[ -f docs/man/man1/httpresp.1 ] || bad "docs/man/man1/httpresp.1 is missing"

# Each page renders without a warning.
for page in docs/man/man3/*.3 docs/man/man1/*.1; do
  out=$(groff -man -ww -z "$page" 2>&1) || bad "$page: groff failed"
  [ -z "$out" ] || bad "$page: groff: $out"
  out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null) ||
    bad "$page: man -l failed"
  [ -z "$out" ] || bad "$page: man -l: $out"
done

# Each EXAMPLE compiles as printed (roff escapes undone).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cflags=(-std=c11 -Wall -Wextra -Wpedantic -Werror -Iinclude)
read -ra curl_cflags <<<"$(pkg-config --cflags libcurl)"
read -ra curl_libs <<<"$(pkg-config --libs libcurl)"
for page in docs/man/man3/*.3; do
  name=$(basename "$page" .3)
  awk '/^\.SH EXAMPLE/ { inside = 1; next }
       inside && /^\.SH/ { exit }
       inside && /^\.nf$/ { grab = 1; next }
       inside && /^\.fi$/ { grab = 0; next }
       grab { print }' "$page" |
    sed -e 's/^\\&//' -e 's/\\e/\\/g' -e 's/\\-/-/g' >"$tmp/$name.c"
  if [ ! -s "$tmp/$name.c" ]; then
    [ "$name" = libhttpresp ] || bad "$page: empty EXAMPLE"
    continue
  fi
  if [ -n "$lib" ]; then
    cc "${cflags[@]}" "${curl_cflags[@]}" -o "$tmp/$name" "$tmp/$name.c" \
      -L"$(dirname "$lib")" -lhttpresp "${curl_libs[@]}" 2>"$tmp/$name.err" ||
      bad "$page: EXAMPLE does not build: $(cat "$tmp/$name.err")"
  else
    cc "${cflags[@]}" "${curl_cflags[@]}" -c -o "$tmp/$name.o" "$tmp/$name.c" \
      2>"$tmp/$name.err" || bad "$page: EXAMPLE does not compile: $(cat "$tmp/$name.err")"
  fi
done

n3=$(find docs/man/man3 -name '*.3' | wc -l)
n1=$(find docs/man/man1 -name '*.1' | wc -l)
if [ "$fail" -ne 0 ]; then
  echo "check-man: FAILED" >&2
  exit 1
fi
echo "check-man: $(wc -w <<<"$funcs") functions, $n3 man3 pages, $n1 man1 page(s): all present, clean and compiling"
