/* SPDX-License-Identifier: MIT */
/* The policy core's decision messages: built only for a STOP (the other
 * decisions carry none), and on each STOP path the text the caller reads
 * through httpresp_response_errmsg. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objects.h"
#include "policy.h"
#include "url.h"

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
  f->policy.follow = 1;
  f->policy.max_redirects = 20;
  f->policy.max_retries = 3;
  f->policy.max_wait_ms = 60000;
  f->policy.max_quiet_ms = 3600000;
  f->policy.schemes = "http,https";
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

static void decide(fixture *f, int status, const char *location) {
  f->in.status = status;
  if (location)
    add(&f->resp, "Location", location);
  hr_decision_free(&f->d);
  hr_decision_init(&f->d);
  cr_assert_eq(hr_policy_decide(&f->in, &f->d), 0);
}

static void expect_stop(const fixture *f, int code, const char *msg) {
  cr_expect_eq(f->d.next, HR_NEXT_STOP);
  cr_expect_eq(f->d.error, code, "%s", httpresp_errname(f->d.error));
  cr_expect_str_eq(f->d.msg, msg);
}

static size_t no_read(void *ud, char *buf, size_t len) {
  (void)ud;
  (void)buf;
  (void)len;
  return 0;
}

Test(messages, unreadable_location) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/");
  f.in.location_malformed = 1;
  decide(&f, 302, NULL);
  expect_stop(&f, HTTPRESP_E_BAD_LOCATION,
              "the Location field contains control characters");
  fx_free(&f);
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
  memcpy(loc, "/", 1);
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

Test(messages, invalid_location) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/");
  decide(&f, 302, "http://[::1");
  expect_stop(&f, HTTPRESP_E_BAD_LOCATION,
              "Location \"http://[::1\" is not a valid URI reference");
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
  cr_expect_eq(strlen(f.d.msg), strlen("redirect to \"\": scheme not allowed") +
                                    120);
  fx_free(&f);
}

Test(messages, scheme_not_allowed) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/");
  decide(&f, 302, "ftp://a.test/f");
  expect_stop(&f, HTTPRESP_E_SCHEME_NOT_ALLOWED,
              "redirect to \"ftp://a.test/f\": scheme not allowed");
  fx_free(&f);
}

Test(messages, downgrade_refused) {
  fixture f;
  fx_init(&f, "GET", "https://a.test/");
  f.policy.refuse_downgrade = 1;
  decide(&f, 302, "http://a.test/plain");
  expect_stop(&f, HTTPRESP_E_DOWNGRADE_REFUSED,
              "redirect from https to \"http://a.test/plain\" refused");
  fx_free(&f);
}

Test(messages, credentials_to_another_origin) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/");
  decide(&f, 302, "http://user:pw@b.test/x");
  expect_stop(&f, HTTPRESP_E_BAD_LOCATION,
              "redirect refused: the Location carries credentials (userinfo) "
              "and leads to another origin");
  fx_free(&f);
}

Test(messages, redirect_limit) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/");
  f.policy.max_redirects = 2;
  f.hist.redirects = 2;
  decide(&f, 302, "/next");
  expect_stop(&f, HTTPRESP_E_TOO_MANY_REDIRECTS, "redirect limit of 2 reached");
  fx_free(&f);
}

Test(messages, redirect_loop) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/start");
  decide(&f, 302, "/start");
  expect_stop(&f, HTTPRESP_E_REDIRECT_LOOP,
              "redirect loop: \"http://a.test/start\" was already requested "
              "in this chain");
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

Test(messages, origin_quiet_above_the_maximum_wait) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/");
  f.policy.max_wait_ms = 1000;
  hr_quiet_decide(&f.policy, f.in.now_ms + 5000, f.in.now_ms, f.in.start_ms,
                  &f.d);
  expect_stop(&f, HTTPRESP_E_ORIGIN_BACKOFF,
              "the origin asked for quiet for 5000 ms more, above the maximum "
              "wait of 1000 ms");
  fx_free(&f);
}

Test(messages, origin_quiet_past_the_deadline) {
  fixture f;
  fx_init(&f, "GET", "http://a.test/");
  f.policy.deadline_ms = 2000;
  hr_quiet_decide(&f.policy, f.in.now_ms + 5000, f.in.now_ms, f.in.start_ms,
                  &f.d);
  expect_stop(&f, HTTPRESP_E_DEADLINE,
              "the origin's quiet time ends after the deadline");
  fx_free(&f);
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
