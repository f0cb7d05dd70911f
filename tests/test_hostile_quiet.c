/* SPDX-License-Identifier: MIT */
/* Hostile servers, Retry-After: one absurd delay must not take an origin
 * away from the client for good.  The client remembers a quiet time for at
 * most its cap (default one hour), and the caller can forget it.  Time is
 * the fake clock's: nothing sleeps for real. */
#include <criterion/criterion.h>

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

TestSuite(hostile_quiet, .init = setup, .fini = teardown);

#define HOUR_MS ((int64_t)3600 * 1000)

static httpresp_response *get(int port, const char *path) {
  char *u = ts_url(ts, port, path);
  httpresp_response *r = fixture_run(client, easy, "GET", u, NULL, NULL);
  free(u);
  return r;
}

/* A 503 asking for ~31 billion years, returned at once. */
static void ask_for_eternity(void) {
  httpresp_response *r = get(0, "/busy");
  cr_assert_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_expect_eq(httpresp_response_status(r), 503);
  cr_expect_eq(httpresp_response_retry_stop(r), HTTPRESP_RETRY_WAIT_TOO_LONG);
  cr_expect_gt(httpresp_response_retry_after_ms(r), 100 * HOUR_MS,
               "the delay is exposed as the server gave it");
  httpresp_response_free(r);
}

static void routes(void) {
  ts_simple(ts, 0, "/busy", 503, "Retry-After: 1000000000000000000\r\n", NULL);
  ts_simple(ts, 0, "/fine", 200, NULL, "fine");
  ts_simple(ts, 1, "/fine", 200, NULL, "other origin");
}

/* The request to /fine on port `port` reached the server and succeeded. */
static void expect_sent(int port, size_t count, const char *what) {
  httpresp_response *r = get(port, "/fine");
  cr_expect_eq(httpresp_response_error(r), 0, "%s: %s", what,
               httpresp_response_errmsg(r));
  cr_expect_eq(httpresp_response_status(r), 200, "%s", what);
  cr_expect_eq(ts_request_count(ts), count, "%s: the server saw it", what);
  httpresp_response_free(r);
}

static void expect_refused(size_t count, const char *what) {
  httpresp_response *r = get(0, "/fine");
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_ORIGIN_BACKOFF, "%s: %s",
               what, httpresp_errname(httpresp_response_error(r)));
  cr_expect_eq(ts_request_count(ts), count, "%s: nothing sent", what);
  httpresp_response_free(r);
}

Test(hostile_quiet, an_absurd_retry_after_is_remembered_for_an_hour) {
  routes();
  ask_for_eternity();
  expect_refused(1, "right after");
  expect_sent(1, 2, "another origin");
  /* Up to the maximum wait (60 s) before the hour ends, requests fail
   * fast; after it they wait for the end of the hour, not of eternity. */
  clk.now_ms += HOUR_MS - 60001;
  expect_refused(2, "60.001 s before the hour ends");
  clk.now_ms += 1;
  expect_sent(0, 3, "60 s before the hour ends");
  cr_expect_eq(clk.slept_ms, 60000, "it waited for the end of the hour");
  expect_sent(0, 4, "after the hour");
  cr_expect_eq(clk.sleeps, 1, "and only that once");
}

Test(hostile_quiet, the_cap_is_the_clients_setting) {
  routes();
  cr_assert_eq(httpresp_client_set_max_quiet_ms(client, 30000), 0);
  ask_for_eternity();
  /* 30 s is within the 60 s maximum wait: the next request waits it out. */
  expect_sent(0, 2, "after the capped quiet");
  cr_expect_eq(clk.slept_ms, 30000);
  cr_expect_eq(clk.sleeps, 1);
}

Test(hostile_quiet, a_cap_of_zero_remembers_nothing) {
  routes();
  cr_assert_eq(httpresp_client_set_max_quiet_ms(client, 0), 0);
  ask_for_eternity();
  expect_sent(0, 2, "at once");
  cr_expect_eq(clk.sleeps, 0);
}

Test(hostile_quiet, forgetting_an_origin_lets_requests_through) {
  routes();
  ask_for_eternity();
  expect_refused(1, "before forgetting");
  /* Any URL of the origin names it; another origin's URL does not. */
  char *other = ts_url(ts, 1, "/x");
  cr_expect_eq(httpresp_client_forget_quiet(client, other), 0);
  expect_refused(1, "after forgetting another origin");
  char *same = ts_url(ts, 0, "/some/other/path?q=1");
  cr_expect_eq(httpresp_client_forget_quiet(client, same), 0);
  expect_sent(0, 2, "after forgetting");
  cr_expect_eq(httpresp_client_forget_quiet(client, same), 0,
               "forgetting twice is fine");
  free(other);
  free(same);

  ask_for_eternity();
  expect_refused(3, "quiet again");
  cr_expect_eq(httpresp_client_forget_quiet(client, NULL), 0);
  expect_sent(0, 4, "after forgetting every origin");
  cr_expect_eq(clk.sleeps, 0);
}

Test(hostile_quiet, bad_arguments) {
  cr_expect_eq(httpresp_client_set_max_quiet_ms(NULL, 1),
               HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(httpresp_client_set_max_quiet_ms(client, -1),
               HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(httpresp_client_forget_quiet(NULL, NULL),
               HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(httpresp_client_forget_quiet(client, "not a url"),
               HTTPRESP_E_BAD_URL);
  cr_expect_eq(httpresp_client_forget_quiet(client, "data:text/plain,x"),
               HTTPRESP_E_BAD_URL);
}
