/* SPDX-License-Identifier: MIT */
/* Partial content end to end (RFC 9111 §3.3-3.4, RFC 9110 §14): a 200 cut
 * short is kept, the next request asks for the rest with Range + If-Range,
 * and the caller gets one complete 200, byte for byte; parts that do not
 * fit are never spliced.  Through both drivers (fixtures.h), over a memory
 * store ("resume") and a disk store ("resume_disk"). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "testsrv.h"

#define BODY_LEN 1000

static ts_server *ts;
static httpresp_client *client;
static httpresp_cache *cache;
static CURL *easy;
static fake_clock clk;
static char dir[64];
static char body[BODY_LEN + 1];
static char path[32] = "/f"; /* the URL the helpers serve and get */

static void start(int disk) {
  fixture_suite_start(1, &ts, &clk, &client, &easy);
  for (size_t i = 0; i < BODY_LEN; i++)
    body[i] = (char)('a' + (i * 7 + i / 26) % 26);
  body[BODY_LEN] = '\0';
  dir[0] = '\0';
  if (disk) {
    snprintf(dir, sizeof(dir), "/tmp/hr-resume-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(httpresp_cache_new_disk(&cache, dir, 1 << 20), 0);
  } else {
    cr_assert_eq(httpresp_cache_new_memory(&cache, 1 << 20), 0);
  }
  cr_assert_eq(httpresp_client_set_cache(client, cache), 0);
}

static void setup_memory(void) { start(0); }
static void setup_disk(void) { start(1); }

static void teardown(void) {
  fixture_suite_stop(ts, client, easy);
  httpresp_cache_free(cache);
  if (dir[0])
    fixture_rm_rf(dir);
}

FIXTURE_SUITES(resume, .init = setup_memory, .fini = teardown);
FIXTURE_SUITES(resume_disk, .init = setup_disk, .fini = teardown);

/* The fake clock's date (2026-01-01 00:00:00 UTC at the start). */
#define DATE "Thu, 01 Jan 2026 00:00:00 GMT"

/* A 200 announcing the whole body, cut after `n` bytes. */
static void serve_cut(const char *validators, size_t n) {
  ts_resp *r = ts_route(ts, 0, path);
  ts_resp_printf(r,
                 "HTTP/1.1 200 OK\r\nDate: " DATE "\r\n%s\r\n"
                 "Cache-Control: max-age=600\r\nContent-Length: %d\r\n"
                 "Connection: close\r\n\r\n",
                 validators, BODY_LEN);
  ts_resp_body(r, body, n);
  ts_resp_close(r);
}

/* A 206 with the body from `from`, claiming Content-Range `first`-end. */
static void serve_206(const char *validators, size_t from, size_t first) {
  char h[256];
  snprintf(h, sizeof(h),
           "Date: " DATE "\r\n%s\r\nCache-Control: max-age=600\r\n"
           "Content-Range: bytes %zu-%d/%d\r\n",
           validators, first, BODY_LEN - 1, BODY_LEN);
  ts_simple(ts, 0, path, 206, h, body + from);
}

static httpresp_response *get_f(void) {
  char *u = ts_url(ts, 0, path);
  httpresp_response *r = fixture_run(client, easy, "GET", u, NULL, NULL);
  free(u);
  return r;
}

/* FNV-1a: the checksum the demo prints too. */
static uint64_t checksum(const char *p, size_t n) {
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)p[i]) * UINT64_C(0x100000001b3);
  return h;
}

static void expect_whole(const httpresp_response *r) {
  size_t len;
  const char *b = httpresp_response_body(r, &len);
  cr_expect_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_assert_eq(len, BODY_LEN);
  cr_expect_eq(checksum(b, len), checksum(body, BODY_LEN));
  cr_expect(memcmp(b, body, BODY_LEN) == 0, "byte-exact body");
  cr_expect_null(httpresp_response_header(r, "Content-Range"));
}

/* The first request is cut after `n` bytes; the second resumes it. */
static void cut_and_resume(size_t n) {
  ts_reset(ts);
  snprintf(path, sizeof(path), "/cut-%zu", n);
  serve_cut("ETag: \"v1\"", n);
  serve_206("ETag: \"v1\"", n, n);
  httpresp_response *r = get_f();
  cr_expect_neq(httpresp_response_error(r), 0, "the first transfer was cut");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STORED);
  cr_expect_str_eq(httpresp_response_cache_reason(r), "incomplete");
  httpresp_response_free(r);

  r = get_f();
  cr_assert_eq(ts_request_count(ts), 2);
  const ts_request *q = ts_request_get(ts, 0);
  cr_expect_null(ts_req_header(q, "Range"));
  q = ts_request_get(ts, 1);
  char want[32];
  snprintf(want, sizeof(want), "bytes=%zu-", n);
  cr_expect_str_eq(ts_req_header(q, "Range"), want);
  cr_expect_str_eq(ts_req_header(q, "If-Range"), "\"v1\"");
  expect_whole(r);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_RESUMED);
  cr_expect_eq(httpresp_response_resumed_from(r), (int64_t)n);
  fixture_expect_hop(r, 0, 206, HTTPRESP_DECISION_DELIVER);
  char cl[16];
  snprintf(cl, sizeof(cl), "%d", BODY_LEN);
  cr_expect_str_eq(httpresp_response_header(r, "Content-Length"), cl);
  httpresp_response_free(r);

  /* Stored whole: the next request is a hit, nothing sent. */
  r = get_f();
  cr_expect_eq(ts_request_count(ts), 2);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  expect_whole(r);
  httpresp_response_free(r);
}

FIXTURE_TEST(resume, cut_at_several_points_resumes_byte_exact) {
  cut_and_resume(1);
  cut_and_resume(BODY_LEN / 2);
  cut_and_resume(BODY_LEN - 1);
}

FIXTURE_TEST(resume_disk, cut_and_resumed_from_a_disk_store) {
  cut_and_resume(1);
  cut_and_resume(BODY_LEN / 2);
  cut_and_resume(BODY_LEN - 1);
}

/* The resource changed between the parts: If-Range does not match, the
 * server sends the whole new body, which is what the caller gets. */
static void changed_between_parts(void) {
  serve_cut("ETag: \"v1\"", 300);
  char h[128];
  snprintf(h, sizeof(h),
           "Date: " DATE "\r\nETag: \"v2\"\r\nCache-Control: max-age=600\r\n");
  ts_simple(ts, 0, path, 200, h, "the new version");
  httpresp_response_free(get_f());
  httpresp_response *r = get_f();
  cr_assert_eq(ts_request_count(ts), 2);
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 1), "If-Range"), "\"v1\"");
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_str_eq(fixture_body(r), "the new version");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STORED);
  cr_expect_eq(httpresp_response_resumed_from(r), -1);
  httpresp_response_free(r);
  r = get_f();
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  cr_expect_str_eq(fixture_body(r), "the new version");
  httpresp_response_free(r);
}

FIXTURE_TEST(resume, changed_etag_between_parts_gives_whole_new_body) {
  changed_between_parts();
}

FIXTURE_TEST(resume_disk, changed_etag_between_parts_gives_whole_new_body) {
  changed_between_parts();
}

/* A 206 that does not continue the stored part: nothing of it reaches the
 * caller, the stored part is dropped and the body fetched whole. */
static void refetched_whole(const char *validators_206, size_t first) {
  ts_reset(ts);
  snprintf(path, sizeof(path), "/bad-%zu-%c", first, validators_206[7]);
  serve_cut("ETag: \"v1\"", 500);
  serve_206(validators_206, first, first);
  ts_simple(ts, 0, path, 200, "ETag: \"v1\"\r\nDate: " DATE "\r\n", body);
  httpresp_response_free(get_f());
  httpresp_response *r = get_f();
  cr_assert_eq(ts_request_count(ts), 3);
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 1), "Range"), "bytes=500-");
  const ts_request *q = ts_request_get(ts, 2);
  cr_expect_null(ts_req_header(q, "Range"), "the whole body, no range");
  cr_expect_null(ts_req_header(q, "If-Range"));
  expect_whole(r);
  fixture_expect_hop(r, 0, 206, HTTPRESP_DECISION_REPEAT);
  fixture_expect_hop(r, 1, 200, HTTPRESP_DECISION_DELIVER);
  cr_expect_eq(httpresp_response_resumed_from(r), -1);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STORED);
  httpresp_response_free(r);
}

FIXTURE_TEST(resume, wrong_content_range_is_refetched_whole) {
  refetched_whole("ETag: \"v1\"", 400); /* overlaps the stored part */
  refetched_whole("ETag: \"v1\"", 600); /* leaves a hole */
}

FIXTURE_TEST(resume, other_validator_in_206_is_refetched_whole) {
  refetched_whole("ETag: \"v2\"", 500);
  refetched_whole("ETag: W/\"v1\"", 500);
}

/* A weak validator says nothing of byte equality: the cut body is not
 * kept, the next request asks for everything. */
FIXTURE_TEST(resume, weak_etag_only_is_not_kept) {
  serve_cut("ETag: W/\"v1\"", 500);
  ts_simple(ts, 0, path, 200, "ETag: W/\"v1\"\r\nDate: " DATE "\r\n", body);
  httpresp_response *r = get_f();
  cr_expect_neq(httpresp_response_error(r), 0);
  cr_expect_neq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STORED);
  httpresp_response_free(r);
  r = get_f();
  cr_assert_eq(ts_request_count(ts), 2);
  cr_expect_null(ts_req_header(ts_request_get(ts, 1), "Range"));
  cr_expect_null(ts_req_header(ts_request_get(ts, 1), "If-Range"));
  expect_whole(r);
  httpresp_response_free(r);
}

/* Last-Modified a second or more before Date is strong (RFC 9110
 * §8.8.2.2): If-Range carries it. */
FIXTURE_TEST(resume, strong_last_modified_resumes) {
  const char *lm = "Last-Modified: Wed, 31 Dec 2025 00:00:00 GMT";
  serve_cut(lm, 250);
  serve_206(lm, 250, 250);
  httpresp_response_free(get_f());
  httpresp_response *r = get_f();
  cr_assert_eq(ts_request_count(ts), 2);
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 1), "If-Range"),
                   "Wed, 31 Dec 2025 00:00:00 GMT");
  expect_whole(r);
  cr_expect_eq(httpresp_response_resumed_from(r), 250);
  httpresp_response_free(r);
}

/* ... and one equal to Date is weak: not kept. */
FIXTURE_TEST(resume, last_modified_equal_to_date_is_not_kept) {
  serve_cut("Last-Modified: " DATE, 250);
  ts_simple(ts, 0, path, 200, "Date: " DATE "\r\n", body);
  httpresp_response_free(get_f());
  httpresp_response *r = get_f();
  cr_assert_eq(ts_request_count(ts), 2);
  cr_expect_null(ts_req_header(ts_request_get(ts, 1), "Range"));
  expect_whole(r);
  httpresp_response_free(r);
}

typedef struct sink_buf {
  char data[2 * BODY_LEN];
  size_t len;
  int calls;
} sink_buf;

static size_t sink(void *ud, const char *data, size_t len) {
  sink_buf *s = ud;
  if (s->len + len > sizeof(s->data))
    return 0;
  memcpy(s->data + s->len, data, len);
  s->len += len;
  s->calls++;
  return len;
}

/* A streaming caller gets the stored part first, then the rest: exactly
 * the body, once. */
FIXTURE_TEST(resume, sink_gets_stored_part_then_rest) {
  serve_cut("ETag: \"v1\"", 300);
  serve_206("ETag: \"v1\"", 300, 300);
  char *u = ts_url(ts, 0, path);
  httpresp_request *rq;
  cr_assert_eq(httpresp_request_new(&rq, "GET", u), 0);
  sink_buf first = {.len = 0}, second = {.len = 0};
  httpresp_request_set_sink(rq, sink, &first);
  httpresp_response *r;
  fixture_perform(client, easy, rq, &r);
  cr_expect_eq(first.len, 300, "the cut transfer streamed what came");
  httpresp_response_free(r);
  httpresp_request_set_sink(rq, sink, &second);
  cr_expect_eq(fixture_perform(client, easy, rq, &r), 0);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_RESUMED);
  cr_assert_eq(second.len, BODY_LEN);
  cr_expect(memcmp(second.data, body, BODY_LEN) == 0, "byte-exact stream");
  cr_expect_eq(checksum(second.data, second.len), checksum(body, BODY_LEN));
  httpresp_response_free(r);
  httpresp_request_free(rq);
  free(u);
  /* And it was stored whole from the streamed copy. */
  r = get_f();
  cr_expect_eq(ts_request_count(ts), 2);
  expect_whole(r);
  httpresp_response_free(r);
}

/* The resumed transfer cut again: the longer part is kept, and the third
 * request asks from there. */
FIXTURE_TEST(resume, resumed_transfer_cut_again_resumes_further) {
  serve_cut("ETag: \"v1\"", 200);
  ts_resp *rr = ts_route(ts, 0, path);
  ts_resp_printf(rr,
                 "HTTP/1.1 206 Partial Content\r\nDate: " DATE
                 "\r\nETag: \"v1\"\r\nContent-Range: bytes 200-%d/%d\r\n"
                 "Content-Length: %d\r\nConnection: close\r\n\r\n",
                 BODY_LEN - 1, BODY_LEN, BODY_LEN - 200);
  ts_resp_body(rr, body + 200, 500);
  ts_resp_close(rr);
  serve_206("ETag: \"v1\"", 700, 700);
  httpresp_response_free(get_f());
  httpresp_response *r = get_f();
  cr_expect_neq(httpresp_response_error(r), 0);
  cr_expect_str_eq(httpresp_response_cache_reason(r), "incomplete");
  httpresp_response_free(r);
  r = get_f();
  cr_assert_eq(ts_request_count(ts), 3);
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 2), "Range"), "bytes=700-");
  expect_whole(r);
  cr_expect_eq(httpresp_response_resumed_from(r), 700);
  httpresp_response_free(r);
}

/* A caller's own Range request is passed through untouched, and leaves
 * the stored part alone. */
FIXTURE_TEST(resume, callers_own_range_passes_through) {
  serve_cut("ETag: \"v1\"", 500);
  ts_resp *own =
      ts_simple(ts, 0, path, 206,
                "ETag: \"v1\"\r\nContent-Range: bytes 0-1/1000\r\n", "ab");
  (void)own;
  serve_206("ETag: \"v1\"", 500, 500);
  httpresp_response_free(get_f());
  char *u = ts_url(ts, 0, path);
  const char *hdrs[] = {"Range: bytes=0-1", NULL};
  httpresp_response *r = fixture_run(client, easy, "GET", u, NULL, hdrs);
  free(u);
  cr_expect_eq(httpresp_response_status(r), 206);
  cr_expect_str_eq(fixture_body(r), "ab");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_BYPASS);
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 1), "Range"), "bytes=0-1");
  cr_expect_null(ts_req_header(ts_request_get(ts, 1), "If-Range"));
  httpresp_response_free(r);
  r = get_f();
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 2), "Range"), "bytes=500-");
  expect_whole(r);
  httpresp_response_free(r);
}

static httpresp_response *get_range(const char *range) {
  char *u = ts_url(ts, 0, path);
  char h[64];
  snprintf(h, sizeof(h), "Range: %s", range);
  const char *hdrs[] = {h, NULL};
  httpresp_response *r = fixture_run(client, easy, "GET", u, NULL, hdrs);
  free(u);
  return r;
}

/* A caller's single range is answered from a complete fresh stored
 * response: a 206 of that part, no network. */
FIXTURE_TEST(resume, callers_range_served_from_complete_entry) {
  snprintf(path, sizeof(path), "/whole");
  ts_simple(ts, 0, path, 200,
            "Date: " DATE "\r\nETag: \"v1\"\r\nCache-Control: max-age=600\r\n",
            body);
  httpresp_response_free(get_f());
  static const struct {
    const char *range;
    size_t first, last;
  } rows[] = {{"bytes=2-5", 2, 5},
              {"bytes=990-", 990, 999},
              {"bytes=-3", 997, 999},
              {"bytes=0-5000", 0, 999},
              {"bytes=999-999", 999, 999}};
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    httpresp_response *r = get_range(rows[i].range);
    cr_expect_eq(ts_request_count(ts), 1, "%s: no network", rows[i].range);
    cr_expect_eq(httpresp_response_status(r), 206, "%s", rows[i].range);
    cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
    cr_expect_str_eq(httpresp_response_cache_reason(r), "range");
    char want[64];
    snprintf(want, sizeof(want), "bytes %zu-%zu/%d", rows[i].first,
             rows[i].last, BODY_LEN);
    cr_expect_str_eq(httpresp_response_header(r, "Content-Range"), want);
    size_t len;
    const char *b = httpresp_response_body(r, &len);
    cr_assert_eq(len, rows[i].last - rows[i].first + 1, "%s", rows[i].range);
    cr_expect(memcmp(b, body + rows[i].first, len) == 0, "%s", rows[i].range);
    snprintf(want, sizeof(want), "%zu", len);
    cr_expect_str_eq(httpresp_response_header(r, "Content-Length"), want);
    httpresp_response_free(r);
  }
  /* Several ranges, or one past the end: the server gets them untouched. */
  ts_simple(ts, 0, path, 416, "Content-Range: bytes */1000\r\n", NULL);
  const char *passed[] = {"bytes=0-1,5-6", "bytes=1000-"};
  for (size_t i = 0; i < 2; i++) {
    httpresp_response *r = get_range(passed[i]);
    cr_assert_eq(ts_request_count(ts), 2 + i);
    cr_expect_str_eq(ts_req_header(ts_request_get(ts, 1 + i), "Range"),
                     passed[i]);
    cr_expect_null(ts_req_header(ts_request_get(ts, 1 + i), "If-Range"));
    cr_expect_eq(httpresp_response_status(r), 416);
    cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_BYPASS);
    httpresp_response_free(r);
  }
}

/* The caller's own 206 for the start of a body is kept: the next plain GET
 * asks only for the rest and gets the whole body. */
FIXTURE_TEST(resume, callers_first_part_is_kept_and_resumed) {
  snprintf(path, sizeof(path), "/first");
  char first[401];
  memcpy(first, body, 400);
  first[400] = '\0';
  ts_simple(ts, 0, path, 206,
            "Date: " DATE "\r\nETag: \"v1\"\r\nCache-Control: max-age=600\r\n"
            "Content-Range: bytes 0-399/1000",
            first);
  serve_206("ETag: \"v1\"", 400, 400);
  httpresp_response *r = get_range("bytes=0-399");
  cr_expect_eq(httpresp_response_status(r), 206);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_BYPASS);
  httpresp_response_free(r);
  r = get_f();
  cr_assert_eq(ts_request_count(ts), 2);
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 1), "Range"), "bytes=400-");
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 1), "If-Range"), "\"v1\"");
  expect_whole(r);
  cr_expect_eq(httpresp_response_resumed_from(r), 400);
  httpresp_response_free(r);
}

/* A 206 that is not the start of the body, or is the whole of it, is not
 * kept: the next plain GET asks for everything. */
FIXTURE_TEST(resume, callers_other_parts_are_not_kept) {
  static const char *const ranges[] = {"bytes 100-199/1000", "bytes 0-99/*"};
  for (size_t i = 0; i < 2; i++) {
    ts_reset(ts);
    snprintf(path, sizeof(path), "/other-%zu", i);
    char h[256], part[101];
    snprintf(h, sizeof(h),
             "Date: " DATE "\r\nETag: \"v1\"\r\nContent-Range: %s", ranges[i]);
    memcpy(part, body + (i ? 0 : 100), 100);
    part[100] = '\0';
    ts_simple(ts, 0, path, 206, h, part);
    ts_simple(ts, 0, path, 200, "Date: " DATE "\r\nETag: \"v1\"", body);
    httpresp_response_free(get_range(i ? "bytes=0-99" : "bytes=100-199"));
    httpresp_response *r = get_f();
    cr_assert_eq(ts_request_count(ts), 2);
    cr_expect_null(ts_req_header(ts_request_get(ts, 1), "Range"), "%s",
                   ranges[i]);
    expect_whole(r);
    httpresp_response_free(r);
  }
}
