/* SPDX-License-Identifier: MIT */
/* Retry-After through both drivers against the loopback server (DESIGN
 * "Retry-After", RFC 9110 §10.2.3, RFC 6585 §4): suite "retry" through
 * httpresp_perform, "retry_multi" through httpresp_multi (fixtures.h).
 * Waits go through a fake clock: nothing here sleeps for real (under the
 * multi driver the loop waits through the same sleep function, so the
 * waits are counted alike); what the server received on each attempt is
 * checked, not only what the client got back. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "testsrv.h"

static ts_server *ts;
static httpresp_client *client;
static CURL *easy;
static fake_clock clk;

static void setup(void) { fixture_suite_start(2, &ts, &clk, &client, &easy); }

static void teardown(void) { fixture_suite_stop(ts, client, easy); }

FIXTURE_SUITES(retry, .init = setup, .fini = teardown);

static httpresp_response *run_on(int port, const char *method,
                                 const char *path, const char *body,
                                 const char *const *headers) {
  char *u = ts_url(ts, port, path);
  httpresp_response *r = fixture_run(client, easy, method, u, body, headers);
  free(u);
  return r;
}

static httpresp_response *run(const char *method, const char *path,
                              const char *body, const char *const *headers) {
  return run_on(0, method, path, body, headers);
}

static httpresp_response *perform(httpresp_request *req) {
  httpresp_response *r = NULL;
  int rc = fixture_perform(client, easy, req, &r);
  cr_assert_not_null(r);
  cr_expect_eq(rc, httpresp_response_error(r));
  return r;
}

/* Two recorded requests are the same request: method, target, every header
 * in order, and the body byte for byte. */
static void expect_identical(const ts_request *a, const ts_request *b) {
  cr_expect_str_eq(a->method, b->method);
  cr_expect_str_eq(a->target, b->target);
  cr_assert_eq(a->nheaders, b->nheaders, "%zu vs %zu header fields",
               a->nheaders, b->nheaders);
  for (size_t i = 0; i < a->nheaders; i++) {
    cr_expect_str_eq(a->headers[i].name, b->headers[i].name, "field %zu", i);
    cr_expect_str_eq(a->headers[i].value, b->headers[i].value, "field %zu (%s)",
                     i, a->headers[i].name);
  }
  cr_assert_eq(a->body_len, b->body_len);
  cr_expect_eq(memcmp(a->body, b->body, a->body_len), 0, "bodies differ");
  cr_expect(a->body_complete);
  cr_expect(b->body_complete);
}

/* ---- a sleep that reports what had happened when it was called -------- */

#define MAX_SLEEPS 16
static int64_t sleep_ms[MAX_SLEEPS];      /* asked duration */
static int64_t sleep_at[MAX_SLEEPS];      /* fake time when called */
static size_t sleep_requests[MAX_SLEEPS]; /* requests the server had */
static int nsleeps;
static int sleep_refuses; /* non-zero: the sleep aborts */

static int probe_sleep(void *ud, int64_t ms) {
  if (nsleeps < MAX_SLEEPS) {
    sleep_ms[nsleeps] = ms;
    sleep_at[nsleeps] = ((fake_clock *)ud)->now_ms;
    sleep_requests[nsleeps] = ts_request_count(ts);
  }
  nsleeps++;
  if (sleep_refuses)
    return sleep_refuses;
  return fake_sleep(ud, ms);
}

static void use_probe(void) {
  nsleeps = 0;
  sleep_refuses = 0;
  fixture_set_clock(client, fake_now, probe_sleep, &clk);
}

/* ---- the basic repeat ---------------------------------------------------- */

FIXTURE_TEST(retry, too_many_requests_then_ok) {
  ts_simple(ts, 0, "/r", 429, "Retry-After: 2\r\n", "slow down");
  ts_simple(ts, 0, "/r", 200, NULL, "done");
  const char *hdrs[] = {"Content-Type: application/json", "X-Req: 1",
                        "Authorization: Bearer t", NULL};
  httpresp_response *r = run("POST", "/r", "{\"k\":1}", hdrs);
  cr_expect_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_str_eq(fixture_body(r), "done", "the 429 body stays out");
  cr_expect_eq(httpresp_response_attempts(r), 2);
  cr_expect_eq(clk.slept_ms, 2000);
  cr_expect_eq(clk.sleeps, 1);
  cr_expect_eq(httpresp_response_retry_after_ms(r), 2000);
  cr_expect_eq(httpresp_response_retry_stop(r), HTTPRESP_RETRY_SUCCEEDED,
               "retry_stop %d", (int)httpresp_response_retry_stop(r));
  cr_assert_eq(httpresp_response_hop_count(r), 2);
  fixture_expect_hop(r, 0, 429, HTTPRESP_DECISION_RETRY);
  fixture_expect_hop(r, 1, 200, HTTPRESP_DECISION_DELIVER);
  cr_assert_eq(ts_request_count(ts), 2);
  const ts_request *q0 = ts_request_get(ts, 0);
  cr_expect_str_eq(q0->method, "POST");
  cr_expect_str_eq(q0->body, "{\"k\":1}");
  cr_expect_str_eq(ts_req_header(q0, "X-Req"), "1");
  expect_identical(q0, ts_request_get(ts, 1));
  httpresp_response_free(r);
}

FIXTURE_TEST(retry, no_wait_without_a_retryable_status) {
  ts_simple(ts, 0, "/x", 500, "Retry-After: 2\r\n", "broken");
  ts_simple(ts, 0, "/x", 200, NULL, "must not be reached");
  httpresp_response *r = run("GET", "/x", NULL, NULL);
  cr_expect_eq(httpresp_response_status(r), 500);
  cr_expect_eq(ts_request_count(ts), 1);
  cr_expect_eq(clk.slept_ms, 0);
  cr_expect_eq(httpresp_response_retry_stop(r), HTTPRESP_RETRY_NONE);
  httpresp_response_free(r);
}

FIXTURE_TEST(retry, zero_repeats_at_once) {
  ts_simple(ts, 0, "/z", 503, "Retry-After: 0\r\n", "busy");
  ts_simple(ts, 0, "/z", 200, NULL, "done");
  httpresp_response *r = run("GET", "/z", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), 0);
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(ts_request_count(ts), 2);
  cr_expect_eq(clk.slept_ms, 0);
  cr_expect_eq(clk.sleeps, 0);
  cr_expect_eq(httpresp_response_attempts(r), 2);
  fixture_expect_hop(r, 0, 503, HTTPRESP_DECISION_RETRY);
  fixture_expect_hop(r, 1, 200, HTTPRESP_DECISION_DELIVER);
  expect_identical(ts_request_get(ts, 0), ts_request_get(ts, 1));
  httpresp_response_free(r);
}

/* ---- HTTP-date values ------------------------------------------------------ */

FIXTURE_TEST(retry, http_date_is_measured_against_the_date_header) {
  /* The server's clock says 2024; ours says 2026.  Measured against our now
   * every one of these dates is long past (no wait); measured against the
   * server's Date it is 5 s ahead. */
  static const char *const forms[] = {
      "Mon, 01 Jan 2024 00:00:05 GMT",  /* IMF-fixdate */
      "Monday, 01-Jan-24 00:00:05 GMT", /* RFC 850 */
      "Mon Jan  1 00:00:05 2024",       /* asctime */
  };
  for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
    ts_reset(ts);
    clk.slept_ms = 0;
    char hdr[160];
    snprintf(hdr, sizeof(hdr),
             "Date: Mon, 01 Jan 2024 00:00:00 GMT\r\nRetry-After: %s\r\n",
             forms[i]);
    ts_simple(ts, 0, "/d", 503, hdr, "busy");
    ts_simple(ts, 0, "/d", 200, NULL, "done");
    httpresp_response *r = run("GET", "/d", NULL, NULL);
    cr_expect_eq(httpresp_response_status(r), 200, "%s", forms[i]);
    cr_expect_eq(clk.slept_ms, 5000, "%s: slept %lld", forms[i],
                 (long long)clk.slept_ms);
    cr_expect_eq(httpresp_response_retry_after_ms(r), 5000, "%s", forms[i]);
    cr_expect_eq(ts_request_count(ts), 2, "%s", forms[i]);
    httpresp_response_free(r);
  }
}

FIXTURE_TEST(retry, http_date_without_date_header_uses_now) {
  /* The fake clock starts at 2026-01-01T00:00:00Z. */
  ts_simple(ts, 0, "/d", 503, "Retry-After: Thu, 01 Jan 2026 00:00:07 GMT\r\n",
            "busy");
  ts_simple(ts, 0, "/d", 200, NULL, "done");
  httpresp_response *r = run("GET", "/d", NULL, NULL);
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(clk.slept_ms, 7000);
  cr_expect_eq(ts_request_count(ts), 2);
  httpresp_response_free(r);
}

FIXTURE_TEST(retry, http_date_in_the_past_means_now) {
  ts_simple(ts, 0, "/d", 503,
            "Date: Mon, 01 Jan 2024 00:00:10 GMT\r\n"
            "Retry-After: Mon, 01 Jan 2024 00:00:05 GMT\r\n",
            "busy");
  ts_simple(ts, 0, "/d", 200, NULL, "done");
  httpresp_response *r = run("GET", "/d", NULL, NULL);
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(clk.slept_ms, 0);
  cr_expect_eq(httpresp_response_retry_after_ms(r), 0);
  cr_expect_eq(ts_request_count(ts), 2);
  httpresp_response_free(r);
}

FIXTURE_TEST(retry, field_name_is_case_insensitive_and_value_may_have_ows) {
  ts_simple(ts, 0, "/c", 503, "retry-after:   3  \r\n", "busy");
  ts_simple(ts, 0, "/c", 200, NULL, "done");
  httpresp_response *r = run("GET", "/c", NULL, NULL);
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(clk.slept_ms, 3000);
  cr_expect_eq(ts_request_count(ts), 2);
  httpresp_response_free(r);
}

FIXTURE_TEST(retry, retry_after_of_an_interim_block_does_not_count) {
  ts_resp *s = ts_route(ts, 0, "/i");
  ts_resp_str(s, "HTTP/1.1 103 Early Hints\r\nRetry-After: 2\r\n\r\n");
  ts_resp_simple(s, 429, NULL, "busy, no retry-after");
  ts_simple(ts, 0, "/i", 200, NULL, "must not be reached");
  httpresp_response *r = run("GET", "/i", NULL, NULL);
  cr_expect_eq(httpresp_response_status(r), 429);
  cr_expect_eq(httpresp_response_retry_after_ms(r), -1);
  cr_expect_null(httpresp_response_header(r, "Retry-After"));
  cr_expect_eq(ts_request_count(ts), 1);
  cr_expect_eq(clk.slept_ms, 0);
  httpresp_response_free(r);
}

static size_t sink_cb(void *ud, const char *data, size_t len) {
  strncat(ud, data, len);
  return len;
}

FIXTURE_TEST(retry, sink_gets_only_the_final_body) {
  ts_simple(ts, 0, "/k", 503, "Retry-After: 1\r\n", "BUSY-BODY");
  ts_simple(ts, 0, "/k", 200, NULL, "FINAL-BODY");
  char got[128] = "";
  char *u = ts_url(ts, 0, "/k");
  httpresp_request *req;
  cr_assert_eq(httpresp_request_new(&req, "GET", u), 0);
  httpresp_request_set_sink(req, sink_cb, got);
  httpresp_response *r = perform(req);
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_str_eq(got, "FINAL-BODY");
  cr_expect_eq(ts_request_count(ts), 2);
  httpresp_response_free(r);
  httpresp_request_free(req);
  free(u);
}

/* ---- limits ---------------------------------------------------------------- */

FIXTURE_TEST(retry, delay_above_max_wait_is_returned_at_once) {
  ts_simple(ts, 0, "/long", 429, "Retry-After: 3600\r\n", "come back later");
  ts_simple(ts, 0, "/long", 200, NULL, "must not be reached");
  httpresp_response *r = run("GET", "/long", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_expect_eq(httpresp_response_status(r), 429);
  cr_expect_str_eq(fixture_body(r), "come back later");
  cr_expect_eq(httpresp_response_retry_after_ms(r), INT64_C(3600000));
  cr_expect_eq(httpresp_response_retry_stop(r), HTTPRESP_RETRY_WAIT_TOO_LONG,
               "retry_stop %d", (int)httpresp_response_retry_stop(r));
  cr_expect_eq(clk.slept_ms, 0);
  cr_expect_eq(clk.sleeps, 0);
  cr_expect_eq(ts_request_count(ts), 1);
  cr_expect_eq(httpresp_response_attempts(r), 1);
  cr_assert_eq(httpresp_response_hop_count(r), 1);
  fixture_expect_hop(r, 0, 429, HTTPRESP_DECISION_DELIVER);
  httpresp_response_free(r);
}

FIXTURE_TEST(retry, max_wait_is_configurable) {
  ts_simple(ts, 0, "/w", 429, "Retry-After: 5\r\n", "later");
  ts_simple(ts, 0, "/w", 200, NULL, "done");
  cr_assert_eq(httpresp_client_set_max_wait_ms(client, 4999), 0);
  httpresp_response *r = run("GET", "/w", NULL, NULL);
  cr_expect_eq(httpresp_response_status(r), 429);
  cr_expect_eq(httpresp_response_retry_stop(r), HTTPRESP_RETRY_WAIT_TOO_LONG);
  cr_expect_eq(ts_request_count(ts), 1);
  httpresp_response_free(r);
  /* Exactly the maximum is still waited for (on a fresh origin). */
  ts_simple(ts, 1, "/w", 429, "Retry-After: 5\r\n", "later");
  ts_simple(ts, 1, "/w", 200, NULL, "done");
  cr_assert_eq(httpresp_client_set_max_wait_ms(client, 5000), 0);
  r = run_on(1, "GET", "/w", NULL, NULL);
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(clk.slept_ms, 5000);
  httpresp_response_free(r);
}

FIXTURE_TEST(retry, always_busy_stops_after_max_retries) {
  ts_simple(ts, 0, "/busy", 429, "Retry-After: 1\r\n", "busy");
  httpresp_response *r = run("GET", "/busy", NULL, NULL);
  cr_expect_eq(httpresp_response_status(r), 429);
  cr_expect_eq(httpresp_response_retry_stop(r), HTTPRESP_RETRY_EXHAUSTED,
               "retry_stop %d", (int)httpresp_response_retry_stop(r));
  cr_expect_eq(ts_request_count(ts), 4, "1 + 3 retries, got %zu",
               ts_request_count(ts));
  cr_expect_eq(httpresp_response_attempts(r), 4);
  cr_expect_eq(clk.slept_ms, 3000);
  cr_assert_eq(httpresp_response_hop_count(r), 4);
  for (size_t i = 0; i < 3; i++)
    fixture_expect_hop(r, i, 429, HTTPRESP_DECISION_RETRY);
  fixture_expect_hop(r, 3, 429, HTTPRESP_DECISION_DELIVER);
  for (size_t i = 1; i < 4; i++)
    expect_identical(ts_request_get(ts, 0), ts_request_get(ts, i));
  httpresp_response_free(r);
}

FIXTURE_TEST(retry, max_retries_is_configurable) {
  ts_simple(ts, 0, "/busy", 503, "Retry-After: 1\r\n", "busy");
  cr_assert_eq(httpresp_client_set_max_retries(client, 1), 0);
  httpresp_response *r = run("GET", "/busy", NULL, NULL);
  cr_expect_eq(httpresp_response_status(r), 503);
  cr_expect_eq(httpresp_response_retry_stop(r), HTTPRESP_RETRY_EXHAUSTED);
  cr_expect_eq(ts_request_count(ts), 2);
  cr_expect_eq(clk.slept_ms, 1000);
  httpresp_response_free(r);
}

FIXTURE_TEST(retry, deadline_shorter_than_the_delay) {
  ts_simple(ts, 0, "/dl", 429, "Retry-After: 5\r\n", "later");
  ts_simple(ts, 0, "/dl", 200, NULL, "must not be reached");
  cr_assert_eq(httpresp_client_set_deadline_ms(client, 3000), 0);
  httpresp_response *r = run("GET", "/dl", NULL, NULL);
  cr_expect_eq(httpresp_response_status(r), 429);
  cr_expect_eq(httpresp_response_retry_stop(r), HTTPRESP_RETRY_DEADLINE,
               "retry_stop %d", (int)httpresp_response_retry_stop(r));
  cr_expect_eq(httpresp_response_retry_after_ms(r), 5000);
  cr_expect_eq(ts_request_count(ts), 1);
  cr_expect_eq(clk.slept_ms, 0);
  httpresp_response_free(r);
}

FIXTURE_TEST(retry, deadline_longer_than_the_delay) {
  ts_simple(ts, 0, "/dl", 429, "Retry-After: 2\r\n", "later");
  ts_simple(ts, 0, "/dl", 200, NULL, "done");
  cr_assert_eq(httpresp_client_set_deadline_ms(client, 3000), 0);
  httpresp_response *r = run("GET", "/dl", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(ts_request_count(ts), 2);
  cr_expect_eq(clk.slept_ms, 2000);
  httpresp_response_free(r);
}

/* ---- which responses are repeated ---------------------------------------- */

FIXTURE_TEST(retry, content_too_large_only_with_retry_after) {
  ts_simple(ts, 0, "/up", 413, "Retry-After: 1\r\n", "too large for now");
  ts_simple(ts, 0, "/up", 201, NULL, "stored");
  httpresp_response *r = run("POST", "/up", "big-ish body", NULL);
  cr_expect_eq(httpresp_response_status(r), 201);
  cr_expect_eq(ts_request_count(ts), 2);
  cr_expect_eq(clk.slept_ms, 1000);
  fixture_expect_hop(r, 0, 413, HTTPRESP_DECISION_RETRY);
  expect_identical(ts_request_get(ts, 0), ts_request_get(ts, 1));
  httpresp_response_free(r);

  ts_reset(ts);
  ts_simple(ts, 0, "/up", 413, NULL, "too large");
  ts_simple(ts, 0, "/up", 201, NULL, "must not be reached");
  r = run("POST", "/up", "big-ish body", NULL);
  cr_expect_eq(httpresp_response_status(r), 413);
  cr_expect_eq(ts_request_count(ts), 1);
  cr_expect_eq(httpresp_response_retry_stop(r), HTTPRESP_RETRY_NONE);
  cr_expect_eq(httpresp_response_retry_after_ms(r), -1);
  httpresp_response_free(r);
}

FIXTURE_TEST(retry, no_retry_after_no_repeat_by_default) {
  static const int statuses[] = {429, 503};
  for (size_t i = 0; i < 2; i++) {
    ts_reset(ts);
    ts_simple(ts, 0, "/n", statuses[i], NULL, "busy");
    ts_simple(ts, 0, "/n", 200, NULL, "must not be reached");
    httpresp_response *r = run("GET", "/n", NULL, NULL);
    cr_expect_eq(httpresp_response_status(r), statuses[i]);
    cr_expect_eq(ts_request_count(ts), 1, "%d", statuses[i]);
    cr_expect_eq(httpresp_response_retry_after_ms(r), -1);
    cr_expect_eq(httpresp_response_retry_stop(r), HTTPRESP_RETRY_NONE);
    cr_expect_eq(clk.slept_ms, 0);
    httpresp_response_free(r);
  }
}

FIXTURE_TEST(retry, opt_in_backoff_repeats_within_the_bound) {
  use_probe();
  cr_assert_eq(httpresp_client_set_backoff(client, 100, 150), 0);
  ts_simple(ts, 0, "/b", 429, NULL, "busy");
  ts_simple(ts, 0, "/b", 429, NULL, "busy");
  ts_simple(ts, 0, "/b", 200, NULL, "done");
  httpresp_response *r = run("GET", "/b", NULL, NULL);
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(ts_request_count(ts), 3);
  cr_expect_eq(httpresp_response_retry_stop(r), HTTPRESP_RETRY_SUCCEEDED);
  fixture_expect_hop(r, 0, 429, HTTPRESP_DECISION_RETRY);
  fixture_expect_hop(r, 1, 429, HTTPRESP_DECISION_RETRY);
  fixture_expect_hop(r, 2, 200, HTTPRESP_DECISION_DELIVER);
  /* Waits are random(0, min(cap, base * 2^n)): at most 100 then 150.  A
   * wait drawn as 0 is not slept (lib/easy.c), so sleep i need not be wait
   * i: the requests the server had when it slept say which wait it is (1:
   * after the first 429, 2: after the second).  Nothing guarantees a
   * nonzero wait (the jitter is seeded from the clock), so a run with no
   * sleep at all is possible, if rare, and nsleeps has no lower bound. */
  cr_expect_leq(nsleeps, 2);
  for (int i = 0; i < nsleeps && i < MAX_SLEEPS; i++) {
    cr_expect_gt(sleep_ms[i], 0);
    cr_expect_leq(sleep_ms[i], 150, "sleep %d: %lld ms", i,
                  (long long)sleep_ms[i]);
    size_t wait = sleep_requests[i];
    cr_expect(wait == 1 || wait == 2, "sleep %d after %zu requests", i, wait);
    int64_t bound = wait == 1 ? 100 : 150;
    cr_expect_leq(sleep_ms[i], bound,
                  "sleep %d (wait %zu): %lld ms, bound %lld", i, wait,
                  (long long)sleep_ms[i], (long long)bound);
    if (i > 0)
      cr_expect_gt(wait, sleep_requests[i - 1], "one sleep per wait");
  }
  cr_expect_leq(clk.slept_ms, 250, "slept %lld", (long long)clk.slept_ms);
  httpresp_response_free(r);

  /* A server that never recovers still ends after max retries. */
  ts_reset(ts);
  ts_simple(ts, 0, "/b", 503, NULL, "busy");
  clk.slept_ms = 0;
  r = run("GET", "/b", NULL, NULL);
  cr_expect_eq(httpresp_response_status(r), 503);
  cr_expect_eq(ts_request_count(ts), 4);
  cr_expect_eq(httpresp_response_retry_stop(r), HTTPRESP_RETRY_EXHAUSTED);
  cr_expect_leq(clk.slept_ms, 100 + 150 + 150);
  httpresp_response_free(r);
}

/* ---- bad Retry-After values ---------------------------------------------- */

FIXTURE_TEST(retry, disagreeing_fields_count_as_absent) {
  ts_simple(ts, 0, "/two", 429, "Retry-After: 1\r\nRetry-After: 2\r\n", "busy");
  ts_simple(ts, 0, "/two", 200, NULL, "must not be reached");
  httpresp_response *r = run("GET", "/two", NULL, NULL);
  cr_expect_eq(httpresp_response_status(r), 429);
  cr_expect_eq(httpresp_response_retry_after_ms(r), -1);
  cr_expect_eq(httpresp_response_retry_stop(r), HTTPRESP_RETRY_NONE);
  cr_expect_eq(ts_request_count(ts), 1);
  cr_expect_eq(clk.slept_ms, 0);
  httpresp_response_free(r);
}

FIXTURE_TEST(retry, garbage_counts_as_absent) {
  static const char *const values[] = {
      "soon", "1.5", "-1", "+1", "1 2", "0x10", "", "1s",
      "Mon, 01 Jan 2024", "Mon, 01 Jan 2024 25:00:00 GMT", "\x7f\x01"};
  for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
    ts_reset(ts);
    char hdr[96];
    snprintf(hdr, sizeof(hdr), "Retry-After: %s\r\n", values[i]);
    ts_simple(ts, 0, "/g", 503, hdr, "busy");
    ts_simple(ts, 0, "/g", 200, NULL, "must not be reached");
    httpresp_response *r = run("GET", "/g", NULL, NULL);
    cr_expect_eq(httpresp_response_status(r), 503, "\"%s\"", values[i]);
    cr_expect_eq(httpresp_response_retry_after_ms(r), -1, "\"%s\": %lld",
                 values[i], (long long)httpresp_response_retry_after_ms(r));
    cr_expect_eq(ts_request_count(ts), 1, "\"%s\"", values[i]);
    httpresp_response_free(r);
  }
  cr_expect_eq(clk.slept_ms, 0);
}

FIXTURE_TEST(retry, huge_value_saturates) {
  ts_simple(ts, 0, "/huge", 429, "Retry-After: 9999999999999999999999999\r\n",
            "busy");
  ts_simple(ts, 0, "/huge", 200, NULL, "must not be reached");
  httpresp_response *r = run("GET", "/huge", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), 0);
  cr_expect_eq(httpresp_response_status(r), 429);
  cr_expect_eq(httpresp_response_retry_stop(r), HTTPRESP_RETRY_WAIT_TOO_LONG,
               "retry_stop %d", (int)httpresp_response_retry_stop(r));
  /* Saturated, not wrapped: far beyond any sane wait, and positive. */
  cr_expect_gt(httpresp_response_retry_after_ms(r), INT64_C(1000000000000000),
               "%lld", (long long)httpresp_response_retry_after_ms(r));
  cr_expect_eq(ts_request_count(ts), 1);
  cr_expect_eq(clk.slept_ms, 0);
  httpresp_response_free(r);
}

/* ---- bodies ------------------------------------------------------------- */

static const char binary[] = "bin\x00\x01\x02\xff\r\n\x00tail\x00";
#define BINARY_LEN (sizeof(binary) - 1)

FIXTURE_TEST(retry, memory_body_is_replayed_byte_for_byte) {
  ts_simple(ts, 0, "/m", 503, "Retry-After: 1\r\n", "busy");
  ts_simple(ts, 0, "/m", 200, NULL, "done");
  char *u = ts_url(ts, 0, "/m");
  httpresp_request *req;
  cr_assert_eq(httpresp_request_new(&req, "POST", u), 0);
  cr_assert_eq(httpresp_request_set_body(req, binary, BINARY_LEN), 0);
  httpresp_request_add_header(req, "Content-Type", "application/octet-stream");
  httpresp_response *r = perform(req);
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_assert_eq(ts_request_count(ts), 2);
  for (size_t i = 0; i < 2; i++) {
    const ts_request *q = ts_request_get(ts, i);
    cr_assert_eq(q->body_len, BINARY_LEN, "attempt %zu: %zu bytes", i,
                 q->body_len);
    cr_expect_eq(memcmp(q->body, binary, BINARY_LEN), 0, "attempt %zu", i);
  }
  expect_identical(ts_request_get(ts, 0), ts_request_get(ts, 1));
  httpresp_response_free(r);
  httpresp_request_free(req);
  free(u);
}

FIXTURE_TEST(retry, streamed_body_with_rewind_is_replayed) {
  /* Known length, then unknown (chunked, with libcurl's own Expect). */
  static const int64_t lengths[] = {(int64_t)BINARY_LEN, -1};
  for (size_t k = 0; k < 2; k++) {
    ts_reset(ts);
    ts_simple(ts, 0, "/s", 429, "Retry-After: 1\r\n", "busy");
    ts_simple(ts, 0, "/s", 200, NULL, "done");
    fixture_stream s = {binary, BINARY_LEN, 5, 0, 0}; /* small reads */
    char *u = ts_url(ts, 0, "/s");
    httpresp_request *req;
    cr_assert_eq(httpresp_request_new(&req, "PUT", u), 0);
    cr_assert_eq(httpresp_request_set_body_stream(req, fixture_stream_read,
                                                  fixture_stream_rewind, lengths[k],
                                                  &s),
                 0);
    httpresp_response *r = perform(req);
    cr_expect_eq(httpresp_response_error(r), 0, "length %lld: %s",
                 (long long)lengths[k], httpresp_response_errmsg(r));
    cr_expect_eq(httpresp_response_status(r), 200);
    cr_expect_eq(httpresp_response_retry_stop(r), HTTPRESP_RETRY_SUCCEEDED);
    cr_assert_eq(ts_request_count(ts), 2, "length %lld",
                 (long long)lengths[k]);
    for (size_t i = 0; i < 2; i++) {
      const ts_request *q = ts_request_get(ts, i);
      cr_expect_str_eq(q->method, "PUT");
      cr_expect(q->body_complete);
      cr_assert_eq(q->body_len, BINARY_LEN, "length %lld, attempt %zu: %zu",
                   (long long)lengths[k], i, q->body_len);
      cr_expect_eq(memcmp(q->body, binary, BINARY_LEN), 0);
    }
    cr_expect_geq(s.rewinds, 1);
    httpresp_response_free(r);
    httpresp_request_free(req);
    free(u);
  }
}

FIXTURE_TEST(retry, streamed_body_without_rewind_is_not_repeated) {
  ts_simple(ts, 0, "/s", 429, "Retry-After: 1\r\n", "busy");
  ts_simple(ts, 0, "/s", 200, NULL, "must not be reached");
  fixture_stream s = {binary, BINARY_LEN, 5, 0, 0}; /* small reads */
  char *u = ts_url(ts, 0, "/s");
  httpresp_request *req;
  cr_assert_eq(httpresp_request_new(&req, "POST", u), 0);
  httpresp_request_set_body_stream(req, fixture_stream_read, NULL, (int64_t)s.len, &s);
  httpresp_response *r = perform(req);
  cr_expect_eq(httpresp_response_status(r), 429, "the 429 is handed back");
  cr_expect_eq(httpresp_response_retry_stop(r), HTTPRESP_RETRY_NOT_REPLAYABLE,
               "retry_stop %d", (int)httpresp_response_retry_stop(r));
  int err = httpresp_response_error(r);
  cr_expect(err == 0 || err == HTTPRESP_E_BODY_NOT_REWINDABLE, "%s",
            httpresp_errname(err));
  cr_expect_eq(ts_request_count(ts), 1);
  cr_expect_eq(ts_request_get(ts, 0)->body_len, s.len);
  cr_expect_eq(clk.slept_ms, 0, "no wait for a repeat that cannot happen");
  httpresp_response_free(r);
  httpresp_request_free(req);
  free(u);
}

/* ---- redirects and retries --------------------------------------------- */

FIXTURE_TEST(retry, retry_repeats_the_hop_not_the_chain) {
  ts_simple(ts, 0, "/a", 302, "Location: /b\r\n", NULL);
  ts_simple(ts, 0, "/b", 503, "Retry-After: 1\r\n", "busy");
  ts_simple(ts, 0, "/b", 200, NULL, "target");
  httpresp_response *r = run("GET", "/a", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_str_eq(fixture_body(r), "target");
  cr_expect_eq(clk.slept_ms, 1000);
  cr_expect_eq(httpresp_response_attempts(r), 2);
  cr_assert_eq(httpresp_response_hop_count(r), 3);
  fixture_expect_hop(r, 0, 302, HTTPRESP_DECISION_FOLLOW);
  fixture_expect_hop(r, 1, 503, HTTPRESP_DECISION_RETRY);
  fixture_expect_hop(r, 2, 200, HTTPRESP_DECISION_DELIVER);
  cr_assert_eq(ts_request_count(ts), 3);
  cr_expect_str_eq(ts_request_get(ts, 0)->target, "/a");
  cr_expect_str_eq(ts_request_get(ts, 1)->target, "/b");
  cr_expect_str_eq(ts_request_get(ts, 2)->target, "/b");
  expect_identical(ts_request_get(ts, 1), ts_request_get(ts, 2));
  httpresp_response_free(r);
}

/* ---- per-origin memory -------------------------------------------------- */

FIXTURE_TEST(retry, origin_quiet_delays_the_next_request) {
  use_probe();
  cr_assert_eq(httpresp_client_set_max_retries(client, 0), 0);
  ts_simple(ts, 0, "/first", 429, "Retry-After: 30\r\n", "quiet please");
  ts_simple(ts, -1, "/second", 200, NULL, "second");
  int64_t t0 = clk.now_ms;
  httpresp_response *r = run("GET", "/first", NULL, NULL);
  cr_expect_eq(httpresp_response_status(r), 429);
  cr_expect_eq(httpresp_response_retry_stop(r), HTTPRESP_RETRY_EXHAUSTED);
  cr_expect_eq(nsleeps, 0, "max_retries 0: the 429 itself is not waited for");
  httpresp_response_free(r);

  /* Another origin (the other port) is not held back. */
  r = run_on(1, "GET", "/second", NULL, NULL);
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(nsleeps, 0, "another origin does not wait");
  cr_expect_eq(clk.slept_ms, 0);
  cr_assert_eq(ts_request_count(ts), 2);
  cr_expect_eq(ts_request_get(ts, 1)->port_idx, 1);
  httpresp_response_free(r);

  /* The same origin, another path: 30 s of quiet first, then the request. */
  r = run("GET", "/second", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_str_eq(fixture_body(r), "second");
  cr_expect_eq(clk.slept_ms, 30000, "slept %lld", (long long)clk.slept_ms);
  cr_assert_eq(nsleeps, 1);
  cr_expect_eq(sleep_at[0], t0, "the wait starts at once");
  cr_expect_eq(sleep_requests[0], 2, "nothing was sent before the wait");
  cr_assert_eq(ts_request_count(ts), 3, "sent after the wait");
  const ts_request *q = ts_request_get(ts, 2);
  cr_expect_str_eq(q->target, "/second");
  cr_expect_eq(q->port_idx, 0);
  httpresp_response_free(r);

  /* The quiet is over: the next one goes straight out. */
  r = run("GET", "/second", NULL, NULL);
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(nsleeps, 1);
  cr_expect_eq(ts_request_count(ts), 4);
  httpresp_response_free(r);
}

FIXTURE_TEST(retry, origin_quiet_beyond_max_wait_fails_fast) {
  use_probe();
  ts_simple(ts, 0, "/first", 429, "Retry-After: 3600\r\n", "quiet please");
  ts_simple(ts, -1, "/second", 200, NULL, "second");
  httpresp_response *r = run("GET", "/first", NULL, NULL);
  cr_expect_eq(httpresp_response_status(r), 429);
  cr_expect_eq(httpresp_response_retry_stop(r), HTTPRESP_RETRY_WAIT_TOO_LONG);
  httpresp_response_free(r);
  clk.now_ms += 600000; /* ten minutes later: 50 minutes of quiet remain */

  r = run("GET", "/second", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_ORIGIN_BACKOFF, "%s",
               httpresp_errname(httpresp_response_error(r)));
  cr_expect_neq(strlen(httpresp_response_errmsg(r)), 0);
  cr_expect_eq(httpresp_response_status(r), 0, "no response was received");
  cr_expect_eq(httpresp_response_retry_after_ms(r), INT64_C(3000000),
               "the remaining quiet: %lld",
               (long long)httpresp_response_retry_after_ms(r));
  cr_expect_eq(ts_request_count(ts), 1, "no request was sent");
  cr_expect_eq(nsleeps, 0);
  cr_expect_eq(clk.slept_ms, 0);
  httpresp_response_free(r);

  /* The other origin is unaffected. */
  r = run_on(1, "GET", "/second", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), 0);
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(ts_request_count(ts), 2);
  httpresp_response_free(r);
}

FIXTURE_TEST(retry, origin_quiet_respects_the_deadline) {
  use_probe();
  cr_assert_eq(httpresp_client_set_max_retries(client, 0), 0);
  ts_simple(ts, 0, "/first", 503, "Retry-After: 30\r\n", "quiet please");
  ts_simple(ts, 0, "/second", 200, NULL, "second");
  httpresp_response *r = run("GET", "/first", NULL, NULL);
  httpresp_response_free(r);
  cr_assert_eq(httpresp_client_set_deadline_ms(client, 10000), 0);
  r = run("GET", "/second", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_DEADLINE, "%s",
               httpresp_errname(httpresp_response_error(r)));
  cr_expect_eq(ts_request_count(ts), 1);
  cr_expect_eq(clk.slept_ms, 0, "no point waiting past the deadline");
  httpresp_response_free(r);
}

/* ---- the sleep callback -------------------------------------------------- */

/* The blocking driver only: the multi driver never calls the sleep, its
 * caller decides how long to wait. */
Test(retry, sleep_callback_can_abort) {
  use_probe();
  sleep_refuses = 1;
  ts_simple(ts, 0, "/r", 429, "Retry-After: 2\r\nX-Mark: busy\r\n", "busy");
  ts_simple(ts, 0, "/r", 200, NULL, "must not be reached");
  char *u = ts_url(ts, 0, "/r");
  httpresp_request *req;
  cr_assert_eq(httpresp_request_new(&req, "GET", u), 0);
  httpresp_response *r = NULL;
  int rc = httpresp_perform(client, easy, req, &r);
  cr_assert_not_null(r);
  cr_expect_eq(rc, HTTPRESP_E_ABORTED, "%s", httpresp_errname(rc));
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_ABORTED);
  cr_expect_neq(strlen(httpresp_response_errmsg(r)), 0);
  cr_expect_eq(nsleeps, 1);
  cr_expect_eq(sleep_ms[0], 2000);
  cr_expect_eq(ts_request_count(ts), 1, "nothing sent after the abort");
  /* The 429 that was not repeated stays available (httpresp_perform doc). */
  cr_expect_eq(httpresp_response_status(r), 429, "status %d",
               httpresp_response_status(r));
  cr_expect_str_eq(httpresp_response_header(r, "X-Mark"), "busy");
  httpresp_response_free(r);
  httpresp_request_free(req);
  free(u);
}

/* ---- threads ---------------------------------------------------------------- */

/* A fake clock several threads may share. */
static _Atomic int64_t shared_now = INT64_C(1767225600000);
static _Atomic int64_t shared_slept;

static int64_t atomic_now(void *ud) {
  (void)ud;
  return atomic_load(&shared_now);
}

static int atomic_sleep(void *ud, int64_t ms) {
  (void)ud;
  atomic_fetch_add(&shared_now, ms);
  atomic_fetch_add(&shared_slept, ms);
  return 0;
}

#define THREADS 4
#define PER_THREAD 10

typedef struct worker {
  httpresp_client *client;
  CURL *easy; /* fixture_easy(), made and freed by the test's thread */
  char *url;
  char expect[16];
  int ok;
  int attempts_ok;
} worker;

static void *work(void *p) {
  worker *w = p;
  CURL *e = w->easy;
  for (int i = 0; i < PER_THREAD; i++) {
    httpresp_request *rq;
    if (httpresp_request_new(&rq, "POST", w->url) != 0)
      break;
    httpresp_request_set_body(rq, w->expect, strlen(w->expect));
    httpresp_response *r = NULL;
    int rc = fixture_perform(w->client, e, rq, &r);
    size_t len;
    const char *b = httpresp_response_body(r, &len);
    if (rc == 0 && httpresp_response_status(r) == 200 &&
        len == strlen(w->expect) && memcmp(b, w->expect, len) == 0)
      w->ok++;
    if (httpresp_response_attempts(r) == 2)
      w->attempts_ok++;
    httpresp_response_free(r);
    httpresp_request_free(rq);
  }
  fixture_driver_release();
  return NULL;
}

FIXTURE_TEST(retry, threads_share_one_client) {
  httpresp_client *shared = fixture_client(NULL);
  fixture_set_clock(shared, atomic_now, atomic_sleep, NULL);
  pthread_t th[THREADS];
  worker w[THREADS];
  for (int t = 0; t < THREADS; t++) {
    char path[16];
    snprintf(path, sizeof(path), "/t%d", t);
    memset(&w[t], 0, sizeof(w[t]));
    w[t].client = shared;
    w[t].easy = fixture_easy();
    w[t].url = ts_url(ts, t % 2, path);
    snprintf(w[t].expect, sizeof(w[t].expect), "thread-%d", t);
    /* Every request of thread t meets one 429, then its 200. */
    for (int i = 0; i < PER_THREAD; i++) {
      ts_simple(ts, t % 2, path, 429, "Retry-After: 1\r\n", "busy");
      ts_simple(ts, t % 2, path, 200, NULL, w[t].expect);
    }
  }
  for (int t = 0; t < THREADS; t++)
    cr_assert_eq(pthread_create(&th[t], NULL, work, &w[t]), 0);
  for (int t = 0; t < THREADS; t++) {
    pthread_join(th[t], NULL);
    curl_easy_cleanup(w[t].easy);
    cr_expect_eq(w[t].ok, PER_THREAD, "thread %d: %d ok", t, w[t].ok);
    cr_expect_eq(w[t].attempts_ok, PER_THREAD, "thread %d", t);
    free(w[t].url);
  }
  cr_expect_eq(ts_request_count(ts), (size_t)THREADS * PER_THREAD * 2);
  for (size_t i = 0; i < ts_request_count(ts); i++) {
    const ts_request *q = ts_request_get(ts, i);
    int t = q->target[2] - '0';
    cr_expect_eq((size_t)q->body_len, strlen(w[t].expect));
    cr_expect_eq(memcmp(q->body, w[t].expect, q->body_len), 0);
  }
  cr_expect_geq(atomic_load(&shared_slept), 1000);
  httpresp_client_free(shared);
}
