/* SPDX-License-Identifier: MIT */
/* The client cache end to end: what the server receives (or does not) for
 * hits, revalidations and invalidations, through both drivers: suite
 * "cache" through httpresp_perform, "cache_multi" through httpresp_multi
 * (fixtures.h). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fixtures.h"
#include "testsrv.h"

static ts_server *ts;
static httpresp_client *client;
static httpresp_cache *cache;
static CURL *easy;
static fake_clock clk;

static void setup(void) {
  fixture_suite_start(2, &ts, &clk, &client, &easy);
  cr_assert_eq(httpresp_cache_new_memory(&cache, 16 * 1024 * 1024), 0);
  cr_assert_eq(httpresp_client_set_cache(client, cache), 0);
}

static void teardown(void) {
  fixture_suite_stop(ts, client, easy);
  httpresp_cache_free(cache);
}

FIXTURE_SUITES(cache, .init = setup, .fini = teardown);

/* A Date header matching the fake clock, so ages are what the test says. */
static const char *now_date(void) {
  static char buf[64];
  static const char *const days[] = {"Thu", "Fri", "Sat", "Sun",
                                     "Mon", "Tue", "Wed"};
  static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
                                       "May", "Jun", "Jul", "Aug",
                                       "Sep", "Oct", "Nov", "Dec"};
  int64_t t = clk.now_ms / 1000;
  int64_t days_since = t / 86400, rem = t % 86400;
  /* civil_from_days (Howard Hinnant) */
  int64_t z = days_since + 719468, era = z / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d GMT",
           days[days_since % 7], (int)d, months[m - 1], (int)y,
           (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
  return buf;
}

static httpresp_response *get(const char *path, const char *const *headers) {
  char *u = ts_url(ts, 0, path);
  httpresp_response *r = fixture_run(client, easy, "GET", u, NULL, headers);
  free(u);
  return r;
}

static httpresp_response *req(const char *method, const char *path,
                              const char *body) {
  char *u = ts_url(ts, 0, path);
  httpresp_response *r = fixture_run(client, easy, method, u, body, NULL);
  free(u);
  return r;
}

static void serve(const char *path, int status, const char *headers,
                  const char *body) {
  char h[512];
  snprintf(h, sizeof(h), "Date: %s\r\n%s", now_date(), headers ? headers : "");
  ts_simple(ts, 0, path, status, h, body);
}

FIXTURE_TEST(cache, fresh_hit_sends_no_request) {
  serve("/r", 200, "Cache-Control: max-age=60\r\nETag: \"v1\"\r\n", "hello");
  httpresp_response *r = get("/r", NULL);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STORED);
  httpresp_response_free(r);
  clk.now_ms += 10000;
  r = get("/r", NULL);
  cr_expect_eq(httpresp_response_error(r), 0);
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_str_eq(fixture_body(r), "hello");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  cr_expect_str_eq(httpresp_response_header(r, "Age"), "10");
  cr_expect_str_eq(httpresp_response_header(r, "ETag"), "\"v1\"");
  fixture_expect_hop(r, 0, FIXTURE_ANY_STATUS, HTTPRESP_DECISION_CACHE_HIT);
  cr_expect_eq(httpresp_response_attempts(r), 1, "the cache answered once");
  cr_expect_eq(ts_request_count(ts), 1, "the hit never reached the server");
  httpresp_response_free(r);
}

/* The hop callback sees a stored redirect as served: Age is its current
 * age (stored Age 5, served 10 s later: 15), as for a fetched one. */
static char hop_age[32];
static int record_age(void *ud, const httpresp_hop_view *hop,
                      httpresp_request *next) {
  (void)ud;
  (void)next;
  const char *age = httpresp_hop_header(hop, "Age");
  snprintf(hop_age, sizeof(hop_age), "%s", age ? age : "(none)");
  return 0;
}

FIXTURE_TEST(cache, stored_redirect_shows_its_current_age_to_the_hop_callback) {
  serve("/aged", 301,
        "Cache-Control: max-age=3600\r\nAge: 5\r\nLocation: /target\r\n",
        NULL);
  serve("/target", 200, "Cache-Control: no-store\r\n", "target");
  httpresp_response_free(get("/aged", NULL));
  cr_assert_eq(httpresp_client_set_hop_callback(client, record_age, NULL), 0);
  clk.now_ms += 10000;
  httpresp_response *r = get("/aged", NULL);
  cr_expect_str_eq(fixture_body(r), "target");
  cr_expect_str_eq(hop_age, "15");
  httpresp_response_free(r);
  cr_expect_eq(ts_request_count(ts), 3, "the 301 came from the cache");
}

/* What the hop callback saw of the next request's If-None-Match. */
static char next_inm[64];

static int see_next_and_add_ims(void *ud, const httpresp_hop_view *hop,
                                httpresp_request *next) {
  (void)ud;
  (void)hop;
  const char *v = httpresp_request_header(next, "If-None-Match");
  snprintf(next_inm, sizeof(next_inm), "%s", v ? v : "(none)");
  return httpresp_request_add_header(next, "If-Modified-Since",
                                     "Sun, 06 Nov 1994 08:49:37 GMT");
}

/* The conditionals that revalidate a stored answer go out with that hop
 * only: a redirect from it neither shows nor sends them, and conditionals
 * the hop callback puts on the next request are sent as given. */
FIXTURE_TEST(cache, revalidation_conditionals_stay_with_their_hop) {
  serve("/rv", 200, "Cache-Control: max-age=1\r\nETag: \"v1\"\r\n", "old");
  httpresp_response_free(get("/rv", NULL));
  clk.now_ms += 2000;
  serve("/rv", 302, "Location: /rv-next\r\n", NULL);
  serve("/rv-next", 200, NULL, "next");
  cr_assert_eq(
      httpresp_client_set_hop_callback(client, see_next_and_add_ims, NULL), 0);
  httpresp_response *r = get("/rv", NULL);
  cr_expect_str_eq(fixture_body(r), "next");
  cr_assert_eq(ts_request_count(ts), 3);
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 1), "If-None-Match"),
                   "\"v1\"", "the revalidation carried the stored ETag");
  cr_expect_str_eq(next_inm, "(none)",
                   "the redirect's next request has no conditional of ours");
  cr_expect_null(ts_req_header(ts_request_get(ts, 2), "If-None-Match"));
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 2), "If-Modified-Since"),
                   "Sun, 06 Nov 1994 08:49:37 GMT",
                   "the callback's own conditional was sent");
  httpresp_response_free(r);
}

/* A stored answer served under a decision other than "deliver" (here a
 * stored 300, followed once the client opts in, stopped by a redirect
 * limit of 0) keeps its body from the caller, as a fetched one does. */
FIXTURE_TEST(cache, stopped_stored_answer_has_no_body) {
  serve("/choices", 300, "Cache-Control: max-age=3600\r\nLocation: /one\r\n",
        "CHOICES");
  httpresp_response *r = get("/choices", NULL);
  cr_expect_str_eq(fixture_body(r), "CHOICES", "300 is the answer by default");
  httpresp_response_free(r);
  cr_assert_eq(httpresp_client_set_follow_300(client, 1), 0);
  cr_assert_eq(httpresp_client_set_max_redirects(client, 0), 0);
  r = get("/choices", NULL);
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_TOO_MANY_REDIRECTS);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  size_t len = 1;
  cr_expect_null(httpresp_response_body(r, &len));
  cr_expect_eq(len, 0u);
  httpresp_response_free(r);
  cr_expect_eq(ts_request_count(ts), 1);
}

/* A memory hit shares the stored entry with the response; the response
 * must stay whole when the entry is replaced, and when the cache itself is
 * gone. */
FIXTURE_TEST(cache, a_hit_outlives_its_entry_and_the_cache) {
  serve("/s", 200, "Cache-Control: max-age=60\r\nX-A: 1\r\n", "first body");
  httpresp_response_free(get("/s", NULL));
  httpresp_response *hit = get("/s", NULL);
  cr_assert_eq(httpresp_response_cache_status(hit), HTTPRESP_CACHE_HIT);
  /* Replace the entry: a no-cache request goes out and stores the new one. */
  serve("/s", 200, "Cache-Control: max-age=60\r\nX-A: 2\r\n", "second");
  static const char *const nc[] = {"Cache-Control: no-cache", NULL};
  httpresp_response *fresh = get("/s", nc);
  cr_expect_eq(httpresp_response_cache_status(fresh), HTTPRESP_CACHE_STORED);
  cr_expect_str_eq(fixture_body(fresh), "second");
  httpresp_response_free(fresh);
  httpresp_client_set_cache(client, NULL);
  httpresp_cache_free(cache);
  cache = NULL;
  cr_expect_str_eq(fixture_body(hit), "first body");
  cr_expect_str_eq(httpresp_response_header(hit, "X-A"), "1");
  cr_expect_str_eq(httpresp_response_header(hit, "Age"), "0");
  size_t n = httpresp_response_header_count(hit);
  const char *name, *value;
  cr_assert(httpresp_response_header_at(hit, n - 1, &name, &value) == 0);
  cr_expect_str_eq(name, "Age", "appended last when the stored had none");
  httpresp_response_free(hit);
  cr_expect_eq(ts_request_count(ts), 2);
}

/* A stored empty body is still "no body": NULL with length 0. */
FIXTURE_TEST(cache, empty_stored_body_is_no_body) {
  serve("/e", 200, "Cache-Control: max-age=60\r\n", "");
  httpresp_response_free(get("/e", NULL));
  httpresp_response *r = get("/e", NULL);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  size_t len = 1;
  cr_expect_null(httpresp_response_body(r, &len));
  cr_expect_eq(len, 0u);
  httpresp_response_free(r);
}

static void revalidate(const char *validators, const char *expect_inm,
                       const char *expect_ims) {
  char h[256];
  snprintf(h, sizeof(h), "Cache-Control: max-age=5\r\nX-Version: 1\r\n%s",
           validators);
  serve("/v", 200, h, "stored body");
  char h304[256];
  snprintf(h304, sizeof(h304), "Cache-Control: max-age=100\r\nX-Version: 2\r\n"
           "%s", strstr(validators, "ETag") ? "ETag: \"e1\"\r\n" : "");
  serve("/v", 304, h304, NULL);
  httpresp_response *r = get("/v", NULL);
  httpresp_response_free(r);
  clk.now_ms += 6000;
  r = get("/v", NULL);
  cr_assert_eq(ts_request_count(ts), 2);
  const ts_request *q = ts_request_get(ts, 1);
  if (expect_inm)
    cr_expect_str_eq(ts_req_header(q, "If-None-Match"), expect_inm);
  else
    cr_expect_null(ts_req_header(q, "If-None-Match"));
  if (expect_ims)
    cr_expect_str_eq(ts_req_header(q, "If-Modified-Since"), expect_ims);
  else
    cr_expect_null(ts_req_header(q, "If-Modified-Since"));
  cr_expect_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_expect_eq(httpresp_response_status(r), 200, "the 304 became the 200");
  cr_expect_str_eq(fixture_body(r), "stored body");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_REVALIDATED);
  cr_expect_str_eq(httpresp_response_header(r, "X-Version"), "2",
                   "headers updated from the 304");
  cr_expect_str_eq(httpresp_response_header(r, "Content-Length"), "11",
                   "Content-Length never from a 304");
  fixture_expect_hop(r, 0, 304, HTTPRESP_DECISION_REVALIDATED);
  httpresp_response_free(r);
  /* The refreshed entry is fresh for 100 s more. */
  clk.now_ms += 50000;
  r = get("/v", NULL);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  cr_expect_eq(ts_request_count(ts), 2);
  httpresp_response_free(r);
}

FIXTURE_TEST(cache, stale_etag_revalidates_with_304) {
  revalidate("ETag: \"e1\"\r\n", "\"e1\"", NULL);
}

FIXTURE_TEST(cache, stale_last_modified_only_revalidates) {
  revalidate("Last-Modified: Tue, 01 Jan 2019 00:00:00 GMT\r\n", NULL,
             "Tue, 01 Jan 2019 00:00:00 GMT");
}

FIXTURE_TEST(cache, stale_with_both_validators) {
  revalidate("ETag: \"e1\"\r\nLast-Modified: Tue, 01 Jan 2019 00:00:00 GMT\r\n",
             "\"e1\"", "Tue, 01 Jan 2019 00:00:00 GMT");
}

FIXTURE_TEST(cache, weak_etag_revalidates) {
  serve("/w", 200, "Cache-Control: max-age=1\r\nETag: W/\"weak\"\r\n", "w");
  serve("/w", 304, "ETag: W/\"weak\"\r\n", NULL);
  httpresp_response_free(get("/w", NULL));
  clk.now_ms += 2000;
  httpresp_response *r = get("/w", NULL);
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 1), "If-None-Match"),
                   "W/\"weak\"");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_REVALIDATED);
  cr_expect_str_eq(fixture_body(r), "w");
  httpresp_response_free(r);
}

/* nginx with gzip stores `ETag: W/"x"` and answers If-None-Match: W/"x"
 * with a 304 carrying the strong "x".  The 304 answers the conditional we
 * sent: the stored response is served (no unconditional repeat), but a
 * strong validator may not update a weakly validated entry (RFC 9111
 * §4.3.4), so its fields stay as stored. */
FIXTURE_TEST(cache, strong_304_for_a_weak_etag_serves_without_update) {
  serve("/gz", 200,
        "Cache-Control: max-age=1\r\nETag: W/\"x\"\r\nX-Version: 1\r\n",
        "compressed");
  serve("/gz", 304, "ETag: \"x\"\r\nCache-Control: max-age=600\r\n"
                    "X-Version: 2\r\n", NULL);
  serve("/gz", 200, "Cache-Control: max-age=1\r\nETag: W/\"y\"\r\n", "again");
  httpresp_response_free(get("/gz", NULL));
  clk.now_ms += 2000;
  httpresp_response *r = get("/gz", NULL);
  cr_assert_eq(ts_request_count(ts), 2, "one conditional request, no repeat");
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 1), "If-None-Match"),
                   "W/\"x\"");
  cr_expect_eq(httpresp_response_error(r), 0);
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_str_eq(fixture_body(r), "compressed");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_REVALIDATED);
  cr_expect_str_eq(httpresp_response_cache_reason(r), "not-updated");
  cr_expect_str_eq(httpresp_response_header(r, "X-Version"), "1");
  cr_expect_str_eq(httpresp_response_header(r, "ETag"), "W/\"x\"");
  fixture_expect_hop(r, 0, 304, HTTPRESP_DECISION_REVALIDATED);
  httpresp_response_free(r);
  /* Not updated: still stale, so the next request revalidates again. */
  r = get("/gz", NULL);
  cr_expect_eq(ts_request_count(ts), 3);
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 2), "If-None-Match"),
                   "W/\"x\"");
  httpresp_response_free(r);
}

FIXTURE_TEST(cache, changed_resource_replaces_the_entry) {
  serve("/c", 200, "Cache-Control: max-age=1\r\nETag: \"old\"\r\n", "old");
  serve("/c", 200, "Cache-Control: max-age=60\r\nETag: \"new\"\r\n", "new");
  httpresp_response_free(get("/c", NULL));
  clk.now_ms += 2000;
  httpresp_response *r = get("/c", NULL);
  cr_expect_str_eq(fixture_body(r), "new");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_UPDATED);
  httpresp_response_free(r);
  r = get("/c", NULL);
  cr_expect_str_eq(fixture_body(r), "new");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  cr_expect_eq(ts_request_count(ts), 2);
  httpresp_response_free(r);
}

FIXTURE_TEST(cache, no_store_is_never_stored) {
  serve("/ns", 200, "Cache-Control: no-store, max-age=60\r\n", "secret");
  httpresp_response *r = get("/ns", NULL);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_MISS);
  cr_expect_str_neq(httpresp_response_cache_reason(r), "");
  httpresp_response_free(r);
  r = get("/ns", NULL);
  cr_expect_eq(ts_request_count(ts), 2);
  httpresp_response_free(r);
}

FIXTURE_TEST(cache, no_cache_always_revalidates) {
  serve("/nc", 200, "Cache-Control: no-cache, max-age=600\r\nETag: \"n\"\r\n",
        "body");
  serve("/nc", 304, "ETag: \"n\"\r\n", NULL);
  httpresp_response_free(get("/nc", NULL));
  httpresp_response *r = get("/nc", NULL);
  cr_expect_eq(ts_request_count(ts), 2, "fresh but no-cache: asked again");
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 1), "If-None-Match"),
                   "\"n\"");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_REVALIDATED);
  httpresp_response_free(r);
}

FIXTURE_TEST(cache, max_age_zero_revalidates) {
  serve("/z", 200, "Cache-Control: max-age=0\r\nETag: \"z\"\r\n", "zero");
  serve("/z", 304, "ETag: \"z\"\r\n", NULL);
  httpresp_response_free(get("/z", NULL));
  httpresp_response *r = get("/z", NULL);
  cr_expect_eq(ts_request_count(ts), 2);
  cr_expect_str_eq(fixture_body(r), "zero");
  httpresp_response_free(r);
}

FIXTURE_TEST(cache, request_no_cache_revalidates_fresh_entry) {
  serve("/rq", 200, "Cache-Control: max-age=600\r\nETag: \"q\"\r\n", "q");
  serve("/rq", 304, "ETag: \"q\"\r\n", NULL);
  httpresp_response_free(get("/rq", NULL));
  const char *h[] = {"Cache-Control: no-cache", NULL};
  httpresp_response *r = get("/rq", h);
  cr_expect_eq(ts_request_count(ts), 2);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_REVALIDATED);
  httpresp_response_free(r);
}

FIXTURE_TEST(cache, vary_mismatch_goes_to_the_network) {
  serve("/vary", 200,
        "Cache-Control: max-age=600\r\nVary: Accept-Language\r\n", "en");
  serve("/vary", 200,
        "Cache-Control: max-age=600\r\nVary: Accept-Language\r\n", "fr");
  const char *en[] = {"Accept-Language: en", NULL};
  const char *fr[] = {"Accept-Language: fr", NULL};
  httpresp_response_free(get("/vary", en));
  httpresp_response *r = get("/vary", en);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  httpresp_response_free(r);
  r = get("/vary", fr);
  cr_expect_str_eq(fixture_body(r), "fr");
  cr_expect_eq(ts_request_count(ts), 2);
  httpresp_response_free(r);
}

/* RFC 9111 §4.1: an API client alternating two Accept values keeps both
 * answers; after the first round neither reaches the server. */
FIXTURE_TEST(cache, alternating_variants_both_served_from_cache) {
  serve("/api", 200, "Cache-Control: max-age=600\r\nVary: Accept\r\n",
        "{\"json\":1}");
  serve("/api", 200, "Cache-Control: max-age=600\r\nVary: Accept\r\n",
        "csv,1");
  const char *json[] = {"Accept: application/json", NULL};
  const char *csv[] = {"Accept: text/csv", NULL};
  for (int round = 0; round < 3; round++) {
    httpresp_response *r = get("/api", json);
    cr_expect_str_eq(fixture_body(r), "{\"json\":1}", "round %d", round);
    cr_expect_eq(httpresp_response_cache_status(r),
                 round ? HTTPRESP_CACHE_HIT : HTTPRESP_CACHE_STORED);
    httpresp_response_free(r);
    r = get("/api", csv);
    cr_expect_str_eq(fixture_body(r), "csv,1", "round %d", round);
    cr_expect_eq(httpresp_response_cache_status(r),
                 round ? HTTPRESP_CACHE_HIT : HTTPRESP_CACHE_STORED);
    httpresp_response_free(r);
  }
  cr_assert_eq(ts_request_count(ts), 2, "only the first round was fetched");
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 0), "Accept"),
                   "application/json");
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 1), "Accept"), "text/csv");
  /* Member order and whitespace do not make another variant. */
  const char *lang1[] = {"Accept-Language: en, fr;q=0.5", NULL};
  const char *lang2[] = {"Accept-Language: FR; q=0.5,EN", NULL};
  serve("/lang", 200,
        "Cache-Control: max-age=600\r\nVary: Accept-Language\r\n", "en");
  httpresp_response_free(get("/lang", lang1));
  httpresp_response *r = get("/lang", lang2);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  httpresp_response_free(r);
  cr_expect_eq(ts_request_count(ts), 3);
  /* An unsafe method removes every variant of its URL (§4.4). */
  serve("/api", 200, "Cache-Control: max-age=600\r\nVary: Accept\r\n",
        "again");
  httpresp_response_free(req("POST", "/api", "x=1"));
  r = get("/api", json);
  cr_expect_str_eq(fixture_body(r), "again");
  httpresp_response_free(r);
  r = get("/api", csv);
  cr_expect_str_eq(fixture_body(r), "again");
  httpresp_response_free(r);
  cr_expect_eq(ts_request_count(ts), 6, "both variants were refetched");
}

/* A Vary that no request can be matched against is not stored, and says
 * why. */
FIXTURE_TEST(cache, unmatchable_vary_is_not_stored) {
  serve("/uv", 200, "Cache-Control: max-age=600\r\nVary: X-Bad Name\r\n",
        "u");
  httpresp_response *r = get("/uv", NULL);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_MISS);
  cr_expect_str_eq(httpresp_response_cache_reason(r), "vary-unmatchable");
  httpresp_response_free(r);
  r = get("/uv", NULL);
  cr_expect_eq(ts_request_count(ts), 2);
  httpresp_response_free(r);
}

/* RFC 9111 §4.3.4: of two stale variants, a 304 refreshes the one whose
 * conditional it answered; the other stays stale and is revalidated with
 * its own validator. */
FIXTURE_TEST(cache, not_modified_updates_the_variant_it_validated) {
  serve("/v2", 200, "Cache-Control: max-age=1\r\nVary: Accept-Language\r\n"
                    "ETag: \"en\"\r\nX-Version: 1\r\n", "english");
  serve("/v2", 200, "Cache-Control: max-age=1\r\nVary: Accept-Language\r\n"
                    "ETag: \"fr\"\r\nX-Version: 1\r\n", "french");
  serve("/v2", 304, "ETag: \"fr\"\r\nCache-Control: max-age=600\r\n"
                    "X-Version: 2\r\n", NULL);
  const char *en[] = {"Accept-Language: en", NULL};
  const char *fr[] = {"Accept-Language: fr", NULL};
  httpresp_response_free(get("/v2", en));
  httpresp_response_free(get("/v2", fr));
  clk.now_ms += 2000;
  httpresp_response *r = get("/v2", fr);
  cr_assert_eq(ts_request_count(ts), 3);
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 2), "If-None-Match"),
                   "\"fr\"");
  cr_expect_str_eq(fixture_body(r), "french");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_REVALIDATED);
  cr_expect_str_eq(httpresp_response_header(r, "X-Version"), "2");
  httpresp_response_free(r);
  r = get("/v2", fr);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT,
               "the refreshed variant is fresh");
  cr_expect_str_eq(httpresp_response_header(r, "X-Version"), "2");
  httpresp_response_free(r);
  cr_expect_eq(ts_request_count(ts), 3);
  serve("/v2", 304, "ETag: \"en\"\r\nCache-Control: max-age=600\r\n", NULL);
  r = get("/v2", en);
  cr_assert_eq(ts_request_count(ts), 4, "the other variant is still stale");
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 3), "If-None-Match"),
                   "\"en\"");
  cr_expect_str_eq(fixture_body(r), "english");
  cr_expect_str_eq(httpresp_response_header(r, "X-Version"), "1");
  httpresp_response_free(r);
}

/* ---- stale-if-error (RFC 5861 §4, RFC 9111 §4.2.4) ------------------- */

static size_t sink(void *ud, const char *data, size_t len);

/* Stores `headers` + body "stored" at /e, then makes it 5 s stale. */
static void stored_then_stale(const char *headers) {
  serve("/e", 200, headers, "stored");
  httpresp_response *r = get("/e", NULL);
  cr_assert_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STORED);
  httpresp_response_free(r);
  clk.now_ms += 6000;
}

static void expect_stale(httpresp_response *r, const char *reason) {
  cr_expect_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_str_eq(fixture_body(r), "stored");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STALE);
  cr_expect_str_eq(httpresp_response_cache_reason(r), reason);
  cr_expect_str_eq(httpresp_response_header(r, "Age"), "6");
  fixture_expect_hop(r, 0, FIXTURE_ANY_STATUS, HTTPRESP_DECISION_STALE);
  fixture_expect_hop(r, 1, 200, HTTPRESP_DECISION_CACHE_HIT);
}

FIXTURE_TEST(cache, stale_if_error_when_the_origin_closes) {
  stored_then_stale("Cache-Control: max-age=1, stale-if-error=60\r\n"
                    "ETag: \"s\"\r\n");
  ts_resp_close(ts_route(ts, 0, "/e")); /* no answer at all */
  httpresp_response *r = get("/e", NULL);
  /* libcurl tries once more on a fresh connection when a reused one dies
   * without an answer: every try is the conditional request. */
  size_t n = ts_request_count(ts);
  cr_assert(n == 2 || n == 3, "got %zu", n);
  for (size_t i = 1; i < n; i++)
    cr_expect_str_eq(ts_req_header(ts_request_get(ts, i), "If-None-Match"),
                     "\"s\"", "it did try to revalidate");
  expect_stale(r, "origin-unreachable");
  httpresp_response_free(r);
}

FIXTURE_TEST(cache, stale_if_error_on_503_without_validators) {
  stored_then_stale("Cache-Control: max-age=1, stale-if-error=60\r\n");
  serve("/e", 503, NULL, "the origin's error page");
  char got[64] = "";
  char *u = ts_url(ts, 0, "/e");
  httpresp_request *rq;
  cr_assert_eq(httpresp_request_new(&rq, "GET", u), 0);
  httpresp_request_set_sink(rq, sink, got);
  httpresp_response *r;
  cr_expect_eq(fixture_perform(client, easy, rq, &r), 0);
  cr_assert_eq(ts_request_count(ts), 2);
  cr_expect_null(ts_req_header(ts_request_get(ts, 1), "If-None-Match"));
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STALE);
  cr_expect_str_eq(httpresp_response_cache_reason(r), "origin-error: 503");
  cr_expect_str_eq(got, "stored", "the error page never reached the sink");
  fixture_expect_hop(r, 0, 503, HTTPRESP_DECISION_STALE);
  httpresp_response_free(r);
  httpresp_request_free(rq);
  free(u);
  /* The 503 did not replace the entry: still there for the next error. */
  r = get("/e", NULL);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STALE);
  cr_expect_str_eq(fixture_body(r), "stored");
  httpresp_response_free(r);
}

FIXTURE_TEST(cache, stale_if_error_never_with_must_revalidate) {
  stored_then_stale("Cache-Control: max-age=1, must-revalidate, "
                    "stale-if-error=60\r\nETag: \"m\"\r\n");
  cr_assert_eq(httpresp_client_set_stale_if_error(client, 3600), 0);
  serve("/e", 503, NULL, "down");
  httpresp_response *r = get("/e", NULL);
  cr_expect_eq(httpresp_response_status(r), 503, "the error, not stale");
  cr_expect_str_eq(fixture_body(r), "down");
  cr_expect_neq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STALE);
  httpresp_response_free(r);
  ts_resp_close(ts_route(ts, 0, "/e"));
  r = get("/e", NULL);
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_CURL);
  cr_expect_neq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STALE);
  httpresp_response_free(r);
  size_t n = ts_request_count(ts);
  cr_expect(n == 3 || n == 4, "got %zu", n); /* libcurl's one retry */
}

/* Without any stale-if-error, only the client's opt-in allows it; a
 * request's own no-cache refuses it, its stale-if-error allows it. */
FIXTURE_TEST(cache, stale_on_error_needs_a_permission) {
  stored_then_stale("Cache-Control: max-age=1\r\nETag: \"p\"\r\n");
  serve("/e", 502, NULL, "bad gateway");
  httpresp_response *r = get("/e", NULL);
  cr_expect_eq(httpresp_response_status(r), 502, "off by default");
  httpresp_response_free(r);
  const char *rq_sie[] = {"Cache-Control: stale-if-error=10", NULL};
  r = get("/e", rq_sie);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STALE);
  cr_expect_str_eq(httpresp_response_cache_reason(r), "origin-error: 502");
  httpresp_response_free(r);
  cr_expect_eq(httpresp_client_set_stale_if_error(client, -1),
               HTTPRESP_E_INVALID_ARG);
  cr_assert_eq(httpresp_client_set_stale_if_error(client, 60), 0);
  r = get("/e", NULL);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STALE);
  cr_expect_str_eq(fixture_body(r), "stored");
  httpresp_response_free(r);
  const char *no_cache[] = {"Cache-Control: no-cache", NULL};
  r = get("/e", no_cache);
  cr_expect_eq(httpresp_response_status(r), 502, "the request said no-cache");
  httpresp_response_free(r);
  /* Beyond the allowance: the error. */
  clk.now_ms += 60000;
  r = get("/e", NULL);
  cr_expect_eq(httpresp_response_status(r), 502, "too stale");
  httpresp_response_free(r);
  cr_expect_eq(ts_request_count(ts), 6);
}

/* A 503 with Retry-After goes through the retry rules first; the stored
 * answer stands in only for the answer retrying ends with. */
FIXTURE_TEST(cache, retry_after_is_honoured_before_stale) {
  stored_then_stale("Cache-Control: max-age=1, stale-if-error=600\r\n"
                    "ETag: \"r\"\r\n");
  serve("/e", 503, "Retry-After: 1\r\n", "later");
  serve("/e", 200, "Cache-Control: max-age=60\r\nETag: \"r2\"\r\n", "new");
  httpresp_response *r = get("/e", NULL);
  cr_expect_eq(ts_request_count(ts), 3, "retried after the 503");
  cr_expect_str_eq(fixture_body(r), "new");
  fixture_expect_hop(r, 0, 503, HTTPRESP_DECISION_RETRY);
  httpresp_response_free(r);
}

FIXTURE_TEST(cache, unsafe_method_invalidates) {
  serve("/item", 200, "Cache-Control: max-age=600\r\n", "v1");
  serve("/item", 200, "Cache-Control: max-age=600\r\n", "v2");
  serve("/other", 200, "Cache-Control: max-age=600\r\n", "other");
  ts_simple(ts, 0, "/edit", 201, "Location: /other\r\n", "created");
  httpresp_response_free(get("/item", NULL));
  httpresp_response_free(get("/other", NULL));
  httpresp_response_free(req("POST", "/item", "x=1"));
  httpresp_response *r = get("/item", NULL);
  cr_expect_str_eq(fixture_body(r), "v2", "POST invalidated /item");
  httpresp_response_free(r);
  /* POST /edit answers with Location /other: same origin, invalidated. */
  httpresp_response_free(req("POST", "/edit", "y=2"));
  size_t before = ts_request_count(ts);
  r = get("/other", NULL);
  cr_expect_eq(ts_request_count(ts), before + 1, "Location target dropped");
  httpresp_response_free(r);
}

FIXTURE_TEST(cache, mismatched_304_repeats_unconditionally) {
  serve("/m", 200, "Cache-Control: max-age=1\r\nETag: \"a\"\r\n", "A");
  serve("/m", 304, "ETag: \"b\"\r\n", NULL);
  serve("/m", 200, "Cache-Control: max-age=60\r\nETag: \"b\"\r\n", "B");
  httpresp_response_free(get("/m", NULL));
  clk.now_ms += 2000;
  httpresp_response *r = get("/m", NULL);
  cr_assert_eq(ts_request_count(ts), 3);
  cr_expect_not_null(ts_req_header(ts_request_get(ts, 1), "If-None-Match"));
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 1), "If-None-Match"),
                   "\"a\"", "the stored entry's ETag");
  cr_expect_null(ts_req_header(ts_request_get(ts, 2), "If-None-Match"));
  cr_expect_null(ts_req_header(ts_request_get(ts, 2), "If-Modified-Since"));
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_str_eq(fixture_body(r), "B", "the non-matching 304 is not served");
  fixture_expect_hop(r, 0, FIXTURE_ANY_STATUS, HTTPRESP_DECISION_REPEAT);
  httpresp_response_free(r);
}

FIXTURE_TEST(cache, caller_conditionals_pass_through) {
  serve("/cc", 200, "Cache-Control: max-age=1\r\nETag: \"x\"\r\n", "x");
  serve("/cc", 304, "ETag: \"x\"\r\n", NULL);
  httpresp_response_free(get("/cc", NULL));
  const char *h[] = {"If-None-Match: \"x\"", NULL};
  httpresp_response *r = get("/cc", h);
  cr_expect_eq(ts_request_count(ts), 2);
  cr_expect_eq(httpresp_response_status(r), 304, "the caller gets its 304");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_BYPASS);
  httpresp_response_free(r);
}

FIXTURE_TEST(cache, permanent_redirect_from_the_cache) {
  serve("/old", 301, "Cache-Control: max-age=3600\r\nLocation: /new\r\n", NULL);
  serve("/new", 200, "Cache-Control: max-age=3600\r\n", "moved here");
  httpresp_response_free(get("/old", NULL));
  cr_expect_eq(ts_request_count(ts), 2);
  httpresp_response *r = get("/old", NULL);
  cr_expect_eq(ts_request_count(ts), 2, "both hops came from the cache");
  cr_expect_str_eq(fixture_body(r), "moved here");
  cr_assert_eq(httpresp_response_hop_count(r), 2);
  fixture_expect_hop(r, 0, 301, HTTPRESP_DECISION_FOLLOW);
  fixture_expect_hop(r, 1, FIXTURE_ANY_STATUS, HTTPRESP_DECISION_CACHE_HIT);
  httpresp_response_free(r);
}

/* A stored redirect that sets a cookie counts for the loop check as a
 * fetched one does: /A sends to /login, kept in the store, which sets a
 * session cookie and sends back to /A.  Served from the store, /login
 * still lets the chain return to /A instead of ending in a loop error. */
FIXTURE_TEST(cache, served_redirect_setting_a_cookie_lets_the_chain_return) {
  serve("/A", 302, "Location: /login\r\n", NULL);
  serve("/login", 302,
        "Cache-Control: max-age=3600\r\nSet-Cookie: sid=42; Path=/\r\n"
        "Location: /A\r\n",
        NULL);
  serve("/A", 200, "Cache-Control: no-store\r\n", "welcome");
  httpresp_response *r = get("/A", NULL);
  cr_expect_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_expect_str_eq(fixture_body(r), "welcome");
  cr_expect_eq(ts_request_count(ts), 3);
  httpresp_response_free(r);
  serve("/A", 302, "Location: /login\r\n", NULL);
  serve("/A", 200, "Cache-Control: no-store\r\n", "welcome");
  r = get("/A", NULL);
  cr_expect_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_expect_str_eq(fixture_body(r), "welcome");
  cr_expect_eq(ts_request_count(ts), 5, "/login came from the store");
  cr_assert_eq(httpresp_response_hop_count(r), 3);
  fixture_expect_hop(r, 1, 302, HTTPRESP_DECISION_FOLLOW);
  httpresp_response_free(r);
}

/* A 503 the client will ask again is no answer to keep: stored, it would
 * answer its own retry from the cache. */
FIXTURE_TEST(cache, an_answer_waiting_for_its_retry_is_not_stored) {
  serve("/busy", 503, "Retry-After: 2\r\nCache-Control: max-age=60\r\n",
        "busy");
  serve("/busy", 200, "Cache-Control: max-age=60\r\n", "ok");
  httpresp_response *r = get("/busy", NULL);
  cr_expect_eq(ts_request_count(ts), 2, "the retry went to the server");
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_str_eq(fixture_body(r), "ok");
  cr_assert_eq(httpresp_response_hop_count(r), 2);
  fixture_expect_hop(r, 0, 503, HTTPRESP_DECISION_RETRY);
  fixture_expect_hop(r, 1, 200, HTTPRESP_DECISION_DELIVER);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STORED);
  httpresp_response_free(r);
  r = get("/busy", NULL);
  cr_expect_eq(ts_request_count(ts), 2);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  cr_expect_str_eq(fixture_body(r), "ok", "the 200 was kept, not the 503");
  httpresp_response_free(r);
}

/* A followed redirect's body is dropped, so that hop is not kept: a
 * client that does not follow must get the body the server sent. */
FIXTURE_TEST(cache, redirect_whose_body_was_dropped_is_not_stored) {
  serve("/moved", 301, "Cache-Control: max-age=3600\r\nLocation: /dest\r\n",
        "moved-body");
  serve("/dest", 200, "Cache-Control: max-age=3600\r\n", "dest");
  serve("/moved", 301, "Cache-Control: max-age=3600\r\nLocation: /dest\r\n",
        "moved-body");
  httpresp_response *r = get("/moved", NULL);
  cr_expect_str_eq(fixture_body(r), "dest");
  httpresp_response_free(r);
  cr_assert_eq(httpresp_client_set_follow(client, 0), 0);
  r = get("/moved", NULL);
  cr_expect_eq(ts_request_count(ts), 3, "the 301 was fetched again");
  cr_expect_eq(httpresp_response_status(r), 301);
  cr_expect_str_eq(fixture_body(r), "moved-body");
  httpresp_response_free(r);
}

/* RFC 9111 §5.2.2.5: a 304 that says no-store revalidates this answer but
 * leaves nothing stored. */
FIXTURE_TEST(cache, not_modified_with_no_store_leaves_nothing_stored) {
  serve("/ns", 200, "Cache-Control: max-age=1\r\nETag: \"v1\"\r\n", "body");
  httpresp_response_free(get("/ns", NULL));
  clk.now_ms += 2000;
  serve("/ns", 304, "Cache-Control: no-store, max-age=3600\r\nETag: \"v1\"\r\n",
        NULL);
  serve("/ns", 200, "Cache-Control: max-age=60\r\n", "new");
  httpresp_response *r = get("/ns", NULL);
  cr_expect_eq(ts_request_count(ts), 2);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_REVALIDATED);
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_str_eq(fixture_body(r), "body");
  httpresp_response_free(r);
  r = get("/ns", NULL);
  cr_expect_eq(ts_request_count(ts), 3, "nothing stored answered it");
  cr_expect_null(ts_req_header(ts_request_get(ts, 2), "If-None-Match"));
  cr_expect_str_eq(fixture_body(r), "new");
  httpresp_response_free(r);
}

FIXTURE_TEST(cache, head_is_answered_from_a_stored_get) {
  serve("/h", 200, "Cache-Control: max-age=60\r\nX-Kind: doc\r\n", "payload");
  httpresp_response_free(get("/h", NULL));
  httpresp_response *r = req("HEAD", "/h", NULL);
  cr_expect_eq(ts_request_count(ts), 1);
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_str_eq(httpresp_response_header(r, "X-Kind"), "doc");
  size_t len = 1;
  httpresp_response_body(r, &len);
  cr_expect_eq(len, 0, "a HEAD gets no body");
  httpresp_response_free(r);
}

FIXTURE_TEST(cache, only_if_cached_without_entry) {
  const char *h[] = {"Cache-Control: only-if-cached", NULL};
  httpresp_response *r = get("/none", h);
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_NOT_CACHED);
  cr_expect_eq(ts_request_count(ts), 0);
  httpresp_response_free(r);
}

static size_t sink(void *ud, const char *data, size_t len) {
  strncat(ud, data, len);
  return len;
}

FIXTURE_TEST(cache, sink_receives_stored_body) {
  serve("/s", 200, "Cache-Control: max-age=60\r\n", "sunk");
  char *u = ts_url(ts, 0, "/s");
  for (int i = 0; i < 2; i++) {
    char got[64] = "";
    httpresp_request *rq;
    cr_assert_eq(httpresp_request_new(&rq, "GET", u), 0);
    httpresp_request_set_sink(rq, sink, got);
    httpresp_response *r;
    cr_expect_eq(fixture_perform(client, easy, rq, &r), 0);
    cr_expect_str_eq(got, "sunk", "round %d", i);
    cr_expect_eq(httpresp_response_cache_status(r),
                 i ? HTTPRESP_CACHE_HIT : HTTPRESP_CACHE_STORED);
    httpresp_response_free(r);
    httpresp_request_free(rq);
  }
  cr_expect_eq(ts_request_count(ts), 1);
  free(u);
}

FIXTURE_TEST(cache, disk_store_survives_a_restart) {
  char dir[] = "/tmp/httpresp-cache-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  httpresp_cache *disk;
  cr_assert_eq(httpresp_cache_new_disk(&disk, dir, 1 << 20), 0);
  httpresp_client_set_cache(client, disk);
  serve("/d", 200, "Cache-Control: max-age=600\r\n", "on disk");
  httpresp_response_free(get("/d", NULL));
  httpresp_cache_free(disk);
  cr_assert_eq(httpresp_cache_new_disk(&disk, dir, 1 << 20), 0);
  httpresp_client_set_cache(client, disk);
  httpresp_response *r = get("/d", NULL);
  cr_expect_str_eq(fixture_body(r), "on disk");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  cr_expect_eq(ts_request_count(ts), 1);
  httpresp_response_free(r);
  httpresp_client_set_cache(client, cache);
  httpresp_cache_free(disk);
  fixture_rm_rf(dir);
  struct stat st;
  cr_expect_neq(lstat(dir, &st), 0, "%s is removed", dir);
}

typedef struct thread_arg {
  httpresp_client *client;
  CURL *easy; /* fixture_easy(), made and freed by the test's thread */
  char *url;
  int ok;
} thread_arg;

static void *hammer(void *p) {
  thread_arg *a = p;
  CURL *e = a->easy;
  for (int i = 0; i < 50; i++) {
    httpresp_request *rq;
    if (httpresp_request_new(&rq, "GET", a->url) != 0)
      break;
    httpresp_response *r;
    int rc = fixture_perform(a->client, e, rq, &r);
    size_t len;
    const char *b = httpresp_response_body(r, &len);
    if (rc == 0 && len == 6 && memcmp(b, "shared", 6) == 0)
      a->ok++;
    httpresp_response_free(r);
    httpresp_request_free(rq);
  }
  fixture_driver_release();
  return NULL;
}

/* Four threads, each with its own handle (and under the multi driver its
 * own httpresp_multi), share one client and the cache `with`. */
static void share_across_threads(httpresp_cache *with) {
  /* Real clock: the fake one is not meant for threads. */
  httpresp_client *shared = fixture_client(NULL);
  httpresp_client_set_cache(shared, with);
  ts_simple(ts, 0, "/t", 200, "Cache-Control: max-age=600\r\n", "shared");
  char *u = ts_url(ts, 0, "/t");
  pthread_t th[4];
  thread_arg args[4];
  for (int i = 0; i < 4; i++) {
    args[i] = (thread_arg){shared, fixture_easy(), u, 0};
    cr_assert_eq(pthread_create(&th[i], NULL, hammer, &args[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    curl_easy_cleanup(args[i].easy);
    cr_expect_eq(args[i].ok, 50, "thread %d", i);
  }
  cr_expect_leq(ts_request_count(ts), 4, "at most one miss per thread");
  free(u);
  httpresp_client_free(shared);
}

FIXTURE_TEST(cache, threads_share_one_client_and_cache) {
  share_across_threads(cache);
}

/* The disk store under threads: concurrent writers of one entry (temp file
 * and rename) and readers of it, its byte total under its lock. */
FIXTURE_TEST(cache, threads_share_one_client_and_disk_cache) {
  char dir[] = "/tmp/httpresp-cache-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  httpresp_cache *disk;
  cr_assert_eq(httpresp_cache_new_disk(&disk, dir, 1 << 20), 0);
  share_across_threads(disk);
  httpresp_cache_free(disk);
  fixture_rm_rf(dir);
}

/* ---- stale-while-revalidate (RFC 5861 §3), HTTPRESP_SWR_DEFER ---------- */

FIXTURE_TEST(cache, stale_while_revalidate_answers_at_once_then_revalidates) {
  serve("/swr", 200, "Cache-Control: max-age=1, stale-while-revalidate=60\r\n"
                     "ETag: \"w\"\r\nX-Version: 1\r\n", "old");
  serve("/swr", 304, "Cache-Control: max-age=600\r\nETag: \"w\"\r\n"
                     "X-Version: 2\r\n", NULL);
  httpresp_response_free(get("/swr", NULL));
  clk.now_ms += 5000;
  /* Default: revalidated now, as any stale answer. */
  cr_expect_eq(httpresp_client_set_stale_while_revalidate(client, 7),
               HTTPRESP_E_INVALID_ARG);
  cr_assert_eq(httpresp_client_set_stale_while_revalidate(client,
                                                          HTTPRESP_SWR_DEFER),
               0);
  for (int i = 0; i < 20; i++) {
    httpresp_response *r = get("/swr", NULL);
    cr_expect_eq(httpresp_response_status(r), 200);
    cr_expect_str_eq(fixture_body(r), "old");
    cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STALE);
    cr_expect_str_eq(httpresp_response_cache_reason(r), "revalidating");
    cr_expect_str_eq(httpresp_response_header(r, "Age"), "5");
    httpresp_response_free(r);
  }
  cr_expect_eq(ts_request_count(ts), 1, "answered without the network");
  /* Under the multi driver the first stale answer started the revalidation
   * in the background of this thread's context, which was not driven
   * since: freeing the context defers it again, for the call below. */
  fixture_driver_release();
  size_t done = 99;
  cr_expect_eq(httpresp_client_revalidate(client, easy, &done), 0);
  cr_expect_eq(done, 1u, "one revalidation for twenty stale answers");
  cr_assert_eq(ts_request_count(ts), 2);
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 1), "If-None-Match"),
                   "\"w\"");
  cr_expect_eq(httpresp_client_revalidate(client, easy, &done), 0);
  cr_expect_eq(done, 0u, "nothing left to do");
  httpresp_response *r = get("/swr", NULL);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  cr_expect_str_eq(httpresp_response_header(r, "X-Version"), "2");
  httpresp_response_free(r);
  cr_expect_eq(ts_request_count(ts), 2);
  /* Past the window: revalidated now. */
  clk.now_ms += 700000;
  serve("/swr", 304, "Cache-Control: max-age=1, stale-while-revalidate=60\r\n"
                     "ETag: \"w\"\r\n", NULL);
  r = get("/swr", NULL);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_REVALIDATED);
  httpresp_response_free(r);
  cr_expect_eq(ts_request_count(ts), 3);
}

FIXTURE_TEST(cache, stale_while_revalidate_never_with_must_revalidate) {
  serve("/swm", 200, "Cache-Control: max-age=1, must-revalidate, "
                     "stale-while-revalidate=60\r\nETag: \"m\"\r\n", "old");
  serve("/swm", 304, "ETag: \"m\"\r\n", NULL);
  httpresp_response_free(get("/swm", NULL));
  clk.now_ms += 5000;
  cr_assert_eq(httpresp_client_set_stale_while_revalidate(client,
                                                          HTTPRESP_SWR_DEFER),
               0);
  httpresp_response *r = get("/swm", NULL);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_REVALIDATED);
  httpresp_response_free(r);
  cr_expect_eq(ts_request_count(ts), 2);
}

typedef struct swr_arg {
  httpresp_client *client;
  CURL *easy;
  char *url;
  pthread_barrier_t *go;
  int stale;
} swr_arg;

static void *swr_request(void *p) {
  swr_arg *a = p;
  httpresp_request *rq;
  if (httpresp_request_new(&rq, "GET", a->url) == 0) {
    pthread_barrier_wait(a->go);
    httpresp_response *r;
    if (fixture_perform(a->client, a->easy, rq, &r) == 0 &&
        httpresp_response_cache_status(r) == HTTPRESP_CACHE_STALE)
      a->stale = 1;
    httpresp_response_free(r);
    httpresp_request_free(rq);
  }
  fixture_driver_release();
  return NULL;
}

/* Twenty requests at once in the window, from twenty threads: all answered
 * stale, and one revalidation deferred, not twenty. */
FIXTURE_TEST(cache, stale_while_revalidate_one_revalidation_for_20_at_once) {
  httpresp_client *shared = fixture_client(NULL); /* real clock */
  httpresp_client_set_cache(shared, cache);
  cr_assert_eq(httpresp_client_set_stale_while_revalidate(shared,
                                                          HTTPRESP_SWR_DEFER),
               0);
  ts_simple(ts, 0, "/c20", 200,
            "Cache-Control: max-age=0, stale-while-revalidate=600\r\n"
            "ETag: \"c\"\r\n", "shared");
  ts_simple(ts, 0, "/c20", 304, "ETag: \"c\"\r\n", NULL);
  char *u = ts_url(ts, 0, "/c20");
  httpresp_request *rq;
  cr_assert_eq(httpresp_request_new(&rq, "GET", u), 0);
  httpresp_response *r;
  cr_assert_eq(fixture_perform(shared, easy, rq, &r), 0);
  httpresp_response_free(r);
  httpresp_request_free(rq);
  enum { N = 20 };
  pthread_t th[N];
  swr_arg args[N];
  pthread_barrier_t go;
  pthread_barrier_init(&go, NULL, N);
  for (int i = 0; i < N; i++) {
    args[i] = (swr_arg){shared, fixture_easy(), u, &go, 0};
    cr_assert_eq(pthread_create(&th[i], NULL, swr_request, &args[i]), 0);
  }
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    curl_easy_cleanup(args[i].easy);
    cr_expect(args[i].stale, "thread %d answered stale", i);
  }
  pthread_barrier_destroy(&go);
  cr_expect_eq(ts_request_count(ts), 1, "none of the twenty reached it");
  size_t done = 0;
  cr_expect_eq(httpresp_client_revalidate(shared, easy, &done), 0);
  cr_expect_eq(done, 1u);
  cr_expect_eq(ts_request_count(ts), 2, "exactly one revalidation");
  cr_expect_not_null(ts_req_header(ts_request_get(ts, 1), "If-None-Match"));
  free(u);
  httpresp_client_free(shared);
}
