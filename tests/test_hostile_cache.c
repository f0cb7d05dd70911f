/* The cache against a server (or a store) that does not play along, end to
 * end through the loopback server, asserting what the server received:
 *  - a HEAD's revalidation refreshes the stored GET response and never
 *    removes it (RFC 9111 §4.3.5). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "httpdate.h"
#include "testsrv.h"

static ts_server *ts;
static httpresp_client *client;
static httpresp_cache *cache;
static CURL *easy;
static fake_clock clk;

static void setup(void) {
  fixture_suite_start(1, &ts, &clk, &client, &easy);
  cr_assert_eq(httpresp_cache_new_memory(&cache, 1 << 20), 0);
  cr_assert_eq(httpresp_client_set_cache(client, cache), 0);
}

static void teardown(void) {
  fixture_suite_stop(ts, client, easy);
  httpresp_cache_free(cache);
}

TestSuite(hostile_cache, .init = setup, .fini = teardown);

/* A response on route `path` dated now (the fake clock). */
static void serve(const char *path, int status, const char *headers,
                  const char *body) {
  char date[64], h[512];
  cr_assert_eq(hr_httpdate_format(clk.now_ms / 1000, date, sizeof(date)), 0);
  snprintf(h, sizeof(h), "Date: %s\r\n%s", date, headers ? headers : "");
  ts_simple(ts, 0, path, status, h, body);
}

static httpresp_response *run(const char *method, const char *path,
                              const char *const *headers) {
  char *u = ts_url(ts, 0, path);
  httpresp_response *r = fixture_run(client, easy, method, u, NULL, headers);
  free(u);
  return r;
}

Test(hostile_cache, head_revalidation_refreshes_the_stored_get) {
  serve("/h", 200, "Cache-Control: max-age=1\r\nETag: \"v1\"\r\n", "the body");
  serve("/h", 304, "Cache-Control: max-age=60\r\nETag: \"v1\"\r\n", NULL);
  httpresp_response *r = run("GET", "/h", NULL);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STORED);
  httpresp_response_free(r);

  clk.now_ms += 5000; /* stale: the HEAD revalidates */
  r = run("HEAD", "/h", NULL);
  cr_expect_eq(httpresp_response_error(r), 0);
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_REVALIDATED);
  cr_expect_str_eq(fixture_body(r), "", "a HEAD gets no body");
  httpresp_response_free(r);
  cr_assert_eq(ts_request_count(ts), 2u);
  const ts_request *q = ts_request_get(ts, 1);
  cr_expect_str_eq(q->method, "HEAD");
  cr_expect_str_eq(ts_req_header(q, "If-None-Match"), "\"v1\"");

  /* The GET response is still stored, refreshed by the 304: fresh for 60 s
   * from now, so the next GET never reaches the server. */
  clk.now_ms += 10000;
  r = run("GET", "/h", NULL);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT,
               "the HEAD's 304 must not remove the stored GET response");
  cr_expect_str_eq(fixture_body(r), "the body");
  cr_expect_str_eq(httpresp_response_header(r, "Cache-Control"), "max-age=60");
  httpresp_response_free(r);
  cr_expect_eq(ts_request_count(ts), 2u, "the GET was served from the cache");
}

Test(hostile_cache, head_304_with_no_store_still_removes) {
  /* §5.2.2.5: what the 304 says about storing holds for a HEAD too. */
  serve("/n", 200, "Cache-Control: max-age=1\r\nETag: \"v1\"\r\n", "body");
  serve("/n", 304, "Cache-Control: no-store\r\nETag: \"v1\"\r\n", NULL);
  serve("/n", 200, "Cache-Control: max-age=60\r\n", "new body");
  httpresp_response_free(run("GET", "/n", NULL));
  clk.now_ms += 5000;
  httpresp_response *r = run("HEAD", "/n", NULL);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_REVALIDATED);
  httpresp_response_free(r);
  r = run("GET", "/n", NULL);
  cr_expect_str_eq(fixture_body(r), "new body");
  httpresp_response_free(r);
  cr_assert_eq(ts_request_count(ts), 3u);
  cr_expect_str_eq(ts_request_get(ts, 2)->method, "GET");
  cr_expect_null(ts_req_header(ts_request_get(ts, 2), "If-None-Match"));
}
