/* SPDX-License-Identifier: MIT */
/* Cache-Control (RFC 9111 §5.2) and Pragma (§5.4) parsing. */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cachecontrol.h"
#include "headers.h"

#define BIG INT64_C(2147483647)
#define NONE (-1)

typedef struct cc_want {
  unsigned flags;
  int64_t max_age, s_maxage, max_stale, min_fresh, swr, sie;
} cc_want;

/* Flags only, every value absent. */
#define F(fl)                                                                  \
  { fl, NONE, NONE, NONE, NONE, NONE, NONE }
/* Flags and max-age. */
#define MA(fl, v)                                                              \
  { fl, v, NONE, NONE, NONE, NONE, NONE }

typedef struct cc_row {
  const char *in;
  cc_want want;
} cc_row;

static const cc_row rows[] = {
    /* Empty and separators only. */
    {"", F(0)},
    {"   ", F(0)},
    {",", F(0)},
    {" , ,, ,", F(0)},
    /* Each flag directive. */
    {"no-store", F(HR_CC_NO_STORE)},
    {"no-cache", F(HR_CC_NO_CACHE)},
    {"must-revalidate", F(HR_CC_MUST_REVALIDATE)},
    {"proxy-revalidate", F(HR_CC_PROXY_REVALIDATE)},
    {"private", F(HR_CC_PRIVATE)},
    {"public", F(HR_CC_PUBLIC)},
    {"only-if-cached", F(HR_CC_ONLY_IF_CACHED)},
    {"no-transform", F(HR_CC_NO_TRANSFORM)},
    {"immutable", F(HR_CC_IMMUTABLE)},
    {"must-understand", F(HR_CC_MUST_UNDERSTAND)},
    {"no-store, no-cache, must-revalidate",
     F(HR_CC_NO_STORE | HR_CC_NO_CACHE | HR_CC_MUST_REVALIDATE)},
    /* Names are case-insensitive. */
    {"NO-STORE", F(HR_CC_NO_STORE)},
    {"No-Cache, Public", F(HR_CC_NO_CACHE | HR_CC_PUBLIC)},
    {"MAX-AGE=60", MA(0, 60)},
    /* Qualified no-cache / private, commas and escapes inside quotes. */
    {"no-cache=\"Set-Cookie\"", F(HR_CC_NO_CACHE)},
    {"no-cache=\"Set-Cookie, Foo\", max-age=10", MA(HR_CC_NO_CACHE, 10)},
    {"private=\"a\\\"b, c\", no-store", F(HR_CC_PRIVATE | HR_CC_NO_STORE)},
    {"private=\"a\\\\\", no-store", F(HR_CC_PRIVATE | HR_CC_NO_STORE)},
    {"foo=\"bar, max-age=5\", public", F(HR_CC_PUBLIC)},
    {"foo=\"no-store\"", F(0)},
    {"no-cache=Set-Cookie", F(HR_CC_NO_CACHE)},
    /* An unterminated quote swallows the rest of the field. */
    {"no-cache=\"Set-Cookie, no-store", F(HR_CC_NO_CACHE)},
    {"max-age=\"60", MA(0, 0)},
    /* max-age values. */
    {"max-age=60", MA(0, 60)},
    {"max-age=0", MA(0, 0)},
    {"max-age=007", MA(0, 7)},
    {"max-age=\"60\"", MA(0, 60)},
    {"max-age=\"6\\0\"", MA(0, 60)},
    {"max-age=2147483647", MA(0, BIG)},
    {"max-age=2147483648", MA(0, BIG)},
    {"max-age=99999999999999999999999999999999", MA(0, BIG)},
    {"max-age=abc", MA(0, 0)},
    {"max-age=-5", MA(0, 0)},
    {"max-age=+5", MA(0, 0)},
    {"max-age=1.5", MA(0, 0)},
    {"max-age=5x", MA(0, 0)},
    {"max-age=", MA(0, 0)},
    {"max-age=,public", MA(HR_CC_PUBLIC, 0)},
    {"max-age", MA(0, 0)},
    {"max-age=\"\"", MA(0, 0)},
    {"max-age=\"6 0\"", MA(0, 0)},
    {"max-age=60 30", MA(0, 0)},
    {"max-age=60;public", MA(0, 0)},
    {"max-age = 60", MA(0, 60)}, /* BWS around "=" tolerated */
    {"\tmax-age=5\t,\tpublic\t", MA(HR_CC_PUBLIC, 5)},
    /* Duplicates: same value kept, different (or invalid) values stale. */
    {"max-age=60, max-age=60", MA(0, 60)},
    {"max-age=60, max-age=30", MA(0, 0)},
    {"max-age=60, max-age=30, max-age=60", MA(0, 0)},
    {"max-age=60, max-age=abc", MA(0, 0)},
    {"max-age=abc, max-age=60", MA(0, 0)},
    {"max-age=0, max-age=0", MA(0, 0)},
    {"no-store, no-store", F(HR_CC_NO_STORE)},
    {"s-maxage=10", {0, NONE, 10, NONE, NONE, NONE, NONE}},
    {"s-maxage=10, s-maxage=20", {0, NONE, 0, NONE, NONE, NONE, NONE}},
    {"s-maxage=x, max-age=5", {0, 5, 0, NONE, NONE, NONE, NONE}},
    /* max-stale with and without a value; least staleness wins. */
    {"max-stale", F(HR_CC_MAX_STALE_ANY)},
    {"max-stale=30", {0, NONE, NONE, 30, NONE, NONE, NONE}},
    {"max-stale=30, max-stale=10", {0, NONE, NONE, 10, NONE, NONE, NONE}},
    {"max-stale=10, max-stale=30", {0, NONE, NONE, 10, NONE, NONE, NONE}},
    {"max-stale, max-stale=10", {0, NONE, NONE, 10, NONE, NONE, NONE}},
    {"max-stale=10, max-stale", {0, NONE, NONE, 10, NONE, NONE, NONE}},
    {"max-stale, max-stale", F(HR_CC_MAX_STALE_ANY)},
    {"max-stale=abc", {0, NONE, NONE, 0, NONE, NONE, NONE}},
    {"max-stale=", {0, NONE, NONE, 0, NONE, NONE, NONE}},
    {"max-stale junk", {0, NONE, NONE, 0, NONE, NONE, NONE}},
    {"max-stale=99999999999", {0, NONE, NONE, BIG, NONE, NONE, NONE}},
    /* min-fresh: the most demanded freshness wins; invalid demands all. */
    {"min-fresh=5", {0, NONE, NONE, NONE, 5, NONE, NONE}},
    {"min-fresh=5, min-fresh=20", {0, NONE, NONE, NONE, 20, NONE, NONE}},
    {"min-fresh=20, min-fresh=5", {0, NONE, NONE, NONE, 20, NONE, NONE}},
    {"min-fresh=x", {0, NONE, NONE, NONE, BIG, NONE, NONE}},
    /* stale-while-revalidate / stale-if-error (RFC 5861). */
    {"stale-while-revalidate=30, stale-if-error=60",
     {0, NONE, NONE, NONE, NONE, 30, 60}},
    {"stale-if-error=60, stale-if-error=30",
     {0, NONE, NONE, NONE, NONE, NONE, 30}},
    {"stale-while-revalidate=30, stale-while-revalidate=oops",
     {0, NONE, NONE, NONE, NONE, 0, NONE}},
    {"Stale-While-Revalidate=\"15\"", {0, NONE, NONE, NONE, NONE, 15, NONE}},
    /* A realistic mix. */
    {"public, max-age=31536000, immutable",
     MA(HR_CC_PUBLIC | HR_CC_IMMUTABLE, 31536000)},
    {"private, no-cache, no-store, max-age=0, must-revalidate",
     MA(HR_CC_PRIVATE | HR_CC_NO_CACHE | HR_CC_NO_STORE | HR_CC_MUST_REVALIDATE,
        0)},
    /* Unknown directives, near-misses and stray syntax are ignored. */
    {"x-foo, ext=token, ext2=\"q\", max-age=5", MA(0, 5)},
    {"maxage=5, no_store, nostore", F(0)},
    {"no-store-please", F(0)},
    {"no-store junk, max-age=5", MA(HR_CC_NO_STORE, 5)},
    {"max-age=60,,, ,public,", MA(HR_CC_PUBLIC, 60)},
    {"=5, public", F(HR_CC_PUBLIC)},
    {"\"quoted\", no-store", F(HR_CC_NO_STORE)},
    {"\"a, b\", no-store", F(HR_CC_NO_STORE)},
    {";;;, public", F(HR_CC_PUBLIC)},
    {"public=", F(HR_CC_PUBLIC)},
    {"\x80\xff, no-store", F(HR_CC_NO_STORE)},
};

static void expect_cc(const hr_cc *got, const cc_want *w, const char *what,
                      size_t i, const char *in) {
  cr_expect(got->flags == w->flags, "%s %zu \"%s\": flags 0x%x, want 0x%x",
            what, i, in, got->flags, w->flags);
#define FIELD(f, wf)                                                           \
  cr_expect(got->f == w->wf,                                                   \
            "%s %zu \"%s\": " #f " %" PRId64 ", want %" PRId64, what, i, in,   \
            got->f, w->wf)
  FIELD(max_age, max_age);
  FIELD(s_maxage, s_maxage);
  FIELD(max_stale, max_stale);
  FIELD(min_fresh, min_fresh);
  FIELD(stale_while_revalidate, swr);
  FIELD(stale_if_error, sie);
#undef FIELD
}

Test(cachecontrol, table) {
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    const cc_row *r = &rows[i];
    /* An exactly sized copy: ASan catches any read past len. */
    size_t len = strlen(r->in);
    char *copy = malloc(len ? len : 1);
    cr_assert(copy);
    memcpy(copy, r->in, len);
    hr_cc cc;
    hr_cc_init(&cc);
    hr_cc_parse_value(&cc, copy, len);
    expect_cc(&cc, &r->want, "row", i, r->in);
    free(copy);
  }
}

Test(cachecontrol, init_and_len) {
  hr_cc cc;
  memset(&cc, 0x5a, sizeof cc);
  hr_cc_init(&cc);
  cc_want none = F(0);
  expect_cc(&cc, &none, "init", 0, "");

  /* len, not the NUL, ends the value. */
  const char *s = "max-age=600";
  hr_cc_parse_value(&cc, s, 10);
  cr_expect(cc.max_age == 60);

  /* An embedded NUL is a stray byte, not the end. */
  const char nul[] = "no-store\0x, public";
  hr_cc_init(&cc);
  hr_cc_parse_value(&cc, nul, sizeof nul - 1);
  cr_expect(cc.flags == (HR_CC_NO_STORE | HR_CC_PUBLIC), "flags 0x%x",
            cc.flags);

  hr_cc_init(&cc);
  hr_cc_parse_value(&cc, NULL, 5);
  hr_cc_parse_value(NULL, "no-store", 8);
  hr_cc_init(NULL);
  cr_expect(cc.flags == 0);
}

typedef struct field {
  const char *name;
  const char *value;
} field;

typedef struct hdr_row {
  const char *label;
  field f[4]; /* up to the first NULL name */
  cc_want want;
} hdr_row;

static const hdr_row hdr_rows[] = {
    {"no fields", {{NULL, NULL}}, F(0)},
    {"unrelated fields", {{"Content-Type", "text/html"}, {"Age", "5"}}, F(0)},
    {"one field", {{"Cache-Control", "max-age=60"}}, MA(0, 60)},
    {"two fields combine",
     {{"Cache-Control", "max-age=60"}, {"Cache-Control", "no-store"}},
     MA(HR_CC_NO_STORE, 60)},
    {"conflict across fields",
     {{"Cache-Control", "max-age=60"}, {"cache-control", "max-age=30"}},
     MA(0, 0)},
    {"same value across fields",
     {{"CACHE-CONTROL", "max-age=60"}, {"Cache-Control", "public, max-age=60"}},
     MA(HR_CC_PUBLIC, 60)},
    {"least max-stale across fields",
     {{"Cache-Control", "max-stale=50"},
      {"X-Other", "max-stale=1"},
      {"Cache-Control", "max-stale=20"}},
     {0, NONE, NONE, 20, NONE, NONE, NONE}},
    {"unterminated quote stays in its field",
     {{"Cache-Control", "no-cache=\"a,"}, {"Cache-Control", "no-store"}},
     F(HR_CC_NO_CACHE | HR_CC_NO_STORE)},
    {"Pragma alone",
     {{"Pragma", "no-cache"}},
     F(HR_CC_NO_CACHE | HR_CC_PRAGMA_NO_CACHE)},
    {"Pragma case and list",
     {{"pragma", "x-ext=1, No-Cache"}},
     F(HR_CC_NO_CACHE | HR_CC_PRAGMA_NO_CACHE)},
    {"Pragma second field",
     {{"Pragma", "x-ext"}, {"Pragma", "no-cache"}},
     F(HR_CC_NO_CACHE | HR_CC_PRAGMA_NO_CACHE)},
    {"Pragma other directive", {{"Pragma", "x-no-cache"}}, F(0)},
    {"Pragma no-cache with a value", {{"Pragma", "no-cache=1"}}, F(0)},
    {"Pragma inside quotes", {{"Pragma", "x=\"no-cache\""}}, F(0)},
    {"Pragma ignored with Cache-Control",
     {{"Pragma", "no-cache"}, {"Cache-Control", "max-age=5"}},
     MA(0, 5)},
    {"Pragma ignored with Cache-Control first",
     {{"Cache-Control", "public"}, {"Pragma", "no-cache"}},
     F(HR_CC_PUBLIC)},
    {"Pragma ignored with an empty Cache-Control",
     {{"Cache-Control", ""}, {"Pragma", "no-cache"}},
     F(0)},
};

Test(cachecontrol, from_headers) {
  for (size_t i = 0; i < sizeof hdr_rows / sizeof hdr_rows[0]; i++) {
    const hdr_row *r = &hdr_rows[i];
    hr_headers h;
    hr_headers_init(&h);
    for (size_t k = 0; k < 4 && r->f[k].name; k++)
      cr_assert(hr_headers_add(&h, r->f[k].name, strlen(r->f[k].name),
                               r->f[k].value, strlen(r->f[k].value)) == 0,
                "row %zu (%s): field %zu", i, r->label, k);
    hr_cc cc;
    memset(&cc, 0x5a, sizeof cc); /* from_headers initialises */
    hr_cc_from_headers(&cc, &h);
    expect_cc(&cc, &r->want, "headers row", i, r->label);
    hr_headers_free(&h);
  }
  hr_cc cc;
  hr_cc_from_headers(&cc, NULL);
  cr_expect(cc.flags == 0 && cc.max_age == -1);
  hr_cc_from_headers(NULL, NULL);
}

static uint32_t rng_state = 88172645u;
static uint32_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

static void expect_sane(const hr_cc *cc, int iter) {
  const int64_t v[] = {cc->max_age,
                       cc->s_maxage,
                       cc->max_stale,
                       cc->min_fresh,
                       cc->stale_while_revalidate,
                       cc->stale_if_error};
  for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
    cr_assert(v[k] >= -1 && v[k] <= BIG, "iter %d: value %zu = %" PRId64, iter,
              k, v[k]);
  cr_assert((cc->flags & ~0xfffu) == 0, "iter %d: flags 0x%x", iter, cc->flags);
  cr_assert(!(cc->flags & HR_CC_PRAGMA_NO_CACHE));
}

/* Garbage never crashes and never yields out-of-range values: random bytes,
 * and random sequences of the pieces directives are made of. */
Test(cachecontrol, random_garbage) {
  static const char *const pieces[] = {"max-age",
                                       "s-maxage",
                                       "max-stale",
                                       "min-fresh",
                                       "no-cache",
                                       "no-store",
                                       "private",
                                       "stale-if-error",
                                       "=",
                                       "=",
                                       "\"",
                                       "\\",
                                       ",",
                                       ",",
                                       " ",
                                       "\t",
                                       "0",
                                       "60",
                                       "99999999999999999999",
                                       "-1",
                                       "x",
                                       ";",
                                       "\x80",
                                       "\0"};
  for (int iter = 0; iter < 100000; iter++) {
    char tmp[96];
    size_t len = 0;
    if (iter % 2) {
      len = rng() % sizeof tmp;
      for (size_t k = 0; k < len; k++)
        tmp[k] = (char)(rng() & 0xff);
    } else {
      for (uint32_t n = rng() % 12; n; n--) {
        size_t which = rng() % (sizeof pieces / sizeof pieces[0]);
        const char *p = pieces[which];
        size_t plen = p[0] ? strlen(p) : 1;
        if (len + plen > sizeof tmp)
          break;
        memcpy(tmp + len, p, plen);
        len += plen;
      }
    }
    char *copy = malloc(len ? len : 1);
    cr_assert(copy);
    memcpy(copy, tmp, len);
    hr_cc cc;
    hr_cc_init(&cc);
    hr_cc_parse_value(&cc, copy, len);
    expect_sane(&cc, iter);
    free(copy);
  }
}
