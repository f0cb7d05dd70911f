/* SPDX-License-Identifier: MIT */
/* Requests made, edited, copied and derived: the method and URL live in the
 * request's own allocation until a setter replaces them, and every copy is
 * deep.  The sanitizer build checks that each string is freed once. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "objects.h"
#include "policy.h"

static httpresp_request *make(const char *method, const char *url) {
  httpresp_request *r = NULL;
  cr_assert_eq(httpresp_request_new(&r, method, url), 0, "%s %s", method, url);
  cr_assert_not_null(r);
  return r;
}

static void expect_same(const httpresp_request *a, const httpresp_request *b) {
  cr_expect_str_eq(a->method, b->method);
  cr_expect_str_eq(a->url, b->url);
  cr_expect_neq(a->method, b->method, "method shared");
  cr_expect_neq(a->url, b->url, "URL shared");
  cr_expect_eq(a->headers.n, b->headers.n);
  for (size_t i = 0; i < a->headers.n && i < b->headers.n; i++) {
    cr_expect_str_eq(a->headers.v[i].name, b->headers.v[i].name);
    cr_expect_str_eq(a->headers.v[i].value, b->headers.v[i].value);
  }
  cr_expect_eq(a->body_kind, b->body_kind);
  cr_expect_eq(a->body_len, b->body_len);
  if (a->body_kind == HR_BODY_MEMORY)
    cr_expect_eq(memcmp(a->body, b->body, a->body_len), 0);
  cr_expect_eq(a->sink, b->sink);
  cr_expect_eq(a->sink_ud, b->sink_ud);
  if (a->user) {
    cr_expect_str_eq(a->user, b->user);
    cr_expect_str_eq(a->password, b->password);
    cr_expect_eq(a->auth, b->auth);
  } else {
    cr_expect_null(b->user);
  }
}

Test(request_copy, new_keeps_method_and_url) {
  httpresp_request *r = make("GET", "http://example.com/a?b#c");
  cr_expect_str_eq(httpresp_request_method(r), "GET");
  cr_expect_str_eq(httpresp_request_url(r), "http://example.com/a?b#c");
  cr_expect_eq(r->stream_len, -1);
  cr_expect_eq(r->body_kind, HR_BODY_NONE);
  cr_expect_eq(r->headers.n, 0u);
  cr_expect_null(r->user);
  httpresp_request_free(r);
  httpresp_request_free(NULL);
}

Test(request_copy, refused_arguments_leave_no_request) {
  httpresp_request *r = (httpresp_request *)&r;
  cr_expect_eq(httpresp_request_new(&r, "G ET", "http://x/"),
               HTTPRESP_E_INVALID_ARG);
  cr_expect_null(r);
  cr_expect_eq(httpresp_request_new(&r, "", "http://x/"),
               HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(httpresp_request_new(&r, NULL, "http://x/"),
               HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(httpresp_request_new(&r, "GET", NULL), HTTPRESP_E_INVALID_ARG);
  cr_expect_neq(httpresp_request_new(&r, "GET", "not a url"), 0);
  cr_expect_null(r);
}

/* Each setter replaces the inline string or an earlier replacement; the
 * inline text is never freed on its own, a replacement always is. */
Test(request_copy, setters_replace_inline_and_own_strings) {
  httpresp_request *r = make("GET", "http://example.com/");
  cr_assert_eq(httpresp_request_set_method(r, "POST"), 0);
  cr_expect_str_eq(httpresp_request_method(r), "POST");
  cr_expect_str_eq(httpresp_request_url(r), "http://example.com/");
  cr_assert_eq(httpresp_request_set_url(r, "https://other.example/x"), 0);
  cr_expect_str_eq(httpresp_request_url(r), "https://other.example/x");
  cr_assert_eq(httpresp_request_set_method(r, "PUT"), 0);
  cr_assert_eq(httpresp_request_set_url(r, "http://example.com/third"), 0);
  /* Setting a string to itself reads it before the old one goes. */
  cr_assert_eq(httpresp_request_set_url(r, httpresp_request_url(r)), 0);
  cr_assert_eq(httpresp_request_set_method(r, httpresp_request_method(r)), 0);
  cr_expect_str_eq(httpresp_request_method(r), "PUT");
  cr_expect_str_eq(httpresp_request_url(r), "http://example.com/third");
  /* Refused values change nothing. */
  cr_expect_eq(httpresp_request_set_method(r, "BAD METHOD"),
               HTTPRESP_E_INVALID_ARG);
  cr_expect_neq(httpresp_request_set_url(r, "::"), 0);
  cr_expect_str_eq(httpresp_request_method(r), "PUT");
  cr_expect_str_eq(httpresp_request_url(r), "http://example.com/third");
  httpresp_request_free(r);

  /* Only the URL replaced, and only the method. */
  r = make("GET", "http://example.com/");
  cr_assert_eq(httpresp_request_set_url(r, "http://example.com/2"), 0);
  httpresp_request_free(r);
  r = make("DELETE", "http://example.com/");
  cr_assert_eq(httpresp_request_set_method(r, "GET"), 0);
  cr_expect_str_eq(httpresp_request_url(r), "http://example.com/");
  httpresp_request_free(r);
}

Test(request_copy, long_method_and_url) {
  size_t ulen = 20000;
  char *url = malloc(ulen + 1);
  cr_assert_not_null(url);
  memcpy(url, "http://example.com/", 19);
  memset(url + 19, 'a', ulen - 19);
  url[ulen] = '\0';
  char method[300];
  memset(method, 'M', sizeof(method) - 1);
  method[sizeof(method) - 1] = '\0';
  httpresp_request *r = make(method, url);
  cr_expect_str_eq(httpresp_request_method(r), method);
  cr_expect_str_eq(httpresp_request_url(r), url);
  httpresp_request *c = NULL;
  cr_assert_eq(hr_request_copy(&c, r), 0);
  expect_same(r, c);
  httpresp_request_free(r);
  httpresp_request_free(c);
  free(url);
}

static size_t sink(void *ud, const char *data, size_t len) {
  (void)data;
  (void)ud;
  return len;
}

static httpresp_request *full_request(void) {
  httpresp_request *r = make("POST", "http://example.com/form");
  cr_assert_eq(httpresp_request_add_header(r, "Content-Type", "text/plain"), 0);
  cr_assert_eq(httpresp_request_add_header(r, "Authorization", "Bearer t"), 0);
  cr_assert_eq(httpresp_request_add_header(r, "X-Trace", "  7 "), 0);
  cr_assert_eq(httpresp_request_set_body(r, "a=1&b=2", 7), 0);
  cr_assert_eq(httpresp_request_set_credentials(r, "user", "secret", 0), 0);
  cr_assert_eq(httpresp_request_set_sink(r, sink, r), 0);
  return r;
}

Test(request_copy, copy_is_deep) {
  httpresp_request *r = full_request();
  httpresp_request *c = NULL;
  cr_assert_eq(hr_request_copy(&c, r), 0);
  expect_same(r, c);
  cr_expect_neq(r->body, c->body);
  cr_expect_neq(r->password, c->password);
  cr_expect_eq(c->auth, CURLAUTH_BASIC);
  /* The copy is edited and freed alone; the original stays as it was. */
  cr_assert_eq(httpresp_request_set_url(c, "http://example.com/other"), 0);
  cr_assert_eq(httpresp_request_set_method(c, "PATCH"), 0);
  hr_request_drop_body(c);
  cr_expect_null(httpresp_request_header(c, "Content-Type"));
  httpresp_request_free(c);
  cr_expect_str_eq(httpresp_request_url(r), "http://example.com/form");
  cr_expect_str_eq(httpresp_request_method(r), "POST");
  cr_expect_str_eq(httpresp_request_header(r, "Content-Type"), "text/plain");
  cr_expect_str_eq(httpresp_request_header(r, "X-Trace"), "7");
  httpresp_request_free(r);
}

/* A request whose strings were replaced copies into a fresh block. */
Test(request_copy, copy_of_replaced_strings) {
  httpresp_request *r = make("GET", "http://example.com/");
  cr_assert_eq(httpresp_request_set_method(r, "OPTIONS"), 0);
  cr_assert_eq(httpresp_request_set_url(r, "http://example.com/replaced"), 0);
  httpresp_request *c = NULL;
  cr_assert_eq(hr_request_copy(&c, r), 0);
  httpresp_request_free(r); /* the copy must not depend on r */
  cr_expect_str_eq(httpresp_request_method(c), "OPTIONS");
  cr_expect_str_eq(httpresp_request_url(c), "http://example.com/replaced");
  httpresp_request *cc = NULL;
  cr_assert_eq(hr_request_copy(&cc, c), 0);
  expect_same(c, cc);
  httpresp_request_free(c);
  httpresp_request_free(cc);
}

static size_t read_none(void *ud, char *buf, size_t len) {
  (void)buf;
  (void)len;
  (void)ud;
  return 0;
}

static int rewind_ok(void *ud) {
  (void)ud;
  return 0;
}

Test(request_copy, copy_shares_stream_callbacks) {
  httpresp_request *r = make("PUT", "http://example.com/up");
  int ud;
  cr_assert_eq(
      httpresp_request_set_body_stream(r, read_none, rewind_ok, 42, &ud), 0);
  httpresp_request *c = NULL;
  cr_assert_eq(hr_request_copy(&c, r), 0);
  cr_expect_eq(c->body_kind, HR_BODY_STREAM);
  cr_expect_eq(c->read, read_none);
  cr_expect_eq(c->rewind, rewind_ok);
  cr_expect_eq(c->stream_len, 42);
  cr_expect_eq(c->stream_ud, &ud);
  cr_expect(hr_request_body_replayable(c));
  httpresp_request_free(c);
  httpresp_request_free(r);
}

/* derive takes the URL (a malloc'd resolved target) as it is. */
Test(request_copy, derive_takes_the_url) {
  httpresp_request *r = full_request();
  char *target = strdup("http://example.com/next");
  cr_assert_not_null(target);
  httpresp_request *d = NULL;
  cr_assert_eq(hr_request_derive(&d, r, "GET", target), 0);
  cr_expect_eq(d->url, target, "the target is taken, not copied");
  cr_expect_str_eq(httpresp_request_method(d), "GET");
  cr_expect_eq(d->headers.n, r->headers.n);
  cr_expect_str_eq(httpresp_request_header(d, "Authorization"), "Bearer t");
  cr_expect_eq(d->body_len, 7u);
  cr_expect_str_eq(d->user, "user");
  cr_expect_eq(d->sink, sink);
  /* A derived request is a request like any other: edited, copied, freed
   * (its taken URL freed once). */
  httpresp_request *c = NULL;
  cr_assert_eq(hr_request_copy(&c, d), 0);
  expect_same(d, c);
  cr_assert_eq(httpresp_request_set_url(d, "http://example.com/edited"), 0);
  cr_assert_eq(httpresp_request_set_method(d, "HEAD"), 0);
  httpresp_request *dd = NULL;
  char *t2 = strdup("http://example.com/after");
  cr_assert_not_null(t2);
  cr_assert_eq(hr_request_derive(&dd, d, httpresp_request_method(d), t2), 0);
  cr_expect_str_eq(httpresp_request_method(dd), "HEAD");
  cr_expect_str_eq(httpresp_request_url(dd), "http://example.com/after");
  httpresp_request_free(d);
  httpresp_request_free(dd);
  httpresp_request_free(c);
  cr_expect_str_eq(httpresp_request_url(r), "http://example.com/form");
  httpresp_request_free(r);
}

/* ---- which request fields a redirect treats as credentials ---- */

static int ref_sensitive(const hr_policy *p, const char *name) {
  static const char *const names[] = {"authorization", "proxy-authorization",
                                      "cookie"};
  int hit = 0;
  for (size_t i = 0; i < 3; i++)
    hit |= strcasecmp(name, names[i]) == 0;
  if (!hit)
    return 0;
  for (size_t i = 0; i < p->nkeep; i++)
    if (strcasecmp(p->keep_headers[i], name) == 0)
      return 0;
  return 1;
}

Test(request_copy, sensitive_headers_table) {
  static const char *const names[] = {"Authorization",
                                      "authorization",
                                      "AUTHORIZATION",
                                      "AuThOrIzAtIoN",
                                      "Authorizatio",
                                      "Authorization2",
                                      "Authorization ",
                                      "A",
                                      "",
                                      "Proxy-Authorization",
                                      "proxy-authorization",
                                      "Proxy-Authorisation",
                                      "Proxy",
                                      "P",
                                      "Cookie",
                                      "cookie",
                                      "COOKIE",
                                      "Cookie2",
                                      "Cookies",
                                      "Cooki",
                                      "C",
                                      "Set-Cookie",
                                      "X-Cookie",
                                      "Accept",
                                      "Content-Type",
                                      "Pragma",
                                      "@uthorization",
                                      "`uthorization",
                                      "\xc1uthorization",
                                      "Bookie"};
  char *keep_cookie[] = {"COOKIE"};
  hr_policy none, keep;
  memset(&none, 0, sizeof(none));
  memset(&keep, 0, sizeof(keep));
  keep.keep_headers = keep_cookie;
  keep.nkeep = 1;
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    cr_expect_eq(hr_policy_header_is_sensitive(&none, names[i]),
                 ref_sensitive(&none, names[i]), "%s", names[i]);
    cr_expect_eq(hr_policy_header_is_sensitive(&keep, names[i]),
                 ref_sensitive(&keep, names[i]), "%s (Cookie kept)", names[i]);
  }
  cr_expect(hr_policy_header_is_sensitive(&none, "cOOKIE"));
  cr_expect(!hr_policy_header_is_sensitive(&keep, "cOOKIE"));
  cr_expect(hr_policy_header_is_sensitive(&keep, "Authorization"));
}

/* A value handed out by httpresp_request_header stays valid while other
 * headers of the request are added and removed, any number of times. */
Test(request_copy, header_values_survive_other_edits) {
  httpresp_request *r = NULL;
  cr_assert_eq(httpresp_request_new(&r, "GET", "http://example.com/"), 0);
  cr_assert_eq(httpresp_request_add_header(r, "User-Agent", "held/1"), 0);
  const char *ua = httpresp_request_header(r, "User-Agent");
  for (int i = 0; i < 500; i++) {
    cr_assert_eq(httpresp_request_add_header(
                     r, "X-Id", "a value long enough to add up quickly"),
                 0);
    cr_assert_eq(httpresp_request_remove_header(r, "X-Id"), 0);
  }
  cr_expect_str_eq(ua, "held/1");
  cr_expect_eq(httpresp_request_header(r, "User-Agent"), ua);
  httpresp_request_free(r);
}
