/* SPDX-License-Identifier: MIT */
/* Case 11: fleet mode on Redis (issue 16).  The case starts a redis-server of
 * its own (a unix socket in a temporary directory, no persistence) and
 * measures, side by side where there are sides:
 *   a. a hit from the Redis cache against one loopback round trip and a
 *      memory hit;
 *   b. 8 worker processes and an origin that answers one 429 Retry-After: 2:
 *      requests the origin receives inside the window it asked for, with the
 *      quiet time shared through Redis and without;
 *   c. 8 worker processes missing one cold URL at once: origin fetches with
 *      coalescing and without;
 *   d. requests while Redis is stopped (SIGSTOP): the first pays one command
 *      timeout, the rest run on local memory.
 * Skipped, saying why, without redis-server or without fleet mode in the
 * library. */
#include <curl/curl.h>
#include <httpresp/httpresp.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define WORKERS 8

static char rdir[64];
static char rsock[96];
static char rurl[160];
static pid_t rpid;
static int go_fd; /* in a worker: the read end of the go pipe */

static long long mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int sock_ready(void) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0)
    return 0;
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof(a.sun_path), "%s", rsock);
  int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
  close(fd);
  return ok;
}

/* Starts redis-server on a unix socket of its own; 0, or -1 with a reason
 * printed. */
static int redis_start(void) {
  snprintf(rdir, sizeof(rdir), "/tmp/hrbench-redis-XXXXXX");
  if (!mkdtemp(rdir)) {
    printf("    skipped: mkdtemp: %s\n", strerror(errno));
    return -1;
  }
  snprintf(rsock, sizeof(rsock), "%s/redis.sock", rdir);
  snprintf(rurl, sizeof(rurl), "unix://%s", rsock);
  rpid = fork();
  if (rpid < 0)
    return -1;
  if (rpid == 0) {
    FILE *log = freopen("/dev/null", "w", stdout);
    (void)log;
    execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", rsock,
           "--save", "", "--appendonly", "no", "--dir", rdir, (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 500; i++) {
    if (sock_ready())
      return 0;
    int st;
    if (waitpid(rpid, &st, WNOHANG) == rpid) {
      printf("    skipped: redis-server is not installed or did not start "
             "(scripts/install-deps.sh installs it)\n");
      rpid = 0;
      rmdir(rdir);
      return -1;
    }
    usleep(10000);
  }
  printf("    skipped: redis-server did not open its socket\n");
  return -1;
}

static void redis_stop(void) {
  if (rpid > 0) {
    kill(rpid, SIGCONT);
    kill(rpid, SIGTERM);
    waitpid(rpid, NULL, 0);
    rpid = 0;
  }
  unlink(rsock);
  rmdir(rdir);
}

static httpresp_cache *redis_cache(uint32_t coalesce_ms) {
  httpresp_redis_options o = {.version = HTTPRESP_REDIS_OPTIONS_VERSION,
                              .coalesce_ms = coalesce_ms};
  httpresp_cache *c = NULL;
  die_on(httpresp_cache_new_redis(&c, rurl, &o), "httpresp_cache_new_redis");
  return c;
}

/* ---- a: a Redis hit against a round trip --------------------------------- */

static httpresp_client *mem_c, *redis_c;
static const expect hit = {1, HTTPRESP_CACHE_HIT, BENCH_CACHED_BODY, 0};

static void a_rt(side *s, size_t n, meas *m) {
  raw_gets(s, url_cached, 0, n, m);
}
static void a_mem(side *s, size_t n, meas *m) {
  hr_gets(s, mem_c, url_cached, &hit, n, m);
}
static void a_redis(side *s, size_t n, meas *m) {
  hr_gets(s, redis_c, url_cached, &hit, n, m);
}

static void redis_hit(void) {
  int rounds = rounds_of(sz.rounds);
  httpresp_cache *mc, *rc = redis_cache(0);
  die_on(httpresp_cache_new_memory(&mc, 64u << 20), "memory cache");
  mem_c = new_client(mc);
  redis_c = new_client(rc);
  prime(mem_c, url_cached, "memory");
  prime(redis_c, url_cached, "Redis");
  side s[3] = {
      {.name = "libcurl round trip", .run = a_rt, .n = sz.roundtrip},
      {.name = "memory-store hit", .run = a_mem, .n = sz.mem_hits},
      {.name = "Redis hit (unix socket)", .run = a_redis, .n = sz.roundtrip}};
  run_rounds(s, 3, rounds, 10);
  summary v[3];
  for (int i = 0; i < 3; i++) {
    summarize(&s[i], rounds, &v[i]);
    print_side(s[i].name, &v[i], rounds, "ops/s");
  }
  printf("    Redis hit %.2f us against a loopback round trip of %.2f us: "
         "%.2fx (a memory hit: %.2f us)\n",
         v[2].us_med, v[0].us_med, v[0].us_med / v[2].us_med, v[1].us_med);
  errors_check(v, 3);
  judge(0, v[2].reqs == 0, "Redis hits sent no request to the server (%lu)",
        v[2].reqs);
  httpresp_client_free(mem_c);
  httpresp_client_free(redis_c);
  httpresp_cache_free(mc);
  httpresp_cache_free(rc);
}

/* ---- forked workers -------------------------------------------------------
 */

/* Runs `worker(w, arg)` in WORKERS forked processes, all let go at once
 * (each waits for its byte on a pipe after its own set-up, so none starts
 * before the others exist); returns how many failed (exit status not 0),
 * or -1 when the pipe or a fork failed. */
static int run_workers(int (*worker)(int w, const void *arg), const void *arg) {
  int go[2];
  if (pipe(go) != 0)
    return -1;
  pid_t pids[WORKERS];
  int started = 0;
  fflush(stdout);
  for (; started < WORKERS; started++) {
    pids[started] = fork();
    if (pids[started] < 0)
      break;
    if (pids[started] == 0) {
      close(go[1]);
      go_fd = go[0];
      _exit(worker(started, arg));
    }
  }
  close(go[0]);
  for (int w = 0; w < started; w++)
    if (write(go[1], "g", 1) != 1)
      break;
  close(go[1]); /* a worker still waiting reads end of file and fails */
  int failed = started < WORKERS ? -1 : 0;
  for (int w = 0; w < started; w++) {
    int st;
    waitpid(pids[w], &st, 0);
    if (failed >= 0)
      failed += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
  }
  return failed;
}

/* In a worker: waits until run_workers lets the workers go. */
static int wait_for_go(void) {
  char b;
  return read(go_fd, &b, 1) == 1 ? 0 : -1;
}

/* ---- b: the quiet window ----------------------------------------------------
 */

/* The server's /limited (no-store; 429 only when armed). */
static void limited_url(char *url, size_t cap) {
  snprintf(url, cap, "%s", url_plain);
  char *slash = strrchr(url, '/');
  snprintf(slash, cap - (size_t)(slash - url), "/limited");
}

/* One worker of quiet_fleet: GETs of /limited for 2.6 s (the first worker)
 * or 2.5 s from 100 ms later (the others), waiting for what the origin asks
 * (up to 5 s); `arg` points to whether quiet times are shared on Redis. */
static int quiet_worker(int w, const void *arg) {
  int share = *(const int *)arg;
  long long delay_us = w ? 100000 : 0, span_us = 2600000;
  if (wait_for_go() != 0)
    return 3;
  if (delay_us)
    usleep((useconds_t)delay_us);
  httpresp_client *c = new_client(NULL);
  httpresp_origins *o = NULL;
  if (share) {
    die_on(httpresp_origins_new_redis(&o, rurl, NULL), "origins");
    die_on(httpresp_client_set_origins(c, o), "set_origins");
  }
  httpresp_client_set_max_wait_ms(c, 5000);
  char url[128];
  limited_url(url, sizeof(url));
  CURL *e = bench_easy();
  long long end = mono_us() + span_us - delay_us;
  int bad = 0;
  while (mono_us() < end) {
    httpresp_response *r = hr_get(c, e, url, NULL);
    bad += !r || httpresp_response_status(r) != 200;
    httpresp_response_free(r);
  }
  curl_easy_cleanup(e);
  httpresp_client_free(c);
  httpresp_origins_free(o);
  return bad ? 4 : 0;
}

/* 8 workers, the first alone for 100 ms (it gets the 429), the others
 * after it: requests inside the 2 s window, or -1. */
static long quiet_fleet(int share, unsigned long *total) {
  atomic_store(&srv.counters->limited_inside, 0);
  atomic_store(&srv.counters->limited_total, 0);
  atomic_store(&srv.counters->limited_429_ms, 0);
  atomic_store(&srv.counters->limited_armed, 1);
  int failed = run_workers(quiet_worker, &share);
  *total = atomic_load(&srv.counters->limited_total);
  if (failed || !atomic_load(&srv.counters->limited_429_ms))
    return -1;
  return (long)atomic_load(&srv.counters->limited_inside);
}

/* ---- c: one cold URL, 8 workers at once -----------------------------------
 */

struct cold_args {
  uint32_t coalesce_ms;
  const char *url;
};

/* One worker of cold_fleet: one GET of the cold URL through a Redis cache
 * of its own; 0 when it got the whole answer. */
static int cold_worker(int w, const void *arg) {
  (void)w;
  const struct cold_args *a = arg;
  httpresp_cache *ca = redis_cache(a->coalesce_ms);
  httpresp_client *c = new_client(ca);
  CURL *e = bench_easy();
  if (wait_for_go() != 0)
    return 3;
  httpresp_response *r = hr_get(c, e, a->url, NULL);
  size_t len = 0;
  if (r)
    httpresp_response_body(r, &len);
  return r && httpresp_response_status(r) == 200 && len == BENCH_CACHED_BODY
             ? 0
             : 4;
}

/* Origin fetches when WORKERS workers miss `url` at once, or -1. */
static long cold_fleet(uint32_t coalesce_ms, const char *url) {
  unsigned long before = atomic_load(&srv.counters->requests);
  struct cold_args a = {coalesce_ms, url};
  int failed = run_workers(cold_worker, &a);
  return failed ? -1 : (long)(atomic_load(&srv.counters->requests) - before);
}

/* ---- d: Redis stopped ------------------------------------------------------
 */

static int cmp_us(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* `n` GETs of `url` through `c`; the first one's time in *first_us, the
 * median of the others in *rest_us. */
static int timed_gets(httpresp_client *c, CURL *e, const char *url, size_t n,
                      double *first_us, double *rest_us) {
  double *t = malloc(n * sizeof(*t));
  if (!t)
    return -1;
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    long long t0 = mono_us();
    httpresp_response *r = hr_get(c, e, url, NULL);
    t[i] = (double)(mono_us() - t0);
    bad += !r || httpresp_response_status(r) != 200;
    httpresp_response_free(r);
  }
  *first_us = t[0];
  /* median() takes at most MAX_ROUNDS values: sort these here. */
  qsort(t + 1, n - 1, sizeof(*t), cmp_us);
  *rest_us = t[1 + (n - 1) / 2];
  free(t);
  return bad;
}

static void redis_stopped(void) {
  size_t n = opt.quick ? 200 : 1000;
  httpresp_cache *ca = redis_cache(0);
  httpresp_origins *o = NULL;
  die_on(httpresp_origins_new_redis(&o, rurl, NULL), "origins");
  httpresp_client *fleet = new_client(ca), *local = new_client(NULL);
  die_on(httpresp_client_set_origins(fleet, o), "set_origins");
  CURL *e = bench_easy();
  /* A no-store answer: every request is a cache miss, a quiet-time read
   * (with the lookup, one Redis round trip) and a round trip to the
   * server. */
  char url[128];
  limited_url(url, sizeof(url));
  atomic_store(&srv.counters->limited_armed, 0);
  double f0, r0, f1, r1, f2, r2;
  unsigned long before = atomic_load(&srv.counters->limited_total);
  int bad = timed_gets(local, e, url, n, &f0, &r0);
  bad += timed_gets(fleet, e, url, n, &f1, &r1); /* connects to Redis */
  kill(rpid, SIGSTOP);
  bad += timed_gets(fleet, e, url, n, &f2, &r2);
  unsigned long sent = atomic_load(&srv.counters->limited_total) - before;
  kill(rpid, SIGCONT);
  printf("    GET /limited (no-store), %zu requests each, medians: no Redis "
         "%.1f us; cache and quiet times on Redis %.1f us; Redis stopped: "
         "the first %.1f ms (one command timeout, 200 ms by default), then "
         "%.1f us on local memory\n",
         n, r0, r1, f2 / 1000.0, r2);
  judge(0, sent == 3 * n, "every request reached the server (%lu of %zu)", sent,
        3 * n);
  judge(0, bad == 0,
        "every request succeeded while Redis was stopped (%d "
        "failed)",
        bad);
  judge(0, f2 < 400000.0,
        "the first request with Redis stopped took less than two command "
        "timeouts: %.0f ms",
        f2 / 1000.0);
  curl_easy_cleanup(e);
  httpresp_client_free(fleet);
  httpresp_client_free(local);
  httpresp_cache_free(ca);
  httpresp_origins_free(o);
}

void case11(void) {
  printf("\n[11] fleet mode: a redis-server of the case's own, on a unix "
         "socket\n");
  httpresp_cache *probe = NULL;
  int rc = httpresp_cache_new_redis(&probe, "unix:///nonexistent", NULL);
  httpresp_cache_free(probe);
  if (rc == HTTPRESP_E_UNSUPPORTED) {
    printf("    skipped: the library was built without hiredis\n");
    return;
  }
  if (redis_start() != 0)
    return;

  printf("  a. a hit from the Redis cache against one loopback round trip "
         "(/cached, %d-byte body)\n",
         BENCH_CACHED_BODY);
  redis_hit();

  printf("  b. %d worker processes, an origin that answers one 429 "
         "Retry-After: 2\n"
         "     (the first worker alone for 100 ms, then all; each for "
         "2.6 s): requests inside the window\n",
         WORKERS);
  unsigned long t_local = 0, t_shared = 0;
  long in_local = quiet_fleet(0, &t_local);
  long in_shared = quiet_fleet(1, &t_shared);
  printf("    each worker's own memory: %ld of %lu requests inside the "
         "window; shared on Redis: %ld of %lu\n",
         in_local, t_local, in_shared, t_shared);
  judge(0, in_shared == 0,
        "no request inside the quiet window with the quiet time shared "
        "(%ld)",
        in_shared);

  printf("  c. %d worker processes miss one cold URL at once\n", WORKERS);
  char u1[128], u2[128];
  snprintf(u1, sizeof(u1), "%s?cold=%ld-1", url_cached, (long)getpid());
  snprintf(u2, sizeof(u2), "%s?cold=%ld-2", url_cached, (long)getpid());
  long with = cold_fleet(3000, u1);
  long without = cold_fleet(0, u2);
  printf("    origin fetches: %ld with coalescing, %ld without\n", with,
         without);
  judge(0, with == 1,
        "one origin fetch for %d workers with coalescing "
        "(%ld)",
        WORKERS, with);

  printf("  d. requests while Redis is stopped (SIGSTOP)\n");
  redis_stopped();
  redis_stop();
}
