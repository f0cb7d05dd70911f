/* SPDX-License-Identifier: MIT */
/* Per-request policy end to end, through both drivers (fixtures.h): a
 * request's own deadline, redirect limit, retry count, maximum wait and
 * cache mode (Fetch's RequestCache) override the client's for that request
 * alone, and the copies made for redirects and repeats keep them.  Each
 * test checks what the server received, not only what came back. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "testsrv.h"

static ts_server *ts;
static httpresp_client *client;
static httpresp_cache *cache;
static CURL *easy;
static fake_clock clk;

static void setup(void) {
  fixture_suite_start(2, &ts, &clk, &client, &easy);
  cr_assert_eq(httpresp_cache_new_memory(&cache, 4 * 1024 * 1024), 0);
}

static void teardown(void) {
  fixture_suite_stop(ts, client, easy);
  httpresp_cache_free(cache);
}

FIXTURE_SUITES(reqpolicy, .init = setup, .fini = teardown);

static httpresp_request *new_req(const char *method, const char *path) {
  char *u = ts_url(ts, 0, path);
  httpresp_request *q = NULL;
  cr_assert_eq(httpresp_request_new(&q, method, u), 0);
  free(u);
  return q;
}

/* Runs `q` (freed) through the test's driver. */
static httpresp_response *run(httpresp_request *q) {
  httpresp_response *r = NULL;
  fixture_perform(client, easy, q, &r);
  cr_assert_not_null(r);
  httpresp_request_free(q);
  return r;
}

static httpresp_response *get(const char *path) {
  return run(new_req("GET", path));
}

static const char *target(size_t i) {
  const ts_request *q = ts_request_get(ts, i);
  cr_assert_not_null(q, "the server got no request %zu", i);
  return q->target;
}

/* ---- limits ------------------------------------------------------------- */

static void chain_of_three(void) {
  ts_simple(ts, 0, "/a", 302, "Location: /b\r\n", NULL);
  ts_simple(ts, 0, "/b", 302, "Location: /c\r\n", NULL);
  ts_simple(ts, 0, "/c", 302, "Location: /d\r\n", NULL);
  ts_simple(ts, 0, "/d", 200, NULL, "end");
}

FIXTURE_TEST(reqpolicy, max_redirects_overrides_the_client) {
  chain_of_three();
  httpresp_request *q = new_req("GET", "/a");
  cr_assert_eq(httpresp_request_set_max_redirects(q, 1), 0);
  httpresp_response *r = run(q);
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_TOO_MANY_REDIRECTS);
  cr_expect_eq(ts_request_count(ts), 2u, "only /a and /b went out");
  cr_expect_str_eq(target(1), "/b");
  httpresp_response_free(r);

  /* The client's own limit (20) is untouched, and -1 goes back to it. */
  ts_reset(ts);
  chain_of_three();
  cr_assert_eq(httpresp_client_set_max_redirects(client, 1), 0);
  q = new_req("GET", "/a");
  cr_assert_eq(httpresp_request_set_max_redirects(q, 5), 0);
  r = run(q);
  cr_expect_eq(httpresp_response_error(r), 0);
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(ts_request_count(ts), 4u);
  httpresp_response_free(r);

  ts_reset(ts);
  chain_of_three();
  q = new_req("GET", "/a");
  cr_assert_eq(httpresp_request_set_max_redirects(q, 5), 0);
  cr_assert_eq(httpresp_request_set_max_redirects(q, -1), 0);
  r = run(q);
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_TOO_MANY_REDIRECTS);
  cr_expect_eq(ts_request_count(ts), 2u);
  httpresp_response_free(r);
}

FIXTURE_TEST(reqpolicy, max_retries_overrides_the_client_across_redirects) {
  /* The retry count travels with the redirect's copy of the request. */
  ts_simple(ts, 0, "/r", 302, "Location: /busy\r\n", NULL);
  for (int i = 0; i < 5; i++)
    ts_simple(ts, 0, "/busy", 503, "Retry-After: 1\r\n", NULL);
  httpresp_request *q = new_req("GET", "/r");
  cr_assert_eq(httpresp_request_set_max_retries(q, 1), 0);
  httpresp_response *r = run(q);
  cr_expect_eq(httpresp_response_status(r), 503);
  cr_expect_eq(httpresp_response_retry_stop(r), HTTPRESP_RETRY_EXHAUSTED);
  cr_expect_eq(ts_request_count(ts), 3u, "/r, then /busy twice");
  cr_expect_str_eq(target(2), "/busy");
  cr_expect_eq(clk.slept_ms, 1000);
  httpresp_response_free(r);

  /* More than the client's count (0 here). */
  ts_reset(ts);
  httpresp_client_forget_quiet(client, NULL);
  cr_assert_eq(httpresp_client_set_max_retries(client, 0), 0);
  for (int i = 0; i < 2; i++)
    ts_simple(ts, 0, "/busy", 503, "Retry-After: 0\r\n", NULL);
  ts_simple(ts, 0, "/busy", 200, NULL, "ok");
  q = new_req("GET", "/busy");
  cr_assert_eq(httpresp_request_set_max_retries(q, 2), 0);
  r = run(q);
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(httpresp_response_attempts(r), 3u);
  cr_expect_eq(ts_request_count(ts), 3u);
  httpresp_response_free(r);
}

FIXTURE_TEST(reqpolicy, max_wait_overrides_the_client) {
  ts_simple(ts, 0, "/busy", 503, "Retry-After: 5\r\n", NULL);
  ts_simple(ts, 0, "/busy", 200, NULL, "ok");
  httpresp_request *q = new_req("GET", "/busy");
  cr_assert_eq(httpresp_request_set_max_wait_ms(q, 1000), 0);
  httpresp_response *r = run(q);
  cr_expect_eq(httpresp_response_status(r), 503);
  cr_expect_eq(httpresp_response_retry_stop(r), HTTPRESP_RETRY_WAIT_TOO_LONG);
  cr_expect_eq(ts_request_count(ts), 1u);
  cr_expect_eq(clk.sleeps, 0);
  httpresp_response_free(r);

  /* The client's (a minute) lets the same answer be waited for. */
  ts_reset(ts);
  ts_simple(ts, 0, "/busy", 503, "Retry-After: 5\r\n", NULL);
  ts_simple(ts, 0, "/busy", 200, NULL, "ok");
  httpresp_client_forget_quiet(client, NULL);
  r = get("/busy");
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(ts_request_count(ts), 2u);
  httpresp_response_free(r);
}

FIXTURE_TEST(reqpolicy, deadline_overrides_the_client) {
  ts_simple(ts, 0, "/busy", 503, "Retry-After: 5\r\n", NULL);
  ts_simple(ts, 0, "/busy", 200, NULL, "ok");
  httpresp_request *q = new_req("GET", "/busy");
  cr_assert_eq(httpresp_request_set_deadline_ms(q, 3000), 0);
  httpresp_response *r = run(q);
  cr_expect_eq(httpresp_response_status(r), 503);
  cr_expect_eq(httpresp_response_retry_stop(r), HTTPRESP_RETRY_DEADLINE);
  cr_expect_eq(ts_request_count(ts), 1u);
  httpresp_response_free(r);

  /* 0 is "no deadline", over a client that has one. */
  ts_reset(ts);
  httpresp_client_forget_quiet(client, NULL);
  cr_assert_eq(httpresp_client_set_deadline_ms(client, 3000), 0);
  ts_simple(ts, 0, "/busy", 503, "Retry-After: 5\r\n", NULL);
  ts_simple(ts, 0, "/busy", 200, NULL, "ok");
  q = new_req("GET", "/busy");
  cr_assert_eq(httpresp_request_set_deadline_ms(q, 0), 0);
  r = run(q);
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(ts_request_count(ts), 2u);
  httpresp_response_free(r);
}

Test(reqpolicy_args, setters_refuse_what_they_cannot_mean) {
  httpresp_request *q = NULL;
  cr_assert_eq(httpresp_request_new(&q, "GET", "http://127.0.0.1/"), 0);
  cr_expect_eq(httpresp_request_set_max_redirects(q, -2),
               HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(httpresp_request_set_max_retries(q, -2), HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(httpresp_request_set_max_wait_ms(q, -2), HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(httpresp_request_set_deadline_ms(q, -2), HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(httpresp_request_set_cache_mode(q, (httpresp_cache_mode)99),
               HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(httpresp_request_set_cache_mode(q, (httpresp_cache_mode)-1),
               HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(httpresp_request_set_max_redirects(NULL, 1),
               HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(httpresp_request_set_cache_mode(NULL, 0),
               HTTPRESP_E_INVALID_ARG);
  httpresp_request_free(q);
}

/* ---- cache modes (Fetch, RequestCache) ----------------------------------- */

static void use_cache(void) {
  cr_assert_eq(httpresp_client_set_cache(client, cache), 0);
}

/* Stores `body` for `path`, fresh for `max_age` seconds, with `extra`
 * fields; checks that it was stored. */
static void prime(const char *path, int max_age, const char *extra,
                  const char *body) {
  char h[256];
  snprintf(h, sizeof(h), "Cache-Control: max-age=%d\r\n%s", max_age,
           extra ? extra : "");
  ts_simple(ts, 0, path, 200, h, body);
  httpresp_response *r = get(path);
  cr_assert_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STORED);
  httpresp_response_free(r);
}

static httpresp_response *get_mode(const char *path, httpresp_cache_mode m) {
  httpresp_request *q = new_req("GET", path);
  cr_assert_eq(httpresp_request_set_cache_mode(q, m), 0);
  return run(q);
}

FIXTURE_TEST(reqpolicy, mode_no_store_neither_uses_nor_stores) {
  use_cache();
  prime("/x", 60, NULL, "one");
  ts_simple(ts, 0, "/x", 200, "Cache-Control: max-age=60\r\n", "two");
  httpresp_response *r = get_mode("/x", HTTPRESP_CACHE_MODE_NO_STORE);
  cr_expect_str_eq(fixture_body(r), "two");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_BYPASS);
  cr_expect_eq(ts_request_count(ts), 2u, "the fresh entry was not used");
  const ts_request *q = ts_request_get(ts, 1);
  cr_expect_str_eq(ts_req_header(q, "Pragma"), "no-cache");
  cr_expect_str_eq(ts_req_header(q, "Cache-Control"), "no-cache");
  httpresp_response_free(r);
  /* Not stored: the older answer is still the one served. */
  r = get("/x");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  cr_expect_str_eq(fixture_body(r), "one");
  cr_expect_eq(ts_request_count(ts), 2u);
  httpresp_response_free(r);
}

FIXTURE_TEST(reqpolicy, mode_reload_goes_to_the_network_and_stores) {
  use_cache();
  prime("/x", 60, NULL, "one");
  ts_simple(ts, 0, "/x", 200, "Cache-Control: max-age=60\r\n", "two");
  httpresp_request *q = new_req("GET", "/x");
  /* The caller's own field stays as it is; the missing one is added. */
  cr_assert_eq(httpresp_request_add_header(q, "Cache-Control", "max-age=5"), 0);
  cr_assert_eq(httpresp_request_set_cache_mode(q, HTTPRESP_CACHE_MODE_RELOAD),
               0);
  httpresp_response *r = run(q);
  cr_expect_str_eq(fixture_body(r), "two");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STORED);
  cr_expect_eq(ts_request_count(ts), 2u);
  const ts_request *sq = ts_request_get(ts, 1);
  cr_expect_str_eq(ts_req_header(sq, "Pragma"), "no-cache");
  cr_expect_eq(ts_req_header_count(sq, "Cache-Control"), 1u);
  cr_expect_str_eq(ts_req_header(sq, "Cache-Control"), "max-age=5");
  httpresp_response_free(r);
  r = get("/x");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  cr_expect_str_eq(fixture_body(r), "two");
  cr_expect_eq(ts_request_count(ts), 2u);
  httpresp_response_free(r);
}

FIXTURE_TEST(reqpolicy, mode_no_cache_revalidates_a_fresh_entry) {
  use_cache();
  prime("/x", 60, "ETag: \"v1\"\r\n", "one");
  ts_simple(ts, 0, "/x", 304, "ETag: \"v1\"\r\n", NULL);
  httpresp_response *r = get_mode("/x", HTTPRESP_CACHE_MODE_NO_CACHE);
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_str_eq(fixture_body(r), "one");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_REVALIDATED);
  cr_expect_eq(ts_request_count(ts), 2u);
  const ts_request *q = ts_request_get(ts, 1);
  cr_expect_str_eq(ts_req_header(q, "If-None-Match"), "\"v1\"");
  cr_expect_str_eq(ts_req_header(q, "Cache-Control"), "max-age=0");
  cr_expect_null(ts_req_header(q, "Pragma"));
  httpresp_response_free(r);
}

FIXTURE_TEST(reqpolicy, mode_force_cache_serves_a_stale_entry) {
  use_cache();
  prime("/x", 1, NULL, "old");
  clk.now_ms += 3600 * 1000; /* an hour stale, no validator */
  httpresp_response *r = get_mode("/x", HTTPRESP_CACHE_MODE_FORCE_CACHE);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  cr_expect_str_eq(fixture_body(r), "old");
  cr_expect_eq(ts_request_count(ts), 1u, "no request beyond the priming one");
  httpresp_response_free(r);
  /* Nothing stored: the network, and its answer is stored. */
  ts_simple(ts, 0, "/y", 200, "Cache-Control: max-age=60\r\n", "new");
  r = get_mode("/y", HTTPRESP_CACHE_MODE_FORCE_CACHE);
  cr_expect_str_eq(fixture_body(r), "new");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STORED);
  cr_expect_eq(ts_request_count(ts), 2u);
  cr_expect_null(ts_req_header(ts_request_get(ts, 1), "Cache-Control"));
  httpresp_response_free(r);
  /* The default mode would not have served the stale one. */
  ts_simple(ts, 0, "/x", 200, NULL, "fetched");
  r = get("/x");
  cr_expect_str_eq(fixture_body(r), "fetched");
  httpresp_response_free(r);
}

FIXTURE_TEST(reqpolicy, mode_only_if_cached_never_uses_the_network) {
  use_cache();
  prime("/x", 1, NULL, "old");
  clk.now_ms += 3600 * 1000;
  httpresp_response *r = get_mode("/x", HTTPRESP_CACHE_MODE_ONLY_IF_CACHED);
  cr_expect_eq(httpresp_response_error(r), 0);
  cr_expect_str_eq(fixture_body(r), "old");
  httpresp_response_free(r);
  ts_simple(ts, 0, "/missing", 200, NULL, "never");
  r = get_mode("/missing", HTTPRESP_CACHE_MODE_ONLY_IF_CACHED);
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_NOT_CACHED);
  httpresp_response_free(r);
  /* A method the cache does not take is no exception. */
  httpresp_request *q = new_req("POST", "/missing");
  cr_assert_eq(httpresp_request_set_body(q, "b", 1), 0);
  cr_assert_eq(
      httpresp_request_set_cache_mode(q, HTTPRESP_CACHE_MODE_ONLY_IF_CACHED),
      0);
  r = run(q);
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_NOT_CACHED);
  httpresp_response_free(r);
  cr_expect_eq(ts_request_count(ts), 1u, "only the priming request went out");
}

FIXTURE_TEST(reqpolicy, mode_only_if_cached_without_a_cache) {
  ts_simple(ts, 0, "/x", 200, NULL, "never");
  httpresp_response *r = get_mode("/x", HTTPRESP_CACHE_MODE_ONLY_IF_CACHED);
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_NOT_CACHED);
  cr_expect_eq(ts_request_count(ts), 0u);
  httpresp_response_free(r);
}

FIXTURE_TEST(reqpolicy, mode_travels_with_the_redirect) {
  /* A stored redirect is followed from the cache; its target is not
   * stored, and the redirect's copy of the request is still
   * only-if-cached: no request at all. */
  use_cache();
  ts_simple(ts, 0, "/moved", 301, "Location: /target\r\n", NULL);
  ts_simple(ts, 0, "/target", 200, "Cache-Control: no-store\r\n", "t");
  httpresp_response *r = get("/moved");
  cr_assert_eq(httpresp_response_status(r), 200);
  httpresp_response_free(r);
  size_t before = ts_request_count(ts);
  r = get_mode("/moved", HTTPRESP_CACHE_MODE_ONLY_IF_CACHED);
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_NOT_CACHED);
  fixture_expect_hop(r, 0, 301, HTTPRESP_DECISION_FOLLOW);
  cr_expect_eq(ts_request_count(ts), before);
  httpresp_response_free(r);
}

/* ---- the request's own pointer in callbacks ----------------------------- */

typedef struct seen {
  void *hop_ud[4];  /* httpresp_hop_userdata of each hop call */
  void *next_ud[4]; /* httpresp_request_userdata(next) */
  void *client_ud[4];
  int hops;
  void *hints_ud[4]; /* request_userdata of each early-hints call */
  char link[4][64];
  int hints;
} seen;

static int record_hop(void *ud, const httpresp_hop_view *hop,
                      httpresp_request *next) {
  seen *s = ud;
  if (s->hops < 4) {
    s->client_ud[s->hops] = ud;
    s->hop_ud[s->hops] = httpresp_hop_userdata(hop);
    s->next_ud[s->hops] = httpresp_request_userdata(next);
  }
  s->hops++;
  return 0;
}

static void record_hints2(void *ud, void *request_ud, int status,
                          const char *const *headers, size_t count) {
  seen *s = ud;
  cr_expect_eq(status, 103);
  if (s->hints < 4) {
    s->hints_ud[s->hints] = request_ud;
    snprintf(s->link[s->hints], sizeof(s->link[0]), "%s",
             count ? headers[0] : "");
  }
  s->hints++;
}

FIXTURE_TEST(reqpolicy, callbacks_get_the_request_pointer) {
  static int job_a, job_b;
  seen s;
  memset(&s, 0, sizeof(s));
  cr_assert_eq(httpresp_client_set_hop_callback(client, record_hop, &s), 0);
  cr_assert_eq(
      httpresp_client_set_early_hints_callback2(client, record_hints2, &s), 0);
  ts_simple(ts, 0, "/a", 302, "Location: /b\r\n", NULL);
  ts_resp *b = ts_route(ts, 0, "/b");
  ts_resp_str(b, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n");
  ts_resp_str(b, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  httpresp_request *q = new_req("GET", "/a");
  cr_assert_eq(httpresp_request_set_userdata(q, &job_a), 0);
  httpresp_response *r = run(q);
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(ts_request_count(ts), 2u);
  cr_assert_eq(s.hops, 1);
  cr_expect_eq(s.client_ud[0], &s);
  cr_expect_eq(s.hop_ud[0], &job_a);
  cr_expect_eq(s.next_ud[0], &job_a, "the redirect's copy keeps it");
  cr_assert_eq(s.hints, 1);
  cr_expect_eq(s.hints_ud[0], &job_a, "103 of the redirected hop");
  cr_expect_str_eq(s.link[0], "Link: </s.css>");
  httpresp_response_free(r);

  /* Another request through the same client: its own pointer. */
  ts_simple(ts, 0, "/a", 302, "Location: /c\r\n", NULL);
  ts_simple(ts, 0, "/c", 200, NULL, "c");
  q = new_req("GET", "/a");
  cr_assert_eq(httpresp_request_set_userdata(q, &job_b), 0);
  r = run(q);
  cr_assert_eq(s.hops, 2);
  cr_expect_eq(s.hop_ud[1], &job_b);
  httpresp_response_free(r);

  /* The older early-hints setter replaces this one, with the client's
   * pointer only. */
  cr_assert_eq(httpresp_client_set_early_hints_callback(client, NULL, NULL), 0);
  ts_resp *b2 = ts_route(ts, 0, "/b");
  ts_resp_str(b2, "HTTP/1.1 103 Early Hints\r\nLink: </t.css>\r\n\r\n");
  ts_resp_str(b2, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  r = get("/b");
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(s.hints, 1, "removed: not called again");
  httpresp_response_free(r);
}

/* The reason for the pointer: several requests under way in one multi
 * context, one shared callback. */
Test(reqpolicy_args, multi_callbacks_tell_requests_apart) {
  ts_server *srv = ts_start(1);
  httpresp_client *c = fixture_client(NULL);
  seen s;
  memset(&s, 0, sizeof(s));
  cr_assert_eq(httpresp_client_set_hop_callback(c, record_hop, &s), 0);
  CURLM *cm = curl_multi_init();
  httpresp_multi *hm;
  cr_assert_eq(httpresp_multi_new(&hm, c, cm), 0);
  static int jobs[2];
  CURL *e[2];
  for (int i = 0; i < 2; i++) {
    char from[16], to[32];
    snprintf(from, sizeof(from), "/m%d", i);
    snprintf(to, sizeof(to), "Location: /t%d\r\n", i);
    ts_resp *slow = ts_route(srv, 0, from);
    ts_resp_delay(slow, i ? 10 : 300); /* the second answers first */
    ts_resp_simple(slow, 302, to, NULL);
    snprintf(to, sizeof(to), "/t%d", i);
    ts_simple(srv, 0, to, 200, NULL, "x");
    char *u = ts_url(srv, 0, from);
    httpresp_request *q;
    cr_assert_eq(httpresp_request_new(&q, "GET", u), 0);
    free(u);
    cr_assert_eq(httpresp_request_set_userdata(q, &jobs[i]), 0);
    e[i] = fixture_easy();
    cr_assert_eq(httpresp_multi_add(hm, e[i], q, NULL), 0);
    httpresp_request_free(q); /* the context has its copy */
  }
  int running = 1;
  for (int spins = 0; running && spins < 500; spins++) {
    cr_assert_eq(httpresp_multi_perform(hm, &running), 0);
    if (running)
      cr_assert_eq(httpresp_multi_poll(hm, 20), 0);
  }
  cr_assert_eq(s.hops, 2);
  cr_expect_eq(s.hop_ud[0], &jobs[1], "the faster request's redirect first");
  cr_expect_eq(s.hop_ud[1], &jobs[0]);
  httpresp_response *r;
  CURL *done;
  void *ud;
  int n = 0;
  while (httpresp_multi_next_done(hm, &r, &done, &ud)) {
    cr_expect_eq(httpresp_response_status(r), 200);
    httpresp_response_free(r);
    n++;
  }
  cr_expect_eq(n, 2);
  httpresp_multi_free(hm);
  curl_multi_cleanup(cm);
  for (int i = 0; i < 2; i++)
    curl_easy_cleanup(e[i]);
  httpresp_client_free(c);
  ts_stop(srv);
}

/* ---- the wait callback --------------------------------------------------- */

typedef struct waits {
  int calls;
  httpresp_wait_reason reason[4];
  int64_t ms[4];
  char url[4][128];
  void *request_ud[4];
  int64_t answer; /* what the callback returns; -2: the planned wait */
} waits;

static int64_t record_wait(void *ud, void *request_ud,
                           httpresp_wait_reason reason, int64_t ms,
                           const char *url) {
  waits *w = ud;
  if (w->calls < 4) {
    w->reason[w->calls] = reason;
    w->ms[w->calls] = ms;
    w->request_ud[w->calls] = request_ud;
    snprintf(w->url[w->calls], sizeof(w->url[0]), "%s", url);
  }
  w->calls++;
  return w->answer == -2 ? ms : w->answer;
}

static int ends_with(const char *s, const char *tail) {
  size_t n = strlen(s), m = strlen(tail);
  return n >= m && strcmp(s + n - m, tail) == 0;
}

FIXTURE_TEST(reqpolicy, wait_callback_shortens_a_retry_after) {
  static int job;
  waits w = {.answer = 2000};
  cr_assert_eq(httpresp_client_set_wait_callback(client, record_wait, &w), 0);
  ts_simple(ts, 0, "/busy", 503, "Retry-After: 10\r\n", NULL);
  ts_simple(ts, 0, "/busy", 200, NULL, "ok");
  httpresp_request *q = new_req("GET", "/busy");
  cr_assert_eq(httpresp_request_set_userdata(q, &job), 0);
  int64_t t0 = clk.now_ms;
  httpresp_response *r = run(q);
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(ts_request_count(ts), 2u);
  /* One wait, shortened; the origin's remembered quiet time does not make
   * the repeat wait again. */
  cr_assert_eq(w.calls, 1);
  cr_expect_eq(w.reason[0], HTTPRESP_WAIT_RETRY_AFTER);
  cr_expect_eq(w.ms[0], 10000);
  cr_expect_eq(w.request_ud[0], &job);
  cr_expect(ends_with(w.url[0], "/busy"), "%s", w.url[0]);
  cr_expect_eq(clk.now_ms - t0, 2000);
  cr_expect_eq(clk.slept_ms, 2000);
  httpresp_response_free(r);
}

FIXTURE_TEST(reqpolicy, wait_callback_cannot_lengthen_a_wait) {
  waits w = {.answer = INT64_MAX};
  cr_assert_eq(httpresp_client_set_wait_callback(client, record_wait, &w), 0);
  ts_simple(ts, 0, "/busy", 503, "Retry-After: 1\r\n", NULL);
  ts_simple(ts, 0, "/busy", 200, NULL, "ok");
  httpresp_response *r = get("/busy");
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(clk.slept_ms, 1000);
  cr_expect_eq(w.calls, 1);
  httpresp_response_free(r);
}

FIXTURE_TEST(reqpolicy, wait_callback_aborts) {
  waits w = {.answer = -1};
  cr_assert_eq(httpresp_client_set_wait_callback(client, record_wait, &w), 0);
  ts_simple(ts, 0, "/busy", 503, "Retry-After: 5\r\n", NULL);
  ts_simple(ts, 0, "/busy", 200, NULL, "never");
  httpresp_response *r = get("/busy");
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_ABORTED);
  cr_expect_eq(httpresp_response_status(r), 503, "the answer that asked");
  cr_expect_eq(ts_request_count(ts), 1u);
  cr_expect_eq(clk.sleeps, 0);
  cr_expect_eq(w.calls, 1);
  httpresp_response_free(r);
}

FIXTURE_TEST(reqpolicy, wait_callback_sees_backoff) {
  waits w = {.answer = -2};
  cr_assert_eq(httpresp_client_set_backoff(client, 100, 100), 0);
  cr_assert_eq(httpresp_client_set_wait_callback(client, record_wait, &w), 0);
  /* Jitter may draw 0 (no wait, no call): enough 503s for one to wait. */
  for (int i = 0; i < 3; i++)
    ts_simple(ts, 0, "/busy", 503, NULL, NULL);
  ts_simple(ts, 0, "/busy", 200, NULL, "ok");
  httpresp_response *r = get("/busy");
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(ts_request_count(ts), 4u);
  cr_expect_eq(clk.slept_ms, w.calls ? w.ms[0] + (w.calls > 1 ? w.ms[1] : 0) +
                                           (w.calls > 2 ? w.ms[2] : 0)
                                     : 0);
  for (int i = 0; i < w.calls && i < 3; i++) {
    cr_expect_eq(w.reason[i], HTTPRESP_WAIT_BACKOFF);
    cr_expect(w.ms[i] > 0 && w.ms[i] <= 100);
  }
  httpresp_response_free(r);
}

FIXTURE_TEST(reqpolicy, wait_callback_sees_an_origin_quiet_time) {
  waits w = {.answer = 0};
  ts_simple(ts, 0, "/slow-down", 429, "Retry-After: 30\r\n", NULL);
  httpresp_request *q = new_req("GET", "/slow-down");
  cr_assert_eq(httpresp_request_set_max_retries(q, 0), 0);
  httpresp_response *r = run(q);
  cr_expect_eq(httpresp_response_status(r), 429);
  httpresp_response_free(r);
  cr_assert_eq(httpresp_client_set_wait_callback(client, record_wait, &w), 0);
  ts_simple(ts, 0, "/other", 200, NULL, "ok");
  r = get("/other");
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(ts_request_count(ts), 2u, "sent at once, as the callback said");
  cr_assert_eq(w.calls, 1);
  cr_expect_eq(w.reason[0], HTTPRESP_WAIT_ORIGIN_QUIET);
  cr_expect_eq(w.ms[0], 30000);
  cr_expect(ends_with(w.url[0], "/other"));
  cr_expect_eq(clk.sleeps, 0);
  httpresp_response_free(r);
  /* A shortened quiet wait is waited once, not again for the rest. */
  w.answer = 1000;
  ts_simple(ts, 0, "/other", 200, NULL, "ok");
  r = get("/other");
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(w.calls, 2);
  cr_expect_eq(clk.slept_ms, 1000);
  httpresp_response_free(r);
}

Test(reqpolicy_args, wait_reason_names) {
  cr_expect_str_eq(httpresp_wait_reason_name(HTTPRESP_WAIT_RETRY_AFTER),
                   "retry-after");
  cr_expect_str_eq(httpresp_wait_reason_name(HTTPRESP_WAIT_BACKOFF), "backoff");
  cr_expect_str_eq(httpresp_wait_reason_name(HTTPRESP_WAIT_ORIGIN_QUIET),
                   "origin-quiet");
  cr_expect_str_eq(httpresp_wait_reason_name((httpresp_wait_reason)42),
                   "unknown");
  cr_expect_eq(httpresp_client_set_wait_callback(NULL, NULL, NULL),
               HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(httpresp_client_set_headers_callback(NULL, NULL, NULL),
               HTTPRESP_E_INVALID_ARG);
}

/* ---- the final-headers callback ------------------------------------------ */

typedef struct heads {
  int calls;
  int status;
  char url[128];
  char fields[512]; /* the lines, each followed by '|' */
  void *request_ud;
  int body_bytes_before; /* body bytes the sink had got at the call */
  int body_bytes;
  int veto;
} heads;

static int record_headers(void *ud, void *request_ud, int status,
                          const char *url, const char *const *headers,
                          size_t count) {
  heads *h = ud;
  h->calls++;
  h->status = status;
  h->request_ud = request_ud;
  h->body_bytes_before = h->body_bytes;
  snprintf(h->url, sizeof(h->url), "%s", url);
  h->fields[0] = '\0';
  for (size_t i = 0; i < count; i++) {
    strncat(h->fields, headers[i], sizeof(h->fields) - strlen(h->fields) - 2);
    strcat(h->fields, "|");
  }
  return h->veto;
}

static size_t count_sink(void *ud, const char *data, size_t len) {
  (void)data;
  heads *h = ud;
  h->body_bytes += (int)len;
  return len;
}

static httpresp_response *get_sunk(const char *path, heads *h) {
  httpresp_request *q = new_req("GET", path);
  cr_assert_eq(httpresp_request_set_sink(q, count_sink, h), 0);
  cr_assert_eq(httpresp_request_set_userdata(q, h), 0);
  return run(q);
}

FIXTURE_TEST(reqpolicy, headers_callback_before_the_body) {
  heads h;
  memset(&h, 0, sizeof(h));
  cr_assert_eq(httpresp_client_set_headers_callback(client, record_headers, &h),
               0);
  ts_simple(ts, 0, "/a", 302, "Location: /b\r\nX-Hop: 1\r\n", "moved");
  ts_simple(ts, 0, "/b", 200, "X-Final: yes\r\n", "hello");
  httpresp_response *r = get_sunk("/a", &h);
  cr_expect_eq(httpresp_response_error(r), 0);
  cr_expect_eq(h.calls, 1, "the followed 302 is not shown");
  cr_expect_eq(h.status, 200);
  cr_expect(ends_with(h.url, "/b"), "%s", h.url);
  cr_expect(strstr(h.fields, "X-Final: yes|") != NULL, "%s", h.fields);
  cr_expect(strstr(h.fields, "X-Hop") == NULL, "%s", h.fields);
  cr_expect_eq(h.request_ud, &h);
  cr_expect_eq(h.body_bytes_before, 0);
  cr_expect_eq(h.body_bytes, 5);
  cr_expect_eq(ts_request_count(ts), 2u);
  httpresp_response_free(r);
}

FIXTURE_TEST(reqpolicy, headers_callback_aborts_before_the_body) {
  heads h;
  memset(&h, 0, sizeof(h));
  h.veto = 1;
  cr_assert_eq(httpresp_client_set_headers_callback(client, record_headers, &h),
               0);
  ts_simple(ts, 0, "/b", 200, NULL, "hello");
  httpresp_response *r = get_sunk("/b", &h);
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_ABORTED);
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(h.calls, 1);
  cr_expect_eq(h.body_bytes, 0, "none of the body was delivered");
  httpresp_response_free(r);
}

FIXTURE_TEST(reqpolicy, headers_callback_for_stored_answers) {
  heads h;
  memset(&h, 0, sizeof(h));
  use_cache();
  prime("/x", 60, "ETag: \"e\"\r\n", "body");
  cr_assert_eq(httpresp_client_set_headers_callback(client, record_headers, &h),
               0);
  clk.now_ms += 5000;
  httpresp_response *r = get_sunk("/x", &h);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  cr_expect_eq(h.calls, 1);
  cr_expect_eq(h.status, 200);
  cr_expect(strstr(h.fields, "Age: 5|") != NULL, "%s", h.fields);
  cr_expect_eq(h.body_bytes_before, 0);
  cr_expect_eq(h.body_bytes, 4);
  httpresp_response_free(r);
  /* Revalidated: the stored answer's status and fields, not the 304's. */
  ts_simple(ts, 0, "/x", 304, "ETag: \"e\"\r\nX-Fresh: again\r\n", NULL);
  memset(&h, 0, sizeof(h));
  r = get_mode("/x", HTTPRESP_CACHE_MODE_NO_CACHE);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_REVALIDATED);
  cr_expect_eq(h.calls, 1);
  cr_expect_eq(h.status, 200);
  cr_expect(strstr(h.fields, "X-Fresh: again|") != NULL, "%s", h.fields);
  httpresp_response_free(r);
  /* A stopped request shows nothing. */
  memset(&h, 0, sizeof(h));
  ts_simple(ts, 0, "/loop", 302, "Location: /loop2\r\n", NULL);
  ts_simple(ts, 0, "/loop2", 302, "Location: /loop3\r\n", NULL);
  httpresp_request *q = new_req("GET", "/loop");
  cr_assert_eq(httpresp_request_set_max_redirects(q, 1), 0);
  r = run(q);
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_TOO_MANY_REDIRECTS);
  cr_expect_eq(h.calls, 0);
  httpresp_response_free(r);
}

/* ---- the quiet time's scope, and asking for it --------------------------- */

/* A 429 asking for 30 s of quiet on `path`, not repeated. */
static void told_to_wait(const char *path) {
  ts_simple(ts, 0, path, 429, "Retry-After: 30\r\n", NULL);
  httpresp_request *q = new_req("GET", path);
  cr_assert_eq(httpresp_request_set_max_retries(q, 0), 0);
  httpresp_response *r = run(q);
  cr_assert_eq(httpresp_response_status(r), 429);
  httpresp_response_free(r);
}

static int64_t quiet_until(int port, const char *path) {
  char *u = ts_url(ts, port, path);
  int64_t until = -1;
  cr_assert_eq(httpresp_client_quiet_until(client, u, &until), 0);
  free(u);
  return until;
}

FIXTURE_TEST(reqpolicy, quiet_scope_origin_holds_the_whole_origin) {
  int64_t t0 = clk.now_ms;
  cr_expect_eq(quiet_until(0, "/a"), 0);
  told_to_wait("/a");
  cr_expect_eq(quiet_until(0, "/a"), t0 + 30000);
  cr_expect_eq(quiet_until(0, "/other?q=1"), t0 + 30000);
  cr_expect_eq(quiet_until(1, "/a"), 0, "another port is another origin");
  ts_simple(ts, 0, "/b", 200, NULL, "b");
  httpresp_response *r = get("/b");
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(clk.slept_ms, 30000);
  cr_expect_eq(ts_request_count(ts), 2u);
  cr_expect_eq(quiet_until(0, "/a"), 0, "over");
  httpresp_response_free(r);
}

FIXTURE_TEST(reqpolicy, quiet_scope_url_holds_that_url_alone) {
  cr_assert_eq(httpresp_client_set_quiet_scope(client, HTTPRESP_QUIET_URL), 0);
  int64_t t0 = clk.now_ms;
  told_to_wait("/a");
  cr_expect_eq(quiet_until(0, "/a"), t0 + 30000);
  cr_expect_eq(quiet_until(0, "/./a#frag"), t0 + 30000,
               "one URL, spelled "
               "otherwise");
  cr_expect_eq(quiet_until(0, "/b"), 0);
  ts_simple(ts, 0, "/b", 200, NULL, "b");
  httpresp_response *r = get("/b");
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(clk.sleeps, 0, "another URL of the origin goes at once");
  httpresp_response_free(r);
  ts_simple(ts, 0, "/a", 200, NULL, "a");
  r = get("/a");
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(clk.slept_ms, 30000);
  cr_expect_eq(ts_request_count(ts), 3u);
  cr_expect_str_eq(target(2), "/a");
  httpresp_response_free(r);
  /* Forgetting is by the same scope. */
  told_to_wait("/c");
  char *u = ts_url(ts, 0, "/c");
  cr_expect_eq(httpresp_client_forget_quiet(client, u), 0);
  free(u);
  cr_expect_eq(quiet_until(0, "/c"), 0);
}

FIXTURE_TEST(reqpolicy, quiet_scope_off_remembers_nothing) {
  cr_assert_eq(httpresp_client_set_quiet_scope(client, HTTPRESP_QUIET_OFF), 0);
  told_to_wait("/a");
  cr_expect_eq(quiet_until(0, "/a"), 0);
  ts_simple(ts, 0, "/a", 200, NULL, "a");
  httpresp_response *r = get("/a");
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(clk.sleeps, 0);
  cr_expect_eq(ts_request_count(ts), 2u);
  httpresp_response_free(r);
  /* The request that got the answer still waits before its repeat. */
  ts_simple(ts, 0, "/busy", 503, "Retry-After: 2\r\n", NULL);
  ts_simple(ts, 0, "/busy", 200, NULL, "ok");
  r = get("/busy");
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(clk.slept_ms, 2000);
  cr_expect_eq(quiet_until(0, "/busy"), 0);
  httpresp_response_free(r);
}

Test(reqpolicy_args, quiet_scope_and_query_arguments) {
  httpresp_client *c = fixture_client(NULL);
  int64_t until = 7;
  cr_expect_eq(httpresp_client_set_quiet_scope(c, (httpresp_quiet_scope)3),
               HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(httpresp_client_set_quiet_scope(NULL, HTTPRESP_QUIET_URL),
               HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(httpresp_client_quiet_until(c, "not a url", &until),
               HTTPRESP_E_BAD_URL);
  cr_expect_eq(until, 0);
  cr_expect_eq(httpresp_client_quiet_until(c, NULL, &until),
               HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(httpresp_client_quiet_until(c, "http://h/", NULL),
               HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(httpresp_client_quiet_until(c, "http://h/", &until), 0);
  cr_expect_eq(until, 0);
  httpresp_client_free(c);
}

/* ---- a curl_mime body ------------------------------------------------------
 */

static curl_mime *form(void) {
  curl_mime *m = curl_mime_init(easy);
  cr_assert_not_null(m);
  curl_mimepart *p = curl_mime_addpart(m);
  curl_mime_name(p, "field");
  curl_mime_data(p, "value-1", CURL_ZERO_TERMINATED);
  p = curl_mime_addpart(m);
  curl_mime_name(p, "upload");
  curl_mime_filename(p, "a.txt");
  curl_mime_type(p, "text/plain");
  curl_mime_data(p, "file contents", CURL_ZERO_TERMINATED);
  return m;
}

static void expect_form(const ts_request *q) {
  cr_assert_not_null(q);
  cr_expect_str_eq(q->method, "POST");
  const char *ct = ts_req_header(q, "Content-Type");
  cr_assert_not_null(ct);
  cr_expect(strncmp(ct, "multipart/form-data; boundary=", 30) == 0, "%s", ct);
  cr_expect(q->body_complete);
  cr_expect(strstr(q->body, "name=\"field\"\r\n\r\nvalue-1\r\n") != NULL, "%s",
            q->body);
  cr_expect(strstr(q->body,
                   "name=\"upload\"; filename=\"a.txt\"\r\n"
                   "Content-Type: text/plain\r\n\r\nfile contents") != NULL,
            "%s", q->body);
}

FIXTURE_TEST(reqpolicy, mime_body_is_sent_and_replayed_on_307) {
  curl_mime *m = form();
  ts_simple(ts, 0, "/form", 307, "Location: /form2\r\n", NULL);
  ts_simple(ts, 0, "/form2", 200, NULL, "got it");
  httpresp_request *q = new_req("POST", "/form");
  cr_assert_eq(httpresp_request_set_body_mime(q, m), 0);
  httpresp_response *r = run(q);
  cr_expect_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_expect_str_eq(fixture_body(r), "got it");
  cr_assert_eq(ts_request_count(ts), 2u);
  expect_form(ts_request_get(ts, 0));
  expect_form(ts_request_get(ts, 1));
  cr_expect_str_eq(target(1), "/form2");
  httpresp_response_free(r);
  /* The handle no longer points at the caller's mime: a GET now is a GET. */
  ts_simple(ts, 0, "/after", 200, NULL, "ok");
  r = get("/after");
  cr_expect_str_eq(ts_request_get(ts, 2)->method, "GET");
  cr_expect_eq(ts_request_get(ts, 2)->body_len, 0u);
  httpresp_response_free(r);
  curl_mime_free(m);
}

FIXTURE_TEST(reqpolicy, mime_body_dropped_on_303) {
  curl_mime *m = form();
  ts_simple(ts, 0, "/form", 303, "Location: /done\r\n", NULL);
  ts_simple(ts, 0, "/done", 200, NULL, "done");
  httpresp_request *q = new_req("POST", "/form");
  cr_assert_eq(httpresp_request_set_body_mime(q, m), 0);
  httpresp_response *r = run(q);
  cr_expect_eq(httpresp_response_error(r), 0);
  cr_assert_eq(ts_request_count(ts), 2u);
  expect_form(ts_request_get(ts, 0));
  const ts_request *g = ts_request_get(ts, 1);
  cr_expect_str_eq(g->method, "GET");
  cr_expect_eq(g->body_len, 0u);
  cr_expect_null(ts_req_header(g, "Content-Type"));
  httpresp_response_free(r);
  curl_mime_free(m);
}

FIXTURE_TEST(reqpolicy, mime_body_with_another_method) {
  curl_mime *m = form();
  ts_simple(ts, 0, "/put", 200, NULL, "ok");
  httpresp_request *q = new_req("PUT", "/put");
  cr_assert_eq(httpresp_request_set_body_mime(q, m), 0);
  httpresp_response *r = run(q);
  cr_expect_eq(httpresp_response_error(r), 0);
  const ts_request *s = ts_request_get(ts, 0);
  cr_assert_not_null(s);
  cr_expect_str_eq(s->method, "PUT");
  cr_expect(strstr(s->body, "value-1") != NULL);
  httpresp_response_free(r);
  curl_mime_free(m);
  cr_expect_eq(httpresp_request_set_body_mime(NULL, NULL),
               HTTPRESP_E_INVALID_ARG);
}
