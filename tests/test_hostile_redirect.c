/* SPDX-License-Identifier: MIT */
/* Hostile servers, redirects: what a dropped body leaves behind (RFC 9110
 * §15.4, §10.1.1), credentials a server writes into its Location (RFC 9110
 * §4.2.4, WHATWG Fetch), and loops written so that the URL text differs
 * (RFC 3986 §6.2.2-6.2.3).  Each test checks what the server received. */
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

TestSuite(hostile_redirect, .init = setup, .fini = teardown);

/* ---- a dropped body takes its fields along --------------------------------
 */

/* Every field that describes the body, and one that does not. */
static const char *const body_fields[] = {
    "Content-Type: application/x-www-form-urlencoded",
    "Content-Language: en",
    "Content-Location: /form/submitted",
    "Content-Encoding: identity",
    "Content-Range: bytes 0-7/8",
    "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==",
    "Content-Digest: sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
    "Repr-Digest: sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
    "Digest: SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
    "Last-Modified: Tue, 15 Nov 1994 12:45:26 GMT",
    "Expect: 100-continue",
    "X-Unrelated: kept",
    NULL,
};

static const char *const dropped[] = {
    "Content-Type",      "Content-Language", "Content-Location",
    "Content-Encoding",  "Content-Range",    "Content-MD5",
    "Content-Digest",    "Repr-Digest",      "Digest",
    "Last-Modified",     "Expect",           "Content-Length",
    "Transfer-Encoding",
};

Test(hostile_redirect, a_dropped_body_leaves_no_field_describing_it) {
  static const int statuses[] = {301, 302, 303};
  for (size_t s = 0; s < sizeof(statuses) / sizeof(statuses[0]); s++) {
    ts_reset(ts);
    ts_simple(ts, 0, "/form", statuses[s], "Location: /result\r\n", NULL);
    ts_simple(ts, 0, "/result", 200, NULL, "result");
    char *u = ts_url(ts, 0, "/form");
    httpresp_response *r =
        fixture_run(client, easy, "POST", u, "name=x&y=1", body_fields);
    free(u);
    cr_expect_eq(httpresp_response_error(r), 0, "%d: %s", statuses[s],
                 httpresp_response_errmsg(r));
    cr_assert_eq(ts_request_count(ts), 2, "%d", statuses[s]);
    const ts_request *first = ts_request_get(ts, 0);
    cr_expect_str_eq(first->method, "POST");
    cr_expect_str_eq(ts_req_header(first, "Digest"),
                     "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=");
    const ts_request *q = ts_request_get(ts, 1);
    cr_expect_str_eq(q->method, "GET", "%d", statuses[s]);
    cr_expect_eq(q->body_len, 0, "%d", statuses[s]);
    for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
      cr_expect_null(ts_req_header(q, dropped[i]), "%d: %s was sent: %s",
                     statuses[s], dropped[i], ts_req_header(q, dropped[i]));
    cr_expect_str_eq(ts_req_header(q, "X-Unrelated"), "kept", "%d",
                     statuses[s]);
    httpresp_response_free(r);
  }
}

Test(hostile_redirect, a_kept_body_keeps_its_fields) {
  ts_simple(ts, 0, "/form", 307, "Location: /again\r\n", NULL);
  ts_simple(ts, 0, "/again", 200, NULL, "again");
  char *u = ts_url(ts, 0, "/form");
  httpresp_response *r =
      fixture_run(client, easy, "POST", u, "name=x&y=1", body_fields);
  free(u);
  cr_expect_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_assert_eq(ts_request_count(ts), 2);
  const ts_request *q = ts_request_get(ts, 1);
  cr_expect_str_eq(q->method, "POST");
  cr_expect_str_eq(q->body, "name=x&y=1");
  cr_expect_str_eq(ts_req_header(q, "Content-Language"), "en");
  cr_expect_not_null(ts_req_header(q, "Digest"));
  cr_expect_not_null(ts_req_header(q, "Content-Digest"));
  httpresp_response_free(r);
}

/* ---- credentials in a Location --------------------------------------------
 */

Test(hostile_redirect, userinfo_to_another_origin_is_an_error) {
  char hdr[128];
  snprintf(hdr, sizeof(hdr), "Location: http://user:pw@127.0.0.1:%d/x\r\n",
           ts_port(ts, 1));
  ts_simple(ts, 0, "/a", 302, hdr, NULL);
  ts_simple(ts, 1, "/x", 200, NULL, "must not be fetched");
  char *u = ts_url(ts, 0, "/a");
  httpresp_response *r = fixture_run(client, easy, "GET", u, NULL, NULL);
  free(u);
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_BAD_LOCATION, "%s",
               httpresp_response_errmsg(r));
  cr_expect_not_null(strstr(httpresp_response_errmsg(r), "credentials"), "%s",
                     httpresp_response_errmsg(r));
  cr_expect_eq(httpresp_response_status(r), 302, "the 3xx stays available");
  cr_expect_eq(ts_request_count(ts), 1, "nothing sent to the other origin");
  httpresp_response_free(r);
}

Test(hostile_redirect, userinfo_on_the_same_origin_is_never_sent) {
  char hdr[128];
  snprintf(hdr, sizeof(hdr), "Location: http://user:pw@127.0.0.1:%d/y\r\n",
           ts_port(ts, 0));
  ts_simple(ts, 0, "/a", 302, hdr, NULL);
  ts_simple(ts, 0, "/y", 200, NULL, "landed");
  char *u = ts_url(ts, 0, "/a");
  httpresp_response *r = fixture_run(client, easy, "GET", u, NULL, NULL);
  free(u);
  cr_expect_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_expect_str_eq(fixture_body(r), "landed");
  cr_assert_eq(ts_request_count(ts), 2);
  const ts_request *q = ts_request_get(ts, 1);
  cr_expect_str_eq(q->target, "/y");
  cr_expect_null(ts_req_header(q, "Authorization"),
                 "server-chosen credentials were sent: %s",
                 ts_req_header(q, "Authorization"));
  cr_expect_null(strstr(httpresp_response_url(r), "user"), "final URL %s",
                 httpresp_response_url(r));
  httpresp_response_free(r);
}

Test(hostile_redirect, the_callers_own_userinfo_stays_the_callers) {
  /* A relative Location keeps the caller's authority, userinfo included:
   * the caller chose to send those credentials to this origin. */
  ts_simple(ts, 0, "/a", 302, "Location: /b\r\n", NULL);
  ts_simple(ts, 0, "/b", 200, NULL, "b");
  char u[96];
  snprintf(u, sizeof(u), "http://me:secret@127.0.0.1:%d/a", ts_port(ts, 0));
  httpresp_response *r = fixture_run(client, easy, "GET", u, NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_assert_eq(ts_request_count(ts), 2);
  for (size_t i = 0; i < 2; i++)
    cr_expect_str_eq(ts_req_header(ts_request_get(ts, i), "Authorization"),
                     "Basic bWU6c2VjcmV0", "hop %zu", i);
  httpresp_response_free(r);
}

/* ---- loops in other spellings ---------------------------------------------
 */

Test(hostile_redirect, a_loop_spelled_differently_is_a_loop) {
  char spell[2][128];
  int port = ts_port(ts, 0);
  /* scheme case; an unreserved character percent-encoded */
  snprintf(spell[0], sizeof(spell[0]), "Location: HTTP://127.0.0.1:%d/a\r\n",
           port);
  snprintf(spell[1], sizeof(spell[1]), "Location: /%%61\r\n");
  for (size_t i = 0; i < 2; i++) {
    ts_reset(ts);
    ts_simple(ts, 0, "/a", 302, "Location: /b\r\n", NULL);
    ts_simple(ts, 0, "/b", 302, spell[i], NULL);
    ts_simple(ts, -1, "/%61", 200, NULL, "followed");
    char *u = ts_url(ts, 0, "/a");
    httpresp_response *r = fixture_run(client, easy, "GET", u, NULL, NULL);
    free(u);
    cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_REDIRECT_LOOP,
                 "%s: %s (%s)", spell[i],
                 httpresp_errname(httpresp_response_error(r)),
                 httpresp_response_errmsg(r));
    cr_expect_eq(ts_request_count(ts), 2, "%s: stopped before the revisit",
                 spell[i]);
    httpresp_response_free(r);
  }
}
