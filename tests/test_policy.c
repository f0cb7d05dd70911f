/* SPDX-License-Identifier: MIT */
/* The pure policy core, without a network: redirect, 417 and retry rules. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpdate.h"
#include "objects.h"
#include "policy.h"
#include "url.h"

static hr_policy default_policy(void) {
  hr_policy p;
  memset(&p, 0, sizeof(p));
  p.follow = 1;
  p.max_redirects = 20;
  p.max_retries = 3;
  p.max_wait_ms = 60000;
  p.max_quiet_ms = 3600000;
  p.schemes = "http,https";
  return p;
}

typedef struct fixture {
  hr_policy policy;
  httpresp_request *orig;
  httpresp_request *cur;
  hr_history hist;
  hr_headers resp;
  hr_policy_input in;
  hr_decision d;
} fixture;

static void fx_init(fixture *f, const char *method, const char *url) {
  memset(f, 0, sizeof(*f));
  f->policy = default_policy();
  cr_assert_eq(httpresp_request_new(&f->orig, method, url), 0);
  cr_assert_eq(httpresp_request_new(&f->cur, method, url), 0);
  hr_history_init(&f->hist);
  hr_headers_init(&f->resp);
  hr_decision_init(&f->d);
  cr_assert_eq(hr_history_visit(&f->hist, method, url), 0);
  f->in.policy = &f->policy;
  f->in.orig = f->orig;
  f->in.cur = f->cur;
  f->in.history = &f->hist;
  f->in.resp = &f->resp;
  f->in.now_ms = 1000000;
  f->in.start_ms = 1000000;
}

static void fx_free(fixture *f) {
  httpresp_request_free(f->orig);
  httpresp_request_free(f->cur);
  hr_history_free(&f->hist);
  hr_headers_free(&f->resp);
  hr_decision_free(&f->d);
}

static void add(hr_headers *h, const char *name, const char *value) {
  cr_assert_eq(hr_headers_add(h, name, strlen(name), value, strlen(value)), 0);
}

static void both_header(fixture *f, const char *name, const char *value) {
  cr_assert_eq(httpresp_request_add_header(f->orig, name, value), 0);
  cr_assert_eq(httpresp_request_add_header(f->cur, name, value), 0);
}

static void both_body(fixture *f, const char *body) {
  cr_assert_eq(httpresp_request_set_body(f->orig, body, strlen(body)), 0);
  cr_assert_eq(httpresp_request_set_body(f->cur, body, strlen(body)), 0);
}

static void decide(fixture *f, int status, const char *location) {
  f->in.status = status;
  if (location)
    add(&f->resp, "Location", location);
  hr_decision_free(&f->d);
  hr_decision_init(&f->d);
  cr_assert_eq(hr_policy_decide(&f->in, &f->d), 0);
}

/* DESIGN.md's method and body table, row by row. */
typedef struct method_row {
  int status;
  const char *method;
  int keep_post;
  const char *next_method;
  int body_kept;
} method_row;

static const method_row method_table[] = {
    {301, "GET", 0, "GET", 0},        {301, "HEAD", 0, "HEAD", 0},
    {301, "POST", 0, "GET", 0},       {301, "POST", 1, "POST", 1},
    {301, "PUT", 0, "PUT", 1},        {301, "DELETE", 0, "DELETE", 1},
    {301, "PATCH", 0, "PATCH", 1},    {302, "GET", 0, "GET", 0},
    {302, "HEAD", 0, "HEAD", 0},      {302, "POST", 0, "GET", 0},
    {302, "POST", 1, "POST", 1},      {302, "PUT", 0, "PUT", 1},
    {302, "DELETE", 0, "DELETE", 1},  {302, "PROPFIND", 0, "PROPFIND", 1},
    {303, "GET", 0, "GET", 0},        {303, "HEAD", 0, "HEAD", 0},
    {303, "POST", 0, "GET", 0},       {303, "POST", 1, "GET", 0},
    {303, "PUT", 0, "GET", 0},        {303, "DELETE", 0, "GET", 0},
    {303, "PATCH", 0, "GET", 0},      {307, "GET", 0, "GET", 0},
    {307, "HEAD", 0, "HEAD", 0},      {307, "POST", 0, "POST", 1},
    {307, "PUT", 0, "PUT", 1},        {307, "DELETE", 0, "DELETE", 1},
    {308, "GET", 0, "GET", 0},        {308, "HEAD", 0, "HEAD", 0},
    {308, "POST", 0, "POST", 1},      {308, "PUT", 0, "PUT", 1},
    {308, "PATCH", 0, "PATCH", 1},
};

Test(policy, method_and_body_table) {
  for (size_t i = 0; i < sizeof(method_table) / sizeof(method_table[0]); i++) {
    const method_row *row = &method_table[i];
    fixture f;
    fx_init(&f, row->method, "http://a.test/start");
    f.policy.keep_post = row->keep_post;
    int has_body = strcmp(row->method, "GET") && strcmp(row->method, "HEAD");
    if (has_body) {
      both_body(&f, "payload");
      both_header(&f, "Content-Type", "text/plain");
      both_header(&f, "Content-Encoding", "identity");
      both_header(&f, "Content-Language", "en");
      both_header(&f, "Content-Location", "/x");
    }
    both_header(&f, "X-Custom", "kept");
    decide(&f, row->status, "/next");
    cr_assert_eq(f.d.next, HR_NEXT_FOLLOW, "row %zu: %d %s", i, row->status,
                 row->method);
    httpresp_request *n = f.d.next_req;
    cr_expect_str_eq(n->method, row->next_method, "row %zu: %d %s", i,
                     row->status, row->method);
    cr_expect_str_eq(n->url, "http://a.test/next");
    cr_expect_str_eq(httpresp_request_header(n, "X-Custom"), "kept");
    if (has_body && row->body_kept) {
      cr_expect_eq(n->body_kind, HR_BODY_MEMORY, "row %zu", i);
      cr_expect_eq(n->body_len, 7);
      cr_expect_eq(memcmp(n->body, "payload", 7), 0);
      cr_expect_str_eq(httpresp_request_header(n, "Content-Type"),
                       "text/plain", "row %zu", i);
    } else if (has_body) {
      cr_expect_eq(n->body_kind, HR_BODY_NONE, "row %zu", i);
      cr_expect_null(httpresp_request_header(n, "Content-Type"), "row %zu", i);
      cr_expect_null(httpresp_request_header(n, "Content-Encoding"));
      cr_expect_null(httpresp_request_header(n, "Content-Language"));
      cr_expect_null(httpresp_request_header(n, "Content-Location"));
    }
    fx_free(&f);
  }
}

Test(policy, statuses_not_followed) {
  static const int statuses[] = {300, 304, 305, 306, 309, 399, 200, 404};
  for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
    fixture f;
    fx_init(&f, "GET", "http://a.test/");
    decide(&f, statuses[i], "/elsewhere");
    cr_expect_eq(f.d.next, HR_NEXT_DELIVER, "status %d", statuses[i]);
    fx_free(&f);
  }
}

Test(policy, follow_300_opt_in) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/");
  f.policy.follow_300 = 1;
  decide(&f, 300, "/choice");
  cr_expect_eq(f.d.next, HR_NEXT_FOLLOW);
  fx_free(&f);
}

Test(policy, missing_or_empty_location_is_final) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/");
  decide(&f, 302, NULL);
  cr_expect_eq(f.d.next, HR_NEXT_DELIVER);
  decide(&f, 302, "");
  cr_expect_eq(f.d.next, HR_NEXT_DELIVER);
  fx_free(&f);
}

Test(policy, follow_off) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/");
  f.policy.follow = 0;
  decide(&f, 301, "/b");
  cr_expect_eq(f.d.next, HR_NEXT_DELIVER);
  fx_free(&f);
}

Test(policy, bad_location_stops) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/");
  decide(&f, 302, "http://[::1");
  cr_expect_eq(f.d.next, HR_NEXT_STOP);
  cr_expect_eq(f.d.error, HTTPRESP_E_BAD_LOCATION);
  fx_free(&f);
}

Test(policy, conflicting_locations_stop) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/");
  add(&f.resp, "Location", "/one");
  decide(&f, 302, "/two");
  cr_expect_eq(f.d.error, HTTPRESP_E_BAD_LOCATION);
  fx_free(&f);
}

Test(policy, schemes) {
  static const struct {
    const char *loc;
    const char *allowed;
    int expect;
  } rows[] = {
      {"ftp://a.test/f", "http,https", HR_NEXT_STOP},
      {"javascript:alert(1)", "http,https", HR_NEXT_STOP},
      {"data:text/plain,x", "http,https", HR_NEXT_STOP},
      {"file:///etc/passwd", "http,https", HR_NEXT_STOP},
      {"HTTPS://a.test/s", "http,https", HR_NEXT_FOLLOW},
      {"ftp://a.test/f", "http, https, ftp", HR_NEXT_FOLLOW},
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    fixture f;
    fx_init(&f, "GET", "http://a.test/");
    f.policy.schemes = (char *)rows[i].allowed;
    decide(&f, 302, rows[i].loc);
    cr_expect_eq(f.d.next, rows[i].expect, "row %zu (%s)", i, rows[i].loc);
    if (rows[i].expect == HR_NEXT_STOP)
      cr_expect_eq(f.d.error, HTTPRESP_E_SCHEME_NOT_ALLOWED, "row %zu", i);
    fx_free(&f);
  }
}

Test(policy, downgrade_refusal) {
  fixture f;
  fx_init(&f, "GET", "https://a.test/");
  decide(&f, 302, "http://a.test/plain");
  cr_expect_eq(f.d.next, HR_NEXT_FOLLOW, "allowed by default");
  f.policy.refuse_downgrade = 1;
  hr_headers_clear(&f.resp);
  decide(&f, 302, "http://a.test/plain");
  cr_expect_eq(f.d.error, HTTPRESP_E_DOWNGRADE_REFUSED);
  fx_free(&f);
}

Test(policy, redirect_limit) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/");
  f.hist.redirects = 20;
  decide(&f, 302, "/n21");
  cr_expect_eq(f.d.error, HTTPRESP_E_TOO_MANY_REDIRECTS);
  f.policy.max_redirects = 21;
  hr_headers_clear(&f.resp);
  decide(&f, 302, "/n21");
  cr_expect_eq(f.d.next, HR_NEXT_FOLLOW);
  fx_free(&f);
}

Test(policy, self_redirect_is_a_loop) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/self#frag");
  decide(&f, 302, "/self");
  cr_expect_eq(f.d.error, HTTPRESP_E_REDIRECT_LOOP);
  fx_free(&f);
}

Test(policy, loop_unless_cookie_set_since) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/A");
  cr_assert_eq(hr_history_visit(&f.hist, "GET", "http://a.test/B"), 0);
  decide(&f, 302, "/A");
  cr_expect_eq(f.d.error, HTTPRESP_E_REDIRECT_LOOP, "A->B->A loops");
  /* A response since the visit set a cookie: a login bounce, followed. */
  f.hist.cookie_epoch++;
  hr_headers_clear(&f.resp);
  decide(&f, 302, "/A");
  cr_expect_eq(f.d.next, HR_NEXT_FOLLOW);
  fx_free(&f);
}

Test(policy, same_url_other_method_is_no_loop) {
  fixture f;
  fx_init(&f, "POST", "http://a.test/form");
  both_body(&f, "x=1");
  decide(&f, 303, "/form");
  cr_expect_eq(f.d.next, HR_NEXT_FOLLOW);
  cr_expect_str_eq(f.d.next_req->method, "GET");
  fx_free(&f);
}

typedef struct origin_row {
  const char *from;
  const char *to;
  int cross;
} origin_row;

Test(policy, credentials_follow_the_origin) {
  static const origin_row rows[] = {
      {"http://a.test/", "/same", 0},
      {"http://a.test/", "http://a.test:80/explicit-port", 0},
      {"http://a.test/", "http://b.test/", 1},
      {"http://a.test/", "http://a.test:8080/", 1},
      {"http://a.test/", "https://a.test/", 1},
      {"https://a.test/", "http://a.test/", 1},
      {"http://a.test/", "//evil.test/", 1},
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    fixture f;
    fx_init(&f, "GET", rows[i].from);
    both_header(&f, "Authorization", "Bearer secret");
    both_header(&f, "Proxy-Authorization", "Basic cHJveHk=");
    both_header(&f, "Cookie", "sid=1");
    both_header(&f, "X-Api-Version", "3");
    decide(&f, 302, rows[i].to);
    cr_assert_eq(f.d.next, HR_NEXT_FOLLOW, "row %zu", i);
    const httpresp_request *n = f.d.next_req;
    cr_expect_eq(f.d.cross_origin, rows[i].cross, "row %zu", i);
    if (rows[i].cross) {
      cr_expect_null(httpresp_request_header(n, "Authorization"), "row %zu", i);
      cr_expect_null(httpresp_request_header(n, "Proxy-Authorization"));
      cr_expect_null(httpresp_request_header(n, "Cookie"));
    } else {
      cr_expect_str_eq(httpresp_request_header(n, "Authorization"),
                       "Bearer secret", "row %zu", i);
      cr_expect_str_eq(httpresp_request_header(n, "Cookie"), "sid=1");
    }
    cr_expect_str_eq(httpresp_request_header(n, "X-Api-Version"), "3");
    fx_free(&f);
  }
}

Test(policy, keep_list_and_return_to_origin) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/");
  char *keep[] = {"Cookie"};
  f.policy.keep_headers = keep;
  f.policy.nkeep = 1;
  both_header(&f, "Authorization", "Bearer secret");
  both_header(&f, "Cookie", "sid=1");
  decide(&f, 302, "http://b.test/");
  cr_expect_null(httpresp_request_header(f.d.next_req, "Authorization"));
  cr_expect_str_eq(httpresp_request_header(f.d.next_req, "Cookie"), "sid=1");
  /* Back at the original origin the caller's credentials apply again. */
  httpresp_request *b = f.d.next_req;
  f.d.next_req = NULL;
  f.in.cur = b;
  hr_headers_clear(&f.resp);
  decide(&f, 302, "http://a.test/back");
  cr_expect_str_eq(httpresp_request_header(f.d.next_req, "Authorization"),
                   "Bearer secret");
  cr_expect_eq(f.d.cross_origin, 0);
  httpresp_request_free(b);
  fx_free(&f);
}

static size_t no_read(void *ud, char *buf, size_t len) {
  (void)ud;
  (void)buf;
  (void)len;
  return 0;
}

static int ok_rewind(void *ud) {
  (void)ud;
  return 0;
}

Test(policy, streamed_body_needs_rewind) {
  fixture f;
  fx_init(&f, "POST", "http://a.test/up");
  cr_assert_eq(httpresp_request_set_body_stream(f.cur, no_read, NULL, 5, NULL),
               0);
  decide(&f, 307, "/again");
  cr_expect_eq(f.d.error, HTTPRESP_E_BODY_NOT_REWINDABLE);
  /* 303 drops the body, so no rewind is needed. */
  hr_headers_clear(&f.resp);
  decide(&f, 303, "/result");
  cr_expect_eq(f.d.next, HR_NEXT_FOLLOW);
  cr_assert_eq(
      httpresp_request_set_body_stream(f.cur, no_read, ok_rewind, 5, NULL), 0);
  hr_headers_clear(&f.resp);
  decide(&f, 307, "/again");
  cr_expect_eq(f.d.next, HR_NEXT_FOLLOW);
  cr_expect_eq(f.d.next_req->body_kind, HR_BODY_STREAM);
  fx_free(&f);
}

Test(policy, expectation_failed_repeats_once) {
  fixture f;
  fx_init(&f, "POST", "http://a.test/up");
  both_body(&f, "data");
  both_header(&f, "Expect", "100-continue");
  decide(&f, 417, NULL);
  cr_expect_eq(f.d.next, HR_NEXT_REPEAT);
  cr_expect(f.d.suppress_expect);
  cr_expect_null(httpresp_request_header(f.d.next_req, "Expect"));
  f.hist.expect_repeated = 1;
  decide(&f, 417, NULL);
  cr_expect_eq(f.d.next, HR_NEXT_DELIVER);
  fx_free(&f);
}

Test(policy, expectation_failed_without_body_is_final) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/");
  decide(&f, 417, NULL);
  cr_expect_eq(f.d.next, HR_NEXT_DELIVER);
  fx_free(&f);
}

typedef struct retry_row {
  int status;
  const char *retry_after; /* NULL: absent */
  unsigned retries_done;
  int64_t max_wait;
  int64_t deadline;
  int expect_next;
  int64_t expect_wait;
  httpresp_retry_stop expect_stop;
} retry_row;

Test(policy, retry_table) {
  static const retry_row rows[] = {
      {429, "2", 0, 60000, 0, HR_NEXT_RETRY, 2000, HTTPRESP_RETRY_NONE},
      {503, "0", 0, 60000, 0, HR_NEXT_RETRY, 0, HTTPRESP_RETRY_NONE},
      {413, "1", 0, 60000, 0, HR_NEXT_RETRY, 1000, HTTPRESP_RETRY_NONE},
      {429, NULL, 0, 60000, 0, HR_NEXT_DELIVER, 0, HTTPRESP_RETRY_NONE},
      {413, NULL, 0, 60000, 0, HR_NEXT_DELIVER, 0, HTTPRESP_RETRY_NONE},
      {500, "1", 0, 60000, 0, HR_NEXT_DELIVER, 0, HTTPRESP_RETRY_NONE},
      {429, "garbage", 0, 60000, 0, HR_NEXT_DELIVER, 0, HTTPRESP_RETRY_NONE},
      {429, "3", 3, 60000, 0, HR_NEXT_DELIVER, 0, HTTPRESP_RETRY_EXHAUSTED},
      {429, "61", 0, 60000, 0, HR_NEXT_DELIVER, 0,
       HTTPRESP_RETRY_WAIT_TOO_LONG},
      {503, "1000000000000000000000000", 0, 60000, 0, HR_NEXT_DELIVER, 0,
       HTTPRESP_RETRY_WAIT_TOO_LONG},
      {429, "5", 0, 60000, 3000, HR_NEXT_DELIVER, 0, HTTPRESP_RETRY_DEADLINE},
      {429, "2", 0, 60000, 3000, HR_NEXT_RETRY, 2000, HTTPRESP_RETRY_NONE},
      /* An answer after repeats: they succeeded. */
      {200, NULL, 2, 60000, 0, HR_NEXT_DELIVER, 0, HTTPRESP_RETRY_SUCCEEDED},
      {500, NULL, 1, 60000, 0, HR_NEXT_DELIVER, 0, HTTPRESP_RETRY_SUCCEEDED},
      /* Still repeating: nothing has succeeded yet. */
      {429, "2", 1, 60000, 0, HR_NEXT_RETRY, 2000, HTTPRESP_RETRY_NONE},
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    fixture f;
    fx_init(&f, "GET", "http://a.test/");
    f.policy.max_wait_ms = rows[i].max_wait;
    f.policy.deadline_ms = rows[i].deadline;
    f.hist.retries = rows[i].retries_done;
    if (rows[i].retry_after)
      add(&f.resp, "Retry-After", rows[i].retry_after);
    decide(&f, rows[i].status, NULL);
    cr_expect_eq(f.d.next, rows[i].expect_next, "row %zu", i);
    if (rows[i].expect_next == HR_NEXT_RETRY)
      cr_expect_eq(f.d.wait_ms, rows[i].expect_wait, "row %zu", i);
    cr_expect_eq(f.d.retry_stop, rows[i].expect_stop, "row %zu", i);
    fx_free(&f);
  }
}

Test(policy, retry_after_date_against_date_header) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/");
  add(&f.resp, "Date", "Sun, 06 Nov 1994 08:49:37 GMT");
  add(&f.resp, "Retry-After", "Sun, 06 Nov 1994 08:49:40 GMT");
  /* The local clock is far off; the Date header anchors the delay. */
  f.in.now_ms = 1700000000000;
  decide(&f, 503, NULL);
  cr_expect_eq(f.d.next, HR_NEXT_RETRY);
  cr_expect_eq(f.d.wait_ms, 3000);
  cr_expect_eq(f.d.quiet_until_ms, 1700000003000);
  fx_free(&f);
}

Test(policy, disagreeing_retry_after_fields_are_ignored) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/");
  add(&f.resp, "Retry-After", "1");
  add(&f.resp, "Retry-After", "2");
  decide(&f, 429, NULL);
  cr_expect_eq(f.d.next, HR_NEXT_DELIVER);
  cr_expect_eq(f.d.retry_after_ms, -1);
  fx_free(&f);
}

Test(policy, backoff_with_jitter_when_opted_in) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/");
  f.policy.backoff_base_ms = 100;
  f.policy.backoff_cap_ms = 1000;
  f.hist.retries = 2; /* bound = min(1000, 100 * 4) = 400 */
  f.in.random_ms = 999;
  decide(&f, 503, NULL);
  cr_expect_eq(f.d.next, HR_NEXT_RETRY);
  cr_expect_eq(f.d.wait_ms, 400);
  f.in.random_ms = 123;
  decide(&f, 429, NULL);
  cr_expect_eq(f.d.wait_ms, 123);
  fx_free(&f);
}

Test(policy, retry_needs_replayable_body) {
  fixture f;
  fx_init(&f, "POST", "http://a.test/");
  cr_assert_eq(httpresp_request_set_body_stream(f.cur, no_read, NULL, -1, NULL),
               0);
  add(&f.resp, "Retry-After", "1");
  decide(&f, 429, NULL);
  cr_expect_eq(f.d.next, HR_NEXT_DELIVER);
  cr_expect_eq(f.d.retry_stop, HTTPRESP_RETRY_NOT_REPLAYABLE);
  fx_free(&f);
}

static void stored_entry(hr_cache_entry *e, const char *etag) {
  hr_cache_entry_init(e);
  e->key = strdup("http://a.test/r");
  e->status = 200;
  if (etag)
    add(&e->headers, "ETag", etag);
}

Test(policy, revalidation_304_rules) {
  static const struct {
    const char *stored_etag;
    const char *etag_304; /* NULL: the 304 carries no validator */
    hr_next expect;
  } rows[] = {
      {"\"a\"", "\"a\"", HR_NEXT_DELIVER},
      {"\"a\"", "\"b\"", HR_NEXT_REPEAT},
      {"W/\"a\"", "W/\"a\"", HR_NEXT_DELIVER},
      {"\"a\"", NULL, HR_NEXT_DELIVER},
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    fixture f;
    /* The cache's If-None-Match went out with the hop, not in f.cur. */
    fx_init(&f, "GET", "http://a.test/r");
    hr_cache_entry e;
    stored_entry(&e, rows[i].stored_etag);
    f.in.revalidating = &e;
    if (rows[i].etag_304)
      add(&f.resp, "ETag", rows[i].etag_304);
    decide(&f, 304, NULL);
    cr_expect_eq(f.d.next, rows[i].expect, "row %zu", i);
    if (rows[i].expect == HR_NEXT_DELIVER) {
      cr_expect(f.d.revalidated, "row %zu", i);
    } else {
      cr_expect(f.d.skip_cache, "row %zu", i);
      cr_expect_null(httpresp_request_header(f.d.next_req, "If-None-Match"),
                     "row %zu: the repeat carries no conditionals", i);
    }
    hr_cache_entry_free(&e);
    fx_free(&f);
  }
}

Test(policy, a_304_without_revalidation_is_the_answer) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/r");
  decide(&f, 304, NULL);
  cr_expect_eq(f.d.next, HR_NEXT_DELIVER);
  cr_expect_not(f.d.revalidated);
  fx_free(&f);
}

Test(policy, unreadable_location_stops) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/");
  f.in.location_malformed = 1;
  decide(&f, 302, NULL);
  cr_expect_eq(f.d.next, HR_NEXT_STOP);
  cr_expect_eq(f.d.error, HTTPRESP_E_BAD_LOCATION);
  f.in.location_malformed = 1;
  decide(&f, 200, NULL);
  cr_expect_eq(f.d.next, HR_NEXT_DELIVER, "only redirect statuses care");
  fx_free(&f);
}

Test(policy, origin_quiet_table) {
  static const struct {
    int64_t not_before; /* relative to now */
    int64_t max_wait, deadline, started_ago;
    hr_next expect;
    int error;
  } rows[] = {
      {0, 60000, 0, 0, HR_NEXT_DELIVER, 0},
      {-5, 60000, 0, 0, HR_NEXT_DELIVER, 0},
      {3000, 60000, 0, 0, HR_NEXT_RETRY, 0},
      {60001, 60000, 0, 0, HR_NEXT_STOP, HTTPRESP_E_ORIGIN_BACKOFF},
      {3000, 60000, 2000, 0, HR_NEXT_STOP, HTTPRESP_E_DEADLINE},
      {3000, 60000, 5000, 1000, HR_NEXT_RETRY, 0},
      {3000, 60000, 5000, 2500, HR_NEXT_STOP, HTTPRESP_E_DEADLINE},
  };
  const int64_t now = 1000000;
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    hr_policy p = default_policy();
    p.max_wait_ms = rows[i].max_wait;
    p.deadline_ms = rows[i].deadline;
    hr_decision d;
    hr_decision_init(&d);
    hr_quiet_decide(&p, rows[i].not_before ? now + rows[i].not_before : 0,
                    now, now - rows[i].started_ago, &d);
    cr_expect_eq(d.next, rows[i].expect, "row %zu", i);
    if (rows[i].expect == HR_NEXT_RETRY)
      cr_expect_eq(d.wait_ms, rows[i].not_before, "row %zu", i);
    if (rows[i].expect == HR_NEXT_STOP)
      cr_expect_eq(d.error, rows[i].error, "row %zu", i);
    hr_decision_free(&d);
  }
}

/* The history keeps its first visits inline and spills to the heap: every
 * visit must read back whole either way (URLs without their fragment), and
 * a redirect back to any of them is a loop. */
/* RFC 9110 §15.2: interim responses are absorbed, 103 shown, 101 without
 * an upgrade asked for and a flood fail. */
Test(policy, interim_table) {
  static const struct {
    int status;
    unsigned count;
    hr_interim want;
    int error;
  } rows[] = {
      {100, 1, HR_INTERIM_ABSORB, 0},
      {102, 1, HR_INTERIM_ABSORB, 0},
      {103, 1, HR_INTERIM_HINTS, 0},
      {103, 7, HR_INTERIM_HINTS, 0},
      {104, 1, HR_INTERIM_ABSORB, 0}, /* unknown 1xx: absorbed too */
      {199, 1, HR_INTERIM_ABSORB, 0},
      {101, 1, HR_INTERIM_STOP, HTTPRESP_E_UNEXPECTED_UPGRADE},
      {100, HR_MAX_INTERIM, HR_INTERIM_ABSORB, 0},
      {100, HR_MAX_INTERIM + 1, HR_INTERIM_STOP, HTTPRESP_E_TOO_MANY_INTERIM},
      {103, HR_MAX_INTERIM + 1, HR_INTERIM_STOP, HTTPRESP_E_TOO_MANY_INTERIM},
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    int error = 0;
    const char *msg = NULL;
    hr_interim got =
        hr_interim_decide(rows[i].status, rows[i].count, &error, &msg);
    cr_expect_eq(got, rows[i].want, "row %zu", i);
    if (rows[i].want == HR_INTERIM_STOP) {
      cr_expect_eq(error, rows[i].error, "row %zu", i);
      cr_expect(msg && *msg, "row %zu", i);
    }
  }
}

Test(history, inline_and_spilled_visits_read_back) {
  hr_history h;
  hr_history_init(&h);
  char url[400];
  for (int i = 0; i < 40; i++) {
    int pad = (i * 37) % 300; /* some fit the inline text, some do not */
    snprintf(url, sizeof(url), "http://h/%d/%.*s#frag%d", i, pad,
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
             i);
    cr_assert_eq(hr_history_visit(&h, i % 2 ? "POST" : "GET", url), 0);
  }
  cr_assert_eq(h.n, 40u);
  for (int i = 0; i < 40; i++) {
    int pad = (i * 37) % 300;
    char want[400];
    snprintf(want, sizeof(want), "http://h/%d/", i);
    size_t wl = strlen(want);
    cr_expect_str_eq(h.v[i].method, i % 2 ? "POST" : "GET", "visit %d", i);
    cr_expect_eq(strlen(h.v[i].url), wl + (size_t)pad, "visit %d", i);
    cr_expect_eq(strncmp(h.v[i].url, want, wl), 0, "visit %d", i);
    cr_expect_null(strchr(h.v[i].url, '#'), "visit %d", i);
  }
  hr_history_free(&h);
  cr_expect_eq(h.n, 0u);
}

Test(history, redirect_back_to_an_early_visit_is_a_loop) {
  fixture f;
  fx_init(&f, "GET", "http://a.example/start");
  char url[64];
  for (int i = 0; i < 10; i++) {
    snprintf(url, sizeof(url), "http://a.example/hop%d", i);
    cr_assert_eq(hr_history_visit(&f.hist, "GET", url), 0);
  }
  f.in.status = 302;
  add(&f.resp, "Location", "/start#again");
  cr_assert_eq(hr_policy_decide(&f.in, &f.d), 0);
  cr_expect_eq(f.d.next, HR_NEXT_STOP);
  cr_expect_eq(f.d.error, HTTPRESP_E_REDIRECT_LOOP);
  fx_free(&f);
}

/* What a failure inside libcurl is reported as: a reply libcurl refused
 * is the server's fault and gets the library's code for it. */
Test(policy, curl_failure_table) {
  static const struct {
    CURLcode cc;
    int sent, status_seen, headers_done;
    const char *curl_msg;
    int code;
    const char *msg_has;
  } rows[] = {
      {CURLE_WEIRD_SERVER_REPLY, 1, 1, 0, "Nul byte in header",
       HTTPRESP_E_BAD_RESPONSE, "malformed response: Nul byte in header"},
      {CURLE_WEIRD_SERVER_REPLY, 1, 1, 0, "", HTTPRESP_E_BAD_RESPONSE,
       "malformed response: "},
      {CURLE_UNSUPPORTED_PROTOCOL, 1, 0, 0,
       "Received HTTP/0.9 when not allowed", HTTPRESP_E_BAD_RESPONSE,
       "HTTP/0.9"},
      /* nothing was sent: a scheme libcurl lacks, no reply */
      {CURLE_UNSUPPORTED_PROTOCOL, 0, 0, 0, "Protocol \"x\" not supported",
       HTTPRESP_E_CURL, "Protocol \"x\" not supported"},
      {CURLE_OUT_OF_MEMORY, 1, 1, 0, "", HTTPRESP_E_HEADERS_TOO_LARGE,
       "header line"},
      {CURLE_OUT_OF_MEMORY, 1, 0, 0, "", HTTPRESP_E_HEADERS_TOO_LARGE,
       "header line"},
      /* before sending or in the body: a real shortage */
      {CURLE_OUT_OF_MEMORY, 0, 0, 0, "", HTTPRESP_E_CURL, "Out of memory"},
      {CURLE_OUT_OF_MEMORY, 1, 1, 1, "", HTTPRESP_E_CURL, "Out of memory"},
      {CURLE_COULDNT_CONNECT, 0, 0, 0, "Failed to connect", HTTPRESP_E_CURL,
       "Failed to connect"},
      {CURLE_PARTIAL_FILE, 1, 1, 1, "", HTTPRESP_E_CURL,
       "Transferred a partial file"},
      {CURLE_GOT_NOTHING, 1, 0, 0, "Empty reply from server", HTTPRESP_E_CURL,
       "Empty reply from server"},
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    char msg[300];
    int code = hr_policy_curl_failure(rows[i].cc, rows[i].sent,
                                      rows[i].status_seen, rows[i].headers_done,
                                      rows[i].curl_msg, msg, sizeof(msg));
    cr_expect_eq(code, rows[i].code, "row %zu: %s", i, httpresp_errname(code));
    cr_expect(strstr(msg, rows[i].msg_has) != NULL, "row %zu: \"%s\"", i, msg);
  }
}

/* RFC 9110 §10.2.3: the origin's quiet time is remembered for at most the
 * client's cap, whatever the server asked; the delay is exposed whole. */
Test(policy, remembered_quiet_is_capped) {
  static const struct {
    const char *retry_after;
    int64_t cap;
    int64_t quiet; /* relative to now, 0: none */
    int64_t exposed;
  } rows[] = {
      {"5", 3600000, 5000, 5000},
      {"3600", 3600000, 3600000, 3600000},
      {"3601", 3600000, 3600000, 3601000},
      {"1000000000000000000", 3600000, 3600000, HR_DELAY_MAX_MS},
      {"1000000000000000000", 30000, 30000, HR_DELAY_MAX_MS},
      {"120", 0, 0, 120000},
      {NULL, 3600000, 0, -1},
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    fixture f;
    fx_init(&f, "GET", "http://a.test/");
    f.policy.max_quiet_ms = rows[i].cap;
    if (rows[i].retry_after)
      add(&f.resp, "Retry-After", rows[i].retry_after);
    decide(&f, 503, NULL);
    cr_expect_eq(f.d.quiet_until_ms,
                 rows[i].quiet ? f.in.now_ms + rows[i].quiet : 0, "row %zu", i);
    cr_expect_eq(f.d.retry_after_ms, rows[i].exposed, "row %zu", i);
    fx_free(&f);
  }
}

/* RFC 3986 §6.2.2-6.2.3: one resource written two ways is one visit. */
Test(history, loops_compare_normalised_urls) {
  static const struct {
    const char *visited;
    const char *location;
    int loop;
  } rows[] = {
      {"HTTP://A.test:80/a", "http://a.test/a", 1},
      {"http://a.test/a", "HTTP://A.TEST:80/a", 1},
      {"http://a.test/%7euser", "http://a.test/~user", 1},
      {"http://a.test/x/../a", "/a", 1},
      {"http://a.test", "http://a.test/", 1},
      {"https://a.test:443/s", "https://a.test/s", 1},
      {"http://a.test/a%2fb", "http://a.test/a%2Fb", 1},
      {"http://a.test/A", "http://a.test/a", 0},
      {"http://a.test:8080/a", "http://a.test/a", 0},
      {"http://a.test/a%2Fb", "http://a.test/a/b", 0},
      {"https://a.test/a", "http://a.test/a", 0},
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    fixture f;
    fx_init(&f, "GET", "http://a.test/start");
    cr_assert_eq(hr_history_visit(&f.hist, "GET", rows[i].visited), 0);
    decide(&f, 302, rows[i].location);
    if (rows[i].loop)
      cr_expect_eq(f.d.error, HTTPRESP_E_REDIRECT_LOOP, "row %zu: %s", i,
                   f.d.msg);
    else
      cr_expect_eq(f.d.next, HR_NEXT_FOLLOW, "row %zu: %s", i, f.d.msg);
    fx_free(&f);
  }
}

/* RFC 9110 §4.2.4 and Fetch: server-chosen userinfo never becomes
 * credentials; to another origin the redirect stops. */
Test(policy, userinfo_in_location) {
  static const struct {
    const char *from, *location;
    int stop;
    const char *next_url;
  } rows[] = {
      {"http://a.test/", "http://user:pw@b.test/x", 1, NULL},
      {"http://a.test/", "//user:pw@b.test/x", 1, NULL},
      {"http://a.test/", "https://u@a.test/x", 1, NULL},
      {"http://a.test/", "http://u:p@a.test/x", 0, "http://a.test/x"},
      {"http://a.test/", "http://u:p@a.test:80/x", 0, "http://a.test:80/x"},
      /* the caller's own userinfo travels with a relative Location */
      {"http://me:pw@a.test/", "/x", 0, "http://me:pw@a.test/x"},
      {"http://me:pw@a.test/", "http://b.test/x", 0, "http://b.test/x"},
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    fixture f;
    fx_init(&f, "GET", rows[i].from);
    decide(&f, 302, rows[i].location);
    if (rows[i].stop) {
      cr_expect_eq(f.d.next, HR_NEXT_STOP, "row %zu", i);
      cr_expect_eq(f.d.error, HTTPRESP_E_BAD_LOCATION, "row %zu", i);
      cr_expect(strstr(f.d.msg, "userinfo") != NULL, "row %zu: %s", i, f.d.msg);
      cr_expect_null(strstr(f.d.msg, "pw"), "row %zu: no credential echoed", i);
    } else {
      cr_assert_eq(f.d.next, HR_NEXT_FOLLOW, "row %zu: %s", i, f.d.msg);
      cr_expect_str_eq(f.d.next_req->url, rows[i].next_url, "row %zu", i);
    }
    fx_free(&f);
  }
}

/* ---- per-request policy -------------------------------------------------- */

Test(policy, effective_settings_table) {
  static const struct {
    int64_t deadline, wait;
    long redirects, retries;
    int64_t want_deadline, want_wait;
    unsigned want_redirects, want_retries;
  } cases[] = {
      /* -1 everywhere: the client's (deadline 0, wait 60000, 20, 3) */
      {-1, -1, -1, -1, 0, 60000, 20, 3},
      {5000, -1, -1, -1, 5000, 60000, 20, 3},
      {-1, 0, -1, -1, 0, 0, 20, 3},
      {-1, -1, 0, -1, 0, 60000, 0, 3},
      {-1, -1, -1, 0, 0, 60000, 20, 0},
      {0, 10, 7, 9, 0, 10, 7, 9},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    hr_policy client = default_policy();
    httpresp_request *q;
    cr_assert_eq(httpresp_request_new(&q, "GET", "http://h/"), 0);
    cr_assert_eq(httpresp_request_set_deadline_ms(q, cases[i].deadline), 0);
    cr_assert_eq(httpresp_request_set_max_wait_ms(q, cases[i].wait), 0);
    cr_assert_eq(httpresp_request_set_max_redirects(q, cases[i].redirects), 0);
    cr_assert_eq(httpresp_request_set_max_retries(q, cases[i].retries), 0);
    hr_policy eff;
    hr_policy_effective(&client, q, &eff);
    cr_expect_eq(eff.deadline_ms, cases[i].want_deadline, "case %zu", i);
    cr_expect_eq(eff.max_wait_ms, cases[i].want_wait, "case %zu", i);
    cr_expect_eq(eff.max_redirects, cases[i].want_redirects, "case %zu", i);
    cr_expect_eq(eff.max_retries, cases[i].want_retries, "case %zu", i);
    cr_expect_str_eq(eff.schemes, client.schemes, "case %zu", i);
    /* A copy for a redirect runs under the same settings. */
    httpresp_request *copy;
    cr_assert_eq(hr_request_copy(&copy, q), 0);
    hr_policy eff2;
    hr_policy_effective(&client, copy, &eff2);
    cr_expect_eq(eff2.max_redirects, eff.max_redirects, "case %zu", i);
    cr_expect_eq(eff2.max_retries, eff.max_retries, "case %zu", i);
    cr_expect_eq(eff2.deadline_ms, eff.deadline_ms, "case %zu", i);
    cr_expect_eq(eff2.max_wait_ms, eff.max_wait_ms, "case %zu", i);
    httpresp_request_free(copy);
    httpresp_request_free(q);
  }
}

Test(policy, effective_limits_reach_the_rules) {
  /* The request's retry count is the one the retry rules read. */
  fixture f;
  fx_init(&f, "GET", "http://h/");
  cr_assert_eq(httpresp_request_set_max_retries(f.orig, 0), 0);
  hr_policy eff;
  hr_policy_effective(&f.policy, f.orig, &eff);
  f.in.policy = &eff;
  f.in.status = 503;
  add(&f.resp, "Retry-After", "1");
  cr_assert_eq(hr_policy_decide(&f.in, &f.d), 0);
  cr_expect_eq(f.d.next, HR_NEXT_DELIVER);
  cr_expect_eq(f.d.retry_stop, HTTPRESP_RETRY_EXHAUSTED);
  fx_free(&f);
}

Test(policy, cache_mode_plan_table) {
  static const struct {
    httpresp_cache_mode mode;
    int have_cache, applies;
    hr_cache_plan want;
  } cases[] = {
      {HTTPRESP_CACHE_MODE_DEFAULT, 1, 1, HR_CACHE_PLAN_CONSULT},
      {HTTPRESP_CACHE_MODE_DEFAULT, 1, 0, HR_CACHE_PLAN_OFF},
      {HTTPRESP_CACHE_MODE_DEFAULT, 0, 0, HR_CACHE_PLAN_OFF},
      {HTTPRESP_CACHE_MODE_NO_STORE, 1, 1, HR_CACHE_PLAN_OFF},
      {HTTPRESP_CACHE_MODE_RELOAD, 1, 1, HR_CACHE_PLAN_STORE_ONLY},
      {HTTPRESP_CACHE_MODE_RELOAD, 1, 0, HR_CACHE_PLAN_OFF},
      {HTTPRESP_CACHE_MODE_NO_CACHE, 1, 1, HR_CACHE_PLAN_CONSULT},
      {HTTPRESP_CACHE_MODE_FORCE_CACHE, 1, 1, HR_CACHE_PLAN_CONSULT},
      {HTTPRESP_CACHE_MODE_FORCE_CACHE, 0, 0, HR_CACHE_PLAN_OFF},
      {HTTPRESP_CACHE_MODE_ONLY_IF_CACHED, 1, 1, HR_CACHE_PLAN_CONSULT},
      {HTTPRESP_CACHE_MODE_ONLY_IF_CACHED, 1, 0, HR_CACHE_PLAN_FAIL},
      {HTTPRESP_CACHE_MODE_ONLY_IF_CACHED, 0, 0, HR_CACHE_PLAN_FAIL},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    cr_expect_eq(hr_cache_mode_plan(cases[i].mode, cases[i].have_cache,
                                    cases[i].applies),
                 cases[i].want, "case %zu", i);
}

Test(policy, cache_mode_fields_table) {
  static const struct {
    httpresp_cache_mode mode;
    const char *given; /* a field the request has, "Name: value", or NULL */
    const char *want_cc, *want_pragma;
  } cases[] = {
      {HTTPRESP_CACHE_MODE_DEFAULT, NULL, NULL, NULL},
      {HTTPRESP_CACHE_MODE_FORCE_CACHE, NULL, NULL, NULL},
      {HTTPRESP_CACHE_MODE_ONLY_IF_CACHED, NULL, NULL, NULL},
      {HTTPRESP_CACHE_MODE_NO_CACHE, NULL, "max-age=0", NULL},
      {HTTPRESP_CACHE_MODE_NO_CACHE, "Cache-Control: max-stale", NULL, NULL},
      {HTTPRESP_CACHE_MODE_NO_STORE, NULL, "no-cache", "no-cache"},
      {HTTPRESP_CACHE_MODE_RELOAD, NULL, "no-cache", "no-cache"},
      {HTTPRESP_CACHE_MODE_RELOAD, "Pragma: x", "no-cache", NULL},
      {HTTPRESP_CACHE_MODE_NO_STORE, "cache-control: max-age=1", NULL,
       "no-cache"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    hr_headers req, out;
    hr_headers_init(&req);
    hr_headers_init(&out);
    if (cases[i].given)
      cr_assert_eq(hr_headers_add_line(&req, cases[i].given,
                                       strlen(cases[i].given)),
                   0);
    cr_assert_eq(hr_cache_mode_fields(cases[i].mode, &req, &out), 0);
    const char *cc = hr_headers_get(&out, "Cache-Control");
    const char *pragma = hr_headers_get(&out, "Pragma");
    if (cases[i].want_cc)
      cr_expect_str_eq(cc ? cc : "(none)", cases[i].want_cc, "case %zu", i);
    else
      cr_expect_null(cc, "case %zu", i);
    if (cases[i].want_pragma)
      cr_expect_str_eq(pragma ? pragma : "(none)", cases[i].want_pragma,
                       "case %zu", i);
    else
      cr_expect_null(pragma, "case %zu", i);
    hr_headers_free(&req);
    hr_headers_free(&out);
  }
}

Test(policy, wait_granted_table) {
  static const struct {
    int64_t planned, asked, want;
  } cases[] = {
      {1000, 1000, 1000}, {1000, 10, 10},  {1000, 0, 0},
      {1000, 5000, 1000}, {1000, INT64_MAX, 1000},
      {1000, -1, -1},     {1000, INT64_MIN, -1},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    cr_expect_eq(hr_policy_wait_granted(cases[i].planned, cases[i].asked),
                 cases[i].want, "case %zu", i);
}

Test(policy, quiet_key_table) {
  static const struct {
    int scope;
    const char *url, *want; /* want NULL: no key */
    int rc;
  } cases[] = {
      {HTTPRESP_QUIET_ORIGIN, "http://H:80/a?b#c", "http://h:80", 0},
      {HTTPRESP_QUIET_ORIGIN, "https://h/x", "https://h:443", 0},
      {HTTPRESP_QUIET_URL, "HTTP://H:80/./a?b#c", "url http://h/a?b", 0},
      {HTTPRESP_QUIET_URL, "http://h", "url http://h/", 0},
      {HTTPRESP_QUIET_OFF, "http://h/a", NULL, 0},
      {HTTPRESP_QUIET_ORIGIN, "no-origin", NULL, HTTPRESP_E_BAD_URL},
      {HTTPRESP_QUIET_URL, "no-origin", NULL, HTTPRESP_E_BAD_URL},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *key = (char *)"unset";
    cr_expect_eq(hr_quiet_key(cases[i].scope, cases[i].url, &key),
                 cases[i].rc, "case %zu", i);
    if (cases[i].want)
      cr_expect_str_eq(key ? key : "(null)", cases[i].want, "case %zu", i);
    else
      cr_expect_null(key, "case %zu", i);
    free(key);
  }
}

Test(policy, quiet_scope_off_remembers_no_quiet) {
  fixture f;
  fx_init(&f, "GET", "http://h/");
  f.in.status = 429;
  add(&f.resp, "Retry-After", "5");
  cr_assert_eq(hr_policy_decide(&f.in, &f.d), 0);
  cr_expect_eq(f.d.quiet_until_ms, f.in.now_ms + 5000);
  hr_decision_free(&f.d);
  hr_decision_init(&f.d);
  f.policy.quiet_scope = HTTPRESP_QUIET_OFF;
  cr_assert_eq(hr_policy_decide(&f.in, &f.d), 0);
  cr_expect_eq(f.d.quiet_until_ms, 0);
  cr_expect_eq(f.d.next, HR_NEXT_RETRY, "the request itself still waits");
  fx_free(&f);
}

/* ---- decision messages ---------------------------------------------------
 * Built only for a STOP (the other decisions carry none); on each STOP
 * path, the text the caller reads through httpresp_response_errmsg. */

static void expect_stop(const fixture *f, int code, const char *msg) {
  cr_expect_eq(f->d.next, HR_NEXT_STOP);
  cr_expect_eq(f->d.error, code, "%s", httpresp_errname(f->d.error));
  cr_expect_str_eq(f->d.msg, msg);
}

/* The redirect rules' STOPs: a 302 from `url` to `location`. */
typedef struct stop_row {
  const char *url;
  const char *location; /* NULL: an unreadable one (location_malformed) */
  int refuse_downgrade;
  unsigned limit_reached; /* a redirect limit of this many, all followed */
  int code;
  const char *msg;
} stop_row;

static const stop_row stop_table[] = {
    {"http://a.test/", NULL, 0, 0, HTTPRESP_E_BAD_LOCATION,
     "the Location field contains control characters"},
    {"http://a.test/", "http://[::1", 0, 0, HTTPRESP_E_BAD_LOCATION,
     "Location \"http://[::1\" is not a valid URI reference"},
    {"http://a.test/", "ftp://a.test/f", 0, 0, HTTPRESP_E_SCHEME_NOT_ALLOWED,
     "redirect to \"ftp://a.test/f\": scheme not allowed"},
    {"https://a.test/", "http://a.test/plain", 1, 0,
     HTTPRESP_E_DOWNGRADE_REFUSED,
     "redirect from https to \"http://a.test/plain\" refused"},
    {"http://a.test/", "http://user:pw@b.test/x", 0, 0,
     HTTPRESP_E_BAD_LOCATION,
     "redirect refused: the Location carries credentials (userinfo) and "
     "leads to another origin"},
    {"http://a.test/", "/next", 0, 2, HTTPRESP_E_TOO_MANY_REDIRECTS,
     "redirect limit of 2 reached"},
    {"http://a.test/start", "/start", 0, 0, HTTPRESP_E_REDIRECT_LOOP,
     "redirect loop: \"http://a.test/start\" was already requested in this "
     "chain"},
};

Test(messages, redirect_stop_table) {
  for (size_t i = 0; i < HR_ARRAY_LEN(stop_table); i++) {
    const stop_row *r = &stop_table[i];
    fixture f;
    fx_init(&f, "GET", r->url);
    f.in.location_malformed = r->location == NULL;
    f.policy.refuse_downgrade = r->refuse_downgrade;
    if (r->limit_reached) {
      f.policy.max_redirects = r->limit_reached;
      f.hist.redirects = r->limit_reached;
    }
    decide(&f, 302, r->location);
    cr_expect_eq(f.d.next, HR_NEXT_STOP, "row %zu", i);
    cr_expect_eq(f.d.error, r->code, "row %zu: %s", i,
                 httpresp_errname(f.d.error));
    cr_expect_str_eq(f.d.msg, r->msg, "row %zu", i);
    fx_free(&f);
  }
}

Test(messages, conflicting_locations) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/");
  add(&f.resp, "Location", "/one");
  decide(&f, 302, "/two");
  expect_stop(&f, HTTPRESP_E_BAD_LOCATION,
              "redirect refused: several different Location fields");
  fx_free(&f);
}

Test(messages, location_over_the_url_limit) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/");
  size_t len = HR_URL_MAX + 1;
  char *loc = malloc(len + 1);
  cr_assert_not_null(loc);
  loc[0] = '/';
  memset(loc + 1, 'a', len - 1);
  loc[len] = '\0';
  decide(&f, 302, loc);
  char want[128];
  snprintf(want, sizeof(want),
           "Location of %zu bytes is over the URL limit of %zu bytes", len,
           (size_t)HR_URL_MAX);
  expect_stop(&f, HTTPRESP_E_BAD_LOCATION, want);
  free(loc);
  fx_free(&f);
}

/* A URL in a message is cut at 120 bytes. */
Test(messages, long_url_is_cut) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/");
  char loc[200];
  snprintf(loc, sizeof(loc), "ftp://a.test/");
  memset(loc + 13, 'x', 150);
  loc[163] = '\0';
  decide(&f, 302, loc);
  char want[200];
  snprintf(want, sizeof(want), "redirect to \"%.120s\": scheme not allowed",
           loc);
  expect_stop(&f, HTTPRESP_E_SCHEME_NOT_ALLOWED, want);
  cr_expect_eq(strlen(f.d.msg),
               strlen("redirect to \"\": scheme not allowed") + 120);
  fx_free(&f);
}

Test(messages, streamed_body_not_rewindable) {
  fixture f;
  fx_init(&f, "POST", "http://a.test/up");
  cr_assert_eq(httpresp_request_set_body_stream(f.cur, no_read, NULL, 5, NULL),
               0);
  decide(&f, 307, "/again");
  expect_stop(&f, HTTPRESP_E_BODY_NOT_REWINDABLE,
              "redirect to \"http://a.test/again\" needs the streamed body "
              "again and no rewind callback was given");
  fx_free(&f);
}

/* The origin-quiet STOPs: quiet for 5 s more. */
Test(messages, origin_quiet_table) {
  static const struct {
    int64_t max_wait_ms, deadline_ms;
    int code;
    const char *msg;
  } rows[] = {
      {1000, 0, HTTPRESP_E_ORIGIN_BACKOFF,
       "the origin asked for quiet for 5000 ms more, above the maximum wait "
       "of 1000 ms"},
      {60000, 2000, HTTPRESP_E_DEADLINE,
       "the origin's quiet time ends after the deadline"},
  };
  for (size_t i = 0; i < HR_ARRAY_LEN(rows); i++) {
    fixture f;
    fx_init(&f, "GET", "http://a.test/");
    f.policy.max_wait_ms = rows[i].max_wait_ms;
    f.policy.deadline_ms = rows[i].deadline_ms;
    hr_quiet_decide(&f.policy, f.in.now_ms + 5000, f.in.now_ms, f.in.start_ms,
                    &f.d);
    expect_stop(&f, rows[i].code, rows[i].msg);
    fx_free(&f);
  }
}

/* A decision that is not a STOP builds no message: a followed redirect, a
 * repeat after 429, a delivered answer. */
Test(messages, none_unless_stop) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/");
  decide(&f, 302, "/b");
  cr_expect_eq(f.d.next, HR_NEXT_FOLLOW);
  cr_expect_str_eq(f.d.msg, "");
  cr_expect_null(f.d.msg_own);
  hr_headers_clear(&f.resp);
  add(&f.resp, "Retry-After", "1");
  decide(&f, 429, NULL);
  cr_expect_eq(f.d.next, HR_NEXT_RETRY);
  cr_expect_str_eq(f.d.msg, "");
  cr_expect_null(f.d.msg_own);
  hr_headers_clear(&f.resp);
  decide(&f, 200, NULL);
  cr_expect_eq(f.d.next, HR_NEXT_DELIVER);
  cr_expect_str_eq(f.d.msg, "");
  fx_free(&f);
}

/* A decision taken again after a STOP starts without its message. */
Test(messages, freed_with_the_decision) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/");
  decide(&f, 302, "ftp://a.test/f");
  cr_expect_not_null(f.d.msg_own);
  hr_headers_clear(&f.resp);
  decide(&f, 302, "/b");
  cr_expect_eq(f.d.next, HR_NEXT_FOLLOW);
  cr_expect_str_eq(f.d.msg, "");
  fx_free(&f);
}
