/* SPDX-License-Identifier: MIT */
/* RFC 9111 rules of the private cache: storable, freshness, age, selection,
 * conditionals, 304 selection and update, stored fields, invalidation. */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/rules.h"
#include "httpdate.h"
#include "objects.h"
#include "sha256.h"

/* Every table's response arrives at T0; header specs may name dates
 * relative to it: "{+60}" is T0 + 60 s as an IMF-fixdate, "{-10}" 10 s
 * before. */
#define T0S INT64_C(1700000000)
#define T0 (T0S * 1000)
#define URL "http://a.example/p"

/* Expands "{±N}" placeholders. */
static void expand(const char *in, char *out, size_t cap) {
  size_t o = 0;
  while (*in && o + 1 < cap) {
    if (*in == '{') {
      char *end;
      long long off = strtoll(in + 1, &end, 10);
      cr_assert(*end == '}', "bad placeholder in %s", in);
      char date[40];
      cr_assert(hr_httpdate_format(T0S + off, date, sizeof(date)) == 0);
      size_t n = strlen(date);
      cr_assert(o + n < cap);
      memcpy(out + o, date, n);
      o += n;
      in = end + 1;
    } else {
      out[o++] = *in++;
    }
  }
  out[o] = '\0';
}

/* "Name: value\nName: value" (after expansion) into `h`. */
static void fill(hr_headers *h, const char *spec) {
  char buf[4096];
  hr_headers_init(h);
  if (!spec)
    return;
  expand(spec, buf, sizeof(buf));
  char *p = buf;
  while (*p) {
    char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    if (n)
      cr_assert(hr_headers_add_line(h, p, n) == 0, "bad line in %s", spec);
    p += n + (nl ? 1 : 0);
  }
}

static httpresp_request *mkreq(const char *method, const char *url,
                               const char *spec) {
  httpresp_request *r;
  cr_assert(httpresp_request_new(&r, method, url) == 0);
  hr_headers h;
  fill(&h, spec);
  cr_assert(hr_headers_copy(&r->headers, &h) == 0);
  hr_headers_free(&h);
  return r;
}

/* An entry built from a response, under the key of a GET of its URL. */
static int entry_from(hr_cache_entry *e, const httpresp_request *r, int status,
                      const hr_headers *h, const char *body, size_t len,
                      int64_t request_ms, int64_t response_ms) {
  hr_key k;
  cr_assert_eq(hr_key_init(&k, "GET", r->url, strcspn(r->url, "#"), NULL), 0);
  int rc = hr_cache_entry_from_response(e, &k, r, status, h, body, len,
                                        request_ms, response_ms);
  hr_key_free(&k);
  return rc;
}

/* A stored GET response received at T0 (sent at T0 + req_off_ms). */
static void mkentry(hr_cache_entry *e, int status, const char *resp,
                    const char *stored_req, int64_t req_off_ms) {
  httpresp_request *r = mkreq("GET", URL, stored_req);
  hr_headers h;
  fill(&h, resp);
  cr_assert(entry_from(e, r, status, &h, "body", 4,
                                         T0 + req_off_ms, T0) == 0);
  hr_headers_free(&h);
  httpresp_request_free(r);
}

/* A frozen copy of `e` (hr_stored_unref it). */
static hr_stored *freeze(const hr_cache_entry *e) {
  hr_stored *v;
  cr_assert_eq(hr_stored_freeze(e, &v), 0);
  cr_assert_not_null(v->e.facts);
  return v;
}

/* Fields as "Name: value\n..." for whole-list comparisons. */
static void dump(const hr_headers *h, char *out, size_t cap) {
  size_t o = 0;
  out[0] = '\0';
  for (size_t i = 0; i < h->n; i++)
    o += (size_t)snprintf(out + o, cap - o, "%s: %s\n", h->v[i].name,
                          h->v[i].value);
}

static void expect_fields(const hr_headers *h, const char *spec) {
  char want[4096], got[4096];
  expand(spec, want, sizeof(want));
  dump(h, got, sizeof(got));
  cr_expect_str_eq(got, want);
}

/* ---- request_applies -------------------------------------------------- */

typedef struct applies_row {
  const char *method;
  const char *req;
  int want;
  const char *why;
} applies_row;

static const applies_row applies_rows[] = {
    {"GET", NULL, 1, ""},
    {"HEAD", NULL, 1, ""},
    {"POST", NULL, 0, "method"},
    {"get", NULL, 0, "method"}, /* methods are case-sensitive */
    {"OPTIONS", NULL, 0, "method"},
    {"GET", "If-None-Match: \"x\"", 0, "conditional"},
    {"GET", "If-Modified-Since: {0}", 0, "conditional"},
    {"GET", "If-Match: *", 0, "conditional"},
    {"GET", "If-Unmodified-Since: {0}", 0, "conditional"},
    {"GET", "If-Range: \"x\"", 0, "conditional"},
    {"GET", "Range: bytes=0-10", 0, "range"},
    {"GET", "Accept: */*", 1, ""},
    /* One pass: names fold case, other "If-" names are not conditional,
     * and a conditional field is the reason even after a Range. */
    {"GET", "if-none-match: \"x\"", 0, "conditional"},
    {"GET", "IF-RANGE: \"x\"", 0, "conditional"},
    {"GET", "range: bytes=0-1", 0, "range"},
    {"GET", "If-Nothing: 1\nIf: 2\nIf-Match-Not: 3\nRanges: 4", 1, ""},
    {"GET", "Range: bytes=0-1\nAccept: */*\nIf-Match: *", 0, "conditional"},
};

Test(cache_rules, request_applies_table) {
  for (size_t i = 0; i < sizeof(applies_rows) / sizeof(applies_rows[0]); i++) {
    const applies_row *r = &applies_rows[i];
    httpresp_request *q = mkreq(r->method, URL, r->req);
    const char *why = NULL;
    cr_expect_eq(hr_cache_request_applies(q, &why), r->want, "row %zu", i);
    cr_expect_str_eq(why, r->why, "row %zu", i);
    httpresp_request_free(q);
  }
}

/* ---- storable --------------------------------------------------------- */

typedef struct storable_row {
  const char *method;
  int status;
  const char *req;
  const char *resp;
  int creds; /* credentials given to libcurl */
  int want;
  const char *why;
} storable_row;

static const storable_row storable_rows[] = {
    /* Heuristically cacheable statuses need nothing. */
    {"GET", 200, NULL, NULL, 0, 1, ""},
    {"GET", 203, NULL, NULL, 0, 1, ""},
    {"GET", 204, NULL, NULL, 0, 1, ""},
    {"GET", 300, NULL, NULL, 0, 1, ""},
    {"GET", 301, NULL, NULL, 0, 1, ""},
    {"GET", 308, NULL, NULL, 0, 1, ""},
    {"GET", 404, NULL, NULL, 0, 1, ""},
    {"GET", 405, NULL, NULL, 0, 1, ""},
    {"GET", 410, NULL, NULL, 0, 1, ""},
    {"GET", 414, NULL, NULL, 0, 1, ""},
    {"GET", 501, NULL, NULL, 0, 1, ""},
    /* 206 never: ranges are not combined. */
    {"GET", 206, NULL, "Cache-Control: max-age=60", 0, 0, "partial"},
    /* Others only with explicit freshness or public/private. */
    {"GET", 201, NULL, NULL, 0, 0, "status"},
    {"GET", 302, NULL, NULL, 0, 0, "status"},
    {"GET", 307, NULL, NULL, 0, 0, "status"},
    {"GET", 500, NULL, NULL, 0, 0, "status"},
    {"GET", 302, NULL, "Cache-Control: max-age=60", 0, 1, ""},
    {"GET", 302, NULL, "Expires: {+60}", 0, 1, ""},
    {"GET", 302, NULL, "Expires: 0", 0, 1, ""},
    {"GET", 500, NULL, "Cache-Control: public", 0, 1, ""},
    {"GET", 500, NULL, "Cache-Control: private", 0, 1, ""},
    {"GET", 302, NULL, "Cache-Control: s-maxage=60", 0, 0, "status"},
    /* Not final, or a 304. */
    {"GET", 100, NULL, "Cache-Control: max-age=60", 0, 0, "status"},
    {"GET", 304, NULL, "Cache-Control: max-age=60", 0, 0, "status"},
    /* Methods: GET only. */
    {"HEAD", 200, NULL, "Cache-Control: max-age=60", 0, 0, "method"},
    {"POST", 200, NULL, "Cache-Control: max-age=60", 0, 0, "method"},
    /* no-store either way. */
    {"GET", 200, NULL, "Cache-Control: no-store", 0, 0, "no-store"},
    {"GET", 200, NULL, "Cache-Control: max-age=60, no-store", 0, 0, "no-store"},
    {"GET", 200, NULL, "Cache-Control: max-age=60\nCache-Control: no-store", 0,
     0, "no-store"},
    {"GET", 200, "Cache-Control: no-store", NULL, 0, 0, "request-no-store"},
    /* private, no-cache: a private cache stores them. */
    {"GET", 200, NULL, "Cache-Control: private", 0, 1, ""},
    {"GET", 200, NULL, "Cache-Control: no-cache", 0, 1, ""},
    /* must-understand overrides no-store for an understood status. */
    {"GET", 200, NULL, "Cache-Control: must-understand, no-store", 0, 1, ""},
    {"GET", 299, NULL, "Cache-Control: must-understand, no-store, max-age=9", 0,
     0, "must-understand"},
    /* Vary: * */
    {"GET", 200, NULL, "Vary: *", 0, 0, "vary-star"},
    {"GET", 200, NULL, "Vary: Accept, *", 0, 0, "vary-star"},
    {"GET", 200, NULL, "Vary: Accept\nVary: *", 0, 0, "vary-star"},
    {"GET", 200, NULL, "Vary: Accept", 0, 1, ""},
    /* Authorization (§3.5). */
    {"GET", 200, "Authorization: Basic eDp5", NULL, 0, 0, "authorization"},
    {"GET", 200, "Authorization: Basic eDp5", "Cache-Control: max-age=60", 0, 0,
     "authorization"},
    {"GET", 200, "Authorization: Basic eDp5", "Cache-Control: private", 0, 0,
     "authorization"},
    {"GET", 200, "Authorization: Basic eDp5", "Cache-Control: public", 0, 1,
     ""},
    {"GET", 200, "Authorization: Basic eDp5", "Cache-Control: must-revalidate",
     0, 1, ""},
    {"GET", 200, "Authorization: Basic eDp5", "Cache-Control: s-maxage=60", 0,
     1, ""},
    {"GET", 200, NULL, NULL, 1, 0, "authorization"},
    {"GET", 200, NULL, "Cache-Control: public", 1, 1, ""},
};

Test(cache_rules, storable_table) {
  for (size_t i = 0; i < sizeof(storable_rows) / sizeof(storable_rows[0]);
       i++) {
    const storable_row *r = &storable_rows[i];
    httpresp_request *q = mkreq(r->method, URL, r->req);
    if (r->creds)
      cr_assert(httpresp_request_set_credentials(q, "u", "p", 0) == 0);
    hr_headers h;
    fill(&h, r->resp);
    const char *why = NULL;
    cr_expect_eq(hr_cache_storable(q, r->status, &h, 10, &why), r->want,
                 "row %zu (%d %s)", i, r->status, r->resp ? r->resp : "");
    cr_expect_str_eq(why, r->why, "row %zu", i);
    hr_headers_free(&h);
    httpresp_request_free(q);
  }
}

Test(cache_rules, storable_size_bound) {
  httpresp_request *q = mkreq("GET", URL, NULL);
  hr_headers h;
  fill(&h, "Cache-Control: max-age=60\nX-Pad: 0123456789");
  const char *why = NULL;
  cr_expect(hr_cache_storable(q, 200, &h, HR_CACHE_MAX_ENTRY - 100, &why));
  cr_expect_not(hr_cache_storable(q, 200, &h, HR_CACHE_MAX_ENTRY, &why));
  cr_expect_str_eq(why, "too-large");
  cr_expect_not(hr_cache_storable(q, 200, &h, SIZE_MAX, &why));
  hr_headers_free(&h);
  httpresp_request_free(q);
}

/* ---- freshness lifetime ------------------------------------------------ */

typedef struct life_row {
  int status;
  const char *resp;
  int64_t want;
} life_row;

static const life_row life_rows[] = {
    {200, "Cache-Control: max-age=100", 100},
    {200, "Cache-Control: max-age=0", 0},
    /* max-age wins over Expires. */
    {200, "Cache-Control: max-age=100\nDate: {0}\nExpires: {+1000}", 100},
    {200, "Cache-Control: max-age=100\nExpires: 0", 100},
    /* s-maxage is for shared caches. */
    {200, "Cache-Control: s-maxage=50, max-age=100", 100},
    {200, "Cache-Control: s-maxage=50\nDate: {0}\nLast-Modified: {-3000}", 300},
    {200, "Cache-Control: s-maxage=50", 0},
    /* Conflicting, invalid and saturating max-age. */
    {200, "Cache-Control: max-age=100, max-age=200", 0},
    {200, "Cache-Control: max-age=100\nCache-Control: max-age=200", 0},
    {200, "Cache-Control: max-age=100, max-age=100", 100},
    {200, "Cache-Control: max-age=abc\nExpires: {+600}", 0},
    {200, "Cache-Control: max-age=99999999999999999999", 2147483647},
    /* Expires - Date. */
    {200, "Date: {0}\nExpires: {+600}", 600},
    {200, "Date: {-100}\nExpires: {+600}", 700},
    {200, "Date: {0}\nExpires: {-10}", 0},
    {200, "Date: {0}\nExpires: {0}", 0},
    {200, "Expires: {+600}", 600},                /* no Date: received */
    {200, "Date: garbage\nExpires: {+600}", 600}, /* invalid Date too */
    {200, "Date: {0}\nExpires: 0", 0},            /* invalid: expired */
    {200, "Date: {0}\nExpires: tomorrow", 0},
    {200, "Date: {0}\nExpires: 0\nLast-Modified: {-100000}", 0}, /* no heur. */
    {302, "Date: {0}\nExpires: {+60}", 60},
    {200, "Date: {0}\nExpires: {+600}\nExpires: {+600}", 600},
    {200, "Date: {0}\nExpires: {+600}\nExpires: {+60}", 0},
    /* Heuristic: 10% of Date - Last-Modified, at most a day. */
    {200, "Date: {0}\nLast-Modified: {-1000}", 100},
    {200, "Date: {0}\nLast-Modified: {-1009}", 100},
    {200, "Last-Modified: {-1000}", 100},
    {200, "Date: {0}\nLast-Modified: {-10000000}", 86400},
    {200, "Date: {0}\nLast-Modified: {+100}", 0},
    {200, "Date: {0}\nLast-Modified: junk", 0},
    {200, "Date: {0}", 0},
    {404, "Date: {0}\nLast-Modified: {-1000}", 100},
    {410, "Date: {0}\nLast-Modified: {-1000}", 100},
    {204, "Date: {0}\nLast-Modified: {-1000}", 100},
    /* Not for 301/308 (only explicit freshness), nor for other statuses. */
    {301, "Date: {0}\nLast-Modified: {-1000}", 0},
    {308, "Date: {0}\nLast-Modified: {-1000}", 0},
    {301, "Cache-Control: max-age=10", 10},
    {500, "Date: {0}\nLast-Modified: {-1000}", 0},
    {302, "Date: {0}\nLast-Modified: {-1000}", 0},
    /* public makes a status heuristically cacheable. */
    {500, "Cache-Control: public\nDate: {0}\nLast-Modified: {-1000}", 100},
};

Test(cache_rules, freshness_lifetime_table) {
  for (size_t i = 0; i < sizeof(life_rows) / sizeof(life_rows[0]); i++) {
    hr_cache_entry e;
    mkentry(&e, life_rows[i].status, life_rows[i].resp, NULL, 0);
    cr_expect_eq(hr_cache_freshness_lifetime(&e), life_rows[i].want,
                 "row %zu (%d, %s): got %" PRId64, i, life_rows[i].status,
                 life_rows[i].resp, hr_cache_freshness_lifetime(&e));
    /* A frozen entry answers from its precomputed facts: the same. */
    hr_stored *v = freeze(&e);
    cr_expect_eq(hr_cache_freshness_lifetime(&v->e), life_rows[i].want,
                 "frozen row %zu", i);
    hr_stored_unref(v);
    hr_cache_entry_free(&e);
  }
}

/* ---- current age ------------------------------------------------------- */

typedef struct age_row {
  const char *resp;
  int64_t req_off_ms; /* request sent at T0 + this (<= 0) */
  int64_t now_off_ms;
  int64_t want;
} age_row;

static const age_row age_rows[] = {
    {"Date: {0}", 0, 10000, 10},
    {"Date: {0}", 0, 0, 0},
    {"Date: {0}", 0, 999, 0},
    {"Date: {0}\nAge: 30", 0, 10000, 40},
    /* Date behind our clock: apparent age counts. */
    {"Date: {-100}", 0, 10000, 110},
    {"Date: {-100}\nAge: 10", 0, 10000, 110},
    {"Date: {-100}\nAge: 500", 0, 10000, 510},
    /* Date ahead of our clock: apparent age is 0, not negative. */
    {"Date: {+100}", 0, 10000, 10},
    {"Date: {+100}\nAge: 20", 0, 10000, 30},
    /* Response delay is added to Age (corrected_age_value). */
    {"Date: {0}", -5000, 10000, 15},
    {"Date: {0}\nAge: 10", -5000, 10000, 25},
    {"Date: {-100}\nAge: 10", -5000, 10000, 110},
    /* No Date: the receipt time stands in (and is stored as Date). */
    {NULL, 0, 10000, 10},
    {"Date: garbage", 0, 10000, 10},
    /* Invalid Age counts as absent; huge Age saturates. */
    {"Date: {0}\nAge: abc", 0, 10000, 10},
    {"Date: {0}\nAge: -5", 0, 10000, 10},
    {"Date: {0}\nAge: 1.5", 0, 10000, 10},
    {"Date: {0}\nAge: 99999999999999999999", 0, 10000, INT64_C(2147483658)},
    {"Date: {0}\nAge: 2147483648", 0, 0, INT64_C(2147483648)},
    /* Several values: the first member (RFC 9111 §5.1). */
    {"Date: {0}\nAge: 5, 50", 0, 0, 5},
    {"Date: {0}\nAge: 50\nAge: 5", 0, 0, 50},
    {"Date: {0}\nAge: 5\nAge: 50", 0, 0, 5},
    {"Date: {0}\nAge: abc, 50", 0, 0, 0},
    /* Our clock went back: resident time is never negative. */
    {"Date: {0}\nAge: 7", 0, -60000, 7},
};

/* RFC 9111 §5.1: a list value or several Age lines use the first member;
 * an invalid value is ignored (the field reads as absent). */
Test(cache_rules, age_value_first_member_table) {
  static const struct {
    const char *fields;
    int64_t want;
  } rows[] = {
      {"X: 1", -1},
      {"Age: 0", 0},
      {"Age: 30", 30},
      {"Age:  7 ", 7},
      {"Age: 5, 50", 5},
      {"Age: 50, 5", 50},
      {"Age: 5\nAge: 50", 5},
      {"Age: 50\nAge: 5", 50},
      {"Age: , 9", 9},        /* empty list elements do not count */
      {"Age: abc", -1},
      {"Age: abc, 7", -1},    /* the first member is invalid: no Age */
      {"Age: abc\nAge: 7", -1},
      {"Age: -5", -1},
      {"Age: +5", -1},
      {"Age: 1.5", -1},
      {"Age: 0x10", -1},
      {"Age: 5 6", -1},
      {"Age: 2147483648", INT64_C(2147483648)},
      {"Age: 2147483649", INT64_C(2147483648)},
      {"Age: 99999999999999999999999", INT64_C(2147483648)},
      {"age: 12", 12}, /* field names are case-insensitive */
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    hr_headers h;
    fill(&h, rows[i].fields);
    cr_expect_eq(hr_cache_age_value(&h), rows[i].want, "row %zu (%s)", i,
                 rows[i].fields);
    hr_headers_free(&h);
  }
}

Test(cache_rules, current_age_table) {
  for (size_t i = 0; i < sizeof(age_rows) / sizeof(age_rows[0]); i++) {
    const age_row *r = &age_rows[i];
    hr_cache_entry e;
    mkentry(&e, 200, r->resp, NULL, r->req_off_ms);
    int64_t got = hr_cache_current_age(&e, T0 + r->now_off_ms);
    cr_expect_eq(got, r->want, "row %zu (%s): got %" PRId64, i,
                 r->resp ? r->resp : "", got);
    hr_stored *v = freeze(&e);
    cr_expect_eq(hr_cache_current_age(&v->e, T0 + r->now_off_ms), r->want,
                 "frozen row %zu", i);
    hr_stored_unref(v);
    hr_cache_entry_free(&e);
  }
}

Test(cache_rules, age_saturates_with_extreme_times) {
  hr_cache_entry e;
  mkentry(&e, 200, "Date: {0}\nAge: 99999999999", NULL, 0);
  e.request_ms = INT64_MIN;
  cr_expect_eq(hr_cache_current_age(&e, INT64_MAX), INT64_MAX / 1000);
  e.response_ms = INT64_MIN;
  cr_expect_geq(hr_cache_current_age(&e, INT64_MAX), 0);
  hr_cache_entry_free(&e);
}

/* ---- select ------------------------------------------------------------ */

#define FRESH HR_CACHE_USE_FRESH
#define REVAL HR_CACHE_USE_REVALIDATE
#define NONE HR_CACHE_USE_NONE
#define NOTC HR_CACHE_USE_NOT_CACHED

typedef struct select_row {
  const char *resp;       /* stored response (received T0) */
  const char *stored_req; /* the request that got it */
  const char *method;
  const char *req; /* the new request */
  int64_t now_s;   /* seconds after T0 */
  hr_cache_use want;
  const char *why;
} select_row;

#define MA100 "Date: {0}\nCache-Control: max-age=100"
#define MA100_ETAG MA100 "\nETag: \"v1\""

static const select_row select_rows[] = {
    /* Freshness. */
    {MA100, NULL, "GET", NULL, 10, FRESH, "fresh"},
    {MA100, NULL, "GET", NULL, 99, FRESH, "fresh"},
    {MA100_ETAG, NULL, "GET", NULL, 100, REVAL, "stale"},
    {MA100_ETAG, NULL, "GET", NULL, 200, REVAL, "stale"},
    {MA100 "\nLast-Modified: {-1000}", NULL, "GET", NULL, 200, REVAL, "stale"},
    {MA100, NULL, "GET", NULL, 200, NONE, "stale"},
    {MA100 "\nLast-Modified: junk", NULL, "GET", NULL, 200, NONE, "stale"},
    {"Date: {0}\nExpires: 0\nETag: \"a\"", NULL, "GET", NULL, 0, REVAL,
     "stale"},
    {"Date: {0}\nLast-Modified: {-1000}", NULL, "GET", NULL, 50, FRESH,
     "fresh"},
    {"Date: {0}\nLast-Modified: {-1000}", NULL, "GET", NULL, 150, REVAL,
     "stale"},
    /* HEAD is served from the stored GET. */
    {MA100, NULL, "HEAD", NULL, 10, FRESH, "fresh"},
    /* Request no-cache and Pragma. */
    {MA100_ETAG, NULL, "GET", "Cache-Control: no-cache", 10, REVAL,
     "request-no-cache"},
    {MA100, NULL, "GET", "Cache-Control: no-cache", 10, NONE,
     "request-no-cache"},
    {MA100_ETAG, NULL, "GET", "Pragma: no-cache", 10, REVAL,
     "request-no-cache"},
    {MA100_ETAG, NULL, "GET", "Pragma: no-cache\nCache-Control: max-age=50", 10,
     FRESH, "fresh"},
    {MA100, NULL, "GET", "Cache-Control: no-store", 10, NONE,
     "request-no-store"},
    /* Request max-age. */
    {MA100_ETAG, NULL, "GET", "Cache-Control: max-age=0", 10, REVAL,
     "request-max-age"},
    {MA100_ETAG, NULL, "GET", "Cache-Control: max-age=5", 10, REVAL,
     "request-max-age"},
    {MA100_ETAG, NULL, "GET", "Cache-Control: max-age=10", 10, FRESH, "fresh"},
    {MA100_ETAG, NULL, "GET", "Cache-Control: max-age=20", 10, FRESH, "fresh"},
    {MA100, NULL, "GET", "Cache-Control: max-age=0", 10, NONE,
     "request-max-age"},
    /* min-fresh: at least that much freshness left. */
    {MA100_ETAG, NULL, "GET", "Cache-Control: min-fresh=50", 10, FRESH,
     "fresh"},
    {MA100_ETAG, NULL, "GET", "Cache-Control: min-fresh=90", 10, FRESH,
     "fresh"},
    {MA100_ETAG, NULL, "GET", "Cache-Control: min-fresh=91", 10, REVAL,
     "min-fresh"},
    /* max-stale. */
    {MA100_ETAG, NULL, "GET", "Cache-Control: max-stale", 5000, FRESH,
     "max-stale"},
    {MA100, NULL, "GET", "Cache-Control: max-stale", 5000, FRESH, "max-stale"},
    {MA100_ETAG, NULL, "GET", "Cache-Control: max-stale=50", 200, REVAL,
     "stale"},
    {MA100_ETAG, NULL, "GET", "Cache-Control: max-stale=100", 200, FRESH,
     "max-stale"},
    {MA100_ETAG, NULL, "GET", "Cache-Control: max-stale=150", 200, FRESH,
     "max-stale"},
    {MA100_ETAG "\nCache-Control: must-revalidate", NULL, "GET",
     "Cache-Control: max-stale", 200, REVAL, "stale"},
    {MA100_ETAG "\nCache-Control: no-cache", NULL, "GET",
     "Cache-Control: max-stale", 200, REVAL, "no-cache"},
    {MA100_ETAG, NULL, "GET", "Cache-Control: max-stale, max-age=10", 200,
     REVAL, "request-max-age"},
    /* only-if-cached. */
    {MA100_ETAG, NULL, "GET", "Cache-Control: only-if-cached", 10, FRESH,
     "fresh"},
    {MA100_ETAG, NULL, "GET", "Cache-Control: only-if-cached", 200, NOTC,
     "stale"},
    {MA100, NULL, "GET", "Cache-Control: only-if-cached", 200, NOTC, "stale"},
    {MA100_ETAG, NULL, "GET", "Cache-Control: only-if-cached, max-stale", 200,
     FRESH, "max-stale"},
    {MA100_ETAG, NULL, "GET", "Cache-Control: only-if-cached, no-cache", 10,
     NOTC, "request-no-cache"},
    /* Response no-cache and must-revalidate. */
    {MA100_ETAG "\nCache-Control: no-cache", NULL, "GET", NULL, 10, REVAL,
     "no-cache"},
    {MA100 "\nCache-Control: no-cache", NULL, "GET", NULL, 10, NONE,
     "no-cache"},
    {"Date: {0}\nPragma: no-cache\nETag: \"x\"", NULL, "GET", NULL, 0, REVAL,
     "no-cache"},
    {MA100_ETAG "\nCache-Control: must-revalidate", NULL, "GET", NULL, 10,
     FRESH, "fresh"},
    {MA100_ETAG "\nCache-Control: must-revalidate", NULL, "GET", NULL, 200,
     REVAL, "stale"},
    /* Vary. */
    {MA100 "\nVary: Accept-Language", "Accept-Language: en", "GET",
     "Accept-Language: en", 10, FRESH, "fresh"},
    {MA100 "\nVary: Accept-Language", "Accept-Language: en", "GET",
     "accept-language: en", 10, FRESH, "fresh"},
    {MA100 "\nVary: accept-language", "Accept-Language: en", "GET",
     "ACCEPT-LANGUAGE: en", 10, FRESH, "fresh"},
    {MA100 "\nVary: Accept-Language", "Accept-Language: en", "GET",
     "Accept-Language: fr", 10, NONE, "vary"},
    /* Vary: * never matches (RFC 9111 §4.1), whatever the request. */
    {MA100 "\nVary: *", NULL, "GET", NULL, 10, NONE, "vary"},
    {MA100 "\nVary: Accept, *", "Accept: a", "GET", "Accept: a", 10, NONE,
     "vary"},
    /* Accept-Language is case-insensitive: normalised (RFC 9111 §4.1). */
    {MA100 "\nVary: Accept-Language", "Accept-Language: en", "GET",
     "Accept-Language: EN", 10, FRESH, "fresh"},
    /* A field not known to be case-insensitive keeps its case. */
    {MA100 "\nVary: X-Lang", "X-Lang: en", "GET", "X-Lang: EN", 10, NONE,
     "vary"},
    {MA100 "\nVary: X-Lang", "X-Lang: en, fr", "GET", "X-Lang: fr, en", 10,
     NONE, "vary"},
    /* Whitespace within members and their order do not count... */
    {MA100 "\nVary: Accept-Language", "Accept-Language: en;q=0.5, fr", "GET",
     "Accept-Language: FR,en ; q=0.5", 10, FRESH, "fresh"},
    {MA100 "\nVary: Accept-Encoding", "Accept-Encoding: gzip, br", "GET",
     "Accept-Encoding: BR\nAccept-Encoding: gzip", 10, FRESH, "fresh"},
    {MA100 "\nVary: Accept", "Accept: text/csv, application/json", "GET",
     "Accept: application/json,text/csv", 10, FRESH, "fresh"},
    /* ...but values do, and Accept keeps its case (parameter values). */
    {MA100 "\nVary: Accept-Encoding", "Accept-Encoding: gzip", "GET",
     "Accept-Encoding: gzip, br", 10, NONE, "vary"},
    {MA100 "\nVary: Accept", "Accept: text/csv;x=A", "GET",
     "Accept: text/csv;x=a", 10, NONE, "vary"},
    {MA100 "\nVary: Accept", "Accept: text/csv", "GET",
     "Accept: application/json", 10, NONE, "vary"},
    {MA100 "\nVary: Accept-Language", "Accept-Language: en", "GET", NULL, 10,
     NONE, "vary"},
    {MA100 "\nVary: Accept-Language", NULL, "GET", NULL, 10, FRESH, "fresh"},
    {MA100 "\nVary: Accept-Language", NULL, "GET", "Accept-Language: en", 10,
     NONE, "vary"},
    {MA100 "\nVary: Accept-Language", "Accept-Language: en, fr", "GET",
     "Accept-Language: en,fr", 10, FRESH, "fresh"},
    {MA100 "\nVary: Accept-Language", "Accept-Language: en, fr", "GET",
     "Accept-Language: en\nAccept-Language: fr", 10, FRESH, "fresh"},
    {MA100 "\nVary: Accept-Language", "Accept-Language: en, fr", "GET",
     "Accept-Language: fr, en", 10, FRESH, "fresh"},
    {MA100 "\nVary: Accept, Accept-Encoding",
     "Accept: text/html\nAccept-Encoding: gzip", "GET",
     "Accept-Encoding: gzip\nAccept: text/html", 10, FRESH, "fresh"},
    {MA100 "\nVary: Accept\nVary: Accept-Encoding",
     "Accept: text/html\nAccept-Encoding: gzip", "GET",
     "Accept: text/html\nAccept-Encoding: br", 10, NONE, "vary"},
    {MA100 "\nVary: Accept-Language", "Accept-Language: en", "GET",
     "Accept-Language: fr\nCache-Control: only-if-cached", 10, NOTC, "vary"},
    {MA100 "\nVary: X-Unrelated", "Accept: a", "GET", "Accept: b", 10, FRESH,
     "fresh"},
};

Test(cache_rules, select_table) {
  for (size_t i = 0; i < sizeof(select_rows) / sizeof(select_rows[0]); i++) {
    const select_row *r = &select_rows[i];
    hr_cache_entry e;
    mkentry(&e, 200, r->resp, r->stored_req, 0);
    httpresp_request *q = mkreq(r->method, URL, r->req);
    const char *why = NULL;
    hr_cache_use got = hr_cache_select(&e, q, T0 + r->now_s * 1000, &why);
    cr_expect_eq(got, r->want, "row %zu (%s | %s): got %d (%s)", i, r->resp,
                 r->req ? r->req : "", (int)got, why);
    cr_expect_str_eq(why, r->why, "row %zu", i);
    hr_stored *v = freeze(&e);
    got = hr_cache_select(&v->e, q, T0 + r->now_s * 1000, &why);
    cr_expect_eq(got, r->want, "frozen row %zu: got %d (%s)", i, (int)got, why);
    cr_expect_str_eq(why, r->why, "frozen row %zu", i);
    cr_expect_eq(hr_cache_has_validator(&v->e), hr_cache_has_validator(&e),
                 "frozen row %zu: validator", i);
    hr_stored_unref(v);
    httpresp_request_free(q);
    hr_cache_entry_free(&e);
  }
}

/* ---- stale on error (RFC 5861 §4, RFC 9111 §4.2.4) --------------------- */

typedef struct sie_row {
  const char *resp; /* stored at T0, request in `req` */
  const char *req;
  int64_t now_s;
  int64_t client_sec;
  int want;
  const char *why;
} sie_row;

/* max-age=10: stale from T0+10 s. */
#define MA10 "Date: {0}\nCache-Control: max-age=10"

static const sie_row sie_rows[] = {
    /* The response's allowance: staleness 50 s within 60, 70 s beyond. */
    {MA10 ", stale-if-error=60", NULL, 60, 0, 1, "stale-if-error"},
    {MA10 ", stale-if-error=60", NULL, 70, 0, 1, "stale-if-error"},
    {MA10 ", stale-if-error=60", NULL, 71, 0, 0, "too-stale"},
    /* The request's, and the client's. */
    {MA10, "Cache-Control: stale-if-error=30", 40, 0, 1, "stale-if-error"},
    {MA10, "Cache-Control: stale-if-error=30", 41, 0, 0, "too-stale"},
    {MA10, NULL, 100, 90, 1, "stale-if-error"},
    {MA10, NULL, 101, 90, 0, "too-stale"},
    /* The largest of the three. */
    {MA10 ", stale-if-error=5", "Cache-Control: stale-if-error=100", 100, 20,
     1, "stale-if-error"},
    /* Nobody allowed it. */
    {MA10, NULL, 11, 0, 0, "no-stale-if-error"},
    {MA10 ", stale-while-revalidate=60", NULL, 11, 0, 0, "no-stale-if-error"},
    /* Never against must-revalidate, proxy-revalidate, no-cache. */
    {MA10 ", must-revalidate, stale-if-error=60", NULL, 20, 60, 0,
     "must-revalidate"},
    {MA10 ", proxy-revalidate, stale-if-error=60", NULL, 20, 60, 0,
     "proxy-revalidate"},
    {MA10 ", no-cache, stale-if-error=60", NULL, 20, 60, 0, "no-cache"},
    {MA10 ", stale-if-error=60", "Cache-Control: no-cache", 20, 60, 0,
     "request-no-cache"},
    {MA10 ", stale-if-error=60", "Pragma: no-cache", 20, 60, 0,
     "request-no-cache"},
    {MA10 ", stale-if-error=60", "Cache-Control: no-store", 20, 60, 0,
     "request-no-cache"},
    /* Still fresh (a revalidation the request forced): within any
     * allowance. */
    {MA10 ", stale-if-error=1", "Cache-Control: max-age=0", 5, 0, 1,
     "stale-if-error"},
    /* The variant must still be the request's. */
    {MA10 ", stale-if-error=60\nVary: Accept", "Accept: b", 20, 0, 0, "vary"},
};

Test(cache_rules, stale_on_error_table) {
  for (size_t i = 0; i < sizeof(sie_rows) / sizeof(sie_rows[0]); i++) {
    const sie_row *r = &sie_rows[i];
    hr_cache_entry e;
    mkentry(&e, 200, r->resp, "Accept: a", 0);
    httpresp_request *q = mkreq("GET", URL, r->req);
    const char *why = NULL;
    int got = hr_cache_stale_on_error(&e, q, T0 + r->now_s * 1000,
                                      r->client_sec, &why);
    cr_expect_eq(got, r->want, "row %zu (%s | %s): got %d (%s)", i, r->resp,
                 r->req ? r->req : "", got, why);
    cr_expect_str_eq(why, r->why, "row %zu", i);
    httpresp_request_free(q);
    hr_cache_entry_free(&e);
  }
  const char *why;
  cr_expect_eq(hr_cache_stale_on_error(NULL, NULL, T0, 60, &why), 0);
  static const int errors[] = {500, 502, 503, 504};
  for (size_t i = 0; i < 4; i++)
    cr_expect(hr_cache_error_status(errors[i]));
  cr_expect(!hr_cache_error_status(501));
  cr_expect(!hr_cache_error_status(404));
  cr_expect(!hr_cache_error_status(429));
}

/* ---- stale-while-revalidate (RFC 5861 §3) ------------------------------ */

static const sie_row swr_rows[] = {
    {MA10 ", stale-while-revalidate=30", NULL, 5, 0, 0, "fresh"},
    {MA10 ", stale-while-revalidate=30", NULL, 11, 0, 1,
     "stale-while-revalidate"},
    {MA10 ", stale-while-revalidate=30", NULL, 40, 0, 1,
     "stale-while-revalidate"},
    {MA10 ", stale-while-revalidate=30", NULL, 41, 0, 0, "too-stale"},
    {MA10, NULL, 11, 0, 0, "no-stale-while-revalidate"},
    {MA10 ", stale-if-error=30", NULL, 11, 0, 0, "no-stale-while-revalidate"},
    {MA10 ", must-revalidate, stale-while-revalidate=30", NULL, 11, 0, 0,
     "must-revalidate"},
    {MA10 ", no-cache, stale-while-revalidate=30", NULL, 11, 0, 0,
     "no-cache"},
    {MA10 ", stale-while-revalidate=30", "Cache-Control: no-cache", 11, 0, 0,
     "request-directive"},
    {MA10 ", stale-while-revalidate=30", "Cache-Control: max-age=100", 11, 0,
     0, "request-directive"},
    {MA10 ", stale-while-revalidate=30", "Cache-Control: min-fresh=1", 11, 0,
     0, "request-directive"},
    {MA10 ", stale-while-revalidate=30\nVary: Accept", "Accept: b", 11, 0, 0,
     "vary"},
};

Test(cache_rules, stale_while_revalidate_table) {
  for (size_t i = 0; i < sizeof(swr_rows) / sizeof(swr_rows[0]); i++) {
    const sie_row *r = &swr_rows[i];
    hr_cache_entry e;
    mkentry(&e, 200, r->resp, "Accept: a", 0);
    httpresp_request *q = mkreq("GET", URL, r->req);
    const char *why = NULL;
    int got = hr_cache_swr_allows(&e, q, T0 + r->now_s * 1000, &why);
    cr_expect_eq(got, r->want, "row %zu (%s | %s): got %d (%s)", i, r->resp,
                 r->req ? r->req : "", got, why);
    cr_expect_str_eq(why, r->why, "row %zu", i);
    httpresp_request_free(q);
    hr_cache_entry_free(&e);
  }
}

Test(cache_rules, select_without_entry) {
  httpresp_request *q = mkreq("GET", URL, NULL);
  const char *why = NULL;
  cr_expect_eq(hr_cache_select(NULL, q, T0, &why), NONE);
  cr_expect_str_eq(why, "miss");
  httpresp_request_free(q);
  q = mkreq("GET", URL, "Cache-Control: only-if-cached");
  cr_expect_eq(hr_cache_select(NULL, q, T0, &why), NOTC);
  cr_expect_str_eq(why, "only-if-cached");
  httpresp_request_free(q);
}

/* ---- conditionals ----------------------------------------------------- */

typedef struct cond_row {
  const char *resp;
  const char *want_inm;
  const char *want_ims;
} cond_row;

static const cond_row cond_rows[] = {
    {"ETag: \"v1\"", "\"v1\"", NULL},
    {"ETag: W/\"v1\"", "W/\"v1\"", NULL},
    {"Date: {0}\nLast-Modified: {-1000}", NULL, "Tue, 14 Nov 2023 21:56:40 GMT"},
    {"Date: {0}\nETag: \"v1\"\nLast-Modified: {-1000}", "\"v1\"",
     "Tue, 14 Nov 2023 21:56:40 GMT"},
    {"Date: {0}", NULL, NULL},           /* never the Date */
    {"Last-Modified: junk", NULL, NULL}, /* not a validator */
};

Test(cache_rules, conditionals_table) {
  for (size_t i = 0; i < sizeof(cond_rows) / sizeof(cond_rows[0]); i++) {
    const cond_row *r = &cond_rows[i];
    hr_cache_entry e;
    mkentry(&e, 200, r->resp, NULL, 0);
    hr_headers q;
    hr_headers_init(&q);
    cr_assert(hr_cache_conditionals(&e, &q) == 0);
    const char *inm = hr_headers_get(&q, "If-None-Match");
    const char *ims = hr_headers_get(&q, "If-Modified-Since");
    if (r->want_inm)
      cr_expect(inm && strcmp(inm, r->want_inm) == 0, "row %zu: %s", i,
                inm ? inm : "(none)");
    else
      cr_expect_null(inm, "row %zu", i);
    if (r->want_ims)
      cr_expect(ims && strcmp(ims, r->want_ims) == 0, "row %zu: %s", i,
                ims ? ims : "(none)");
    else
      cr_expect_null(ims, "row %zu", i);
    cr_expect_eq(hr_headers_count(&q, "If-None-Match"), r->want_inm ? 1u : 0u,
                 "row %zu", i);
    cr_expect_eq(q.n, (r->want_inm ? 1u : 0u) + (r->want_ims ? 1u : 0u),
                 "row %zu: nothing but the stored validators", i);
    cr_expect_eq(hr_cache_has_validator(&e), r->want_inm || r->want_ims,
                 "row %zu", i);
    hr_headers_free(&q);
    hr_cache_entry_free(&e);
  }
}

/* ---- 304 selection ----------------------------------------------------- */

typedef struct sel304_row {
  const char *stored;
  const char *h304;
  int want;
} sel304_row;

static const sel304_row sel304_rows[] = {
    {"ETag: \"a\"", "ETag: \"a\"", 1},
    {"ETag: \"a\"", "ETag: \"b\"", 0},
    {"ETag: \"a\"", "ETag: \"A\"", 0},
    /* A strong validator never selects a weak one for update; the entry
     * our weak If-None-Match matched is still served (nginx with gzip). */
    {"ETag: W/\"a\"", "ETag: \"a\"", 2},
    {"ETag: W/\"a\"", "ETag: \"b\"", 0},
    /* A weak validator selects by weak comparison. */
    {"ETag: \"a\"", "ETag: W/\"a\"", 1},
    {"ETag: W/\"a\"", "ETag: W/\"a\"", 1},
    {"ETag: W/\"a\"", "ETag: W/\"b\"", 0},
    /* An ETag in the 304 needs one in the entry. */
    {"Last-Modified: {-100}", "ETag: \"a\"", 0},
    /* ETag decides before Last-Modified. */
    {"ETag: \"a\"\nLast-Modified: {-100}", "ETag: \"a\"\nLast-Modified: {-5}",
     1},
    /* Last-Modified only. */
    {"Last-Modified: {-100}", "Last-Modified: {-100}", 1},
    {"Last-Modified: {-100}", "Last-Modified: {-99}", 0},
    {"ETag: \"a\"", "Last-Modified: {-100}", 0},
    /* Bare 304: the answer to the conditional sent for this entry. */
    {"ETag: \"a\"", "Date: {0}", 1},
    {NULL, NULL, 1},
    /* Unquoted (invalid) tags match only themselves. */
    {"ETag: abc", "ETag: abc", 1},
    {"ETag: abc", "ETag: \"abc\"", 0},
};

Test(cache_rules, select_304_table) {
  for (size_t i = 0; i < sizeof(sel304_rows) / sizeof(sel304_rows[0]); i++) {
    hr_cache_entry e;
    mkentry(&e, 200, sel304_rows[i].stored, NULL, 0);
    hr_headers h;
    fill(&h, sel304_rows[i].h304);
    cr_expect_eq(hr_cache_304_selects(&e, &h), sel304_rows[i].want, "row %zu",
                 i);
    hr_headers_free(&h);
    hr_cache_entry_free(&e);
  }
}

/* ---- Vary normalisation and variant ids ------------------------------- */

typedef struct vary_value_row {
  const char *fields;
  const char *name;
  const char *want;
} vary_value_row;

static const vary_value_row vary_value_rows[] = {
    {"Accept-Language: fr-CH, fr;q=0.9 ,EN ; q=0.8", "accept-language",
     "en;q=0.8,fr-ch,fr;q=0.9"},
    {"Accept-Encoding: gzip\naccept-encoding: BR", "Accept-Encoding",
     "br,gzip"},
    {"Accept-Charset: UTF-8", "accept-charset", "utf-8"},
    {"Accept: text/html; level=1, Text/CSV", "accept",
     "Text/CSV,text/html;level=1"},
    {"Accept: text/x;p=\"A b\"", "accept", "text/x;p=\"A b\""},
    {"X-Other: b ,  a", "x-other", "b,a"},
    {"X-Other: A", "x-other", "A"},
    {NULL, "accept", ""},
    {"Accept:", "accept", ""},
};

Test(cache_rules, vary_value_table) {
  for (size_t i = 0; i < sizeof(vary_value_rows) / sizeof(*vary_value_rows);
       i++) {
    hr_headers h;
    fill(&h, vary_value_rows[i].fields);
    hr_buf b;
    hr_buf_init(&b);
    cr_expect_eq(hr_cache_vary_value(&h, vary_value_rows[i].name, &b), 0);
    cr_expect_eq(b.len, strlen(vary_value_rows[i].want), "row %zu", i);
    if (b.len == strlen(vary_value_rows[i].want))
      cr_expect(b.len == 0 || memcmp(b.data, vary_value_rows[i].want,
                                     b.len) == 0,
                "row %zu: %.*s", i, (int)b.len, b.data);
    hr_buf_free(&b);
    hr_headers_free(&h);
  }
}

typedef struct vary_names_row {
  const char *resp;
  int rc;
  const char *want; /* NULL: none */
} vary_names_row;

static const vary_names_row vary_names_rows[] = {
    {"Vary: Accept-Language, accept", 0, "accept,accept-language"},
    {"Vary: Accept\nVary: ACCEPT, Accept-Encoding", 0,
     "accept,accept-encoding"},
    {"Content-Type: text/plain", 0, NULL},
    {"Vary: ", 0, NULL},
    {"Vary: *", HTTPRESP_E_INVALID_ARG, NULL},
    {"Vary: Accept, *", HTTPRESP_E_INVALID_ARG, NULL},
    {"Vary: a b", HTTPRESP_E_INVALID_ARG, NULL},
};

Test(cache_rules, vary_names_table) {
  for (size_t i = 0; i < sizeof(vary_names_rows) / sizeof(*vary_names_rows);
       i++) {
    hr_headers h;
    fill(&h, vary_names_rows[i].resp);
    char *names = (char *)"unset";
    cr_expect_eq(hr_cache_vary_names(&h, &names), vary_names_rows[i].rc,
                 "row %zu", i);
    if (vary_names_rows[i].want)
      cr_expect_str_eq(names ? names : "(null)", vary_names_rows[i].want,
                       "row %zu", i);
    else
      cr_expect_null(names, "row %zu", i);
    free(names);
    hr_headers_free(&h);
  }
}

typedef struct variant_id_row {
  const char *names;
  const char *a, *b;
  int same;
} variant_id_row;

static const variant_id_row variant_id_rows[] = {
    {"accept", "Accept: application/json", "Accept: text/csv", 0},
    {"accept", "Accept: application/json", "accept:  application/json", 1},
    {"accept-language", "Accept-Language: en, fr", "Accept-Language: FR,EN",
     1},
    {"accept-language", NULL, "Accept-Language:", 1},
    {"accept-language", NULL, "Accept-Language: en", 0},
    /* Values are not confused across fields by how they join. */
    {"a,b", "A: x,y", "A: x\nB: y", 0},
    {"a,b", "A: x\nB: y", "B: y\nA: x", 1},
    /* The names are part of the id. */
    {"accept", "Accept: x", "Accept: x", 1},
};

Test(cache_rules, variant_id_table) {
  for (size_t i = 0; i < sizeof(variant_id_rows) / sizeof(*variant_id_rows);
       i++) {
    hr_headers a, b;
    fill(&a, variant_id_rows[i].a);
    fill(&b, variant_id_rows[i].b);
    hr_variant_id ia = 0, ib = 0;
    cr_expect_eq(hr_cache_variant_id(variant_id_rows[i].names, &a, &ia), 0);
    cr_expect_eq(hr_cache_variant_id(variant_id_rows[i].names, &b, &ib), 0);
    cr_expect_eq(ia == ib, variant_id_rows[i].same, "row %zu", i);
    cr_expect(ia != HR_VARIANT_NONE && ia != HR_VARIANT_INDEX);
    hr_headers_free(&a);
    hr_headers_free(&b);
  }
  hr_headers h;
  fill(&h, "Accept: x\nX: x");
  hr_variant_id i1, i2;
  cr_expect_eq(hr_cache_variant_id("accept", &h, &i1), 0);
  cr_expect_eq(hr_cache_variant_id("x", &h, &i2), 0);
  cr_expect_neq(i1, i2, "same value under another name: another variant");
  hr_headers_free(&h);
}

/* ---- 304 update -------------------------------------------------------- */

Test(cache_rules, update_from_304) {
  hr_cache_entry e;
  mkentry(&e, 200,
          "Date: {-100}\nContent-Type: text/html\nX-A: 1\n"
          "Set-Cookie: a=1\nSet-Cookie: b=2\nContent-Length: 4\n"
          "Content-Encoding: gzip\nETag: \"v1\"\nAge: 50\n"
          "Cache-Control: max-age=10\nX-Kept: yes",
          NULL, 0);
  hr_headers h;
  fill(&h, "Date: {0}\nContent-Length: 0\nContent-Encoding: br\n"
           "Set-Cookie: c=3\nX-New: 1\nSet-Cookie: d=4\n"
           "Cache-Control: max-age=100\nConnection: close, X-Hop\nX-Hop: 1\n"
           "Keep-Alive: timeout=5\nTransfer-Encoding: chunked\n"
           "ETag: \"v1\"\nX-New: 2");
  cr_assert(hr_cache_update_from_304(&e, &h, T0 + 500000, T0 + 600000) == 0);
  /* Groups replaced in place, Content-* kept, old Age dropped, new fields
   * appended in their order, hop-by-hop ignored. */
  expect_fields(&e.headers, "Date: {0}\nContent-Type: text/html\nX-A: 1\n"
                            "Set-Cookie: c=3\nSet-Cookie: d=4\n"
                            "Content-Length: 4\nContent-Encoding: gzip\n"
                            "ETag: \"v1\"\nCache-Control: max-age=100\n"
                            "X-Kept: yes\nX-New: 1\nX-New: 2\n");
  cr_expect_eq(e.request_ms, T0 + 500000);
  cr_expect_eq(e.response_ms, T0 + 600000);
  cr_expect_eq(e.body_len, 4u);
  cr_expect_eq(hr_cache_freshness_lifetime(&e), 100);
  hr_headers_free(&h);
  hr_cache_entry_free(&e);
}

Test(cache_rules, update_from_bare_304_renews_date) {
  hr_cache_entry e;
  mkentry(&e, 200, "Date: {0}\nAge: 40\nCache-Control: max-age=60\nETag: \"x\"",
          NULL, 0);
  /* Stale at T0 + 100 s... */
  cr_expect_eq(hr_cache_current_age(&e, T0 + 100000), 140);
  hr_headers h;
  fill(&h, NULL);
  cr_assert(hr_cache_update_from_304(&e, &h, T0 + 100000, T0 + 100000) == 0);
  /* ...fresh again after the 304: its receipt time is the new Date and the
   * old Age no longer applies. */
  expect_fields(&e.headers, "Date: {100}\nCache-Control: max-age=60\n"
                            "ETag: \"x\"\n");
  cr_expect_eq(hr_cache_current_age(&e, T0 + 110000), 10);
  hr_headers_free(&h);
  hr_cache_entry_free(&e);
}

Test(cache_rules, update_from_304_with_age) {
  hr_cache_entry e;
  mkentry(&e, 200, "Date: {0}\nAge: 40\nX: 1", NULL, 0);
  hr_headers h;
  fill(&h, "Age: 3\nDate: {100}");
  cr_assert(hr_cache_update_from_304(&e, &h, T0 + 100000, T0 + 100000) == 0);
  expect_fields(&e.headers, "Date: {100}\nAge: 3\nX: 1\n");
  hr_headers_free(&h);
  hr_cache_entry_free(&e);
}

/* ---- what is stored --------------------------------------------------- */

Test(cache_rules, stored_fields_and_vary) {
  httpresp_request *q =
      mkreq("GET", "http://a.example/p?q=1#frag",
            "Accept: a\nAccept-Encoding: gzip\nUser-Agent: t\n"
            "accept-encoding: br");
  hr_headers h;
  fill(&h, "Date: {0}\nConnection: keep-alive, X-Conn\nX-Conn: 1\n"
           "Keep-Alive: timeout=5\nTransfer-Encoding: chunked\nUpgrade: h2c\n"
           "TE: trailers\nProxy-Connection: keep-alive\n"
           "Proxy-Authenticate: Basic\nProxy-Authentication-Info: x\n"
           "Set-Cookie: a=1\nContent-Type: text/plain\nSet-Cookie: b=2\n"
           "connection: X-Other\nX-Other: 2\n"
           "Vary: Accept, accept-encoding\nVary: X-Missing, Accept");
  hr_cache_entry e;
  cr_assert(
      entry_from(&e, q, 200, &h, "a\0b", 3, T0 - 5, T0) == 0);
  cr_expect_str_eq(e.key, "http://a.example/p?q=1");
  cr_expect_eq(e.status, 200);
  cr_expect_eq(e.body_len, 3u);
  cr_expect(memcmp(e.body, "a\0b", 3) == 0);
  cr_expect_eq(e.request_ms, T0 - 5);
  cr_expect_eq(e.response_ms, T0);
  expect_fields(&e.headers, "Date: {0}\nSet-Cookie: a=1\n"
                            "Content-Type: text/plain\nSet-Cookie: b=2\n"
                            "Vary: Accept, accept-encoding\n"
                            "Vary: X-Missing, Accept\n");
  expect_fields(&e.vary, "Accept: a\nAccept-Encoding: gzip\n"
                         "accept-encoding: br\n");
  hr_cache_entry_free(&e);
  hr_headers_free(&h);

  /* Without Date, the receipt time is recorded as Date (RFC 9110 §6.6.1). */
  fill(&h, "X: 1");
  cr_assert(entry_from(&e, q, 200, &h, NULL, 0, T0, T0) == 0);
  expect_fields(&e.headers, "X: 1\nDate: {0}\n");
  cr_expect_eq(e.body_len, 0u);
  hr_cache_entry_free(&e);
  hr_headers_free(&h);
  httpresp_request_free(q);
}

Test(cache_rules, served_headers_carry_age) {
  hr_cache_entry e;
  hr_headers out;
  hr_headers_init(&out);
  mkentry(&e, 200, "Date: {0}\nAge: 5\nX: 1\nAge: 6", NULL, 0);
  cr_assert(hr_cache_served_headers(&e, T0 + 10000, &out) == 0);
  expect_fields(&out, "Date: {0}\nAge: 15\nX: 1\n"); /* first member */
  hr_cache_entry_free(&e);

  mkentry(&e, 200, "Date: {0}\nX: 1", NULL, 0);
  cr_assert(hr_cache_served_headers(&e, T0, &out) == 0);
  expect_fields(&out, "Date: {0}\nX: 1\nAge: 0\n");
  hr_cache_entry_free(&e);

  mkentry(&e, 200, "Date: {0}\nAge: 2147483647", NULL, 0);
  cr_assert(hr_cache_served_headers(&e, T0 + 1000000, &out) == 0);
  expect_fields(&out, "Date: {0}\nAge: 2147483648\n");
  hr_cache_entry_free(&e);
  hr_headers_free(&out);
}

/* A response serving a frozen entry shows exactly the fields
 * hr_cache_served_headers gives, through the public accessors, without
 * copying them; and its body. */
Test(cache_rules, shared_response_matches_served_headers) {
  static const char *const specs[] = {
      "Date: {0}\nX: 1",                  /* no Age: appended */
      "Date: {0}\nAge: 5\nX: 1",          /* one Age: replaced in place */
      "age: 5\nDate: {0}",                /* its name as stored */
      "Date: {0}\nAge: 5\nX: 1\nAge: 6", /* two: the later one dropped */
      "Date: {0}\nAge: 2147483647",       /* saturates */
      NULL,
  };
  for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
    hr_cache_entry e;
    mkentry(&e, 200, specs[i], NULL, 0);
    hr_stored *v = freeze(&e);
    hr_headers want;
    hr_headers_init(&want);
    cr_assert(hr_cache_served_headers(&e, T0 + 1000000, &want) == 0);
    httpresp_response *r;
    cr_assert(hr_response_new(&r, 0) == 0);
    cr_assert(hr_response_share(r, v, T0 + 1000000) == 0);
    hr_response_share_body(r);
    hr_stored_unref(v); /* the response holds its own reference */
    cr_assert_eq(httpresp_response_header_count(r), want.n, "row %zu", i);
    for (size_t k = 0; k < want.n; k++) {
      const char *n, *val;
      cr_assert(httpresp_response_header_at(r, k, &n, &val) == 0);
      cr_expect_str_eq(n, want.v[k].name, "row %zu field %zu", i, k);
      cr_expect_str_eq(val, want.v[k].value, "row %zu field %zu", i, k);
      cr_expect_str_eq(httpresp_response_header(r, n),
                       hr_headers_get(&want, n), "row %zu get %s", i, n);
    }
    cr_expect_eq(httpresp_response_header_at(r, want.n, NULL, NULL),
                 HTTPRESP_E_INVALID_ARG);
    size_t len;
    const char *body = httpresp_response_body(r, &len);
    cr_expect(len == 4 && memcmp(body, "body", 4) == 0, "row %zu body", i);
    httpresp_response_free(r);
    hr_headers_free(&want);
    hr_cache_entry_free(&e);
  }
}

/* ---- invalidation ----------------------------------------------------- */

typedef struct inval_row {
  const char *url;
  int status;
  const char *resp;
  const char *want[3];
} inval_row;

static const inval_row inval_rows[] = {
    {"http://a.example/x", 200, NULL, {"http://a.example/x"}},
    {"http://a.example/x#f", 204, NULL, {"http://a.example/x"}},
    {"http://a.example/x",
     201,
     "Location: /y",
     {"http://a.example/x", "http://a.example/y"}},
    {"http://a.example/x",
     303,
     "Location: y?z=1#frag",
     {"http://a.example/x", "http://a.example/y?z=1"}},
    {"http://a.example/x",
     200,
     "Content-Location: http://a.example:80/c",
     {"http://a.example/x", "http://a.example:80/c"}},
    {"http://a.example/x",
     200,
     "Location: /y\nContent-Location: /c",
     {"http://a.example/x", "http://a.example/y", "http://a.example/c"}},
    /* Same target twice: one key. */
    {"http://a.example/x",
     200,
     "Location: /x\nContent-Location: /x#f",
     {"http://a.example/x"}},
    /* Other origins are never touched. */
    {"http://a.example/x",
     201,
     "Location: http://b.example/y",
     {"http://a.example/x"}},
    {"http://a.example/x",
     201,
     "Location: https://a.example/y",
     {"http://a.example/x"}},
    {"http://a.example/x",
     201,
     "Location: http://a.example:8080/y",
     {"http://a.example/x"}},
    {"http://a.example/x",
     201,
     "Location: //evil.example/y",
     {"http://a.example/x"}},
    /* Unusable Location ignored. */
    {"http://a.example/x",
     201,
     "Location: http://[bad",
     {"http://a.example/x"}},
    /* Errors invalidate nothing. */
    {"http://a.example/x", 404, "Location: /y", {NULL}},
    {"http://a.example/x", 500, NULL, {NULL}},
    {"http://a.example/x", 100, NULL, {NULL}},
};

Test(cache_rules, invalidation_keys_table) {
  for (size_t i = 0; i < sizeof(inval_rows) / sizeof(inval_rows[0]); i++) {
    const inval_row *r = &inval_rows[i];
    hr_headers h;
    fill(&h, r->resp);
    char *keys[3] = {NULL, NULL, NULL};
    size_t n = hr_cache_invalidation_keys(r->url, r->status, &h, keys);
    size_t want = 0;
    while (want < 3 && r->want[want])
      want++;
    cr_expect_eq(n, want, "row %zu: %zu keys", i, n);
    for (size_t k = 0; k < n && k < want; k++)
      cr_expect_str_eq(keys[k], r->want[k], "row %zu key %zu", i, k);
    for (size_t k = 0; k < n; k++)
      free(keys[k]);
    hr_headers_free(&h);
  }
}

Test(cache_rules, unsafe_methods) {
  static const struct {
    const char *m;
    int unsafe;
  } rows[] = {{"GET", 0},  {"HEAD", 0},  {"OPTIONS", 0}, {"TRACE", 0},
              {"POST", 1}, {"PUT", 1},   {"DELETE", 1},  {"PATCH", 1},
              {"get", 1},  {"PURGE", 1}, {NULL, 1}};
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
    cr_expect_eq(hr_cache_method_unsafe(rows[i].m), rows[i].unsafe, "row %zu",
                 i);
}

/* RFC 9111 §4.3.5: a HEAD's 304 refreshes the stored GET response, under
 * the GET's rules; §5.2.2.5: a no-store 304 still removes it. */
Test(cache_rules, refresh_storable_for_get_and_head) {
  static const struct {
    const char *method, *req_line, *resp;
    int want;
  } rows[] = {
      {"GET", NULL, "Cache-Control: max-age=60", 1},
      {"HEAD", NULL, "Cache-Control: max-age=60", 1},
      {"HEAD", NULL, "Cache-Control: no-store", 0},
      {"HEAD", "Cache-Control: no-store", "Cache-Control: max-age=60", 0},
      {"HEAD", NULL, "Vary: *", 0},
      {"POST", NULL, "Cache-Control: max-age=60", 0},
      {"PUT", NULL, "Cache-Control: max-age=60", 0},
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    httpresp_request *q = mkreq(rows[i].method, URL, rows[i].req_line);
    hr_headers h;
    fill(&h, rows[i].resp);
    cr_expect_eq(hr_cache_refresh_storable(q, 200, &h, 4, NULL), rows[i].want,
                 "row %zu", i);
    /* A fresh answer to a HEAD is never stored itself. */
    if (strcmp(rows[i].method, "HEAD") == 0)
      cr_expect_eq(hr_cache_storable(q, 200, &h, 4, NULL), 0, "row %zu", i);
    hr_headers_free(&h);
    httpresp_request_free(q);
  }
}

/* FIPS 180-4 known answers, and a message that spans blocks. */
Test(cache_rules, sha256_known_answers) {
  static const struct {
    const char *msg, *hex;
  } rows[] = {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc",
       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    hr_sha256 h;
    hr_sha256_init(&h);
    /* Fed in two parts: the split must not matter. */
    size_t n = strlen(rows[i].msg), half = n / 3;
    hr_sha256_update(&h, rows[i].msg, half);
    hr_sha256_update(&h, rows[i].msg + half, n - half);
    unsigned char d[32];
    hr_sha256_final(&h, d);
    char hex[65];
    for (int j = 0; j < 32; j++)
      snprintf(hex + 2 * j, 3, "%02x", d[j]);
    cr_expect_str_eq(hex, rows[i].hex, "row %zu", i);
  }
}

/* The partition of a request: identities that differ never share one, the
 * same identity always gets the same, and no secret appears in it. */
Test(cache_rules, partition_by_identity_table) {
  static const struct {
    const char *fields, *user, *password, *named;
  } rows[] = {
      {NULL, NULL, NULL, NULL},                              /* 0: anonymous */
      {"Accept: text/html", NULL, NULL, NULL},               /* 1: anonymous */
      {"Authorization: Bearer x", NULL, NULL, NULL},         /* 2 */
      {"Authorization: Bearer y", NULL, NULL, NULL},         /* 3 */
      {"Cookie: sid=a", NULL, NULL, NULL},                   /* 4 */
      {"Cookie: sid=b", NULL, NULL, NULL},                   /* 5 */
      {"cookie: sid=a", NULL, NULL, NULL},                   /* 6 = 4 */
      {NULL, "user-a", "pw1", NULL},                         /* 7 */
      {NULL, "user-a", "pw2", NULL},                         /* 8 */
      {NULL, "user-b", "pw1", NULL},                         /* 9 */
      {"Cookie: sid=a\nCookie: x=1", NULL, NULL, NULL},      /* 10 */
      {"Authorization: sid=a", NULL, NULL, NULL},            /* 11 != 4 */
      {"Cookie: sid=a", NULL, NULL, "tenant-1"},             /* 12 */
      {NULL, NULL, NULL, "tenant-1"},                        /* 13 = 12 */
      {NULL, NULL, NULL, "tenant-2"},                        /* 14 */
  };
  size_t n = sizeof(rows) / sizeof(rows[0]);
  char parts[15][HR_CACHE_PARTITION_MAX];
  for (size_t i = 0; i < n; i++) {
    httpresp_request *q = mkreq("GET", URL, rows[i].fields);
    if (rows[i].user)
      cr_assert(httpresp_request_set_credentials(q, rows[i].user,
                                                 rows[i].password, 0) == 0);
    if (rows[i].named)
      cr_assert(httpresp_request_set_cache_partition(q, rows[i].named) == 0);
    hr_cache_partition(q, parts[i]);
    cr_expect(!strstr(parts[i], "pw") && !strstr(parts[i], "sid") &&
                  !strstr(parts[i], "Bearer"),
              "row %zu leaks a secret: %s", i, parts[i]);
    httpresp_request_free(q);
  }
  cr_expect_str_eq(parts[0], "");
  cr_expect_str_eq(parts[1], "");
  cr_expect_str_eq(parts[4], parts[6]);
  cr_expect_str_eq(parts[12], "p:tenant-1");
  cr_expect_str_eq(parts[12], parts[13]);
  size_t same[][2] = {{0, 1}, {4, 6}, {12, 13}};
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++) {
      int expected_same = 0;
      for (size_t k = 0; k < sizeof(same) / sizeof(same[0]); k++)
        expected_same |= same[k][0] == i && same[k][1] == j;
      if (!expected_same)
        cr_expect_str_neq(parts[i], parts[j], "rows %zu and %zu", i, j);
    }
}

/* The one spelling of a key stores see: the URL itself for an anonymous
 * GET (the name stores have always used), else method, partition with its
 * length, URL, which no URL and no other partition can spell. */
Test(cache_rules, key_flat_forms) {
  static const struct {
    const char *method, *url, *partition, *flat;
  } rows[] = {
      {"GET", "http://a/x#f", NULL, "http://a/x"},
      {"GET", "http://a/x", "", "http://a/x"},
      {"GET", "http://a/x", "p:t1", "GET 4:p:t1 http://a/x"},
      {"GET", "http://a/x", "p:t 1 http://b/", "GET 15:p:t 1 http://b/ http://a/x"},
      {"POST", "http://a/x", NULL, "POST 0: http://a/x"},
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    hr_key k;
    cr_assert_eq(hr_key_init(&k, rows[i].method, rows[i].url,
                             strcspn(rows[i].url, "#"), rows[i].partition),
                 0);
    cr_expect(k.flat_len == strlen(rows[i].flat) &&
                  memcmp(k.flat, rows[i].flat, k.flat_len) == 0,
              "row %zu: %.*s", i, (int)k.flat_len, k.flat);
    cr_expect_eq(k.variant, HR_VARIANT_NONE);
    hr_key_free(&k);
  }
}

Test(cache_rules, key_drops_fragment) {
  char *k = hr_cache_key_url("http://a.example/p?x#y");
  cr_expect_str_eq(k, "http://a.example/p?x");
  free(k);
}

/* ---- partial content (RFC 9110 §14.4, RFC 9111 §3.3-3.4) ---------------- */

typedef struct crange_row {
  const char *value;
  int ok;
  uint64_t first, last;
  int64_t complete;
} crange_row;

static const crange_row crange_rows[] = {
    {"bytes 0-0/1", 0, 0, 0, 1},
    {"bytes 500-999/1000", 0, 500, 999, 1000},
    {"BYTES 1-2/3", 0, 1, 2, 3}, /* the unit is case-insensitive */
    {"bytes 5-9/*", 0, 5, 9, -1},
    {"bytes 5-9/9", -1, 0, 0, 0},   /* last beyond the length */
    {"bytes 9-5/10", -1, 0, 0, 0},  /* last before first */
    {"bytes */1000", -1, 0, 0, 0},  /* unsatisfied-range: no part */
    {"bytes 0-9/10 ", -1, 0, 0, 0}, /* trailing bytes */
    {"bytes -1-9/10", -1, 0, 0, 0},
    {"bytes 0-9", -1, 0, 0, 0},
    {"items 0-9/10", -1, 0, 0, 0},
    {"bytes 0-18446744073709551616/*", -1, 0, 0, 0}, /* overflow */
    {"bytes 0-1/9223372036854775808", -1, 0, 0, 0},  /* beyond int64 */
    {"", -1, 0, 0, 0},
};

Test(cache_rules, content_range_table) {
  for (size_t i = 0; i < HR_ARRAY_LEN(crange_rows); i++) {
    const crange_row *row = &crange_rows[i];
    uint64_t first = 77, last = 77;
    int64_t complete = 77;
    int rc = hr_cache_content_range(row->value, &first, &last, &complete);
    cr_expect_eq(rc, row->ok, "%s", row->value);
    if (rc == 0 && row->ok == 0) {
      cr_expect_eq(first, row->first, "%s", row->value);
      cr_expect_eq(last, row->last, "%s", row->value);
      cr_expect_eq(complete, row->complete, "%s", row->value);
    }
  }
}

typedef struct strong_row {
  const char *resp;
  int want;
} strong_row;

static const strong_row strong_rows[] = {
    {"ETag: \"x\"", 1},
    {"ETag: W/\"x\"", 0},
    {"ETag: x", 0}, /* not an entity-tag */
    {"Date: {0}\nLast-Modified: {-1}", 1},
    {"Date: {0}\nLast-Modified: {0}", 0}, /* §8.8.2.2: a second apart */
    {"Last-Modified: {-100}", 0},         /* no Date to tell */
    {"Date: {0}\nLast-Modified: nonsense", 0},
    {"ETag: W/\"x\"\nDate: {0}\nLast-Modified: {-5}", 1},
    {"", 0},
};

Test(cache_rules, strong_validator_table) {
  for (size_t i = 0; i < HR_ARRAY_LEN(strong_rows); i++) {
    hr_headers h;
    fill(&h, strong_rows[i].resp);
    cr_expect_eq(hr_cache_strong_validator(&h), strong_rows[i].want, "%s",
                 strong_rows[i].resp);
    hr_headers_free(&h);
  }
}

typedef struct partial_row {
  const char *resp;
  int status;
  size_t got;
  int want;
  const char *why;
} partial_row;

static const partial_row partial_rows[] = {
    {"ETag: \"x\"\nContent-Length: 10", 200, 4, 1, ""},
    {"ETag: \"x\"", 200, 4, 1, ""}, /* chunked: the 206 tells the length */
    {"ETag: W/\"x\"\nContent-Length: 10", 200, 4, 0, "no-strong-validator"},
    {"Content-Length: 10", 200, 4, 0, "no-strong-validator"},
    {"ETag: \"x\"\nContent-Length: 10\nContent-Encoding: gzip", 200, 4, 0,
     "content-encoding"},
    {"ETag: \"x\"\nContent-Length: 4", 200, 4, 0, "partial-length"},
    {"ETag: \"x\"\nContent-Length: 10", 200, 0, 0, "partial-status"},
    {"ETag: \"x\"\nCache-Control: no-store", 200, 4, 0, "no-store"},
    {"ETag: \"x\"\nContent-Range: bytes 0-3/10", 206, 4, 0, "partial"},
    {"ETag: \"x\"\nContent-Length: 10", 404, 4, 0, "partial-status"},
};

Test(cache_rules, partial_storable_table) {
  httpresp_request *r = mkreq("GET", URL, NULL);
  for (size_t i = 0; i < HR_ARRAY_LEN(partial_rows); i++) {
    const partial_row *row = &partial_rows[i];
    hr_headers h;
    fill(&h, row->resp);
    const char *why = "unset";
    cr_expect_eq(hr_cache_partial_storable(r, row->status, &h, row->got, &why),
                 row->want, "%s", row->resp);
    cr_expect_str_eq(why, row->why, "%s", row->resp);
    hr_headers_free(&h);
  }
  httpresp_request_free(r);
}

/* The stored part: "body" (4 bytes) of a 10-byte representation. */
typedef struct combine_row {
  const char *stored;
  const char *h206;
  int want;
  const char *why;
} combine_row;

#define S_ETAG "ETag: \"x\"\nContent-Length: 10"
#define S_LM "Date: {0}\nLast-Modified: {-10}\nContent-Length: 10"

static const combine_row combine_rows[] = {
    {S_ETAG, "ETag: \"x\"\nContent-Range: bytes 4-9/10", 1, ""},
    {S_ETAG, "ETag: \"x\"\nContent-Range: bytes 4-9/10\nContent-Length: 6", 1,
     ""},
    {S_ETAG, "ETag: \"x\"\nContent-Range: bytes 3-9/10", 0, "content-range"},
    {S_ETAG, "ETag: \"x\"\nContent-Range: bytes 5-9/10", 0, "content-range"},
    {S_ETAG, "ETag: \"x\"\nContent-Range: bytes 4-8/10", 0, "content-range"},
    {S_ETAG, "ETag: \"x\"\nContent-Range: bytes 4-10/11", 0, "content-range"},
    {S_ETAG, "ETag: \"x\"\nContent-Range: bytes 4-9/*", 0, "content-range"},
    {S_ETAG, "ETag: \"x\"", 0, "content-range"},
    {S_ETAG, "ETag: \"x\"\nContent-Range: bytes 4-9/10\nContent-Length: 5", 0,
     "content-length"},
    {S_ETAG, "ETag: \"y\"\nContent-Range: bytes 4-9/10", 0, "validator"},
    {S_ETAG, "ETag: W/\"x\"\nContent-Range: bytes 4-9/10", 0, "validator"},
    {S_ETAG, "Content-Range: bytes 4-9/10", 0, "validator"},
    {S_ETAG, "ETag: \"x\"\nContent-Range: bytes 4-9/10\nContent-Encoding: gzip",
     0, "content-encoding"},
    {"ETag: \"x\"", "ETag: \"x\"\nContent-Range: bytes 4-99/100", 1, ""},
    {S_LM, "Last-Modified: {-10}\nContent-Range: bytes 4-9/10", 1, ""},
    {S_LM, "Last-Modified: {-9}\nContent-Range: bytes 4-9/10", 0, "validator"},
    {S_LM, "Content-Range: bytes 4-9/10", 0, "validator"},
    {S_LM, "ETag: \"x\"\nLast-Modified: {-10}\nContent-Range: bytes 4-9/10", 0,
     "validator"},
};

Test(cache_rules, resume_combines_table) {
  for (size_t i = 0; i < HR_ARRAY_LEN(combine_rows); i++) {
    const combine_row *row = &combine_rows[i];
    hr_cache_entry e;
    mkentry(&e, 200, row->stored, NULL, 0);
    e.incomplete = 1;
    hr_headers h;
    fill(&h, row->h206);
    uint64_t rest = 0;
    const char *why = "unset";
    cr_expect_eq(hr_cache_resume_combines(&e, &h, &rest, &why), row->want,
                 "%s | %s", row->stored, row->h206);
    cr_expect_str_eq(why, row->why, "%s | %s", row->stored, row->h206);
    if (row->want)
      cr_expect_gt(rest, 0);
    /* A complete entry is never completed. */
    e.incomplete = 0;
    cr_expect_eq(hr_cache_resume_combines(&e, &h, &rest, &why), 0);
    hr_headers_free(&h);
    hr_cache_entry_free(&e);
  }
}

Test(cache_rules, resume_fields_and_combined_headers) {
  hr_cache_entry e;
  mkentry(&e, 200, "ETag: \"x\"\nContent-Length: 10\nX-Old: 1", NULL, 0);
  hr_headers out;
  hr_headers_init(&out);
  cr_expect_eq(hr_cache_resume_fields(&e, &out), HTTPRESP_E_INVALID_ARG,
               "a complete entry has nothing to resume");
  e.incomplete = 1;
  cr_assert_eq(hr_cache_resume_fields(&e, &out), 0);
  expect_fields(&out, "Range: bytes=4-\nIf-Range: \"x\"\n");
  hr_headers h206;
  fill(&h206, "ETag: \"x\"\nContent-Range: bytes 4-9/10\nContent-Length: 6\n"
              "X-Old: 2\nDate: {5}");
  cr_assert_eq(hr_cache_resume_headers(&e, &h206, 10, T0 + 5000, &out), 0);
  expect_fields(&out, "ETag: \"x\"\nX-Old: 2\nDate: {5}\nContent-Length: 10\n");
  hr_headers_free(&h206);
  hr_headers_free(&out);
  hr_cache_entry_free(&e);

  /* Without an ETag, If-Range carries the strong Last-Modified. */
  mkentry(&e, 200, "Date: {0}\nLast-Modified: {-10}", NULL, 0);
  e.incomplete = 1;
  hr_headers_init(&out);
  cr_assert_eq(hr_cache_resume_fields(&e, &out), 0);
  expect_fields(&out, "Range: bytes=4-\nIf-Range: {-10}\n");
  hr_headers_free(&out);
  hr_cache_entry_free(&e);
}

/* An incomplete entry is never served, nor stands in for an error. */
Test(cache_rules, incomplete_entry_never_served) {
  hr_cache_entry e;
  mkentry(&e, 200,
          "ETag: \"x\"\nDate: {0}\nCache-Control: max-age=600, "
          "stale-if-error=600, stale-while-revalidate=600",
          NULL, 0);
  httpresp_request *r = mkreq("GET", URL, NULL);
  const char *why;
  cr_assert_eq(hr_cache_select(&e, r, T0, &why), HR_CACHE_USE_FRESH);
  e.incomplete = 1;
  cr_expect_eq(hr_cache_select(&e, r, T0, &why), HR_CACHE_USE_NONE);
  cr_expect_str_eq(why, "incomplete");
  r->cache_mode = HTTPRESP_CACHE_MODE_ONLY_IF_CACHED;
  cr_expect_eq(hr_cache_select(&e, r, T0, &why), HR_CACHE_USE_NOT_CACHED);
  r->cache_mode = HTTPRESP_CACHE_MODE_DEFAULT;
  cr_expect_eq(hr_cache_stale_on_error(&e, r, T0 + 700000, 0, &why), 0);
  cr_expect_str_eq(why, "incomplete");
  cr_expect_eq(hr_cache_swr_allows(&e, r, T0 + 700000, &why), 0);
  cr_expect_str_eq(why, "incomplete");
  httpresp_request_free(r);
  hr_cache_entry_free(&e);
}

typedef struct range_row {
  const char *range;
  uint64_t len;
  int want;
  uint64_t first, last;
} range_row;

static const range_row range_rows[] = {
    {"bytes=0-0", 10, 1, 0, 0},
    {"bytes=2-5", 10, 1, 2, 5},
    {"bytes=2-", 10, 1, 2, 9},
    {"bytes=2-100", 10, 1, 2, 9}, /* cut to the end (§14.1.2) */
    {"bytes=-3", 10, 1, 7, 9},
    {"bytes=-30", 10, 1, 0, 9},
    {"Bytes=1-1", 10, 1, 1, 1},
    {"bytes=10-", 10, 0, 0, 0}, /* unsatisfiable */
    {"bytes=-0", 10, 0, 0, 0},
    {"bytes=5-2", 10, 0, 0, 0},
    {"bytes=0-1,3-4", 10, 0, 0, 0}, /* several: not from here */
    {"items=0-1", 10, 0, 0, 0},
    {"bytes=", 10, 0, 0, 0},
    {"bytes=x-1", 10, 0, 0, 0},
    {"bytes=0-1", 0, 0, 0, 0},
};

Test(cache_rules, range_single_table) {
  for (size_t i = 0; i < HR_ARRAY_LEN(range_rows); i++) {
    const range_row *row = &range_rows[i];
    uint64_t first = 77, last = 77;
    int got = hr_cache_range_single(row->range, row->len, &first, &last);
    cr_expect_eq(got, row->want, "%s", row->range);
    if (got && row->want) {
      cr_expect_eq(first, row->first, "%s", row->range);
      cr_expect_eq(last, row->last, "%s", row->range);
    }
  }
}

Test(cache_rules, range_entry_of_complete_entry) {
  hr_cache_entry e, part;
  mkentry(&e, 200, "ETag: \"x\"\nContent-Length: 4", NULL, 0);
  cr_assert_eq(hr_cache_range_entry(&e, 1, 2, &part), 0);
  cr_expect_eq(part.status, 206);
  cr_expect_eq(part.body_len, 2);
  cr_expect(memcmp(part.body, "od", 2) == 0);
  expect_fields(&part.headers,
                "ETag: \"x\"\nDate: {0}\n"
                "Content-Range: bytes 1-2/4\nContent-Length: 2\n");
  hr_cache_entry_free(&part);
  cr_expect_eq(hr_cache_range_entry(&e, 2, 4, &part), HTTPRESP_E_INVALID_ARG);
  e.incomplete = 1;
  cr_expect_eq(hr_cache_range_entry(&e, 0, 1, &part), HTTPRESP_E_INVALID_ARG);
  hr_cache_entry_free(&e);
  mkentry(&e, 200, "Content-Encoding: gzip", NULL, 0);
  cr_expect_eq(hr_cache_range_entry(&e, 0, 1, &part), HTTPRESP_E_INVALID_ARG);
  hr_cache_entry_free(&e);
}

typedef struct first_part_row {
  const char *h206;
  size_t got;
  int want;
  const char *fields;
} first_part_row;

static const first_part_row first_part_rows[] = {
    {"ETag: \"x\"\nContent-Range: bytes 0-3/10\nContent-Length: 4", 4, 1,
     "ETag: \"x\"\nContent-Length: 10\n"},
    {"ETag: \"x\"\nContent-Range: bytes 1-4/10", 4, 0, ""},  /* not the start */
    {"ETag: \"x\"\nContent-Range: bytes 0-9/10", 10, 0, ""}, /* the whole */
    {"ETag: \"x\"\nContent-Range: bytes 0-3/*", 4, 0, ""},  /* length unknown */
    {"ETag: \"x\"\nContent-Range: bytes 0-3/10", 3, 0, ""}, /* body short */
    {"ETag: \"x\"", 4, 0, ""},
};

Test(cache_rules, first_part_fields_table) {
  for (size_t i = 0; i < HR_ARRAY_LEN(first_part_rows); i++) {
    const first_part_row *row = &first_part_rows[i];
    hr_headers h, out;
    fill(&h, row->h206);
    hr_headers_init(&out);
    const char *why;
    cr_expect_eq(hr_cache_first_part_fields(&h, row->got, &out, &why),
                 row->want, "%s", row->h206);
    expect_fields(&out, row->fields);
    hr_headers_free(&h);
    hr_headers_free(&out);
  }
}
