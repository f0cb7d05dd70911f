/* SPDX-License-Identifier: MIT */
/* Fleet mode on a real redis-server (tests/support/redissrv.c): origin
 * quiet times shared between clients and processes, the atomic max on the
 * server's clock, and the failure rules (a slow, killed, restarted or
 * absent Redis never fails a request nor holds it past the timeouts). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixtures.h"
#include "redissrv.h"
#include "testsrv.h"
#include "toolrun.h"

#ifdef HTTPRESP_HAVE_REDIS
#include <hiredis/hiredis.h>

#include "cache/cache.h"
#include "store/origin.h"
#include "store/redis_conn.h"
#include "store/store.h"
#endif

Test(redis, built_in_or_unsupported) {
  httpresp_origins *o = (httpresp_origins *)1;
  int rc =
      httpresp_origins_new_redis(&o, "unix:///nonexistent/redis.sock", NULL);
#ifdef HTTPRESP_HAVE_REDIS
  cr_expect_eq(rc, 0, "%s", httpresp_errname(rc));
  cr_expect_not_null(o);
#else
  cr_expect_eq(rc, HTTPRESP_E_UNSUPPORTED, "%s", httpresp_errname(rc));
  cr_expect_null(o);
  cr_log_warn("built without hiredis: the fleet-mode tests are skipped");
#endif
  httpresp_origins_free(o);
  httpresp_cache *c = (httpresp_cache *)1;
  rc = httpresp_cache_new_redis(&c, "unix:///nonexistent/redis.sock", NULL);
#ifdef HTTPRESP_HAVE_REDIS
  cr_expect_eq(rc, 0, "%s", httpresp_errname(rc));
#else
  cr_expect_eq(rc, HTTPRESP_E_UNSUPPORTED, "%s", httpresp_errname(rc));
  cr_expect_null(c);
#endif
  httpresp_cache_free(c);
  cr_expect_str_eq(httpresp_errname(HTTPRESP_E_UNSUPPORTED),
                   "HTTPRESP_E_UNSUPPORTED");
}

#ifdef HTTPRESP_HAVE_REDIS

static rs_server srv;
static ts_server *ts;
static CURL *easy;

static void setup(void) {
  if (!rs_available())
    cr_skip_test("redis-server is not installed (scripts/install-deps.sh "
                 "installs it): the fleet-mode tests are skipped");
  cr_assert_eq(rs_start(&srv), 0, "redis-server did not start");
  ts = ts_start(2);
  cr_assert_not_null(ts);
  easy = fixture_easy();
}

static void teardown(void) {
  if (easy)
    curl_easy_cleanup(easy);
  fixture_driver_release();
  if (ts)
    ts_stop(ts);
  rs_stop(&srv);
}

TestSuite(redis_fleet, .init = setup, .fini = teardown, .timeout = 60);

static int64_t mono_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static int64_t mono_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The test's own connection, to look at what the library wrote. */
static redisContext *peek(void) {
  redisContext *c = redisConnectUnix(srv.sock);
  cr_assert(c && !c->err, "cannot reach the test's redis-server");
  return c;
}

static long long pttl_of(redisContext *c, const char *key) {
  redisReply *r = redisCommand(c, "PTTL %s", key);
  cr_assert(r && r->type == REDIS_REPLY_INTEGER);
  long long v = r->integer;
  freeReplyObject(r);
  return v;
}

/* INFO keyspace of db 0: keys and keys with a TTL. */
static void keyspace(redisContext *c, long *keys, long *expires) {
  redisReply *r = redisCommand(c, "INFO keyspace");
  cr_assert(r && r->type == REDIS_REPLY_STRING);
  *keys = *expires = 0;
  const char *p = strstr(r->str, "db0:keys=");
  if (p)
    sscanf(p, "db0:keys=%ld,expires=%ld", keys, expires);
  freeReplyObject(r);
}

/* A number from INFO `section`: the value after "`field`:", or -1. */
static long info_num(redisContext *c, const char *section, const char *field) {
  redisReply *r = redisCommand(c, "INFO %s", section);
  cr_assert(r && r->type == REDIS_REPLY_STRING);
  long n = -1;
  const char *p = strstr(r->str, field);
  if (p && p[strlen(field)] == ':')
    n = strtol(p + strlen(field) + 1, NULL, 10);
  else if (p && p[strlen(field)] == '=')
    n = strtol(p + strlen(field) + 1, NULL, 10);
  freeReplyObject(r);
  return n;
}

static void pause_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&t, &t) != 0)
    ;
}

/* Connections the server has accepted so far. */
static long connections(redisContext *c) {
  redisReply *r = redisCommand(c, "INFO stats");
  cr_assert(r && r->type == REDIS_REPLY_STRING);
  long n = -1;
  const char *p = strstr(r->str, "total_connections_received:");
  if (p)
    n = strtol(p + strlen("total_connections_received:"), NULL, 10);
  freeReplyObject(r);
  return n;
}

static int64_t fixture_now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static httpresp_origins *origins(const char *url) {
  httpresp_origins *o;
  int rc = httpresp_origins_new_redis(&o, url, NULL);
  cr_assert_eq(rc, 0, "%s", httpresp_errname(rc));
  return o;
}

static httpresp_cache *rcache(const httpresp_redis_options *opts) {
  httpresp_cache *c;
  int rc = httpresp_cache_new_redis(&c, srv.url, opts);
  cr_assert_eq(rc, 0, "%s", httpresp_errname(rc));
  return c;
}

static httpresp_response *get(httpresp_client *c, int port, const char *path) {
  char *u = ts_url(ts, port, path);
  httpresp_response *r = fixture_run(c, easy, "GET", u, NULL, NULL);
  free(u);
  cr_assert_not_null(r);
  return r;
}

/* The key of the loopback server's origin on `port`. */
static void nb_key(int port, char *buf, size_t len) {
  snprintf(buf, len, "hr:v1:nb:{http://127.0.0.1:%d}", ts_port(ts, port));
}

Test(redis, bad_urls_and_options_are_refused) {
  static const char *const bad[] = {"",
                                    "http://127.0.0.1:6379",
                                    "redis://",
                                    "redis://:6379",
                                    "redis://h:0",
                                    "redis://h:70000",
                                    "redis://h:12x",
                                    "redis://h/abc",
                                    "redis://user:pw@h",
                                    "unix://",
                                    "unix://relative",
                                    "unix:///s?db=x",
                                    "unix:///s?foo=1",
                                    "redis://h?db=1"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    httpresp_origins *o = (httpresp_origins *)1;
    cr_expect_eq(httpresp_origins_new_redis(&o, bad[i], NULL),
                 HTTPRESP_E_INVALID_ARG, "%s", bad[i]);
    cr_expect_null(o, "%s", bad[i]);
  }
  static const char *const good[] = {
      "redis://127.0.0.1", "redis://h:1/0", "redis://localhost:6380/15",
      "unix:///run/redis.sock", "unix:///run/redis.sock?db=3"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    httpresp_origins *o = NULL;
    cr_expect_eq(httpresp_origins_new_redis(&o, good[i], NULL), 0, "%s",
                 good[i]);
    httpresp_origins_free(o);
  }
  httpresp_redis_options opts = {.version = HTTPRESP_REDIS_OPTIONS_VERSION + 1};
  httpresp_origins *o;
  cr_expect_eq(httpresp_origins_new_redis(&o, "redis://h", &opts),
               HTTPRESP_E_INVALID_ARG);
  httpresp_cache *cache = (httpresp_cache *)1;
  cr_expect_eq(httpresp_cache_new_redis(&cache, "redis://h", &opts),
               HTTPRESP_E_INVALID_ARG);
  cr_expect_null(cache);
  cr_expect_eq(httpresp_cache_new_redis(&cache, "redis://", NULL),
               HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(httpresp_origins_new_redis(NULL, "redis://h", NULL),
               HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(httpresp_client_set_origins(NULL, NULL), HTTPRESP_E_INVALID_ARG);
}

static int64_t timed_get(httpresp_client *c, int port, const char *path,
                         int expect_status) {
  int64_t t0 = mono_ms();
  httpresp_response *r = get(c, port, path);
  int64_t dt = mono_ms() - t0;
  cr_expect_eq(httpresp_response_status(r), expect_status, "%s",
               httpresp_response_errmsg(r));
  httpresp_response_free(r);
  return dt;
}

/* A worker told "Retry-After: 1" raises the origin's not-before in Redis;
 * another worker (its own client, connection and clock) waits what Redis
 * says is left before its first request there.  That worker is on the
 * real clock: the time left is the server's, it runs in real time. */
static void quiet_shared(int lua) {
  httpresp_origins *oa = origins(srv.url), *ob = origins(srv.url);
  hr_redis_force_lua(hr_origins_redis(oa), lua);
  fake_clock ca = {0};
  httpresp_client *a = fixture_client(&ca), *b = fixture_client(NULL);
  cr_assert_eq(httpresp_client_set_max_retries(a, 0), 0);
  cr_assert_eq(httpresp_client_set_origins(a, oa), 0);
  cr_assert_eq(httpresp_client_set_origins(b, ob), 0);
  ts_simple(ts, 0, "/busy", 429, "Retry-After: 1\r\n", "quiet please");
  ts_simple(ts, -1, "/next", 200, NULL, "next");

  httpresp_response *r = get(a, 0, "/busy");
  cr_expect_eq(httpresp_response_status(r), 429);
  httpresp_response_free(r);
  int64_t t0 = mono_ms();

  redisContext *c = peek();
  char key[96];
  nb_key(0, key, sizeof(key));
  long long left = pttl_of(c, key);
  cr_expect(left > 900 && left <= 1000, "PTTL %lld", left);
  /* The value is the status that asked for the quiet (DESIGN.md). */
  redisReply *v = redisCommand(c, "GET %s", key);
  cr_assert(v && v->type == REDIS_REPLY_STRING);
  cr_expect_str_eq(v->str, "429");
  freeReplyObject(v);
  long keys, expires;
  keyspace(c, &keys, &expires);
  cr_expect_eq(keys, 1);
  cr_expect_eq(expires, keys, "every key has a TTL");

  /* The other origin is not held back; this one is, for what Redis says
   * is left. */
  cr_expect_lt(timed_get(b, 1, "/next", 200), 100);
  cr_expect_eq(ts_request_count(ts), 2);
  int64_t dt = timed_get(b, 0, "/next", 200);
  int64_t since = mono_ms() - t0;
  cr_expect(since >= 900 && since < 1500, "sent %lld ms after the 429",
            (long long)since);
  cr_expect_geq(dt, 700, "waited %lld ms", (long long)dt);
  cr_assert_eq(ts_request_count(ts), 3);
  cr_expect_str_eq(ts_request_get(ts, 0)->target, "/busy");
  cr_expect_eq(ts_request_get(ts, 1)->port_idx, 1);
  cr_expect_str_eq(ts_request_get(ts, 2)->target, "/next");
  cr_expect_eq(ts_request_get(ts, 2)->port_idx, 0);
  redisFree(c);
  httpresp_client_free(a);
  httpresp_client_free(b);
  httpresp_origins_free(oa);
  httpresp_origins_free(ob);
}

Test(redis_fleet, quiet_is_shared_between_clients) { quiet_shared(0); }
Test(redis_fleet, quiet_is_shared_between_clients_lua) { quiet_shared(1); }

/* One fleet worker: GETs of `url` until `span_ms` have passed, on the real
 * clock, its quiet times shared through Redis when `share`.  Exits 0 when
 * every answer was a 200, else non-zero. */
static void quiet_worker(const char *url, int share, int go_fd,
                         int64_t span_ms) {
  char b;
  if (read(go_fd, &b, 1) != 1)
    _exit(3);
  httpresp_client *c = NULL;
  httpresp_origins *o = NULL;
  CURL *e = curl_easy_init();
  if (httpresp_client_new(&c) || !e ||
      (share && (httpresp_origins_new_redis(&o, srv.url, NULL) ||
                 httpresp_client_set_origins(c, o))))
    _exit(2);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
  int64_t end = mono_ms() + span_ms;
  int bad = 0;
  while (mono_ms() < end) {
    httpresp_request *req;
    httpresp_response *r = NULL;
    if (httpresp_request_new(&req, "GET", url) ||
        httpresp_perform(c, e, req, &r))
      _exit(4);
    bad += httpresp_response_status(r) != 200;
    httpresp_response_free(r);
    httpresp_request_free(req);
  }
  _exit(bad ? 5 : 0);
}

/* 8 worker processes and an origin that answers one "429 Retry-After: 2":
 * the first worker gets it, the 7 others start 100 ms later and, sharing
 * the quiet time on Redis, send nothing to the origin inside the 2 s it
 * asked for (the server's request count is read every 20 ms of the
 * window); each worker's own memory lets them straight through. */
static size_t quiet_fleet(int share, const char *path) {
  ts_resp *first = ts_route(ts, 0, path);
  ts_resp_simple(first, 429, "Retry-After: 2\r\n", "quiet please");
  ts_simple(ts, 0, path, 200, "Cache-Control: no-store\r\n", "ok");
  size_t before = ts_request_count(ts);
  char *u = ts_url(ts, 0, path);
  int go[2];
  cr_assert_eq(pipe(go), 0);
  pid_t pids[8];
  for (int w = 0; w < 8; w++) {
    pids[w] = fork();
    cr_assert_geq(pids[w], 0);
    if (pids[w] == 0) {
      close(go[1]);
      quiet_worker(u, share, go[0], w ? 2500 : 2600);
    }
  }
  close(go[0]);
  cr_assert_eq(write(go[1], "g", 1), 1); /* the first worker */
  cr_assert(ts_wait_requests(ts, before + 1, 5000));
  int64_t t429 = mono_ms(); /* recorded before its answer was sent */
  pause_ms(100);
  for (int w = 1; w < 8; w++)
    cr_assert_eq(write(go[1], "g", 1), 1);
  close(go[1]);
  size_t inside = 0;
  for (int64_t now = mono_ms(); now < t429 + 1900; now = mono_ms()) {
    size_t n = ts_request_count(ts) - before - 1;
    if (mono_ms() < t429 + 1950 && n > inside)
      inside = n;
    pause_ms(20);
  }
  int good = 0;
  for (int w = 0; w < 8; w++) {
    int st;
    cr_assert_eq(waitpid(pids[w], &st, 0), pids[w]);
    good += WIFEXITED(st) && WEXITSTATUS(st) == 0;
  }
  cr_expect_eq(good, 8, "every worker got only 200s");
  cr_expect_gt(ts_request_count(ts) - before, 8,
               "every worker reached the origin after the window");
  free(u);
  return inside;
}

Test(redis_fleet, eight_workers_keep_the_quiet_one_worker_was_told) {
  size_t shared = quiet_fleet(1, "/limited-shared");
  size_t own = quiet_fleet(0, "/limited-own");
  cr_expect_eq(shared, 0,
               "requests inside the 2 s window with the quiet time shared: "
               "%zu",
               shared);
  cr_expect_gt(own, 0, "without sharing the others go straight in");
  fprintf(stderr,
          "fleet-quiet: 8 workers, one 429 Retry-After: 2: %zu requests "
          "inside the window shared on Redis, %zu with each worker's own "
          "memory\n",
          shared, own);
}

/* Forgetting is for the fleet: one worker forgets an origin and another
 * worker, which reads Redis, is no longer held back; forgetting every
 * origin takes every not-before key under the prefix and nothing else. */
Test(redis_fleet, forget_reaches_the_fleet) {
  httpresp_origins *oa = origins(srv.url), *ob = origins(srv.url);
  httpresp_client *a = fixture_client(NULL), *b = fixture_client(NULL);
  cr_assert_eq(httpresp_client_set_origins(a, oa), 0);
  cr_assert_eq(httpresp_client_set_origins(b, ob), 0);
  struct hr_origins *ha = &oa->o, *hb = &ob->o;
  cr_assert_eq(ha->vt->raise(ha->impl, "http://a:1", 0, 30000, 429), 0);
  cr_assert_eq(ha->vt->raise(ha->impl, "http://b:1", 0, 30000, 429), 0);
  redisContext *c = peek();
  redisReply *other = redisCommand(c, "SET unrelated x PX 60000");
  freeReplyObject(other);
  cr_expect_gt(hb->vt->get(hb->impl, "http://a:1", 0), 0);

  cr_expect_eq(httpresp_client_forget_quiet(a, "http://a:1/x"), 0);
  cr_expect_eq(hb->vt->get(hb->impl, "http://a:1", 0), 0, "a forgotten");
  cr_expect_gt(hb->vt->get(hb->impl, "http://b:1", 0), 0, "b still quiet");

  cr_expect_eq(httpresp_client_forget_quiet(b, NULL), 0);
  cr_expect_eq(ha->vt->get(ha->impl, "http://b:1", 0), 0, "b forgotten");
  long keys, expires;
  keyspace(c, &keys, &expires);
  cr_expect_eq(keys, 1, "only the unrelated key is left");
  redisFree(c);
  httpresp_client_free(a);
  httpresp_client_free(b);
  httpresp_origins_free(oa);
  httpresp_origins_free(ob);
}

/* The same object used before and after fork(): the child connects anew
 * (sharing the parent's socket would interleave replies) and its raise is
 * what the parent then reads. */
Test(redis_fleet, quiet_is_shared_across_fork) {
  httpresp_origins *o = origins(srv.url);
  fake_clock clk = {0};
  httpresp_client *c = fixture_client(&clk);
  cr_assert_eq(httpresp_client_set_origins(c, o), 0);
  ts_simple(ts, -1, "/p", 200, NULL, "p");
  httpresp_response *r = get(c, 0, "/p"); /* connects in the parent */
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(clk.slept_ms, 0);
  httpresp_response_free(r);

  redisContext *c0 = peek();
  long conns = connections(c0);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    struct hr_origins *ho = &o->o;
    int rc = ho->vt->raise(ho->impl, "http://127.0.0.1:1", 0, 20000, 429);
    _exit(rc == 0 && hr_redis_backoff_ms(hr_origins_redis(o)) == 0 ? 0 : 1);
  }
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child's raise");
  cr_expect_eq(connections(c0), conns + 1, "the child connected anew");
  redisFree(c0);
  struct hr_origins *ho = &o->o;
  int64_t nb = ho->vt->get(ho->impl, "http://127.0.0.1:1", 1000000);
  cr_expect(nb > 1000000 + 19000 && nb <= 1000000 + 20000, "%lld",
            (long long)nb);
  /* And the parent's own connection still answers in step. */
  r = get(c, 0, "/p");
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(hr_redis_backoff_ms(hr_origins_redis(o)), 0);
  httpresp_response_free(r);
  httpresp_client_free(c);
  httpresp_origins_free(o);
}

/* Two writers at once, 5 s and 30 s: 30 s wins whatever the order; a
 * shorter raise never shortens. */
static void atomic_max(int lua) {
  httpresp_origins *o = origins(srv.url);
  hr_redis_force_lua(hr_origins_redis(o), lua);
  struct hr_origins *ho = &o->o;
  redisContext *c = peek();
  const char *order[2][2] = {{"http://a:1", "http://b:1"},
                             {"http://b:1", "http://a:1"}};
  for (int k = 0; k < 2; k++) {
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
      _exit(ho->vt->raise(ho->impl, order[k][0], 0, 5000, 429) ? 1 : 0);
    cr_expect_eq(ho->vt->raise(ho->impl, order[k][1], 0, 30000, 429), 0);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  cr_expect_eq(ho->vt->raise(ho->impl, "http://a:1", 0, 5000, 429), 0);
  /* Each origin got 5 s from one side and 30 s from the other, in both
   * orders, then a:1 another 5 s: 30 s stays. */
  long long a = pttl_of(c, "hr:v1:nb:{http://a:1}");
  long long b = pttl_of(c, "hr:v1:nb:{http://b:1}");
  cr_expect(a > 29000 && a <= 30000, "a: %lld", a);
  cr_expect(b > 29000 && b <= 30000, "b: %lld", b);
  /* Clamped: a delay below 1 s still makes a key with a TTL. */
  cr_expect_eq(ho->vt->raise(ho->impl, "http://c:1", 0, 10, 429), 0);
  long long cc = pttl_of(c, "hr:v1:nb:{http://c:1}");
  cr_expect(cc > 0 && cc <= 1000, "c: %lld", cc);
  long keys, expires;
  keyspace(c, &keys, &expires);
  cr_expect_eq(keys, 3);
  cr_expect_eq(expires, keys);
  cr_expect_eq(hr_redis_backoff_ms(hr_origins_redis(o)), 0);
  redisFree(c);
  httpresp_origins_free(o);
}

Test(redis_fleet, raise_is_an_atomic_max_multi) { atomic_max(0); }
Test(redis_fleet, raise_is_an_atomic_max_lua) { atomic_max(1); }

/* The SHA-1 the library sends with EVALSHA is the script's. */
Test(redis_fleet, lua_script_sha_matches) {
  httpresp_origins *o = origins(srv.url);
  hr_redis_force_lua(hr_origins_redis(o), 1);
  struct hr_origins *ho = &o->o;
  cr_expect_eq(ho->vt->raise(ho->impl, "http://a:1", 0, 5000, 429), 0);
  redisContext *c = peek();
  /* The raise loaded the script (NOSCRIPT, then EVAL): the cache now has
   * exactly the SHA the library uses. */
  redisReply *r =
      redisCommand(c, "SCRIPT EXISTS 89d0e979e6405b2b837f11d8c76a5d0c13da177a");
  cr_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements == 1);
  cr_expect_eq(r->element[0]->integer, 1);
  freeReplyObject(r);
  redisFree(c);
  httpresp_origins_free(o);
}

/* Every script the endpoint's stores run is loaded as a connection opens
 * (DESIGN.md): before any write, the server knows each SHA, and no EVAL or
 * EVALSHA has run. */
Test(redis_fleet, scripts_loaded_on_connect) {
  httpresp_origins *o = origins(srv.url);
  httpresp_cache *cache = rcache(NULL);
  httpresp_client *c = fixture_client(NULL);
  cr_assert_eq(httpresp_client_set_origins(c, o), 0);
  cr_assert_eq(httpresp_client_set_cache(c, cache), 0);
  ts_simple(ts, -1, "/sl", 200, "Cache-Control: no-store\r\n", "ok");
  cr_expect_lt(timed_get(c, 0, "/sl", 200), 150);
  redisContext *rc = peek();
  redisReply *r =
      redisCommand(rc, "SCRIPT EXISTS e493430757ddc2d1c4ea2e0a501eca363e45c8f6 "
                       "b6a796aa8d73bb4ce6e26afe648196d086a8d1f1 "
                       "89d0e979e6405b2b837f11d8c76a5d0c13da177a");
  cr_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements == 3);
  for (size_t i = 0; i < 3; i++)
    cr_expect_eq(r->element[i]->integer, 1, "script %zu loaded", i);
  freeReplyObject(r);
  cr_expect_eq(info_num(rc, "commandstats", "cmdstat_eval:calls"), -1);
  cr_expect_eq(info_num(rc, "commandstats", "cmdstat_evalsha:calls"), -1);
  redisFree(rc);
  httpresp_client_free(c);
  httpresp_cache_free(cache);
  httpresp_origins_free(o);
}

/* A stopped Redis accepts connections and answers nothing: the request
 * waits the command timeout (200 ms) once, then Redis is set aside and the
 * local memory answers at once; what was raised meanwhile is replayed when
 * Redis answers again. */
Test(redis_fleet, stopped_redis_costs_one_timeout_then_nothing) {
  httpresp_origins *o = origins(srv.url);
  hr_redis *hr = hr_origins_redis(o);
  fake_clock clk = {0};
  httpresp_client *c = fixture_client(&clk);
  cr_assert_eq(httpresp_client_set_origins(c, o), 0);
  cr_assert_eq(httpresp_client_set_max_retries(c, 0), 0);
  ts_simple(ts, -1, "/ok", 200, NULL, "ok");
  ts_simple(ts, 1, "/busy", 503, "Retry-After: 60\r\n", "later");
  cr_expect_lt(timed_get(c, 0, "/ok", 200), 150, "connected and answered");

  rs_pause(&srv);
  int64_t dt = timed_get(c, 0, "/ok", 200);
  cr_expect_geq(dt, 190, "the command timeout was waited: %lld", (long long)dt);
  cr_expect_lt(dt, 600, "and no more: %lld", (long long)dt);
  cr_expect_eq(hr_redis_backoff_ms(hr), 1000);
  int64_t first = dt;
  dt = timed_get(c, 0, "/ok", 200);
  cr_expect_lt(dt, 100, "set aside: %lld", (long long)dt);
  fprintf(stderr,
          "fleet-stopped: Redis SIGSTOPped: first request %lld ms (one "
          "command timeout), the next %lld ms (set aside)\n",
          (long long)first, (long long)dt);
  /* Raised meanwhile: kept locally (the next request waits), and for
   * Redis. */
  cr_expect_lt(timed_get(c, 1, "/busy", 503), 100);
  int64_t slept = clk.slept_ms;
  cr_expect_eq(timed_get(c, 1, "/ok", 200) >= 0, 1);
  cr_expect_eq(clk.slept_ms - slept, 60000, "the local memory was used");
  cr_expect_eq(ts_request_count(ts), 5);

  rs_resume(&srv);
  /* The probe is due after the jittered back-off (750..1000 ms). */
  pause_ms(1050);
  clk.now_ms -= 60000; /* back inside the quiet window */
  cr_expect_lt(timed_get(c, 0, "/ok", 200), 150);
  cr_expect_eq(hr_redis_backoff_ms(hr), 0, "the probe ended the back-off");
  redisContext *rc = peek();
  char key[96];
  nb_key(1, key, sizeof(key));
  long long left = pttl_of(rc, key);
  cr_expect(left > 50000 && left <= 60000, "replayed: PTTL %lld", left);
  redisFree(rc);
  httpresp_client_free(c);
  httpresp_origins_free(o);
}

/* A cache and an origin memory on one Redis share the endpoint: with the
 * server stopped, a request that would ask both (the quiet time, then the
 * cache) waits one command timeout, not two, and both are set aside. */
Test(redis_fleet, cache_and_origins_share_one_backoff) {
  httpresp_origins *o = origins(srv.url);
  httpresp_cache *cache = rcache(NULL);
  fake_clock clk = {0};
  httpresp_client *c = fixture_client(&clk);
  cr_assert_eq(httpresp_client_set_origins(c, o), 0);
  cr_assert_eq(httpresp_client_set_cache(c, cache), 0);
  ts_simple(ts, -1, "/shared-ok", 200, "Cache-Control: no-store\r\n", "ok");
  cr_expect_lt(timed_get(c, 0, "/shared-ok", 200), 150);
  rs_pause(&srv);
  int64_t dt = timed_get(c, 0, "/shared-ok", 200);
  rs_resume(&srv);
  cr_expect_geq(dt, 190, "one command timeout: %lld", (long long)dt);
  cr_expect_lt(dt, 350, "and only one: %lld", (long long)dt);
  cr_expect_eq(hr_redis_backoff_ms(hr_origins_redis(o)), 1000);
  httpresp_client_free(c);
  httpresp_cache_free(cache);
  httpresp_origins_free(o);
}

/* The server's socket reads for a GET that misses the cache and is not
 * stored. */
#define MISS_READS 1

/* The socket reads and PTTL calls of the server during one GET of /rt by
 * `c` (connected before). */
static void server_work(httpresp_client *c, redisContext *rc, long *reads,
                        long *pttls) {
  redisReply *z = redisCommand(rc, "CONFIG RESETSTAT");
  cr_assert(z && z->type == REDIS_REPLY_STATUS);
  freeReplyObject(z);
  cr_expect_lt(timed_get(c, 0, "/rt", 200), 150);
  /* The INFO below is one read too. */
  *reads = info_num(rc, "stats", "total_reads_processed") - 1;
  *pttls = info_num(rc, "commandstats", "cmdstat_pttl:calls");
}

/* A request with the cache and the quiet times on one Redis reads the
 * origin's PTTL in the cache lookup's round trip (DESIGN.md): the server
 * reads from the socket as often as for the cache alone, and runs one
 * PTTL. */
Test(redis_fleet, quiet_time_read_with_the_cache_lookup) {
  httpresp_origins *o = origins(srv.url);
  httpresp_cache *cache = rcache(NULL);
  httpresp_client *alone = fixture_client(NULL), *c = fixture_client(NULL);
  cr_assert_eq(httpresp_client_set_cache(alone, cache), 0);
  cr_assert_eq(httpresp_client_set_origins(c, o), 0);
  cr_assert_eq(httpresp_client_set_cache(c, cache), 0);
  ts_simple(ts, -1, "/rt", 200, "Cache-Control: no-store\r\n", "ok");
  cr_expect_lt(timed_get(c, 0, "/rt", 200), 150, "connected");
  redisContext *rc = peek();
  long reads_alone, reads, pttls;
  server_work(alone, rc, &reads_alone, &pttls);
  cr_expect_eq(pttls, -1, "no PTTL without shared quiet times");
  server_work(c, rc, &reads, &pttls);
  cr_expect_eq(pttls, 1);
  cr_expect_gt(reads_alone, 0);
  cr_expect_eq(reads, reads_alone,
               "no round trip more than the cache's: %ld "
               "against %ld",
               reads, reads_alone);
  cr_expect_eq(ts_request_count(ts), 3);
  redisFree(rc);
  httpresp_client_free(alone);
  httpresp_client_free(c);
  httpresp_cache_free(cache);
  httpresp_origins_free(o);
}

/* A miss whose answer is not stored (no-store) costs the lookup's round
 * trip(s) and nothing more: the lookup found nothing stored for the key,
 * so there is nothing to remove (no DEL, no HDEL). */
Test(redis_fleet, unstored_miss_removes_nothing) {
  httpresp_cache *cache = rcache(NULL);
  httpresp_client *c = fixture_client(NULL);
  cr_assert_eq(httpresp_client_set_cache(c, cache), 0);
  ts_simple(ts, -1, "/rt", 200, "Cache-Control: no-store\r\n", "ok");
  cr_expect_lt(timed_get(c, 0, "/rt", 200), 150, "connected");
  redisContext *rc = peek();
  long reads, pttls;
  server_work(c, rc, &reads, &pttls);
  long dels = info_num(rc, "commandstats", "cmdstat_del:calls");
  long hdels = info_num(rc, "commandstats", "cmdstat_hdel:calls");
  cr_expect_eq(dels, -1, "no DEL: %ld", dels);
  cr_expect_eq(hdels, -1, "no HDEL: %ld", hdels);
  cr_expect_eq(reads, MISS_READS, "round trips: %ld", reads);
  cr_expect_eq(ts_request_count(ts), 2);
  redisFree(rc);
  httpresp_client_free(c);
  httpresp_cache_free(cache);
}

/* Not stored, but something was: the answer still supersedes it (the
 * entry and the index's field go), in Redis as everywhere. */
Test(redis_fleet, unstored_answer_still_supersedes) {
  httpresp_cache *cache = rcache(NULL);
  httpresp_client *c = fixture_client(NULL);
  cr_assert_eq(httpresp_client_set_cache(c, cache), 0);
  ts_simple(ts, -1, "/sup", 200,
            "Cache-Control: max-age=0, must-revalidate\r\n"
            "ETag: \"a\"\r\n",
            "old");
  ts_simple(ts, -1, "/sup", 200, "Cache-Control: no-store\r\n", "new");
  httpresp_response *r = get(c, 0, "/sup");
  cr_assert_eq(r->cache_status, HTTPRESP_CACHE_STORED);
  httpresp_response_free(r);
  redisContext *rc = peek();
  long keys, expires;
  keyspace(rc, &keys, &expires);
  cr_expect_gt(keys, 0);
  r = get(c, 0, "/sup");
  cr_expect_eq(r->status, 200);
  httpresp_response_free(r);
  keyspace(rc, &keys, &expires);
  cr_expect_eq(keys, 0, "superseded: %ld keys left", keys);
  redisFree(rc);
  httpresp_client_free(c);
  httpresp_cache_free(cache);
}

/* On one endpoint the cache's lookup may be the probe that ends a
 * back-off: the quiet time raised while Redis was stopped still reaches
 * Redis with the next request. */
Test(redis_fleet, raise_replayed_after_the_cache_probe) {
  httpresp_origins *o = origins(srv.url);
  httpresp_cache *cache = rcache(NULL);
  fake_clock clk = {0};
  httpresp_client *c = fixture_client(&clk);
  cr_assert_eq(httpresp_client_set_origins(c, o), 0);
  cr_assert_eq(httpresp_client_set_cache(c, cache), 0);
  cr_assert_eq(httpresp_client_set_max_retries(c, 0), 0);
  ts_simple(ts, -1, "/ok3", 200, "Cache-Control: no-store\r\n", "ok");
  ts_simple(ts, -1, "/ok4", 200, "Cache-Control: no-store\r\n", "ok");
  ts_simple(ts, 1, "/busy3", 503, "Retry-After: 60\r\n", "later");
  cr_expect_lt(timed_get(c, 0, "/ok3", 200), 150, "connected");
  rs_pause(&srv);
  timed_get(c, 0, "/ok3", 200); /* one timeout: Redis set aside */
  cr_expect_lt(timed_get(c, 1, "/busy3", 503), 100);
  rs_resume(&srv);
  pause_ms(1050); /* the probe is due */
  /* Another URL: /ok3's removal failed meanwhile, so the cache does not
   * look it up in Redis for a while. */
  cr_expect_lt(timed_get(c, 0, "/ok4", 200), 150);
  cr_expect_eq(hr_redis_backoff_ms(hr_origins_redis(o)), 0);
  redisContext *rc = peek();
  char key[96];
  nb_key(1, key, sizeof(key));
  long long left = pttl_of(rc, key);
  cr_expect(left > 50000 && left <= 60000, "replayed: PTTL %lld", left);
  redisFree(rc);
  httpresp_client_free(c);
  httpresp_cache_free(cache);
  httpresp_origins_free(o);
}

/* Killed: the connection breaks (no wait), Redis is set aside, requests go
 * on; restarted empty on the same socket: the probe reconnects, the Lua
 * path meets NOSCRIPT and loads the script again, raises made while Redis
 * was gone are replayed. */
Test(redis_fleet, killed_then_restarted) {
  httpresp_origins *o = origins(srv.url);
  hr_redis *hr = hr_origins_redis(o);
  hr_redis_force_lua(hr, 1);
  struct hr_origins *ho = &o->o;
  fake_clock clk = {0};
  httpresp_client *c = fixture_client(&clk);
  int64_t t0 = clk.now_ms;
  cr_expect_eq(ho->vt->raise(ho->impl, "http://a:1", t0, 30000, 429), 0);
  cr_assert_eq(httpresp_client_set_origins(c, o), 0);
  ts_simple(ts, -1, "/ok", 200, NULL, "ok");

  rs_kill(&srv);
  cr_expect_lt(timed_get(c, 0, "/ok", 200), 100);
  cr_expect_eq(hr_redis_backoff_ms(hr), 1000);
  cr_expect_eq(ho->vt->raise(ho->impl, "http://b:1", t0, 30000, 429), 0);
  cr_expect_eq(ho->vt->get(ho->impl, "http://a:1", t0 + 1000), t0 + 30000,
               "the local memory answers");

  cr_assert_eq(rs_restart(&srv), 0);
  pause_ms(1050);
  cr_expect_lt(timed_get(c, 0, "/ok", 200), 150);
  cr_expect_eq(hr_redis_backoff_ms(hr), 0);
  redisContext *rc = peek();
  cr_expect_eq(pttl_of(rc, "hr:v1:nb:{http://a:1}"), -2,
               "a restarted Redis is empty");
  long long b = pttl_of(rc, "hr:v1:nb:{http://b:1}");
  cr_expect(b > 0 && b <= 30000, "replayed: %lld", b);
  /* The reconnection loaded the script again: EVALSHA finds it. */
  cr_expect_eq(ho->vt->raise(ho->impl, "http://d:1", t0, 9000, 429), 0);
  long long d = pttl_of(rc, "hr:v1:nb:{http://d:1}");
  cr_expect(d > 8000 && d <= 9000, "d: %lld", d);
  cr_expect_eq(info_num(rc, "commandstats", "cmdstat_eval:calls"), -1);
  /* The script cache emptied under the live connection: NOSCRIPT, then
   * EVAL. */
  redisReply *fl = redisCommand(rc, "SCRIPT FLUSH");
  cr_assert(fl && fl->type == REDIS_REPLY_STATUS);
  freeReplyObject(fl);
  cr_expect_eq(ho->vt->raise(ho->impl, "http://e:1", t0, 9000, 429), 0);
  long long e = pttl_of(rc, "hr:v1:nb:{http://e:1}");
  cr_expect(e > 8000 && e <= 9000, "e: %lld", e);
  cr_expect_eq(info_num(rc, "commandstats", "cmdstat_eval:calls"), 1);
  cr_expect_eq(hr_redis_backoff_ms(hr), 0);
  redisFree(rc);
  httpresp_client_free(c);
  httpresp_origins_free(o);
}

/* Absent from the start: the connect fails at once, the request goes on. */
Test(redis_fleet, absent_at_start) {
  char url[160];
  snprintf(url, sizeof(url), "unix://%s/none.sock", srv.dir);
  httpresp_origins *o = origins(url);
  fake_clock clk = {0};
  httpresp_client *c = fixture_client(&clk);
  cr_assert_eq(httpresp_client_set_origins(c, o), 0);
  ts_simple(ts, -1, "/ok", 200, NULL, "ok");
  cr_expect_lt(timed_get(c, 0, "/ok", 200), 100);
  cr_expect_eq(hr_redis_backoff_ms(hr_origins_redis(o)), 1000);
  cr_expect_lt(timed_get(c, 0, "/ok", 200), 100);
  cr_expect_eq(ts_request_count(ts), 2);
  httpresp_client_free(c);
  httpresp_origins_free(o);
}

/* One object, several threads: each gets its own connection (a shared
 * hiredis context would interleave replies), and every raise lands. */
typedef struct thread_job {
  httpresp_origins *o;
  int id;
  int failures;
} thread_job;

static void *raise_many(void *p) {
  thread_job *j = p;
  struct hr_origins *ho = &j->o->o;
  for (int i = 0; i < 50; i++) {
    char origin[64];
    snprintf(origin, sizeof(origin), "http://t%d:%d", j->id, i % 5);
    if (ho->vt->raise(ho->impl, origin, 0, 10000 + i, 429) != 0)
      j->failures++;
    int64_t nb = ho->vt->get(ho->impl, origin, 1000000);
    if (nb < 1000000 + 9000)
      j->failures++;
  }
  return NULL;
}

Test(redis_fleet, one_connection_per_thread) {
  httpresp_origins *o = origins(srv.url);
  redisContext *c = peek();
  long before = connections(c);
  enum { T = 4 };
  pthread_t th[T];
  thread_job jobs[T];
  for (int t = 0; t < T; t++) {
    jobs[t] = (thread_job){o, t, 0};
    cr_assert_eq(pthread_create(&th[t], NULL, raise_many, &jobs[t]), 0);
  }
  for (int t = 0; t < T; t++) {
    pthread_join(th[t], NULL);
    cr_expect_eq(jobs[t].failures, 0, "thread %d", t);
  }
  cr_expect_eq(connections(c) - before, T, "one connection per thread");
  cr_expect_eq(hr_redis_backoff_ms(hr_origins_redis(o)), 0);
  long keys, expires;
  keyspace(c, &keys, &expires);
  cr_expect_eq(keys, T * 5);
  cr_expect_eq(expires, keys);
  redisFree(c);
  httpresp_origins_free(o);
}

/* ---- the shared cache -----------------------------------------------------
 */

/* Keys matching a pattern, sorted by Redis's whim: their count, and the
 * first one into `out`. */
static size_t keys_like(redisContext *c, const char *pattern, char *out,
                        size_t cap) {
  redisReply *r = redisCommand(c, "KEYS %s", pattern);
  cr_assert(r && r->type == REDIS_REPLY_ARRAY);
  size_t n = r->elements;
  if (n && out)
    snprintf(out, cap, "%s", r->element[0]->str);
  freeReplyObject(r);
  return n;
}

/* One worker stores, another (its own cache object and connection) is
 * served without the network; each key has the TTL DESIGN.md gives. */
Test(redis_fleet, cache_hit_across_clients) {
  httpresp_cache *ca = rcache(NULL), *cb = rcache(NULL);
  httpresp_client *a = fixture_client(NULL), *b = fixture_client(NULL);
  cr_assert_eq(httpresp_client_set_cache(a, ca), 0);
  cr_assert_eq(httpresp_client_set_cache(b, cb), 0);
  ts_simple(ts, 0, "/c", 200, "Cache-Control: max-age=600\r\nETag: \"v1\"\r\n",
            "shared body");
  httpresp_response *r = get(a, 0, "/c");
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STORED);
  httpresp_response_free(r);
  r = get(b, 0, "/c");
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT, "%s",
               httpresp_response_cache_reason(r));
  cr_expect_str_eq(fixture_body(r), "shared body");
  httpresp_response_free(r);
  cr_expect_eq(ts_request_count(ts), 1, "one fetch for two workers");

  redisContext *c = peek();
  char vkey[160], ikey[160];
  cr_assert_eq(keys_like(c, "hr:v1:c:{*}:v:*", vkey, sizeof(vkey)), 1);
  cr_assert_eq(keys_like(c, "hr:v1:c:{*}:i", ikey, sizeof(ikey)), 1);
  cr_expect_eq(strncmp(vkey, ikey, strlen(ikey) - 1), 0, "one hash tag: %s, %s",
               vkey, ikey);
  /* 600 s of freshness plus 24 h of grace less up to 10% jitter. */
  long long v = pttl_of(c, vkey), i = pttl_of(c, ikey);
  cr_expect(v > (600 + 86400 * 9 / 10 - 5) * 1000LL &&
                v <= (600 + 86400) * 1000LL,
            "entry PTTL %lld", v);
  cr_expect_geq(i, v - 1000, "the index outlives its variants");
  long keys, expires;
  keyspace(c, &keys, &expires);
  cr_expect_eq(keys, 2);
  cr_expect_eq(expires, keys, "every key has a TTL");
  redisReply *rep = redisCommand(c, "GET %s", vkey);
  cr_assert(rep && rep->type == REDIS_REPLY_STRING);
  cr_expect_eq(rep->str[0], 1, "the format byte");
  freeReplyObject(rep);
  /* The put script's SHA-1 in the library is the script's. */
  rep =
      redisCommand(c, "SCRIPT EXISTS e493430757ddc2d1c4ea2e0a501eca363e45c8f6");
  cr_assert(rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1);
  cr_expect_eq(rep->element[0]->integer, 1);
  freeReplyObject(rep);
  redisFree(c);
  httpresp_client_free(a);
  httpresp_client_free(b);
  httpresp_cache_free(ca);
  httpresp_cache_free(cb);
}

/* An entry written by another version of the library (another format
 * byte) is a miss, and is left for it. */
Test(redis_fleet, cache_unknown_format_is_a_miss_left_alone) {
  httpresp_cache *ca = rcache(NULL);
  httpresp_client *a = fixture_client(NULL);
  cr_assert_eq(httpresp_client_set_cache(a, ca), 0);
  ts_simple(ts, 0, "/c", 200, "Cache-Control: max-age=600\r\n", "v1");
  httpresp_response_free(get(a, 0, "/c"));
  redisContext *c = peek();
  char vkey[160];
  cr_assert_eq(keys_like(c, "hr:v1:c:{*}:v:*", vkey, sizeof(vkey)), 1);
  redisReply *rep =
      redisCommand(c, "SETRANGE %s 0 %b", vkey, "\x02", (size_t)1);
  cr_assert(rep && rep->type == REDIS_REPLY_INTEGER);
  freeReplyObject(rep);

  httpresp_request *req;
  char *u = ts_url(ts, 0, "/c");
  cr_assert_eq(httpresp_request_new(&req, "GET", u), 0);
  free(u);
  hr_stored *out = NULL;
  cr_expect_eq(hr_cache_lookup(ca, req, fixture_now_ms(), &out, NULL),
               HR_CACHE_USE_NONE);
  cr_expect_null(out);
  rep = redisCommand(c, "GETRANGE %s 0 0", vkey);
  cr_assert(rep && rep->type == REDIS_REPLY_STRING && rep->len == 1,
            "left alone");
  cr_expect_eq(rep->str[0], 2);
  freeReplyObject(rep);
  httpresp_request_free(req);
  redisFree(c);
  httpresp_client_free(a);
  httpresp_cache_free(ca);
}

/* Two workers store different variants of the same URLs at the same
 * moment, round after round: the index is a hash written a field at a
 * time (DESIGN.md), so neither loses the other's variant. */
enum { VARIANT_ROUNDS = 40 };

typedef struct variant_job {
  httpresp_cache *cache;
  pthread_barrier_t *go;
  int id;
  int failures;
} variant_job;

static httpresp_request *lang_req(int round, int lang) {
  char u[64], al[32];
  snprintf(u, sizeof(u), "http://vary.test/v?r=%d", round);
  snprintf(al, sizeof(al), "l%d", lang);
  httpresp_request *q;
  cr_assert_eq(httpresp_request_new(&q, "GET", u), 0);
  cr_assert_eq(httpresp_request_add_header(q, "Accept-Language", al), 0);
  return q;
}

static void *store_variants(void *p) {
  variant_job *j = p;
  hr_headers h;
  hr_headers_init(&h);
  hr_headers_add(&h, "Cache-Control", 13, "max-age=600", 11);
  hr_headers_add(&h, "Vary", 4, "Accept-Language", 15);
  char body[4] = {'l', (char)('0' + j->id), 0, 0};
  for (int r = 0; r < VARIANT_ROUNDS; r++) {
    httpresp_request *q = lang_req(r, j->id);
    pthread_barrier_wait(j->go);
    int64_t now = fixture_now_ms();
    if (hr_cache_on_response(j->cache, q, 200, &h, body, 2, now, now, NULL,
                             NULL) != 1)
      j->failures++;
    httpresp_request_free(q);
  }
  hr_headers_free(&h);
  return NULL;
}

Test(redis_fleet, concurrent_variants_are_all_kept) {
  httpresp_cache *ca = rcache(NULL), *cb = rcache(NULL);
  pthread_barrier_t go;
  cr_assert_eq(pthread_barrier_init(&go, NULL, 2), 0);
  variant_job jobs[2] = {{ca, &go, 0, 0}, {cb, &go, 1, 0}};
  pthread_t th[2];
  for (int t = 0; t < 2; t++)
    cr_assert_eq(pthread_create(&th[t], NULL, store_variants, &jobs[t]), 0);
  for (int t = 0; t < 2; t++) {
    pthread_join(th[t], NULL);
    cr_expect_eq(jobs[t].failures, 0, "worker %d stored every time", t);
  }
  pthread_barrier_destroy(&go);
  /* Each worker finds both variants of every URL in Redis. */
  int lost = 0;
  for (int r = 0; r < VARIANT_ROUNDS; r++)
    for (int lang = 0; lang < 2; lang++)
      for (int t = 0; t < 2; t++) {
        httpresp_request *q = lang_req(r, lang);
        hr_stored *out = NULL;
        if (hr_cache_lookup(t ? cb : ca, q, fixture_now_ms(), &out, NULL) !=
                HR_CACHE_USE_FRESH ||
            out->e.body_len != 2 || out->e.body[1] != '0' + lang)
          lost++;
        hr_stored_unref(out);
        httpresp_request_free(q);
      }
  cr_expect_eq(lost, 0, "%d lookups of %d missed a variant", lost,
               VARIANT_ROUNDS * 4);
  redisContext *c = peek();
  redisReply *keys = redisCommand(c, "KEYS hr:v1:c:{*}:i");
  cr_assert(keys && keys->type == REDIS_REPLY_ARRAY);
  cr_expect_eq(keys->elements, VARIANT_ROUNDS, "one index per URL");
  for (size_t i = 0; i < keys->elements; i++) {
    redisReply *v = redisCommand(c, "HGET %s vary", keys->element[i]->str);
    cr_assert(v && v->type == REDIS_REPLY_STRING, "a vary field");
    cr_expect_str_eq(v->str, "accept-language");
    freeReplyObject(v);
    v = redisCommand(c, "HLEN %s", keys->element[i]->str);
    cr_expect_eq(v->integer, 3, "vary and both variants");
    freeReplyObject(v);
  }
  freeReplyObject(keys);
  long nkeys, expires;
  keyspace(c, &nkeys, &expires);
  cr_expect_eq(nkeys, VARIANT_ROUNDS * 3);
  cr_expect_eq(expires, nkeys, "every key has a TTL");
  redisFree(c);
  httpresp_cache_free(ca);
  httpresp_cache_free(cb);
}

/* A hit on a variant reads the entry with the index (one round trip, a
 * miss), then the variant: two round trips and no write, whichever
 * variant it is (Redis orders the index itself: no use is recorded). */
Test(redis_fleet, variant_hit_writes_nothing) {
  httpresp_cache *ca = rcache(NULL);
  hr_headers h;
  hr_headers_init(&h);
  hr_headers_add(&h, "Cache-Control", 13, "max-age=600", 11);
  hr_headers_add(&h, "Vary", 4, "Accept-Language", 15);
  for (int lang = 0; lang < 2; lang++) {
    httpresp_request *q = lang_req(0, lang);
    int64_t now = fixture_now_ms();
    cr_assert_eq(
        hr_cache_on_response(ca, q, 200, &h, "ok", 2, now, now, NULL, NULL), 1);
    httpresp_request_free(q);
  }
  hr_headers_free(&h);
  redisContext *c = peek();
  redisReply *z = redisCommand(c, "CONFIG RESETSTAT");
  cr_assert(z && z->type == REDIS_REPLY_STATUS);
  freeReplyObject(z);
  for (int lang = 0; lang < 2; lang++) {
    httpresp_request *q = lang_req(0, lang);
    hr_stored *out = NULL;
    cr_expect_eq(hr_cache_lookup(ca, q, fixture_now_ms(), &out, NULL),
                 HR_CACHE_USE_FRESH, "variant %d", lang);
    hr_stored_unref(out);
    httpresp_request_free(q);
  }
  long reads = info_num(c, "stats", "total_reads_processed") - 1;
  cr_expect_eq(reads, 4, "two round trips a hit: %ld", reads);
  cr_expect_eq(info_num(c, "commandstats", "cmdstat_evalsha:calls"), -1);
  redisFree(c);
  httpresp_cache_free(ca);
}

/* Over the size limit: not in Redis, and the answer still delivered. */
Test(redis_fleet, cache_size_limit) {
  httpresp_redis_options opts = {.version = HTTPRESP_REDIS_OPTIONS_VERSION,
                                 .max_entry = 2000};
  httpresp_cache *ca = rcache(&opts);
  httpresp_client *a = fixture_client(NULL);
  cr_assert_eq(httpresp_client_set_cache(a, ca), 0);
  char big[3001];
  memset(big, 'x', 3000);
  big[3000] = '\0';
  ts_simple(ts, 0, "/big", 200, "Cache-Control: max-age=600\r\n", big);
  ts_simple(ts, 0, "/small", 200, "Cache-Control: max-age=600\r\n", "s");
  httpresp_response *r = get(a, 0, "/big");
  cr_expect_eq(httpresp_response_body(r, NULL) != NULL, 1);
  cr_expect_str_eq(httpresp_response_cache_reason(r), "too-large");
  httpresp_response_free(r);
  r = get(a, 0, "/small");
  httpresp_response_free(r);
  redisContext *c = peek();
  long keys, expires;
  keyspace(c, &keys, &expires);
  cr_expect_eq(keys, 2, "only the small entry and its index");
  cr_expect_eq(expires, keys);
  redisFree(c);
  httpresp_client_free(a);
  httpresp_cache_free(ca);
}

/* Nothing is written with a TTL <= 0: an answer already stale without a
 * validator stays out of Redis. */
Test(redis_fleet, cache_writes_nothing_worth_no_time) {
  httpresp_cache *ca = rcache(NULL);
  httpresp_client *a = fixture_client(NULL);
  cr_assert_eq(httpresp_client_set_cache(a, ca), 0);
  ts_simple(ts, 0, "/old", 200, "Cache-Control: max-age=60\r\nAge: 120\r\n",
            "old");
  httpresp_response *r = get(a, 0, "/old");
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_str_eq(httpresp_response_cache_reason(r), "expired");
  httpresp_response_free(r);
  redisContext *c = peek();
  long keys, expires;
  keyspace(c, &keys, &expires);
  cr_expect_eq(keys, 0);
  redisFree(c);
  httpresp_client_free(a);
  httpresp_cache_free(ca);
}

/* A 304 refresh rewrites with XX: an entry evicted meanwhile stays gone.
 * Through the store layer, as the cache's 304 event calls it. */
Test(redis_fleet, cache_refresh_never_resurrects) {
  httpresp_cache *ca = rcache(NULL);
  const hr_store *st = hr_cache_store(ca);
  hr_key k;
  cr_assert_eq(hr_key_init(&k, "GET", "http://x/r", 10, NULL), 0);
  hr_cache_entry e;
  hr_cache_entry_init(&e);
  e.key = strdup("http://x/r");
  e.status = 200;
  e.request_ms = e.response_ms = fixture_now_ms();
  hr_put_how how = {1, 60};
  cr_expect_eq(hr_store_put(st, &k, &e, &how), 1, "nothing to update");
  redisContext *c = peek();
  long keys, expires;
  keyspace(c, &keys, &expires);
  cr_expect_eq(keys, 0);
  how.update_only = 0;
  cr_expect_eq(hr_store_put(st, &k, &e, &how), 0);
  how.update_only = 1;
  how.ttl_sec = 120;
  cr_expect_eq(hr_store_put(st, &k, &e, &how), 0, "updated in place");
  char vkey[160];
  cr_assert_eq(keys_like(c, "hr:v1:c:{*}:v:*", vkey, sizeof(vkey)), 1);
  long long v = pttl_of(c, vkey);
  cr_expect(v > 110000 && v <= 120000, "%lld", v);
  cr_expect_eq(hr_store_del(st, &k), 0);
  keyspace(c, &keys, &expires);
  cr_expect_eq(keys, 0, "the entry and its index entry are gone");
  hr_cache_entry_free(&e);
  hr_key_free(&k);
  redisFree(c);
  httpresp_cache_free(ca);
}

/* Redis stopped: the lookup waits one command timeout and misses; from
 * then on, while Redis is set aside, the cache lives in local memory (a
 * hit without the network); when Redis answers again it is used again. */
Test(redis_fleet, cache_with_redis_stopped_uses_local_memory) {
  httpresp_cache *ca = rcache(NULL);
  httpresp_client *a = fixture_client(NULL);
  cr_assert_eq(httpresp_client_set_cache(a, ca), 0);
  ts_simple(ts, -1, "/c", 200, "Cache-Control: max-age=600\r\n", "c");
  ts_simple(ts, -1, "/d", 200, "Cache-Control: max-age=600\r\n", "d");
  httpresp_response_free(get(a, 0, "/c"));
  rs_pause(&srv);
  int64_t dt = timed_get(a, 0, "/d", 200);
  cr_expect_lt(dt, 600, "one command timeout at most: %lld", (long long)dt);
  dt = timed_get(a, 0, "/d", 200);
  cr_expect_lt(dt, 100, "set aside: %lld", (long long)dt);
  cr_expect_eq(ts_request_count(ts), 2, "the second /d came from memory");
  /* /c is in Redis only: fetched while Redis is away. */
  httpresp_response *r = get(a, 0, "/c");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STORED);
  httpresp_response_free(r);
  cr_expect_eq(ts_request_count(ts), 3);
  rs_resume(&srv);
  pause_ms(1050);
  /* /d is in local memory only: the probe finds Redis back, which does
   * not have it; /c is served from Redis. */
  r = get(a, 0, "/d");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STORED);
  httpresp_response_free(r);
  cr_expect_eq(ts_request_count(ts), 4);
  r = get(a, 0, "/c");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  httpresp_response_free(r);
  cr_expect_eq(ts_request_count(ts), 4);
  redisContext *rc = peek();
  long keys, expires;
  keyspace(rc, &keys, &expires);
  cr_expect_eq(keys, 4, "/c and /d in Redis, each with its index");
  redisFree(rc);
  httpresp_client_free(a);
  httpresp_cache_free(ca);
}

/* Redis refusing writes (maxmemory with noeviction) or dropping our
 * connection (CLIENT KILL): the requests still succeed, answered and
 * remembered locally. */
Test(redis_fleet, refused_writes_and_killed_connections) {
  httpresp_cache *ca = rcache(NULL);
  httpresp_origins *o = origins(srv.url);
  fake_clock clk = {0};
  httpresp_client *a = fixture_client(&clk);
  cr_assert_eq(httpresp_client_set_cache(a, ca), 0);
  cr_assert_eq(httpresp_client_set_origins(a, o), 0);
  cr_assert_eq(httpresp_client_set_max_retries(a, 0), 0);
  ts_simple(ts, -1, "/c", 200, "Cache-Control: max-age=600\r\n", "c");
  ts_simple(ts, 1, "/busy", 429, "Retry-After: 30\r\n", "later");
  ts_simple(ts, 1, "/after", 200, NULL, "after");
  redisContext *c = peek();
  redisReply *rep = redisCommand(c, "CONFIG SET maxmemory-policy noeviction");
  freeReplyObject(rep);
  rep = redisCommand(c, "CONFIG SET maxmemory 1");
  cr_assert(rep && rep->type == REDIS_REPLY_STATUS);
  freeReplyObject(rep);
  httpresp_response *r = get(a, 0, "/c");
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_str_eq(fixture_body(r), "c");
  httpresp_response_free(r);
  r = get(a, 1, "/busy");
  cr_expect_eq(httpresp_response_status(r), 429);
  httpresp_response_free(r);
  r = get(a, 1, "/after");
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(clk.slept_ms, 30000, "the quiet time was kept locally");
  httpresp_response_free(r);
  long keys, expires;
  keyspace(c, &keys, &expires);
  cr_expect_eq(keys, 0, "nothing was written");
  rep = redisCommand(c, "CONFIG SET maxmemory 0");
  freeReplyObject(rep);

  /* CLIENT KILL of every connection but the test's own. */
  pause_ms(1050);
  cr_expect_eq(timed_get(a, 0, "/c", 200) < 500, 1);
  rep = redisCommand(c, "CLIENT KILL TYPE normal SKIPME yes");
  cr_assert(rep && rep->type == REDIS_REPLY_INTEGER);
  cr_expect_geq(rep->integer, 1);
  freeReplyObject(rep);
  cr_expect_lt(timed_get(a, 0, "/c", 200), 100);
  cr_expect_eq(hr_redis_backoff_ms(hr_origins_redis(o)), 1000);
  redisFree(c);
  httpresp_client_free(a);
  httpresp_cache_free(ca);
  httpresp_origins_free(o);
}

/* ---- coalescing ------------------------------------------------------------
 */

/* `n` forked workers, each with its own client and cache on the test's
 * Redis, released at once to GET `path`; returns how many got its body. */
static int cold_fleet(int n, uint32_t coalesce_ms, const char *path,
                      const char *want) {
  int go[2];
  cr_assert_eq(pipe(go), 0);
  char *u = ts_url(ts, 0, path);
  pid_t pids[16];
  for (int w = 0; w < n; w++) {
    pids[w] = fork();
    cr_assert_geq(pids[w], 0);
    if (pids[w] == 0) {
      close(go[1]);
      httpresp_redis_options o = {.version = HTTPRESP_REDIS_OPTIONS_VERSION,
                                  .coalesce_ms = coalesce_ms};
      httpresp_cache *c = NULL;
      httpresp_client *cl = NULL;
      CURL *e = curl_easy_init();
      if (httpresp_cache_new_redis(&c, srv.url, &o) ||
          httpresp_client_new(&cl) || httpresp_client_set_cache(cl, c) || !e)
        _exit(2);
      curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
      char b;
      if (read(go[0], &b, 1) != 1)
        _exit(3);
      httpresp_request *req;
      httpresp_response *r = NULL;
      if (httpresp_request_new(&req, "GET", u) ||
          httpresp_perform(cl, e, req, &r))
        _exit(4);
      size_t len;
      const char *body = httpresp_response_body(r, &len);
      int ok = httpresp_response_status(r) == 200 && body &&
               len == strlen(want) && memcmp(body, want, len) == 0;
      _exit(ok ? 0 : 5);
    }
  }
  close(go[0]);
  for (int w = 0; w < n; w++)
    cr_assert_eq(write(go[1], "g", 1), 1);
  close(go[1]);
  int good = 0;
  for (int w = 0; w < n; w++) {
    int st;
    cr_assert_eq(waitpid(pids[w], &st, 0), pids[w]);
    good += WIFEXITED(st) && WEXITSTATUS(st) == 0;
  }
  free(u);
  return good;
}

static size_t requests_for(const char *target) {
  size_t n = 0;
  for (size_t i = 0; i < ts_request_count(ts); i++)
    n += strcmp(ts_request_get(ts, i)->target, target) == 0;
  return n;
}

/* 8 workers miss one cold URL at once: with coalescing the origin sees one
 * request and every worker gets the answer; without, each fetches. */
Test(redis_fleet, coalescing_one_fetch_for_eight_workers) {
  /* A slow origin: each answer comes only after the delay, so without
   * coalescing every worker misses (none can find another's answer stored
   * before its own lookup), and with it the others wait for the one. */
  ts_resp *cold = ts_route(ts, -1, "/cold");
  ts_resp_delay(cold, 300);
  ts_resp_simple(cold, 200, "Cache-Control: max-age=600\r\n", "cold body");
  ts_resp *cold2 = ts_route(ts, -1, "/cold2");
  ts_resp_delay(cold2, 1000);
  ts_resp_simple(cold2, 200, "Cache-Control: max-age=600\r\n", "cold body");
  cr_expect_eq(cold_fleet(8, 3000, "/cold", "cold body"), 8);
  size_t with = requests_for("/cold");
  cr_expect_eq(with, 1, "origin fetches with coalescing: %zu", with);
  cr_expect_eq(cold_fleet(8, 0, "/cold2", "cold body"), 8);
  size_t without = requests_for("/cold2");
  cr_expect_gt(without, 1, "origin fetches without: %zu", without);
  fprintf(stderr,
          "fleet-coalescing: 8 workers, one cold URL: %zu origin "
          "fetch(es) with coalescing, %zu without\n",
          with, without);
  redisContext *c = peek();
  cr_expect_eq(keys_like(c, "*:lock", NULL, 0), 0, "every lock released");
  long keys, expires;
  keyspace(c, &keys, &expires);
  cr_expect_eq(expires, keys);
  redisFree(c);
}

/* A lock whose holder died (or is slow) holds nobody up beyond the bound:
 * the request goes ahead after coalesce_ms. */
Test(redis_fleet, coalescing_wait_is_bounded) {
  ts_simple(ts, -1, "/held", 200, "Cache-Control: max-age=600\r\n", "held");
  httpresp_redis_options o = {.version = HTTPRESP_REDIS_OPTIONS_VERSION,
                              .coalesce_ms = 300};
  httpresp_cache *ca = rcache(&o);
  httpresp_client *a = fixture_client(NULL);
  cr_assert_eq(httpresp_client_set_cache(a, ca), 0);
  /* Learn the lock's name from a first fetch, then hold it as a dead
   * worker would. */
  httpresp_response_free(get(a, 0, "/held"));
  redisContext *c = peek();
  char vkey[160];
  cr_assert_eq(keys_like(c, "hr:v1:c:{*}:v:*", vkey, sizeof(vkey)), 1);
  char lock[160];
  snprintf(lock, sizeof(lock), "%.*s:lock",
           (int)(strstr(vkey, "}:v:") - vkey + 1), vkey);
  redisReply *rep = redisCommand(c, "DEL %s", vkey);
  freeReplyObject(rep);
  rep = redisCommand(c, "SET %s dead-worker PX 60000", lock);
  freeReplyObject(rep);
  int64_t dt = timed_get(a, 0, "/held", 200);
  cr_expect(dt >= 280 && dt < 800, "waited %lld ms", (long long)dt);
  cr_expect_eq(requests_for("/held"), 2);
  rep = redisCommand(c, "GET %s", lock);
  cr_assert(rep && rep->type == REDIS_REPLY_STRING);
  cr_expect_str_eq(rep->str, "dead-worker", "another's lock is not deleted");
  freeReplyObject(rep);
  redisFree(c);
  httpresp_client_free(a);
  httpresp_cache_free(ca);
}

/* ---- the tool -------------------------------------------------------------
 */

/* Two separate tool processes: the second waits for the quiet time the
 * first was told (learnt from Redis), and is served the answer the first
 * stored. */
Test(redis_fleet, tool_processes_share_quiet_and_cache) {
  tool_path(); /* skips without $HTTPRESP_TOOL */
  ts_simple(ts, 0, "/busy", 429, "Retry-After: 1\r\n", "quiet please");
  ts_simple(ts, 0, "/later", 200, NULL, "later");
  ts_simple(ts, 1, "/doc", 200, "Cache-Control: max-age=600\r\n", "doc");
  char *busy = ts_url(ts, 0, "/busy"), *later = ts_url(ts, 0, "/later");
  char *doc = ts_url(ts, 1, "/doc");
  char cache_opt[200];
  snprintf(cache_opt, sizeof(cache_opt), "--cache=%s", srv.url);

  run r = RUN("-s", "--max-retries", "0", "--share-origins", srv.url, busy);
  cr_expect_eq(ts_request_count(ts), 1, "%s", r.err);
  int64_t t0 = mono_ms();
  run_free(&r);
  r = RUN("-s", "--share-origins", srv.url, later);
  int64_t since = mono_ms() - t0;
  cr_expect_eq(r.code, 0, "%s", r.err);
  cr_expect_str_eq(r.out, "later");
  cr_expect_geq(since, 800, "the second process waited: %lld ms",
                (long long)since);
  cr_expect_eq(ts_request_count(ts), 2);
  run_free(&r);

  r = RUN("-s", cache_opt, doc);
  cr_expect_eq(r.code, 0, "%s", r.err);
  run_free(&r);
  r = RUN("-s", cache_opt, doc);
  cr_expect_eq(r.code, 0, "%s", r.err);
  cr_expect_str_eq(r.out, "doc");
  run_free(&r);
  cr_expect_eq(ts_request_count(ts), 3, "the second process hit the cache");

  r = RUN("-s", "--share-origins", "redis://", later);
  cr_expect_eq(r.code, 113, "a bad URL is refused: %s", r.err);
  run_free(&r);
  free(busy);
  free(later);
  free(doc);
}

/* A hit from the Redis cache against the round trip it saves (the
 * loopback server, the same body).  Printed for the report:
 * ctest -R test_redis -V | grep fleet-hit */
Test(redis_fleet, cost_of_a_redis_hit) {
  char body[4097];
  memset(body, 'b', 4096);
  body[4096] = '\0';
  ts_simple(ts, -1, "/hit", 200, "Cache-Control: max-age=600\r\n", body);
  ts_simple(ts, -1, "/net", 200, NULL, body);
  httpresp_cache *ca = rcache(NULL);
  httpresp_client *cached = fixture_client(NULL), *plain = fixture_client(NULL);
  cr_assert_eq(httpresp_client_set_cache(cached, ca), 0);
  httpresp_response_free(get(cached, 0, "/hit"));
  enum { N = 2000 };
  int64_t best[2] = {0, 0};
  for (int round = 0; round < 3; round++) {
    for (int k = 0; k < 2; k++) {
      int64_t t0 = mono_us();
      for (int i = 0; i < N; i++) {
        httpresp_response *r = get(k ? plain : cached, 0, k ? "/net" : "/hit");
        cr_assert_eq(httpresp_response_status(r), 200);
        httpresp_response_free(r);
      }
      int64_t dt = mono_us() - t0;
      if (!round || dt < best[k])
        best[k] = dt;
    }
  }
  cr_expect_eq(requests_for("/hit"), 1, "every later one was a hit");
  fprintf(stderr,
          "fleet-hit: %d requests of 4 KiB: Redis hit %.1f us, loopback "
          "round trip %.1f us (ratio %.2f)\n",
          N, (double)best[0] / N, (double)best[1] / N,
          best[1] ? (double)best[0] / (double)best[1] : 0.0);
  httpresp_client_free(cached);
  httpresp_client_free(plain);
  httpresp_cache_free(ca);
}

/* What one request pays for the shared memory: one PTTL on a unix socket.
 * Printed, for the report: ctest -R test_redis -V | grep fleet-cost */
Test(redis_fleet, cost_per_request) {
  httpresp_origins *o = origins(srv.url);
  httpresp_client *local = fixture_client(NULL), *shared = fixture_client(NULL);
  cr_assert_eq(httpresp_client_set_origins(shared, o), 0);
  ts_simple(ts, -1, "/ok", 200, NULL, "ok");
  enum { N = 2000 };
  int64_t best[2] = {0, 0};
  for (int round = 0; round < 3; round++) {
    for (int k = 0; k < 2; k++) {
      int64_t t0 = mono_us();
      for (int i = 0; i < N; i++) {
        httpresp_response *r = get(k ? shared : local, 0, "/ok");
        cr_assert_eq(httpresp_response_status(r), 200);
        httpresp_response_free(r);
      }
      int64_t dt = mono_us() - t0;
      if (!round || dt < best[k])
        best[k] = dt;
    }
  }
  fprintf(stderr,
          "fleet-cost: %d requests, local memory %.1f us, Redis (unix "
          "socket) %.1f us each: %.1f us added per request\n",
          N, (double)best[0] / N, (double)best[1] / N,
          (double)(best[1] - best[0]) / N);
  cr_expect_eq(hr_redis_backoff_ms(hr_origins_redis(o)), 0);
  httpresp_client_free(local);
  httpresp_client_free(shared);
  httpresp_origins_free(o);
}

#endif
