/* SPDX-License-Identifier: MIT */
/* Interim 1xx responses through both drivers against the loopback server
 * (DESIGN "Interim 1xx", RFC 9110 §15.2): what the caller gets back, and
 * what the server received on every hop.  Suite "interim" runs through
 * httpresp_perform, "interim_multi" through httpresp_multi (fixtures.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixtures.h"
#include "testsrv.h"

static ts_server *ts;
static httpresp_client *client;
static CURL *easy;
static fake_clock clk;

static void setup(void) { fixture_suite_start(1, &ts, &clk, &client, &easy); }

static void teardown(void) { fixture_suite_stop(ts, client, easy); }

FIXTURE_SUITES(interim, .init = setup, .fini = teardown);

static httpresp_response *run(const char *method, const char *path,
                              const char *body, const char *const *headers) {
  char *u = ts_url(ts, 0, path);
  httpresp_response *r = fixture_run(client, easy, method, u, body, headers);
  free(u);
  return r;
}

static int64_t mono_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The final block every absorbing test ends with: exactly two fields. */
static const char final_200[] = "HTTP/1.1 200 OK\r\n"
                                "Content-Length: 5\r\n"
                                "X-Final: 1\r\n"
                                "\r\n"
                                "final";

/* No field of any 1xx block may be among the final headers, and the final
 * headers are exactly those of final_200, in order. */
static void expect_only_final_headers(const httpresp_response *r,
                                      const char *what) {
  cr_expect_null(httpresp_response_header(r, "X-Interim"), "%s", what);
  cr_expect_null(httpresp_response_header(r, "X-Interim-Code"), "%s", what);
  cr_expect_null(httpresp_response_header(r, "Link"), "%s", what);
  cr_assert_eq(httpresp_response_header_count(r), 2, "%s: %zu fields", what,
               httpresp_response_header_count(r));
  const char *n, *v;
  cr_assert_eq(httpresp_response_header_at(r, 0, &n, &v), 0);
  cr_expect_str_eq(n, "Content-Length", "%s", what);
  cr_expect_str_eq(v, "5", "%s", what);
  cr_assert_eq(httpresp_response_header_at(r, 1, &n, &v), 0);
  cr_expect_str_eq(n, "X-Final", "%s", what);
  cr_expect_str_eq(v, "1", "%s", what);
  cr_expect_neq(httpresp_response_header_at(r, 2, &n, &v), 0, "%s", what);
}

static void expect_single_deliver(const httpresp_response *r, int status,
                                  const char *what) {
  cr_assert_eq(httpresp_response_hop_count(r), 1, "%s", what);
  int st;
  httpresp_decision d;
  cr_assert_eq(httpresp_response_hop(r, 0, &st, NULL, NULL, &d), 0);
  cr_expect_eq(st, status, "%s: hop status %d", what, st);
  cr_expect_eq(d, HTTPRESP_DECISION_DELIVER, "%s: %s", what,
               httpresp_decision_name(d));
}

/* ---- early hints recorder ---------------------------------------------- */

#define HINT_MAX_CALLS 8
#define HINT_MAX_LINES 8

typedef struct hints {
  int calls;
  int status[HINT_MAX_CALLS];
  size_t count[HINT_MAX_CALLS];
  char line[HINT_MAX_CALLS][HINT_MAX_LINES][128];
} hints;

static void record_hints(void *ud, int status, const char *const *headers,
                         size_t count) {
  hints *h = ud;
  if (h->calls < HINT_MAX_CALLS) {
    h->status[h->calls] = status;
    h->count[h->calls] = count;
    for (size_t i = 0; i < count && i < HINT_MAX_LINES; i++)
      snprintf(h->line[h->calls][i], sizeof(h->line[0][0]), "%s", headers[i]);
  }
  h->calls++;
}

/* ---- absorbing ----------------------------------------------------------- */

FIXTURE_TEST(interim, each_unsolicited_1xx_is_absorbed) {
  static const struct {
    int code;
    const char *reason;
  } rows[] = {{100, "Continue"},
              {102, "Processing"},
              {103, "Early Hints"},
              {199, "Whatever This Is"}};
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    ts_reset(ts);
    ts_resp *s = ts_route(ts, 0, "/i");
    ts_resp_printf(s,
                   "HTTP/1.1 %d %s\r\nX-Interim: yes\r\nX-Interim-Code: %d\r\n"
                   "Link: </style.css>; rel=preload\r\n\r\n",
                   rows[i].code, rows[i].reason, rows[i].code);
    ts_resp_str(s, final_200);
    char what[32];
    snprintf(what, sizeof(what), "%d before 200", rows[i].code);
    httpresp_response *r = run("GET", "/i", NULL, NULL);
    cr_expect_eq(httpresp_response_error(r), 0, "%s: %s", what,
                 httpresp_response_errmsg(r));
    cr_expect_eq(httpresp_response_status(r), 200, "%s", what);
    cr_expect_str_eq(fixture_body(r), "final", "%s", what);
    expect_only_final_headers(r, what);
    expect_single_deliver(r, 200, what);
    cr_assert_eq(ts_request_count(ts), 1, "%s", what);
    const ts_request *q = ts_request_get(ts, 0);
    cr_expect_str_eq(q->method, "GET");
    cr_expect_str_eq(q->target, "/i");
    cr_expect_eq(q->body_len, 0);
    httpresp_response_free(r);
  }
}

FIXTURE_TEST(interim, several_in_a_row_with_delays) {
  static const int codes[] = {100, 102, 102, 103, 199};
  ts_resp *s = ts_route(ts, 0, "/many");
  for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
    ts_resp_printf(s,
                   "HTTP/1.1 %d Interim\r\nX-Interim: yes\r\nX-Interim-Code: "
                   "%d\r\nX-Block: %zu\r\n\r\n",
                   codes[i], codes[i], i);
    ts_resp_delay(s, 40);
  }
  ts_resp_str(s, final_200);
  hints h;
  memset(&h, 0, sizeof(h));
  cr_assert_eq(httpresp_client_set_early_hints_callback(client, record_hints,
                                                        &h),
               0);
  httpresp_response *r = run("GET", "/many", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_str_eq(fixture_body(r), "final");
  expect_only_final_headers(r, "100,102,102,103,199");
  cr_expect_null(httpresp_response_header(r, "X-Block"));
  expect_single_deliver(r, 200, "100,102,102,103,199");
  /* Only the 103 goes to the early-hints callback, with its own fields. */
  cr_assert_eq(h.calls, 1);
  cr_expect_eq(h.status[0], 103);
  cr_assert_eq(h.count[0], 3);
  cr_expect_str_eq(h.line[0][0], "X-Interim: yes");
  cr_expect_str_eq(h.line[0][1], "X-Interim-Code: 103");
  cr_expect_str_eq(h.line[0][2], "X-Block: 3");
  cr_expect_eq(ts_request_count(ts), 1);
  cr_expect_eq(clk.slept_ms, 0, "interim responses are not waits");
  httpresp_response_free(r);
}

FIXTURE_TEST(interim, early_hints_reach_the_callback_once_per_block) {
  ts_resp *s = ts_route(ts, 0, "/page");
  ts_resp_str(s, "HTTP/1.1 103 Early Hints\r\n"
                 "Link: </style.css>; rel=preload; as=style\r\n"
                 "\r\n");
  ts_resp_delay(s, 20);
  ts_resp_str(s, "HTTP/1.1 103 Early Hints\r\n"
                 "Link: </script.js>; rel=preload; as=script\r\n"
                 "Link: </font.woff2>; rel=preload; as=font\r\n"
                 "\r\n");
  ts_resp_str(s, final_200);
  hints h;
  memset(&h, 0, sizeof(h));
  cr_assert_eq(httpresp_client_set_early_hints_callback(client, record_hints,
                                                        &h),
               0);
  httpresp_response *r = run("GET", "/page", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_expect_eq(httpresp_response_status(r), 200);
  expect_only_final_headers(r, "two 103s");
  cr_assert_eq(h.calls, 2, "one call per 103 block");
  cr_expect_eq(h.status[0], 103);
  cr_expect_eq(h.status[1], 103);
  cr_assert_eq(h.count[0], 1);
  cr_expect_str_eq(h.line[0][0], "Link: </style.css>; rel=preload; as=style");
  cr_assert_eq(h.count[1], 2, "the second block's fields only");
  cr_expect_str_eq(h.line[1][0], "Link: </script.js>; rel=preload; as=script");
  cr_expect_str_eq(h.line[1][1], "Link: </font.woff2>; rel=preload; as=font");
  cr_expect_eq(ts_request_count(ts), 1);
  httpresp_response_free(r);
}

FIXTURE_TEST(interim, early_hints_without_callback_are_just_absorbed) {
  ts_resp *s = ts_route(ts, 0, "/page");
  ts_resp_str(s, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n"
                 "\r\n");
  ts_resp_str(s, final_200);
  hints h;
  memset(&h, 0, sizeof(h));
  httpresp_client_set_early_hints_callback(client, record_hints, &h);
  httpresp_client_set_early_hints_callback(client, NULL, NULL);
  httpresp_response *r = run("GET", "/page", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), 0);
  cr_expect_eq(httpresp_response_status(r), 200);
  expect_only_final_headers(r, "103, callback removed");
  cr_expect_eq(h.calls, 0);
  httpresp_response_free(r);
}

FIXTURE_TEST(interim, interim_before_a_redirect_that_is_followed) {
  ts_resp *a = ts_route(ts, 0, "/a");
  ts_resp_str(a, "HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n");
  ts_resp_str(a, "HTTP/1.1 103 Early Hints\r\nLink: </from-a>; rel=preload\r\n"
                 "\r\n");
  ts_resp_str(a, "HTTP/1.1 302 Found\r\nLocation: /b\r\nX-Hop: a\r\n"
                 "Content-Length: 8\r\n\r\nredirect");
  ts_resp *b = ts_route(ts, 0, "/b");
  ts_resp_str(b, "HTTP/1.1 102 Processing\r\nX-Interim: yes\r\n\r\n");
  ts_resp_str(b, final_200);
  hints h;
  memset(&h, 0, sizeof(h));
  httpresp_client_set_early_hints_callback(client, record_hints, &h);
  httpresp_response *r = run("GET", "/a", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_str_eq(fixture_body(r), "final", "the target's body only");
  expect_only_final_headers(r, "1xx before 302");
  cr_expect_null(httpresp_response_header(r, "X-Hop"));
  char *final_url = ts_url(ts, 0, "/b");
  cr_expect_str_eq(httpresp_response_url(r), final_url);
  free(final_url);
  cr_assert_eq(httpresp_response_hop_count(r), 2);
  /* Hop 0 records the 302, not a 1xx. */
  fixture_expect_hop(r, 0, 302, HTTPRESP_DECISION_FOLLOW);
  fixture_expect_hop(r, 1, 200, HTTPRESP_DECISION_DELIVER);
  cr_expect_eq(h.calls, 1);
  cr_assert_eq(ts_request_count(ts), 2);
  cr_expect_str_eq(ts_request_get(ts, 0)->target, "/a");
  cr_expect_str_eq(ts_request_get(ts, 1)->target, "/b");
  cr_expect_str_eq(ts_request_get(ts, 1)->method, "GET");
  httpresp_response_free(r);
}

/* ---- 101 and floods ------------------------------------------------------ */

FIXTURE_TEST(interim, unexpected_101_is_an_error) {
  ts_resp *s = ts_route(ts, 0, "/u");
  ts_resp_str(s, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\n\r\n");
  ts_resp_str(s, "\x81\x05hello"); /* a websocket frame, never a response */
  ts_resp_close(s);
  char *u = ts_url(ts, 0, "/u");
  httpresp_request *req;
  cr_assert_eq(httpresp_request_new(&req, "GET", u), 0);
  httpresp_response *r = NULL;
  int64_t t0 = mono_ms();
  int rc = fixture_perform(client, easy, req, &r);
  int64_t took = mono_ms() - t0;
  cr_assert_not_null(r);
  cr_expect_eq(rc, HTTPRESP_E_UNEXPECTED_UPGRADE, "got %s",
               httpresp_errname(rc));
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_UNEXPECTED_UPGRADE);
  const char *msg = httpresp_response_errmsg(r);
  cr_expect(strstr(msg, "101") != NULL, "message names the status: \"%s\"",
            msg);
  cr_expect_neq(httpresp_response_status(r), 200);
  cr_expect_lt(took, 2000, "stopped at the 101, took %lld ms",
               (long long)took);
  cr_assert_eq(ts_request_count(ts), 1);
  const ts_request *q = ts_request_get(ts, 0);
  cr_expect_null(ts_req_header(q, "Upgrade"), "no upgrade was requested");
  cr_expect_str_eq(q->target, "/u");
  httpresp_response_free(r);
  httpresp_request_free(req);
  free(u);
}

FIXTURE_TEST(interim, flood_of_1xx_is_refused_in_bounded_time) {
  ts_resp *s = ts_route(ts, 0, "/flood");
  for (int i = 0; i < 150; i++)
    ts_resp_str(s, "HTTP/1.1 102 Processing\r\n\r\n");
  ts_resp_str(s, final_200);
  int64_t t0 = mono_ms();
  httpresp_response *r = run("GET", "/flood", NULL, NULL);
  int64_t took = mono_ms() - t0;
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_TOO_MANY_INTERIM,
               "got %s: %s", httpresp_errname(httpresp_response_error(r)),
               httpresp_response_errmsg(r));
  cr_expect_neq(httpresp_response_status(r), 200,
                "the answer after the flood is not delivered");
  cr_expect_lt(took, 2000, "took %lld ms", (long long)took);
  cr_expect_eq(ts_request_count(ts), 1);
  httpresp_response_free(r);
}

FIXTURE_TEST(interim, a_few_dozen_1xx_are_still_fine) {
  ts_resp *s = ts_route(ts, 0, "/chatty");
  for (int i = 0; i < 30; i++)
    ts_resp_str(s, "HTTP/1.1 102 Processing\r\nX-Interim: yes\r\n\r\n");
  ts_resp_str(s, final_200);
  httpresp_response *r = run("GET", "/chatty", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_expect_eq(httpresp_response_status(r), 200);
  expect_only_final_headers(r, "30 x 102");
  httpresp_response_free(r);
}

/* ---- 417 Expectation Failed ------------------------------------------------ */

static const char payload[] = "payload=0123456789&more=abcdefghij";

static httpresp_response *post_expecting(const char *path) {
  char *u = ts_url(ts, 0, path);
  httpresp_request *req;
  cr_assert_eq(httpresp_request_new(&req, "POST", u), 0);
  cr_assert_eq(httpresp_request_set_body(req, payload, sizeof(payload) - 1), 0);
  cr_assert_eq(httpresp_request_add_header(req, "Expect", "100-continue"), 0);
  cr_assert_eq(httpresp_request_add_header(req, "X-Trace", "417"), 0);
  httpresp_response *r = NULL;
  fixture_perform(client, easy, req, &r);
  cr_assert_not_null(r);
  httpresp_request_free(req);
  free(u);
  return r;
}

static void expect_hops(const httpresp_response *r, const int *statuses,
                        const httpresp_decision *decisions, size_t n) {
  cr_assert_eq(httpresp_response_hop_count(r), n, "hops: %zu",
               httpresp_response_hop_count(r));
  for (size_t i = 0; i < n; i++) {
    int st;
    const char *m;
    httpresp_decision d;
    cr_assert_eq(httpresp_response_hop(r, i, &st, &m, NULL, &d), 0);
    cr_expect_eq(st, statuses[i], "hop %zu: status %d", i, st);
    cr_expect_eq(d, decisions[i], "hop %zu: %s", i, httpresp_decision_name(d));
    cr_expect_str_eq(m, "POST", "hop %zu", i);
  }
}

static void expect_417_exchange(void) {
  cr_assert_eq(ts_request_count(ts), 2);
  const ts_request *q0 = ts_request_get(ts, 0);
  const ts_request *q1 = ts_request_get(ts, 1);
  cr_expect_str_eq(q0->method, "POST");
  cr_expect_str_eq(ts_req_header(q0, "Expect"), "100-continue");
  cr_expect_eq(q0->body_len, 0, "the 417 came before the body");
  cr_expect_str_eq(q1->method, "POST");
  cr_expect_str_eq(q1->target, "/e");
  cr_expect_null(ts_req_header(q1, "Expect"), "the repeat carries no Expect");
  cr_expect_str_eq(ts_req_header(q1, "X-Trace"), "417", "other headers kept");
  cr_expect(q1->body_complete);
  cr_assert_eq(q1->body_len, sizeof(payload) - 1);
  cr_expect_eq(memcmp(q1->body, payload, sizeof(payload) - 1), 0);
}

FIXTURE_TEST(interim, expectation_failed_repeats_once_without_expect) {
  ts_resp_before_body(ts_simple(ts, 0, "/e", 417, NULL, "no expectations"));
  ts_simple(ts, 0, "/e", 200, NULL, "accepted");
  httpresp_response *r = post_expecting("/e");
  cr_expect_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_str_eq(fixture_body(r), "accepted", "the 417 body stays out");
  static const int st[] = {417, 200};
  static const httpresp_decision dec[] = {HTTPRESP_DECISION_REPEAT,
                                          HTTPRESP_DECISION_DELIVER};
  expect_hops(r, st, dec, 2);
  expect_417_exchange();
  httpresp_response_free(r);
}

FIXTURE_TEST(interim, second_expectation_failed_is_final) {
  ts_resp_before_body(ts_simple(ts, 0, "/e", 417, NULL, "no expectations"));
  ts_simple(ts, 0, "/e", 417, "X-Second: yes\r\n", "still no");
  ts_simple(ts, 0, "/e", 200, NULL, "must not be reached");
  httpresp_response *r = post_expecting("/e");
  cr_expect_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_expect_eq(httpresp_response_status(r), 417);
  cr_expect_str_eq(httpresp_response_header(r, "X-Second"), "yes");
  cr_expect_str_eq(fixture_body(r), "still no");
  static const int st[] = {417, 417};
  static const httpresp_decision dec[] = {HTTPRESP_DECISION_REPEAT,
                                          HTTPRESP_DECISION_DELIVER};
  expect_hops(r, st, dec, 2);
  expect_417_exchange();
  httpresp_response_free(r);
}

/* ---- framing oddities ---------------------------------------------------- */

FIXTURE_TEST(interim, trailers_are_not_header_fields) {
  ts_resp *s = ts_route(ts, 0, "/chunked");
  ts_resp_str(s, "HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n");
  ts_resp_str(s, "HTTP/1.1 200 OK\r\n"
                 "Transfer-Encoding: chunked\r\n"
                 "Trailer: X-Checksum, X-Trailer-Only\r\n"
                 "X-Final: 1\r\n"
                 "\r\n"
                 "5\r\nhello\r\n"
                 "6\r\n world\r\n"
                 "0\r\n"
                 "X-Checksum: abc123\r\n"
                 "X-Trailer-Only: t\r\n"
                 "\r\n");
  httpresp_response *r = run("GET", "/chunked", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_str_eq(fixture_body(r), "hello world");
  cr_expect_null(httpresp_response_header(r, "X-Checksum"));
  cr_expect_null(httpresp_response_header(r, "X-Trailer-Only"));
  cr_expect_null(httpresp_response_header(r, "X-Interim"));
  cr_expect_str_eq(httpresp_response_header(r, "X-Final"), "1");
  cr_expect_eq(httpresp_response_header_count(r), 3, "%zu fields",
               httpresp_response_header_count(r));
  cr_expect_eq(ts_request_count(ts), 1);
  httpresp_response_free(r);
}

FIXTURE_TEST(interim, obs_fold_is_joined_with_a_space) {
  ts_resp *s = ts_route(ts, 0, "/fold");
  ts_resp_str(s, "HTTP/1.1 200 OK\r\n"
                 "X-Folded: first\r\n"
                 "   second\r\n"
                 "\tthird  \r\n"
                 "X-After: z\r\n"
                 "Content-Length: 2\r\n"
                 "\r\n"
                 "ok");
  httpresp_response *r = run("GET", "/fold", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_str_eq(httpresp_response_header(r, "X-Folded"),
                   "first second third");
  cr_expect_str_eq(httpresp_response_header(r, "X-After"), "z");
  cr_expect_eq(httpresp_response_header_count(r), 3, "%zu fields",
               httpresp_response_header_count(r));
  cr_expect_str_eq(fixture_body(r), "ok");
  httpresp_response_free(r);
}
