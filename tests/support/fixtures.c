/* SPDX-License-Identifier: MIT */
#include "fixtures.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t fake_now(void *ud) { return ((fake_clock *)ud)->now_ms; }

int fake_sleep(void *ud, int64_t ms) {
  fake_clock *c = ud;
  c->now_ms += ms;
  c->slept_ms += ms;
  c->sleeps++;
  return 0;
}

/* ---- clocks ----------------------------------------------------------
 * Each client's clock as the test gave it.  The client itself gets
 * clock_now/clock_sleep over the entry: that sleep is the blocking
 * driver's wait, and a failure under the multi driver, whose waits are its
 * caller's (multi_perform).  Entries are written by the test's own thread
 * before any worker thread starts, and only read by workers. */
typedef struct clock_entry {
  const httpresp_client *client;
  httpresp_now_fn now;
  httpresp_sleep_fn sleep;
  void *ud;
} clock_entry;

#define CLOCKS_MAX 64
static clock_entry clocks[CLOCKS_MAX];

static fixture_driver driver = FIXTURE_BLOCKING;

static clock_entry *clock_find(const httpresp_client *c) {
  for (size_t i = 0; i < CLOCKS_MAX; i++)
    if (clocks[i].client == c)
      return &clocks[i];
  return NULL;
}

static void clock_forget(const httpresp_client *c) {
  clock_entry *e = clock_find(c);
  if (e)
    memset(e, 0, sizeof(*e));
}

static int64_t clock_now(void *ud) {
  const clock_entry *e = ud;
  return e->now(e->ud);
}

static int clock_sleep(void *ud, int64_t ms) {
  const clock_entry *e = ud;
  cr_assert_eq(driver, FIXTURE_BLOCKING,
               "the multi driver called the client's sleep (%lld ms)",
               (long long)ms);
  return e->sleep(e->ud, ms);
}

void fixture_set_clock(httpresp_client *c, httpresp_now_fn now,
                       httpresp_sleep_fn sleep, void *ud) {
  cr_assert(now && sleep, "fixture_set_clock needs both functions");
  clock_entry *e = clock_find(c);
  if (!e)
    e = clock_find(NULL);
  cr_assert_not_null(e, "more than %d clients with a clock", CLOCKS_MAX);
  *e = (clock_entry){c, now, sleep, ud};
  cr_assert_eq(httpresp_client_set_clock(c, clock_now, clock_sleep, e), 0);
}

httpresp_client *fixture_client(fake_clock *clock) {
  httpresp_client *c = NULL;
  cr_assert_eq(httpresp_client_new(&c), 0);
  /* A freed client's address may come back: its clock must not. */
  clock_forget(c);
  if (clock) {
    if (!clock->now_ms)
      clock->now_ms = INT64_C(1767225600000); /* 2026-01-01T00:00:00Z */
    fixture_set_clock(c, fake_now, fake_sleep, clock);
  }
  return c;
}

/* ---- drivers --------------------------------------------------------- */

void fixture_use_driver(fixture_driver d) { driver = d; }

/* The calling thread's multi loop, as a caller keeps one: a CURLM and a
 * context over it, made at the first request; the context is made again
 * when a request comes for another client. */
static _Thread_local CURLM *loop_cm;
static _Thread_local httpresp_multi *loop_hm;
static _Thread_local const httpresp_client *loop_client;

void fixture_driver_release(void) {
  httpresp_multi_free(loop_hm);
  loop_hm = NULL;
  loop_client = NULL;
  if (loop_cm)
    curl_multi_cleanup(loop_cm);
  loop_cm = NULL;
}

static httpresp_multi *loop_for(httpresp_client *c) {
  if (!loop_cm) {
    loop_cm = curl_multi_init();
    cr_assert_not_null(loop_cm);
  }
  if (loop_hm && loop_client != c) {
    httpresp_multi_free(loop_hm);
    loop_hm = NULL;
  }
  if (!loop_hm) {
    cr_assert_eq(httpresp_multi_new(&loop_hm, c, loop_cm), 0);
    loop_client = c;
  }
  return loop_hm;
}

static int64_t mono_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* No request of these suites takes this long in real time. */
#define MULTI_BUDGET_MS 20000

static int multi_perform(httpresp_client *c, CURL *easy,
                         const httpresp_request *req, httpresp_response **out) {
  httpresp_multi *hm = loop_for(c);
  int token;
  int rc = httpresp_multi_add(hm, easy, req, &token);
  if (rc)
    return rc;
  const clock_entry *clk = clock_find(c);
  int64_t end = mono_ms() + MULTI_BUDGET_MS;
  httpresp_response *r = NULL;
  CURL *got_easy = NULL;
  void *got_ud = NULL;
  /* Some requests end inside httpresp_multi_add (a fresh cache hit, an
   * origin still quiet beyond the caller's limits). */
  while (!httpresp_multi_next_done(hm, &r, &got_easy, &got_ud)) {
    int running = -1;
    cr_assert_eq(httpresp_multi_perform(hm, &running), 0);
    cr_assert_geq(running, 0);
    if (httpresp_multi_next_done(hm, &r, &got_easy, &got_ud))
      break;
    long t = -2, curl_t = -2;
    cr_assert_eq(httpresp_multi_timeout(hm, &t), 0);
    cr_assert_geq(t, -1);
    cr_assert_eq(curl_multi_timeout(loop_cm, &curl_t), CURLM_OK);
    if (t > 0 && curl_t < 0 && clk) {
      /* libcurl holds nothing: the transfer is parked until its wake-up.
       * On the client's clock that wait is the caller's to take. */
      cr_assert_eq(clk->sleep(clk->ud, t), 0,
                   "the test's sleep refused a %ld ms wait", t);
    } else {
      cr_assert_eq(httpresp_multi_poll(hm, t < 0 || t > 100 ? 100 : (int)t), 0);
    }
    cr_assert_lt(mono_ms(), end,
                 "multi driver: no answer after %d ms (timeout %ld ms, "
                 "libcurl's %ld ms)",
                 MULTI_BUDGET_MS, t, curl_t);
  }
  cr_assert_not_null(r, "multi driver: next_done without a response");
  cr_assert_eq(got_easy, easy, "multi driver: another easy handle came back");
  cr_assert_eq(got_ud, &token, "multi driver: another userp came back");
  cr_assert_eq(httpresp_multi_pending(hm), 0, "multi driver: %zu left over",
               httpresp_multi_pending(hm));
  *out = r;
  return httpresp_response_error(r);
}

int fixture_perform(httpresp_client *c, CURL *easy, const httpresp_request *req,
                    httpresp_response **out) {
  *out = NULL;
  if (driver == FIXTURE_MULTI)
    return multi_perform(c, easy, req, out);
  return httpresp_perform(c, easy, req, out);
}

CURL *fixture_easy(void) {
  CURL *e = curl_easy_init();
  cr_assert_not_null(e);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
  return e;
}

void fixture_suite_start(int nports, ts_server **ts, fake_clock *clk,
                         httpresp_client **client, CURL **easy) {
  *ts = ts_start(nports);
  cr_assert_not_null(*ts);
  memset(clk, 0, sizeof(*clk));
  *client = fixture_client(clk);
  *easy = fixture_easy();
}

void fixture_suite_stop(ts_server *ts, httpresp_client *client, CURL *easy) {
  fixture_driver_release();
  curl_easy_cleanup(easy);
  clock_forget(client);
  httpresp_client_free(client);
  ts_stop(ts);
}

httpresp_response *fixture_run(httpresp_client *c, CURL *easy,
                               const char *method, const char *url,
                               const char *body, const char *const *headers) {
  httpresp_request *req = NULL;
  cr_assert_eq(httpresp_request_new(&req, method, url), 0, "request %s %s",
               method, url);
  if (body)
    cr_assert_eq(httpresp_request_set_body(req, body, strlen(body)), 0);
  for (size_t i = 0; headers && headers[i]; i++)
    cr_assert_eq(httpresp_request_add_header(req, headers[i], NULL), 0);
  httpresp_response *resp = NULL;
  fixture_perform(c, easy, req, &resp);
  cr_assert_not_null(resp);
  httpresp_request_free(req);
  return resp;
}

const char *fixture_body(const httpresp_response *r) {
  size_t len;
  const char *b = httpresp_response_body(r, &len);
  return b ? b : "";
}

void fixture_expect_hop(const httpresp_response *r, size_t i, int status,
                        httpresp_decision d) {
  int st;
  httpresp_decision got;
  cr_assert_eq(httpresp_response_hop(r, i, &st, NULL, NULL, &got), 0,
               "no hop %zu (of %zu)", i, httpresp_response_hop_count(r));
  if (status != FIXTURE_ANY_STATUS)
    cr_expect_eq(st, status, "hop %zu: status %d, expected %d", i, st, status);
  cr_expect_eq(got, d, "hop %zu: %s, expected %s", i,
               httpresp_decision_name(got), httpresp_decision_name(d));
}

size_t fixture_stream_read(void *ud, char *buf, size_t len) {
  fixture_stream *s = ud;
  size_t n = s->len - s->pos;
  if (n > len)
    n = len;
  if (s->chunk && n > s->chunk)
    n = s->chunk;
  memcpy(buf, s->data + s->pos, n);
  s->pos += n;
  return n;
}

int fixture_stream_rewind(void *ud) {
  fixture_stream *s = ud;
  s->pos = 0;
  s->rewinds++;
  return 0;
}

void fixture_rm_rf(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0)
    return;
  if (!S_ISDIR(st.st_mode)) {
    unlink(path);
    return;
  }
  DIR *d = opendir(path);
  if (d) {
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
      if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
        continue;
      size_t n = strlen(path) + strlen(de->d_name) + 2;
      char *sub = malloc(n);
      if (!sub)
        continue;
      snprintf(sub, n, "%s/%s", path, de->d_name);
      fixture_rm_rf(sub);
      free(sub);
    }
    closedir(d);
  }
  rmdir(path);
}
