/* SPDX-License-Identifier: MIT */
/* Redirects through both drivers against the loopback server, asserting
 * what the server received on every hop: suite "redirect" through
 * httpresp_perform, "redirect_multi" through httpresp_multi (fixtures.h). */
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

FIXTURE_SUITES(redirect, .init = setup, .fini = teardown);

static char *url(int port, const char *path) { return ts_url(ts, port, path); }

static httpresp_response *run(const char *method, const char *path,
                              const char *body, const char *const *headers) {
  char *u = url(0, path);
  httpresp_response *r = fixture_run(client, easy, method, u, body, headers);
  free(u);
  return r;
}

typedef struct wire_row {
  int status;
  const char *method;
  int keep_post;
  const char *next_method;
  int body_kept;
} wire_row;

static const wire_row wire_table[] = {
    {301, "GET", 0, "GET", 0},      {301, "HEAD", 0, "HEAD", 0},
    {301, "POST", 0, "GET", 0},     {301, "POST", 1, "POST", 1},
    {301, "PUT", 0, "PUT", 1},      {301, "DELETE", 0, "DELETE", 1},
    {302, "GET", 0, "GET", 0},      {302, "HEAD", 0, "HEAD", 0},
    {302, "POST", 0, "GET", 0},     {302, "POST", 1, "POST", 1},
    {302, "PUT", 0, "PUT", 1},      {302, "DELETE", 0, "DELETE", 1},
    {303, "GET", 0, "GET", 0},      {303, "HEAD", 0, "HEAD", 0},
    {303, "POST", 0, "GET", 0},     {303, "PUT", 0, "GET", 0},
    {303, "DELETE", 0, "GET", 0},   {307, "GET", 0, "GET", 0},
    {307, "HEAD", 0, "HEAD", 0},    {307, "POST", 0, "POST", 1},
    {307, "PUT", 0, "PUT", 1},      {307, "DELETE", 0, "DELETE", 1},
    {308, "GET", 0, "GET", 0},      {308, "HEAD", 0, "HEAD", 0},
    {308, "POST", 0, "POST", 1},    {308, "PUT", 0, "PUT", 1},
    {308, "DELETE", 0, "DELETE", 1},
};

FIXTURE_TEST(redirect, method_and_body_on_the_wire) {
  static const char body[] = "name=value&bytes=\x01\x02";
  for (size_t i = 0; i < sizeof(wire_table) / sizeof(wire_table[0]); i++) {
    const wire_row *row = &wire_table[i];
    ts_reset(ts);
    char loc[64];
    snprintf(loc, sizeof(loc), "Location: /next%zu\r\n", i);
    ts_simple(ts, 0, "/start", row->status, loc, "redirect body");
    char next[32];
    snprintf(next, sizeof(next), "/next%zu", i);
    ts_simple(ts, 0, next, 200, "Content-Type: text/plain\r\n", "final");
    httpresp_client_set_keep_post(client, row->keep_post);
    int with_body = strcmp(row->method, "GET") && strcmp(row->method, "HEAD");
    const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded",
                          "Content-Language: en", "X-Trace: 7", NULL};
    httpresp_response *r =
        run(row->method, "/start", with_body ? body : NULL, hdrs);
    cr_expect_eq(httpresp_response_error(r), 0, "row %zu: %s", i,
                 httpresp_response_errmsg(r));
    cr_expect_eq(httpresp_response_status(r), 200, "row %zu", i);
    cr_assert_eq(ts_request_count(ts), 2, "row %zu", i);
    const ts_request *q0 = ts_request_get(ts, 0);
    const ts_request *q1 = ts_request_get(ts, 1);
    cr_expect_str_eq(q0->method, row->method, "row %zu", i);
    cr_expect_str_eq(q1->method, row->next_method, "row %zu: %d %s", i,
                     row->status, row->method);
    cr_expect_str_eq(q1->target, next);
    cr_expect_str_eq(ts_req_header(q1, "X-Trace"), "7", "row %zu", i);
    if (with_body) {
      cr_expect_eq(q0->body_len, sizeof(body) - 1);
      if (row->body_kept) {
        cr_expect_eq(q1->body_len, sizeof(body) - 1, "row %zu", i);
        cr_expect_eq(memcmp(q1->body, body, sizeof(body) - 1), 0);
        cr_expect_str_eq(ts_req_header(q1, "Content-Type"),
                         "application/x-www-form-urlencoded", "row %zu", i);
      } else {
        cr_expect_eq(q1->body_len, 0, "row %zu", i);
        cr_expect_null(ts_req_header(q1, "Content-Type"), "row %zu", i);
        cr_expect_null(ts_req_header(q1, "Content-Language"), "row %zu", i);
        cr_expect_null(ts_req_header(q1, "Content-Length"), "row %zu", i);
      }
    }
    if (strcmp(row->method, "HEAD") != 0)
      cr_expect_str_eq(fixture_body(r), "final", "row %zu", i);
    httpresp_response_free(r);
  }
}

FIXTURE_TEST(redirect, hops_are_recorded_and_connection_reused) {
  ts_simple(ts, 0, "/a", 301, "Location: /b\r\n", "moved");
  ts_simple(ts, 0, "/b", 302, "Location: /c\r\n", "found");
  ts_simple(ts, 0, "/c", 307, "Location: /d\r\n", NULL);
  ts_simple(ts, 0, "/d", 200, NULL, "done");
  httpresp_response *r = run("GET", "/a", NULL, NULL);
  cr_assert_eq(httpresp_response_error(r), 0);
  cr_expect_str_eq(fixture_body(r), "done", "redirect bodies stay out");
  cr_assert_eq(httpresp_response_hop_count(r), 4);
  static const int statuses[] = {301, 302, 307, 200};
  static const httpresp_decision decisions[] = {
      HTTPRESP_DECISION_FOLLOW, HTTPRESP_DECISION_FOLLOW,
      HTTPRESP_DECISION_FOLLOW, HTTPRESP_DECISION_DELIVER};
  static const char *const paths[] = {"/a", "/b", "/c", "/d"};
  for (size_t i = 0; i < 4; i++) {
    int st;
    const char *m, *u;
    httpresp_decision d;
    cr_assert_eq(httpresp_response_hop(r, i, &st, &m, &u, &d), 0);
    cr_expect_eq(st, statuses[i]);
    cr_expect_eq(d, decisions[i]);
    cr_expect_str_eq(m, "GET");
    char *expect = url(0, paths[i]);
    cr_expect_str_eq(u, expect);
    free(expect);
  }
  char *final = url(0, "/d");
  cr_expect_str_eq(httpresp_response_url(r), final);
  free(final);
  cr_expect_eq(ts_connection_count(ts), 1, "same-origin hops share one "
               "connection");
  for (size_t i = 1; i < 4; i++)
    cr_expect_eq(ts_request_get(ts, i)->conn_id, ts_request_get(ts, 0)->conn_id);
  httpresp_response_free(r);
}

/* Hop records keep their strings in the response while they fit and in
 * allocations after: every record must read back whole, either way, with
 * short and long URLs taking turns and the method changing on the way. */
FIXTURE_TEST(redirect, hop_records_keep_long_and_short_urls) {
  char p1[400], p3[400], loc[420];
  memset(p1, 'x', sizeof(p1));
  memcpy(p1, "/long1-", 7);
  p1[220] = '\0';
  memset(p3, 'y', sizeof(p3));
  memcpy(p3, "/long3-", 7);
  p3[390] = '\0';
  snprintf(loc, sizeof(loc), "Location: %s\r\n", p1);
  ts_simple(ts, 0, "/s0", 302, loc, NULL);
  ts_simple(ts, 0, p1, 307, "Location: /s2\r\n", NULL);
  snprintf(loc, sizeof(loc), "Location: %s\r\n", p3);
  ts_simple(ts, 0, "/s2", 301, loc, NULL);
  ts_simple(ts, 0, p3, 200, NULL, "done");
  httpresp_response *r = run("POST", "/s0", "data", NULL);
  cr_assert_eq(httpresp_response_error(r), 0);
  cr_assert_eq(httpresp_response_hop_count(r), 4);
  static const char *const methods[] = {"POST", "GET", "GET", "GET"};
  const char *const paths[] = {"/s0", p1, "/s2", p3};
  for (size_t i = 0; i < 4; i++) {
    const char *m, *u;
    cr_assert_eq(httpresp_response_hop(r, i, NULL, &m, &u, NULL), 0);
    cr_expect_str_eq(m, methods[i], "hop %zu", i);
    char *expect = url(0, paths[i]);
    cr_expect_str_eq(u, expect, "hop %zu", i);
    if (i == 3)
      cr_expect_str_eq(httpresp_response_url(r), expect);
    free(expect);
    cr_expect_str_eq(ts_request_get(ts, i)->method, methods[i]);
  }
  httpresp_response_free(r);
}

static size_t sink_cb(void *ud, const char *data, size_t len) {
  char *buf = ud;
  strncat(buf, data, len);
  return len;
}

FIXTURE_TEST(redirect, sink_gets_only_the_final_body) {
  ts_simple(ts, 0, "/a", 302, "Location: /b\r\n", "REDIRECT-BODY");
  ts_simple(ts, 0, "/b", 200, NULL, "FINAL-BODY");
  char got[256] = "";
  char *u = url(0, "/a");
  httpresp_request *req;
  cr_assert_eq(httpresp_request_new(&req, "GET", u), 0);
  httpresp_request_set_sink(req, sink_cb, got);
  httpresp_response *r;
  cr_expect_eq(fixture_perform(client, easy, req, &r), 0);
  cr_expect_str_eq(got, "FINAL-BODY");
  size_t len = 99;
  httpresp_response_body(r, &len);
  cr_expect_eq(len, 0);
  httpresp_response_free(r);
  httpresp_request_free(req);
  free(u);
}

/* Captures the resolved target and refuses to go there. */
static int capture_and_veto(void *ud, const httpresp_hop_view *hop,
                            httpresp_request *next) {
  (void)next;
  snprintf(ud, 512, "%s", httpresp_hop_to(hop));
  return 1;
}

FIXTURE_TEST(redirect, location_forms) {
  char *base = url(0, "/dir/sub/page?x=1#top");
  char origin[64];
  snprintf(origin, sizeof(origin), "http://127.0.0.1:%d", ts_port(ts, 0));
  static const struct {
    const char *location;
    const char *expect_suffix; /* appended to the origin, or absolute */
  } rows[] = {
      {"/abs/path", "/abs/path#top"},
      {"../up/./x", "/dir/up/x#top"},
      {"same", "/dir/sub/same#top"},
      {"?q=2", "/dir/sub/page?q=2#top"},
      {"/pct/a%2Fb%7e%20", "/pct/a%2Fb%7e%20#top"},
      {"/frag#new", "/frag#new"},
      {"//127.0.0.2:81/sr", "http://127.0.0.2:81/sr#top"},
      {"http://[::1]:8080/v6", "http://[::1]:8080/v6#top"},
      {"HTTP://other.test/Case", "HTTP://other.test/Case#top"},
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    ts_reset(ts);
    char hdr[256];
    snprintf(hdr, sizeof(hdr), "Location: %s\r\n", rows[i].location);
    ts_simple(ts, 0, "/dir/sub/page?x=1", 302, hdr, NULL);
    char target[512] = "";
    httpresp_client_set_hop_callback(client, capture_and_veto, target);
    httpresp_response *r = fixture_run(client, easy, "GET", base, NULL, NULL);
    char expect[512];
    if (rows[i].expect_suffix[0] == '/')
      snprintf(expect, sizeof(expect), "%s%s", origin, rows[i].expect_suffix);
    else
      snprintf(expect, sizeof(expect), "%s", rows[i].expect_suffix);
    cr_expect_str_eq(target, expect, "row %zu (%s)", i, rows[i].location);
    cr_expect_eq(httpresp_response_status(r), 302);
    fixture_expect_hop(r, 0, FIXTURE_ANY_STATUS, HTTPRESP_DECISION_VETOED);
    httpresp_response_free(r);
  }
  httpresp_client_set_hop_callback(client, NULL, NULL);
  free(base);
}

FIXTURE_TEST(redirect, percent_encoding_reaches_the_server_unchanged) {
  ts_simple(ts, 0, "/a", 302, "Location: /x%2Fy%7e?k=%41\r\n", NULL);
  ts_simple(ts, 0, "/x%2Fy%7e?k=%41", 200, NULL, "ok");
  httpresp_response *r = run("GET", "/a", NULL, NULL);
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_assert_eq(ts_request_count(ts), 2);
  cr_expect_str_eq(ts_request_get(ts, 1)->target, "/x%2Fy%7e?k=%41");
  httpresp_response_free(r);
}

FIXTURE_TEST(redirect, fragment_is_inherited) {
  ts_simple(ts, 0, "/a", 301, "Location: /b\r\n", NULL);
  ts_simple(ts, 0, "/b", 200, NULL, "ok");
  httpresp_response *r = run("GET", "/a#section-2", NULL, NULL);
  char *expect = url(0, "/b#section-2");
  cr_expect_str_eq(httpresp_response_url(r), expect);
  cr_expect_str_eq(ts_request_get(ts, 1)->target, "/b", "no fragment on the "
                   "wire");
  free(expect);
  httpresp_response_free(r);
}

FIXTURE_TEST(redirect, unparsable_location_keeps_the_3xx) {
  ts_simple(ts, 0, "/a", 302, "Location: http://[::1\r\nX-Mark: here\r\n",
            NULL);
  httpresp_response *r = run("GET", "/a", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_BAD_LOCATION);
  cr_expect_eq(httpresp_response_status(r), 302);
  cr_expect_str_eq(httpresp_response_header(r, "X-Mark"), "here");
  cr_expect_str_eq(httpresp_response_header(r, "Location"), "http://[::1");
  cr_expect_neq(strlen(httpresp_response_errmsg(r)), 0);
  cr_expect_eq(ts_request_count(ts), 1);
  httpresp_response_free(r);
}

FIXTURE_TEST(redirect, statuses_not_followed) {
  static const int statuses[] = {300, 304, 305, 306, 309, 399};
  for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
    ts_reset(ts);
    ts_simple(ts, 0, "/a", statuses[i], "Location: /b\r\n", NULL);
    ts_simple(ts, 0, "/b", 200, NULL, "should not be fetched");
    httpresp_response *r = run("GET", "/a", NULL, NULL);
    cr_expect_eq(httpresp_response_error(r), 0, "status %d", statuses[i]);
    cr_expect_eq(httpresp_response_status(r), statuses[i]);
    cr_expect_eq(ts_request_count(ts), 1, "status %d", statuses[i]);
    httpresp_response_free(r);
  }
}

FIXTURE_TEST(redirect, follow_300_when_opted_in) {
  ts_simple(ts, 0, "/a", 300, "Location: /b\r\n", NULL);
  ts_simple(ts, 0, "/b", 200, NULL, "chosen");
  httpresp_client_set_follow_300(client, 1);
  httpresp_response *r = run("GET", "/a", NULL, NULL);
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_str_eq(fixture_body(r), "chosen");
  httpresp_response_free(r);
}

FIXTURE_TEST(redirect, redirect_without_location_is_final) {
  ts_simple(ts, 0, "/a", 302, NULL, "no location here");
  ts_simple(ts, 0, "/e", 301, "Location: \r\n", "empty location");
  httpresp_response *r = run("GET", "/a", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), 0);
  cr_expect_eq(httpresp_response_status(r), 302);
  cr_expect_str_eq(fixture_body(r), "no location here");
  httpresp_response_free(r);
  r = run("GET", "/e", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), 0);
  cr_expect_eq(httpresp_response_status(r), 301);
  httpresp_response_free(r);
}

FIXTURE_TEST(redirect, other_schemes_are_refused) {
  static const char *const locs[] = {"ftp://127.0.0.1/file", "file:///etc/passwd",
                                     "javascript:alert(1)", "gopher://x/"};
  for (size_t i = 0; i < sizeof(locs) / sizeof(locs[0]); i++) {
    ts_reset(ts);
    char hdr[128];
    snprintf(hdr, sizeof(hdr), "Location: %s\r\n", locs[i]);
    ts_simple(ts, 0, "/a", 302, hdr, NULL);
    httpresp_response *r = run("GET", "/a", NULL, NULL);
    cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_SCHEME_NOT_ALLOWED,
                 "%s", locs[i]);
    cr_expect_eq(httpresp_response_status(r), 302);
    httpresp_response_free(r);
  }
}

static void chain(int n) {
  for (int i = 0; i < n; i++) {
    char path[32], hdr[64];
    snprintf(path, sizeof(path), "/r%d", i);
    snprintf(hdr, sizeof(hdr), "Location: /r%d\r\n", i + 1);
    ts_simple(ts, 0, path, 302, hdr, NULL);
  }
  char path[32];
  snprintf(path, sizeof(path), "/r%d", n);
  ts_simple(ts, 0, path, 200, NULL, "end");
}

FIXTURE_TEST(redirect, twenty_redirects_by_default) {
  chain(20);
  httpresp_response *r = run("GET", "/r0", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), 0);
  cr_expect_eq(httpresp_response_status(r), 200);
  httpresp_response_free(r);
  ts_reset(ts);
  chain(21);
  r = run("GET", "/r0", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_TOO_MANY_REDIRECTS);
  cr_expect_eq(httpresp_response_status(r), 302, "the last 3xx is kept");
  cr_expect_eq(ts_request_count(ts), 21);
  httpresp_response_free(r);
}

FIXTURE_TEST(redirect, limit_is_configurable) {
  chain(3);
  httpresp_client_set_max_redirects(client, 2);
  httpresp_response *r = run("GET", "/r0", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_TOO_MANY_REDIRECTS);
  cr_expect_eq(ts_request_count(ts), 3);
  httpresp_response_free(r);
  ts_reset(ts);
  chain(3);
  httpresp_client_set_follow(client, 0);
  r = run("GET", "/r0", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), 0);
  cr_expect_eq(httpresp_response_status(r), 302);
  cr_expect_eq(ts_request_count(ts), 1);
  httpresp_response_free(r);
}

FIXTURE_TEST(redirect, loops_stop_early) {
  ts_simple(ts, 0, "/A", 302, "Location: /B\r\n", NULL);
  ts_simple(ts, 0, "/B", 302, "Location: /A\r\n", NULL);
  ts_simple(ts, 0, "/self", 301, "Location: /self\r\n", NULL);
  httpresp_response *r = run("GET", "/A", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_REDIRECT_LOOP);
  cr_expect_eq(ts_request_count(ts), 2, "the loop is seen before /A again");
  httpresp_response_free(r);
  ts_reset(ts);
  ts_simple(ts, 0, "/self", 301, "Location: /self\r\n", NULL);
  r = run("GET", "/self", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_REDIRECT_LOOP);
  cr_expect_eq(ts_request_count(ts), 1);
  httpresp_response_free(r);
}

FIXTURE_TEST(redirect, login_bounce_with_cookie_is_followed) {
  /* /A sends to /login, which sets a session cookie and sends back to /A;
   * the second visit of /A answers. */
  ts_simple(ts, 0, "/A", 302, "Location: /login\r\n", NULL);
  ts_simple(ts, 0, "/A", 200, NULL, "welcome");
  ts_simple(ts, 0, "/login", 302,
            "Set-Cookie: sid=42; Path=/\r\nLocation: /A\r\n", NULL);
  curl_easy_setopt(easy, CURLOPT_COOKIEFILE, "");
  httpresp_response *r = run("GET", "/A", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_expect_str_eq(fixture_body(r), "welcome");
  cr_assert_eq(ts_request_count(ts), 3);
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 2), "Cookie"), "sid=42");
  httpresp_response_free(r);
}

static void cross_origin_setup(void) {
  char hdr[128];
  char *other = url(1, "/landing");
  snprintf(hdr, sizeof(hdr), "Location: %s\r\n", other);
  free(other);
  ts_simple(ts, 0, "/go", 302, hdr, NULL);
  ts_simple(ts, 0, "/stay", 302, "Location: /landing\r\n", NULL);
  ts_simple(ts, -1, "/landing", 200, NULL, "landed");
}

static const char *const secret_headers[] = {
    "Authorization: Bearer top-secret", "Proxy-Authorization: Basic cHg6cHg=",
    "Cookie: session=abc", "X-Api-Key-Not-Credential: visible", NULL};

FIXTURE_TEST(redirect, port_change_strips_credentials) {
  cross_origin_setup();
  httpresp_response *r = run("GET", "/go", NULL, secret_headers);
  cr_assert_eq(httpresp_response_status(r), 200);
  cr_assert_eq(ts_request_count(ts), 2);
  const ts_request *first = ts_request_get(ts, 0);
  const ts_request *second = ts_request_get(ts, 1);
  cr_expect_str_eq(ts_req_header(first, "Authorization"), "Bearer top-secret");
  cr_expect_eq(second->port_idx, 1);
  cr_expect_null(ts_req_header(second, "Authorization"));
  cr_expect_null(ts_req_header(second, "Proxy-Authorization"));
  cr_expect_null(ts_req_header(second, "Cookie"));
  cr_expect_str_eq(ts_req_header(second, "X-Api-Key-Not-Credential"),
                   "visible");
  httpresp_response_free(r);
}

FIXTURE_TEST(redirect, same_origin_keeps_credentials) {
  cross_origin_setup();
  httpresp_response *r = run("GET", "/stay", NULL, secret_headers);
  cr_assert_eq(ts_request_count(ts), 2);
  const ts_request *second = ts_request_get(ts, 1);
  cr_expect_str_eq(ts_req_header(second, "Authorization"), "Bearer top-secret");
  cr_expect_str_eq(ts_req_header(second, "Cookie"), "session=abc");
  cr_expect_str_eq(ts_req_header(second, "Proxy-Authorization"),
                   "Basic cHg6cHg=");
  httpresp_response_free(r);
}

FIXTURE_TEST(redirect, host_change_strips_credentials) {
  /* 127.0.0.1 and localhost are different hosts, hence origins. */
  char hdr[128];
  snprintf(hdr, sizeof(hdr), "Location: http://localhost:%d/landing\r\n",
           ts_port(ts, 0));
  ts_simple(ts, 0, "/go", 302, hdr, NULL);
  ts_simple(ts, 0, "/landing", 200, NULL, "landed");
  curl_easy_setopt(easy, CURLOPT_IPRESOLVE, (long)CURL_IPRESOLVE_V4);
  httpresp_response *r = run("GET", "/go", NULL, secret_headers);
  cr_assert_eq(httpresp_response_status(r), 200, "%s",
               httpresp_response_errmsg(r));
  cr_assert_eq(ts_request_count(ts), 2);
  const ts_request *second = ts_request_get(ts, 1);
  char host[64];
  snprintf(host, sizeof(host), "localhost:%d", ts_port(ts, 0));
  cr_expect_str_eq(ts_req_header(second, "Host"), host);
  cr_expect_null(ts_req_header(second, "Authorization"));
  cr_expect_null(ts_req_header(second, "Cookie"));
  httpresp_response_free(r);
}

FIXTURE_TEST(redirect, keep_list_is_honoured) {
  cross_origin_setup();
  httpresp_client_keep_header_across_origins(client, "Authorization");
  httpresp_response *r = run("GET", "/go", NULL, secret_headers);
  cr_assert_eq(ts_request_count(ts), 2);
  const ts_request *second = ts_request_get(ts, 1);
  cr_expect_str_eq(ts_req_header(second, "Authorization"), "Bearer top-secret");
  cr_expect_null(ts_req_header(second, "Cookie"));
  httpresp_response_free(r);
}

/* Credentials set on the handle itself: keeping Authorization across
 * origins keeps CURLOPT_USERPWD, and says nothing about the handle's
 * CURLOPT_COOKIE, which must still stay with its origin (and the other
 * way round). */
FIXTURE_TEST(redirect, handle_cookie_and_userpwd_kept_apart) {
  static const struct {
    const char *keep;
    int auth_crosses, cookie_crosses;
  } rows[] = {
      {NULL, 0, 0},
      {"Authorization", 1, 0},
      {"Cookie", 0, 1},
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    fixture_driver_release(); /* the multi loop's context holds the client */
    httpresp_client_free(client);
    client = fixture_client(&clk);
    if (rows[i].keep)
      httpresp_client_keep_header_across_origins(client, rows[i].keep);
    ts_reset(ts);
    cross_origin_setup();
    curl_easy_setopt(easy, CURLOPT_USERPWD, "bob:pw");
    curl_easy_setopt(easy, CURLOPT_COOKIE, "handle=yes");
    httpresp_response *r = run("GET", "/go", NULL, NULL);
    cr_assert_eq(ts_request_count(ts), 2, "row %zu", i);
    const ts_request *first = ts_request_get(ts, 0);
    const ts_request *second = ts_request_get(ts, 1);
    /* "bob:pw" in base64 */
    cr_expect_str_eq(ts_req_header(first, "Authorization"), "Basic Ym9iOnB3");
    cr_expect_str_eq(ts_req_header(first, "Cookie"), "handle=yes");
    if (rows[i].auth_crosses)
      cr_expect_str_eq(ts_req_header(second, "Authorization"),
                       "Basic Ym9iOnB3", "row %zu", i);
    else
      cr_expect_null(ts_req_header(second, "Authorization"), "row %zu", i);
    if (rows[i].cookie_crosses)
      cr_expect_str_eq(ts_req_header(second, "Cookie"), "handle=yes",
                       "row %zu", i);
    else
      cr_expect_null(ts_req_header(second, "Cookie"), "row %zu", i);
    httpresp_response_free(r);
    curl_easy_setopt(easy, CURLOPT_USERPWD, NULL);
    curl_easy_setopt(easy, CURLOPT_COOKIE, NULL);
  }
}

FIXTURE_TEST(redirect, curl_credentials_stay_with_their_origin) {
  cross_origin_setup();
  char *u = url(0, "/go");
  httpresp_request *req;
  cr_assert_eq(httpresp_request_new(&req, "GET", u), 0);
  cr_assert_eq(httpresp_request_set_credentials(req, "alice", "s3cret", 0), 0);
  httpresp_response *r;
  fixture_perform(client, easy, req, &r);
  cr_assert_eq(ts_request_count(ts), 2);
  /* "alice:s3cret" in base64 */
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 0), "Authorization"),
                   "Basic YWxpY2U6czNjcmV0");
  cr_expect_null(ts_req_header(ts_request_get(ts, 1), "Authorization"));
  httpresp_response_free(r);
  /* Same origin: every hop carries them. */
  ts_reset(ts);
  cross_origin_setup();
  char *stay = url(0, "/stay");
  httpresp_request_set_url(req, stay);
  fixture_perform(client, easy, req, &r);
  cr_assert_eq(ts_request_count(ts), 2);
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 1), "Authorization"),
                   "Basic YWxpY2U6czNjcmV0");
  httpresp_response_free(r);
  httpresp_request_free(req);
  free(stay);
  free(u);
}

FIXTURE_TEST(redirect, handle_credentials_do_not_cross_origins) {
  cross_origin_setup();
  curl_easy_setopt(easy, CURLOPT_USERPWD, "bob:hunter2");
  httpresp_response *r = run("GET", "/go", NULL, NULL);
  cr_assert_eq(ts_request_count(ts), 2);
  cr_expect_not_null(ts_req_header(ts_request_get(ts, 0), "Authorization"));
  /* "bob:hunter2" in base64 */
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 0), "Authorization"),
                   "Basic Ym9iOmh1bnRlcjI=");
  cr_expect_null(ts_req_header(ts_request_get(ts, 1), "Authorization"));
  httpresp_response_free(r);
}

FIXTURE_TEST(redirect, streamed_body_without_rewind_is_not_replayed) {
  ts_simple(ts, 0, "/up", 307, "Location: /up2\r\n", NULL);
  ts_simple(ts, 0, "/up2", 200, NULL, "stored");
  fixture_stream s = {"streamed-payload-0123456789", 27, 0, 0, 0};
  char *u = url(0, "/up");
  httpresp_request *req;
  cr_assert_eq(httpresp_request_new(&req, "POST", u), 0);
  httpresp_request_set_body_stream(req, fixture_stream_read, NULL, (int64_t)s.len, &s);
  httpresp_response *r;
  cr_expect_eq(fixture_perform(client, easy, req, &r),
               HTTPRESP_E_BODY_NOT_REWINDABLE);
  cr_expect_eq(httpresp_response_status(r), 307, "the 3xx is handed back");
  cr_expect_eq(ts_request_count(ts), 1, "nothing was sent to /up2");
  cr_expect_eq(ts_request_get(ts, 0)->body_len, s.len);
  httpresp_response_free(r);
  httpresp_request_free(req);
  free(u);
}

FIXTURE_TEST(redirect, streamed_body_with_rewind_is_replayed_exactly) {
  ts_simple(ts, 0, "/up", 308, "Location: /up2\r\n", NULL);
  ts_simple(ts, 0, "/up2", 200, NULL, "stored");
  fixture_stream s = {"streamed-payload-\x00\x01\xff-end", 24, 0, 0, 0};
  char *u = url(0, "/up");
  httpresp_request *req;
  cr_assert_eq(httpresp_request_new(&req, "PUT", u), 0);
  httpresp_request_set_body_stream(req, fixture_stream_read, fixture_stream_rewind, -1, &s);
  httpresp_response *r;
  cr_expect_eq(fixture_perform(client, easy, req, &r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_assert_eq(ts_request_count(ts), 2);
  for (size_t i = 0; i < 2; i++) {
    const ts_request *q = ts_request_get(ts, i);
    cr_expect_str_eq(q->method, "PUT");
    cr_expect_eq(q->body_len, s.len, "hop %zu", i);
    cr_expect_eq(memcmp(q->body, s.data, s.len), 0, "hop %zu", i);
    cr_expect(q->body_complete);
  }
  cr_expect_geq(s.rewinds, 1);
  httpresp_response_free(r);
  httpresp_request_free(req);
  free(u);
}

static int rewrite_header(void *ud, const httpresp_hop_view *hop,
                          httpresp_request *next) {
  int *calls = ud;
  (*calls)++;
  cr_expect_eq(httpresp_hop_status(hop), 301);
  cr_expect_str_eq(httpresp_hop_header(hop, "X-Why"), "moved");
  httpresp_request_add_header(next, "X-Hop", "added-by-callback");
  return 0;
}

/* Sends the next hop to the server's second port: another origin. */
static int retarget_to_other_port(void *ud, const httpresp_hop_view *hop,
                                  httpresp_request *next) {
  (void)hop;
  char *u = ts_url(ts, 1, "/elsewhere");
  int rc = httpresp_request_set_url(next, u);
  free(u);
  *(int *)ud = rc;
  return rc;
}

/* The origin rules hold for the URL the next hop really goes to: a hop
 * callback that retargets a same-origin redirect to another origin does
 * not take the caller's credentials along. */
FIXTURE_TEST(redirect, retargeted_hop_gets_the_origin_rules_again) {
  ts_simple(ts, 0, "/a", 302, "Location: /b\r\n", NULL);
  ts_simple(ts, 1, "/elsewhere", 200, NULL, "there");
  int rc = -1;
  httpresp_client_set_hop_callback(client, retarget_to_other_port, &rc);
  static const char *const hdrs[] = {"Authorization: Bearer secret",
                                     "Cookie: sid=1", "X-Plain: 1", NULL};
  httpresp_response *r = run("GET", "/a", NULL, hdrs);
  cr_assert_eq(rc, 0);
  cr_expect_str_eq(fixture_body(r), "there");
  cr_assert_eq(ts_request_count(ts), 2);
  const ts_request *q = ts_request_get(ts, 1);
  cr_expect_eq(q->port_idx, 1, "the hop went where the callback said");
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 0), "Authorization"),
                   "Bearer secret");
  cr_expect_null(ts_req_header(q, "Authorization"));
  cr_expect_null(ts_req_header(q, "Cookie"));
  cr_expect_str_eq(ts_req_header(q, "X-Plain"), "1");
  httpresp_response_free(r);
}

FIXTURE_TEST(redirect, hop_callback_adjusts_headers) {
  ts_simple(ts, 0, "/a", 301, "Location: /b\r\nX-Why: moved\r\n", NULL);
  ts_simple(ts, 0, "/b", 200, NULL, "ok");
  int calls = 0;
  httpresp_client_set_hop_callback(client, rewrite_header, &calls);
  httpresp_response *r = run("GET", "/a", NULL, NULL);
  cr_expect_eq(calls, 1);
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 1), "X-Hop"),
                   "added-by-callback");
  cr_expect_null(ts_req_header(ts_request_get(ts, 0), "X-Hop"));
  httpresp_response_free(r);
}

static int veto(void *ud, const httpresp_hop_view *hop, httpresp_request *n) {
  (void)ud;
  (void)hop;
  (void)n;
  return 1;
}

FIXTURE_TEST(redirect, hop_callback_vetoes) {
  ts_simple(ts, 0, "/a", 302, "Location: /b\r\n", "redirect body");
  ts_simple(ts, 0, "/b", 200, NULL, "not reached");
  httpresp_client_set_hop_callback(client, veto, NULL);
  httpresp_response *r = run("GET", "/a", NULL, NULL);
  cr_expect_eq(httpresp_response_error(r), 0);
  cr_expect_eq(httpresp_response_status(r), 302);
  cr_expect_str_eq(httpresp_response_header(r, "Location"), "/b");
  cr_expect_eq(ts_request_count(ts), 1);
  httpresp_response_free(r);
}

FIXTURE_TEST(redirect, handle_is_reusable_and_clean_afterwards) {
  ts_simple(ts, 0, "/post", 307, "Location: /done\r\n", NULL);
  ts_simple(ts, 0, "/done", 200, NULL, "ok");
  ts_simple(ts, 0, "/plain", 200, NULL, "plain");
  httpresp_response *r = run("POST", "/post", "data", NULL);
  cr_expect_eq(httpresp_response_status(r), 200);
  httpresp_response_free(r);
  r = run("GET", "/plain", NULL, NULL);
  cr_expect_str_eq(fixture_body(r), "plain");
  const ts_request *q = ts_request_get(ts, 2);
  cr_expect_str_eq(q->method, "GET");
  cr_expect_eq(q->body_len, 0);
  httpresp_response_free(r);
}
