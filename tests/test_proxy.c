/* SPDX-License-Identifier: MIT */
/* Requests through an HTTP proxy tunnel (CONNECT) against the loopback
 * server, which plays the proxy and, on the same connection, the origin.
 * The proxy's own answer to CONNECT is not the response: the library must
 * see the origin's status and fields, hop by hop. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "fixtures.h"
#include "testsrv.h"

static ts_server *ts;
static httpresp_client *client;
static CURL *easy;
static fake_clock clk;

static void setup(void) {
  fixture_suite_start(1, &ts, &clk, &client, &easy);
  char proxy[64], authority[64];
  snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", ts_port(ts, 0));
  snprintf(authority, sizeof(authority), "127.0.0.1:%d", ts_port(ts, 0));
  /* The tunnel opens with a CONNECT to the origin's authority; the proxy
   * says so with fields of its own, which must not pass for the origin's. */
  ts_resp *r = ts_route(ts, 0, authority);
  static const char established[] = "HTTP/1.1 200 Connection established\r\n"
                                    "X-Proxy: yes\r\n\r\n";
  ts_resp_raw(r, established, sizeof(established) - 1);
  curl_easy_setopt(easy, CURLOPT_PROXY, proxy);
  curl_easy_setopt(easy, CURLOPT_HTTPPROXYTUNNEL, 1L);
  curl_easy_setopt(easy, CURLOPT_NOPROXY, "");
}

static void teardown(void) { fixture_suite_stop(ts, client, easy); }

TestSuite(proxy, .init = setup, .fini = teardown);

Test(proxy, tunnel_answer_is_the_origins_and_redirects_are_followed) {
  ts_simple(ts, 0, "/a", 301, "Location: /b\r\n", "moved");
  ts_simple(ts, 0, "/b", 200, "X-Origin: b\r\n", "target");
  char *u = ts_url(ts, 0, "/a");
  httpresp_response *r = fixture_run(client, easy, "GET", u, NULL, NULL);
  free(u);
  cr_assert_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_str_eq(fixture_body(r), "target");
  cr_expect_str_eq(httpresp_response_header(r, "X-Origin"), "b");
  cr_expect_null(httpresp_response_header(r, "X-Proxy"),
                 "the proxy's CONNECT answer is not part of the response");
  cr_expect_eq(httpresp_response_hop_count(r), 2);
  int st = 0;
  cr_assert_eq(httpresp_response_hop(r, 0, &st, NULL, NULL, NULL), 0);
  cr_expect_eq(st, 301, "the first hop is the origin's 301");
  /* What the server saw: the CONNECT, then both GETs in the tunnel. */
  cr_assert_eq(ts_request_count(ts), 3);
  cr_expect_str_eq(ts_request_get(ts, 0)->method, "CONNECT");
  cr_expect_str_eq(ts_request_get(ts, 1)->method, "GET");
  cr_expect_str_eq(ts_request_get(ts, 1)->target, "/a");
  cr_expect_str_eq(ts_request_get(ts, 2)->target, "/b");
  httpresp_response_free(r);
}
