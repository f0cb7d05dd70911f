#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks lib/'s include graph (STYLE.md, "a module that only depends
# downward"):
#  1. no cycle among lib/'s files, nor among its modules (a module is a
#     .c file and the .h beside it of the same name: cache/facts.c and
#     cache/facts.h), so two modules never call each other;
#  2. the parsers and the pure policy core reach, through lib/'s own
#     headers, neither <curl/curl.h> nor the store layer (lib/store/) nor
#     the transfer code (xfer.h).  The public header names CURL * in the
#     API, so libcurl's declarations reach every file through it; what is
#     checked is that nothing below the transfer code asks for them.
#
#   bash tools/check-includes.sh        # exit 0 clean, 1 with findings
set -euo pipefail
cd "$(dirname "$0")/.."
command -v tsort >/dev/null || { echo "check-includes: tsort missing (coreutils)" >&2; exit 2; }

# Parsers and the policy core: nothing here may reach libcurl or a store.
pure=(lib/headers.c lib/httpdate.c lib/cachecontrol.c lib/url.c lib/status.c
      lib/policy.c lib/redirect.c lib/retry.c lib/interim.c
      lib/cache/entry.c lib/cache/codec.c lib/cache/facts.c
      lib/cache/rules.c lib/cache/key.c lib/sha256.c)

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
status=0

# Edges "from to" for every #include of a lib/ file: quoted includes are
# resolved as the compiler does (beside the file, then lib/, then
# include/); angle includes are kept as <name>.
mapfile -t files < <(find lib -name '*.[ch]' | sort)
for f in "${files[@]}"; do
  dir="$(dirname "$f")"
  while IFS= read -r line; do
    name="${line#*[\"<]}"
    name="${name%%[\">]*}"
    case "$line" in
    *'<'*) echo "$f <$name>" ;;
    *)
      if [ -f "$dir/$name" ]; then
        echo "$f $(realpath --relative-to=. "$dir/$name")"
      elif [ -f "lib/$name" ]; then
        echo "$f lib/$name"
      elif [ -f "include/$name" ]; then
        echo "$f include/$name"
      else
        echo "check-includes: $f includes \"$name\", which is nowhere" >&2
        status=1
      fi
      ;;
    esac
  done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]' "$f" || true)
done >"$tmp/edges"

# 1. Cycles: tsort names the files of a loop on stderr.
cycles() { # $1: label, stdin: edges
  if ! tsort >/dev/null 2>"$tmp/tsort"; then
    echo "check-includes: the $1 graph has a cycle:" >&2
    grep -v 'input contains a loop' "$tmp/tsort" | sed 's/^tsort: /  /' >&2
    status=1
  fi
}
grep -v ' <' "$tmp/edges" | grep -v ' include/' | cycles "file include"
# Modules: x.c and x.h are one node; a file including its own header is
# no edge.
grep -v ' <' "$tmp/edges" | grep -v ' include/' |
  sed -E 's/\.[ch]( |$)/\1/g' | awk '$1 != $2' | cycles "module"

# 2. What the parsers and the core reach through lib/'s headers.
reach() { # the lib/ files and <system> headers $1 includes, transitively
  local seen=" $1 " queue=("$1") cur next
  while [ ${#queue[@]} -gt 0 ]; do
    cur="${queue[0]}"
    queue=("${queue[@]:1}")
    while read -r next; do
      case "$seen" in *" $next "*) continue ;; esac
      seen="$seen$next "
      case "$next" in lib/*) queue+=("$next") ;; esac
      echo "$next"
    done < <(awk -v f="$cur" '$1 == f { print $2 }' "$tmp/edges")
  done
}
for f in "${pure[@]}"; do
  [ -f "$f" ] || { echo "check-includes: $f is gone: update the list" >&2; status=1; continue; }
  while read -r dep; do
    case "$dep" in
    "<curl/curl.h>" | lib/store/* | lib/xfer.h | lib/cache/cache.h)
      echo "check-includes: $f reaches $dep" >&2
      status=1
      ;;
    esac
  done < <(reach "$f")
done

if [ "$status" -eq 0 ]; then
  echo "check-includes: clean ($(wc -l <"$tmp/edges") includes in ${#files[@]} files)"
fi
exit "$status"
