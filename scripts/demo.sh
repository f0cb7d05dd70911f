#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The project's main job, end to end: installs what is missing, builds the
# httpresp tool and the demo server (Release, build-demo/), starts the
# server on loopback, and runs the tool with -v through one scenario per
# behaviour of the library.  Every run also writes its -w '%{json}'
# summary, which is checked; the script exits non-zero if any outcome is
# not the expected one.
#
#   bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
echo "building the tool and the demo server (Release, build-demo/) ..."
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=Release -DHTTPRESP_TESTS=OFF \
  -DHTTPRESP_BENCH=OFF >/dev/null
cmake --build build-demo -j2 --target httpresp_tool httpresp_demo_server \
  >/dev/null
TOOL=$PWD/build-demo/examples/httpresp
SERVER=$PWD/build-demo/examples/httpresp-demo-server

TMP=$(mktemp -d "${TMPDIR:-/tmp}/httpresp-demo.XXXXXX")
SERVER_PID=""
REDIS_PID=""
cleanup() {
  for pid in $SERVER_PID $REDIS_PID; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

# The cache is opt-in (--cache, or HTTPRESP_CACHE=DIR): the demo turns it
# on for every command with a fresh, empty directory, so the commands below
# are exactly what you would type after `export HTTPRESP_CACHE=...`.
export HTTPRESP_CACHE=$TMP/httpresp

"$SERVER" --idle 300 >"$TMP/server.out" 2>"$TMP/server.log" &
SERVER_PID=$!
for _ in $(seq 100); do
  grep -q '^listening on ' "$TMP/server.out" 2>/dev/null && break
  sleep 0.05
done
B=$(sed -n 's/^listening on //p' "$TMP/server.out")
B2=$(sed -n 's/^second origin on //p' "$TMP/server.out")
if [ -z "$B" ]; then
  echo "the demo server did not start:" >&2
  cat "$TMP/server.log" >&2
  exit 1
fi

FAILED=0
JSON=$TMP/out.json
bold=""; off=""
if [ -t 1 ]; then bold=$'\e[1m'; off=$'\e[0m'; fi

scenario() { printf '\n%s== %s%s\n' "$bold" "$1" "$off"; }
fail() {
  echo "   ** NOT AS EXPECTED: $*"
  FAILED=$((FAILED + 1))
}

# hr EXIT ARGS...: runs the tool with -v (trace on the terminal) and
# -w '%{json}' written to a file with curl's %output{FILE} (kept for the
# checks; the bodies on stdout are not shown), and checks its exit code.
hr() {
  local want=$1
  shift
  echo "\$ httpresp -v $*" | short
  : >"$JSON"
  set +e
  "$TOOL" -v -w "%output{>>$JSON}%{json}\n" "$@" 2>&1 >/dev/null </dev/null |
    tee "$TMP/trace" | short "  "
  local rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" = "$want" ] || fail "exit code $rc, expected $want"
}
# short [INDENT]: the servers' URLs as $B and $B2, as the trace goes.
short() {
  sed -u "/^\* cache: /d; s#${B2}\\b#\$B2#g; s#${B}\\b#\$B#g; s/^/${1:-}/"
}

# has TEXT [LINE]: the JSON summary (of URL number LINE, default 1)
# contains TEXT.
has() {
  sed -n "${2:-1}p" "$JSON" | grep -qF -- "$1" || fail "%{json} lacks $1"
}
lacks() {
  sed -n "${2:-1}p" "$JSON" | grep -qF -- "$1" && fail "%{json} has $1"
  return 0
}
# body: prints the response body of the last run, indented.
body() {
  python3 -c 'import json,sys
for line in open(sys.argv[1]):
    for l in json.loads(line).get("body", "").rstrip("\n").split("\n"):
        print("   | " + l)' "$JSON"
}
# count PATH: how many requests the demo server received for PATH.
count() { "$TOOL" -s --no-cache "$B/stats?path=$1" </dev/null; }

echo "demo server: \$B = $B, second origin \$B2 = $B2"
echo "cache: on (opt-in) through HTTPRESP_CACHE, fresh and empty"
echo "trace legend: '>' request sent, '<' response received and what was"
echo "decided about it, '*' a note, '=' the final answer"

scenario "301 then 302: the tool follows a redirect chain"
hr 0 "$B/old"
has '"status":200'
has '"redirects":2'
has "\"final_url\":\"$B/new\""

scenario "POST, 303 See Other: the next request is a GET without the body"
hr 0 -d name=demo "$B/form"
has '"decision":"follow"'
has '"method":"GET","url":"'"$B"'/result"'
body

scenario "307 Temporary Redirect: the POST and its body are sent again"
hr 0 -d name=demo "$B/keep"
has "\"final_url\":\"$B/echo\""
has 'POST /echo HTTP/1.1'
has 'name=demo'
body

scenario "POST, 301: switched to GET like browsers do; --keep-post keeps it"
hr 0 -d name=demo "$B/old"
has 'reached with GET'
hr 0 --keep-post -d name=demo "$B/old"
has 'reached with POST'

scenario "Interim responses: 100, 102 and 103 Early Hints are absorbed"
hr 0 "$B/interim"
has '"status":200'
has '"hops":[{"status":200'

scenario "429 with Retry-After: the tool waits and repeats"
hr 0 "$B/limited?id=demo"
has '"attempts":2'
has '"retry_after_ms":1000'
has '"retry_stop":"succeeded"'

scenario "503 with Retry-After as an HTTP-date: the same, by the clock"
hr 0 "$B/busy?id=demo"
has '"attempts":2'
has '"status":200'

scenario "A server asking for an hour: not waited for (--max-wait), delay kept"
hr 0 --max-wait 5 "$B/slow-down"
has '"status":429'
has '"retry_after_ms":3600000'
has '"retry_stop":"wait-too-long"'
echo "   with -f the same answer is an error (exit 112: still asked to wait):"
hr 112 -f --max-wait 5 "$B/slow-down"

scenario "Cache: the first answer is stored (ETag, max-age=2)"
hr 0 "$B/cached?id=demo"
has '"cache":{"status":"stored"'

scenario "Cache: within 2 s, a hit: no request reaches the server"
hr 0 "$B/cached?id=demo"
has '"cache":{"status":"hit"'
[ "$(count /cached)" = 1 ] || fail "the server saw $(count /cached) requests, expected 1"

scenario "Cache: 2 s later, stale: revalidated with If-None-Match, 304"
sleep 2.1
hr 0 "$B/cached?id=demo"
has '"cache":{"status":"revalidated"'
has '"status":200'
[ "$(count /cached)" = 2 ] || fail "the server saw $(count /cached) requests, expected 2"

scenario "Cache: a download cut midway is resumed from where it stopped (Range + If-Range)"
echo "   the server drops the connection after 100000 of 262144 bytes (exit 18,"
echo "   like curl); the part received has a strong ETag, so the cache keeps it:"
hr 18 -o "$TMP/download" "$B/download?id=demo&cut=100000"
has '"cache":{"status":"stored","reason":"incomplete"'
echo "   the same command again asks only for the rest:"
hr 0 -o "$TMP/download" "$B/download?id=demo&cut=100000"
has '"cache":{"status":"resumed"'
has '"resumed_from":100000'
grep -F 'Range: bytes=100000-' "$TMP/server.log" | tail -n 1 | short "   server received: " ||
  fail "the server received no Range: bytes=100000-"
want=$(python3 -c 'import hashlib
b = b"".join(b"download line %06d of 8192 ..\n" % (i + 1) for i in range(8192))
print(hashlib.sha256(b).hexdigest())')
got=$(sha256sum "$TMP/download" | cut -d" " -f1)
echo "   sha256 of the file: $got"
echo "   sha256 expected:    $want"
[ "$got" = "$want" ] || fail "the resumed file differs from the original"

scenario "A redirect loop is caught at once (exit 110; curl would run into its limit, 47)"
hr 110 "$B/loop/a"
has '"name":"HTTPRESP_E_REDIRECT_LOOP"'

scenario "Too many redirects: --max-redirs 3 on a chain of 5 (exit 47, like curl)"
hr 47 --max-redirs 3 "$B/many/5"
has '"redirects":3'

scenario "Redirects nobody should follow: a broken Location (3), an ftp:// target (1), like curl"
hr 3 "$B/bad-location"
hr 1 "$B/ftp"

scenario "Credentials stay with their origin: not sent after a redirect to \$B2"
hr 0 -u demo:secret "$B/cross"
lacks 'Authorization'
has "\"final_url\":\"$B2/echo\""
body

scenario "Several URLs in one run: one connection, one cache"
hr 0 "$B/new" "$B/cached?id=multi" "$B/cached?id=multi"
has '"cache":{"status":"stored"' 2
has '"cache":{"status":"hit"' 3
grep -q 'reused connection' "$TMP/trace" || fail "the connection was not reused"

scenario "--parallel: three URLs at once over the multi driver"
hr 0 --parallel 3 "$B/limited?id=parallel" "$B/old" "$B/interim"
has '"attempts":2' 1
has '"redirects":2' 2
has '"status":200' 3

scenario "An endless body: written as it arrives, memory stays flat; -m 2 ends it (exit 28, like curl)"
hr 28 -o /dev/null -m 2 "$B/endless"
has '"exitcode":28'
has '"body_truncated":true'

# The fleet: a redis-server of the demo's own (a unix socket in the temp
# directory, no persistence, stopped on exit) shared by separate tool
# processes, as the workers of a fleet share one.
scenario "Fleet: two processes share one Redis; a Retry-After learnt by one holds the other back"
if ! command -v redis-server >/dev/null; then
  echo "   (skipped: redis-server is not installed; scripts/install-deps.sh installs it)"
elif ! "$TOOL" --share-origins "unix://$TMP/none.sock" -s --no-cache -o /dev/null \
  "$B/new" </dev/null 2>/dev/null; then
  echo "   (skipped: this httpresp was built without hiredis, so without fleet mode)"
else
  redis-server --port 0 --unixsocket "$TMP/redis.sock" --save '' \
    --appendonly no --dir "$TMP" >"$TMP/redis.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 100); do
    [ -S "$TMP/redis.sock" ] && break
    sleep 0.05
  done
  R="unix://$TMP/redis.sock"
  echo "   a redis-server of its own, no persistence: \$R = $R"
  short() {
    sed -u "/^\* cache: /d; s#${R}#\$R#g; s#${B2}\\b#\$B2#g; s#${B}\\b#\$B#g; s/^/${1:-}/"
  }
  echo "   process 1 gets 429 Retry-After: 2 and, with --max-wait 0, returns it at once:"
  hr 0 --share-origins "$R" --max-wait 0 "$B/limited?id=fleet&after=2"
  has '"status":429'
  has '"retry_after_ms":2000'
  echo "   process 2, started at once, has never seen the origin: it waits for the"
  echo "   quiet time process 1 left in Redis before its first request:"
  hr 0 --share-origins "$R" "$B/limited?id=fleet&after=2"
  has '"status":200'
  has '"attempts":1'
  python3 -c 'import json,sys
t = json.loads(open(sys.argv[1]).readline())["time_total"]
sys.exit(0 if t >= 1.5 else 1)' "$JSON" ||
    fail "process 2 did not wait for the origin's quiet time"
  before=$(count /cached)
  echo "   a URL stored by one process is a hit in another (--cache=\$R):"
  hr 0 --cache="$R" "$B/cached?id=fleet"
  has '"cache":{"status":"stored"'
  hr 0 --cache="$R" "$B/cached?id=fleet"
  has '"cache":{"status":"hit"'
  [ "$(count /cached)" = $((before + 1)) ] ||
    fail "the server saw $(($(count /cached) - before)) requests, expected 1"
fi

echo
if [ "$FAILED" -ne 0 ]; then
  echo "${bold}$FAILED check(s) failed.${off}  The end of the server's log:"
  tail -n 20 "$TMP/server.log" | sed 's/^/  /'
  exit 1
fi
echo "${bold}All scenarios behaved as expected.${off}"
echo "Try it yourself: $TOOL --help"
