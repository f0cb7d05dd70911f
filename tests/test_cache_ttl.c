/* SPDX-License-Identifier: MIT */
/* The time to live a store gets for an entry (lib/cache/ttl.c). */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>

#include "cache/entry.h"
#include "cache/ttl.h"
#include "headers.h"
#include "httpdate.h"

#define DAY (24 * 3600)

typedef struct ttl_row {
  const char *what;
  int64_t lifetime, age, stale;
  int validator;
  int64_t grace;
  uint64_t rnd;
  int64_t want;
} ttl_row;

static const ttl_row rows[] = {
    {"fresh, no validator: what is left", 600, 100, -1, 0, DAY, 7, 500},
    {"stale, no validator: not written", 600, 600, -1, 0, DAY, 7, 0},
    {"long stale, no validator: not written", 60, 9000, -1, 0, DAY, 0, 0},
    {"no freshness at all: not written", 0, 0, -1, 0, DAY, 0, 0},
    {"stale allowance extends it", 600, 700, 300, 0, DAY, 0, 200},
    {"stale beyond the allowance: not written", 600, 1000, 300, 0, DAY, 0, 0},
    {"validator: grace added (rnd 0: no jitter)", 600, 100, -1, 1, DAY, 0,
     500 + DAY},
    {"validator: stale entry kept for the grace", 60, 9000, -1, 1, DAY, 0,
     DAY - 8940},
    {"validator, no grace: stale is not written", 60, 90, -1, 1, 0, 0, 0},
    {"jitter: at most 10% of the grace", 600, 100, -1, 1, DAY, DAY / 10,
     500 + DAY - DAY / 10},
    {"jitter wraps within 10%", 600, 100, -1, 1, DAY, DAY / 10 + 1, 500 + DAY},
    {"clamped below to 1 s", 1, 0, -1, 0, DAY, 0, 1},
    {"clamped above to 7 days", 365 * DAY, 0, -1, 1, DAY, 0, 7 * DAY},
    {"huge values saturate, then clamp", INT64_MAX, 0, INT64_MAX, 1, INT64_MAX,
     0, 7 * DAY},
    {"stale 0 adds nothing", 10, 20, 0, 0, DAY, 0, 0},
};

Test(cache_ttl, table) {
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    const ttl_row *r = &rows[i];
    int64_t got = hr_cache_ttl(r->lifetime, r->age, r->stale, r->validator,
                               r->grace, r->rnd);
    cr_expect_eq(got, r->want, "%s: %lld, want %lld", r->what, (long long)got,
                 (long long)r->want);
  }
}

/* The jitter never takes the grace below 90%, whatever the draw. */
Test(cache_ttl, jitter_bound) {
  for (uint64_t rnd = 0; rnd < 100000; rnd += 37) {
    int64_t got = hr_cache_ttl(0, 0, -1, 1, 1000, rnd * 2654435761u);
    cr_assert(got >= 900 && got <= 1000, "%lld", (long long)got);
  }
}

typedef struct entry_row {
  const char *what;
  const char *fields; /* "Name: value" lines, \n-separated */
  int64_t age_sec;    /* now - response time */
  int64_t want;
} entry_row;

static const entry_row erows[] = {
    {"max-age", "Cache-Control: max-age=600", 100, 500},
    {"max-age, stale-while-revalidate and stale-if-error: the longest",
     "Cache-Control: max-age=60, stale-while-revalidate=30, "
     "stale-if-error=300",
     0, 360},
    {"ETag: the grace", "Cache-Control: max-age=60\nETag: \"x\"", 0, 60 + DAY},
    {"no-cache without validator: nothing to keep", "Cache-Control: no-cache",
     0, 0},
    {"Age from upstream counts", "Cache-Control: max-age=600\nAge: 550", 0, 50},
};

Test(cache_ttl, from_entries) {
  const int64_t t0 = INT64_C(1700000000000);
  for (size_t i = 0; i < sizeof(erows) / sizeof(erows[0]); i++) {
    const entry_row *r = &erows[i];
    hr_cache_entry e;
    hr_cache_entry_init(&e);
    e.status = 200;
    e.request_ms = e.response_ms = t0;
    char date[40];
    cr_assert(hr_httpdate_format(t0 / 1000, date, sizeof(date)) == 0);
    cr_assert(hr_headers_add(&e.headers, "Date", 4, date, strlen(date)) == 0);
    const char *p = r->fields;
    while (*p) {
      size_t n = strcspn(p, "\n");
      cr_assert(hr_headers_add_line(&e.headers, p, n) == 0);
      p += n + (p[n] == '\n');
    }
    int64_t got = hr_cache_entry_ttl(&e, t0 + r->age_sec * 1000, DAY, 0);
    cr_expect_eq(got, r->want, "%s: %lld, want %lld", r->what, (long long)got,
                 (long long)r->want);
    hr_cache_entry_free(&e);
  }
}
