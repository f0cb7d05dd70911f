/* SPDX-License-Identifier: MIT */
/* The benchmark's loopback HTTP/1.1 server.
 *
 * It runs in a child process of its own, so that its work and its memory
 * never show in the figures of the process being measured; one epoll loop
 * serves every connection with canned keep-alive responses chosen by path.
 * The counters live in a shared mapping and are read by the parent around
 * each measured run: new TCP connections tell whether the client reused its
 * connection, requests tell whether a cache hit really stayed off the
 * network.
 *
 * Routes (query strings are ignored, so "/cached?i=7" is "/cached"):
 *   /plain       200, BENCH_PLAIN_BODY bytes
 *   /r1 /r2 /r3  302 to /r2, /r3, /final (relative Location, same origin)
 *   /final       200, BENCH_PLAIN_BODY bytes
 *   /cached      200, Cache-Control: max-age=3600, ETag, BENCH_CACHED_BODY
 *   /reval       200, Cache-Control: no-cache, ETag, BENCH_REVAL_BODY bytes;
 *                304 when If-None-Match carries its ETag
 *   /redir-once  302 to /plain
 *   /d1 /d2 /d3  302 to /d2, /d3, /dfinal, each answer sent 1 ms late
 *   /dfinal      200, BENCH_PLAIN_BODY bytes, 1 ms late
 *   /tiny        200, Cache-Control: max-age=3600, 5-byte body
 *   /busy        429 with Retry-After: 0 every other time, else as /plain
 *   /limited     429 Retry-After: 2 once after the counters' limited_armed is
 *                set (it is cleared then), else 200 with no-store; requests
 *                within the 2 s after that 429 are counted (case 11)
 *   anything else 404 */
#ifndef BENCH_SERVER_H
#define BENCH_SERVER_H

#include <stdatomic.h>
#include <sys/types.h>

#define BENCH_PLAIN_BODY 128
#define BENCH_CACHED_BODY 1024
#define BENCH_REVAL_BODY 4096
#define BENCH_REVAL_ETAG "\"reval-v1\""

typedef struct bench_counters {
  atomic_ulong conns;        /* TCP connections accepted */
  atomic_ulong requests;     /* requests answered */
  atomic_ulong not_modified; /* of which 304 */
  /* /limited (case 11): set to 1 to have the next request answered 429
   * Retry-After: 2; the server clears it, notes when it sent the 429
   * (CLOCK_MONOTONIC ms) and counts the requests that come inside the 2 s
   * it asked for, and all requests to /limited. */
  atomic_ulong limited_armed;
  atomic_ulong limited_429_ms;
  atomic_ulong limited_inside;
  atomic_ulong limited_total;
} bench_counters;

#define BENCH_LIMITED_WINDOW_MS 2000

typedef struct bench_server {
  pid_t pid;
  int port;
  int stop_fd; /* the server exits when this pipe's write end closes */
  bench_counters *counters; /* shared with the server process */
} bench_server;

/* Binds 127.0.0.1 on an ephemeral port and forks the server.  Call before
 * anything starts threads.  Returns 0 or -1 (errno set). */
int bench_server_start(bench_server *s);
/* Stops the server process and waits for it. */
void bench_server_stop(bench_server *s);

#endif
