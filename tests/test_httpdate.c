/* SPDX-License-Identifier: MIT */
/* HTTP-date (RFC 9110 §5.6.7) and Retry-After (RFC 9110 §10.2.3).
 * Expected epoch values were computed independently (Python's
 * calendar.timegm), not with the code under test. */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpdate.h"

/* 2026-11-23T12:00:00Z, a Monday: the "now" of the RFC 850 rows. */
#define NOW INT64_C(1795435200)
#define BAD INT64_MIN /* the row must be refused */

typedef struct date_row {
  const char *in;
  int64_t now;
  int64_t want; /* BAD: must fail */
} date_row;

static const date_row dates[] = {
    /* The three forms, RFC 9110's own example. */
    {"Sun, 06 Nov 1994 08:49:37 GMT", NOW, 784111777},
    {"Sunday, 06-Nov-94 08:49:37 GMT", NOW, 784111777},
    {"Sun Nov  6 08:49:37 1994", NOW, 784111777},
    {"Sun Nov 06 08:49:37 1994", NOW, 784111777}, /* asctime 2DIGIT day */
    /* Surrounding whitespace. */
    {"  Sun, 06 Nov 1994 08:49:37 GMT \t", NOW, 784111777},
    {"\tSunday, 06-Nov-94 08:49:37 GMT ", NOW, 784111777},
    {" Sun Nov  6 08:49:37 1994  ", NOW, 784111777},
    /* Names are case-insensitive (lenient), structure is not. */
    {"sun, 06 nov 1994 08:49:37 gmt", NOW, 784111777},
    {"SUNDAY, 06-NOV-94 08:49:37 GMT", NOW, 784111777},
    {"SUN NOV  6 08:49:37 1994", NOW, 784111777},
    /* The day name must be a day name but need not match the date. */
    {"Mon, 06 Nov 1994 08:49:37 GMT", NOW, 784111777},
    {"Friday, 06-Nov-94 08:49:37 GMT", NOW, 784111777},
    /* Epoch bounds, 2038 and the last writable second. */
    {"Thu, 01 Jan 1970 00:00:00 GMT", NOW, 0},
    {"Wed, 31 Dec 1969 23:59:59 GMT", NOW, -1},
    {"Mon, 01 Jan 1900 00:00:00 GMT", NOW, INT64_C(-2208988800)},
    {"Tue, 19 Jan 2038 03:14:08 GMT", NOW, INT64_C(2147483648)},
    {"Sun, 07 Feb 2106 06:28:16 GMT", NOW, INT64_C(4294967296)},
    {"Fri, 31 Dec 9999 23:59:59 GMT", NOW, INT64_C(253402300799)},
    /* Leap years. */
    {"Tue, 29 Feb 2000 00:00:00 GMT", NOW, 951782400},
    {"Tue Feb 29 00:00:00 2000", NOW, 951782400},
    {"Thu, 29 Feb 2024 12:00:00 GMT", NOW, 1709208000},
    {"Thu, 29 Feb 1900 00:00:00 GMT", NOW, BAD},
    {"Wed, 29 Feb 2023 00:00:00 GMT", NOW, BAD},
    {"Mon, 29 Feb 2100 00:00:00 GMT", NOW, BAD},
    {"Sun, 28 Feb 2100 00:00:00 GMT", NOW, INT64_C(4107456000)},
    /* End-of-month bounds. */
    {"Sun, 30 Apr 2023 00:00:00 GMT", NOW, 1682812800},
    {"Mon, 31 Apr 2023 00:00:00 GMT", NOW, BAD},
    {"Sun, 31 Dec 2023 23:59:59 GMT", NOW, 1704067199},
    {"Sun, 32 Dec 2023 00:00:00 GMT", NOW, BAD},
    {"Sun, 00 Dec 2023 00:00:00 GMT", NOW, BAD},
    {"Sun, 31 Jun 2023 00:00:00 GMT", NOW, BAD},
    {"Sun, 31 Sep 2023 00:00:00 GMT", NOW, BAD},
    {"Sun, 31 Nov 2023 00:00:00 GMT", NOW, BAD},
    {"Sun, 30 Feb 2024 00:00:00 GMT", NOW, BAD},
    /* Time of day; 60 is a leap second, landing on the next minute. */
    {"Sat, 31 Dec 2016 23:59:60 GMT", NOW, 1483228800},
    {"Sun, 06 Nov 1994 24:00:00 GMT", NOW, BAD},
    {"Sun, 06 Nov 1994 08:60:00 GMT", NOW, BAD},
    {"Sun, 06 Nov 1994 08:49:61 GMT", NOW, BAD},
    {"Sun, 06 Nov 1994 8:49:37 GMT", NOW, BAD},
    {"Sun, 06 Nov 1994 08:49:7 GMT", NOW, BAD},
    {"Sun, 06 Nov 1994 08.49.37 GMT", NOW, BAD},
    /* Digit counts are fixed: leading zeros only where the grammar has them. */
    {"Sun, 6 Nov 1994 08:49:37 GMT", NOW, BAD},
    {"Sun, 006 Nov 1994 08:49:37 GMT", NOW, BAD},
    {"Sun, 06 Nov 94 08:49:37 GMT", NOW, BAD},
    {"Sun, 06 Nov 01994 08:49:37 GMT", NOW, BAD},
    {"Sun, 06 Nov +994 08:49:37 GMT", NOW, BAD},
    {"Sun, -6 Nov 1994 08:49:37 GMT", NOW, BAD},
    {"Sun Nov 6 08:49:37 1994", NOW, BAD},
    {"Sun Nov   6 08:49:37 1994", NOW, BAD},
    {"Sun Nov  6 08:49:37 94", NOW, BAD},
    {"Sunday, 06-Nov-1994 08:49:37 GMT", NOW, BAD},
    {"Sunday, 6-Nov-94 08:49:37 GMT", NOW, BAD},
    /* Wrong separators, wrong name lengths, mixed forms. */
    {"Sun 06 Nov 1994 08:49:37 GMT", NOW, BAD},
    {"Sun,06 Nov 1994 08:49:37 GMT", NOW, BAD},
    {"Sun,  06 Nov 1994 08:49:37 GMT", NOW, BAD},
    {"Sun, 06-Nov-1994 08:49:37 GMT", NOW, BAD},
    {"Sun, 06 Nov 1994  08:49:37 GMT", NOW, BAD},
    {"Sun, 06 Nov 1994 08:49:37  GMT", NOW, BAD},
    {"Sun, 06-Nov-94 08:49:37 GMT", NOW, BAD},
    {"Sunday, 06 Nov 1994 08:49:37 GMT", NOW, BAD},
    {"Sunday Nov  6 08:49:37 1994", NOW, BAD},
    {"Sunday, 06 Nov 94 08:49:37 GMT", NOW, BAD},
    {"Sun, 06 November 1994 08:49:37 GMT", NOW, BAD},
    {"Sun, 06 Foo 1994 08:49:37 GMT", NOW, BAD},
    {"Sund, 06 Nov 1994 08:49:37 GMT", NOW, BAD},
    {"Sundae, 06-Nov-94 08:49:37 GMT", NOW, BAD},
    {"Xyz, 06 Nov 1994 08:49:37 GMT", NOW, BAD},
    /* Zone: only GMT, nothing after it. */
    {"Sun, 06 Nov 1994 08:49:37 UTC", NOW, BAD},
    {"Sun, 06 Nov 1994 08:49:37 +0000", NOW, BAD},
    {"Sun, 06 Nov 1994 08:49:37 GMT+1", NOW, BAD},
    {"Sun, 06 Nov 1994 08:49:37 GMTX", NOW, BAD},
    {"Sun, 06 Nov 1994 08:49:37 GMT GMT", NOW, BAD},
    {"Sun, 06 Nov 1994 08:49:37 GMT\r\n", NOW, BAD},
    {"Sun Nov  6 08:49:37 1994 GMT", NOW, BAD},
    /* Truncated. */
    {"Sun, 06 Nov 1994 08:49:37", NOW, BAD},
    {"Sun, 06 Nov 1994", NOW, BAD},
    {"Sunday, 06-Nov-94", NOW, BAD},
    {"Sun Nov  6 08:49:37", NOW, BAD},
    {"Sun,", NOW, BAD},
    {"Sun", NOW, BAD},
    /* Garbage. */
    {"", NOW, BAD},
    {"   ", NOW, BAD},
    {"GMT", NOW, BAD},
    {"784111777", NOW, BAD},
    {"1994-11-06T08:49:37Z", NOW, BAD},
    {"\xff\xfe, 06 Nov 1994 08:49:37 GMT", NOW, BAD},
    /* RFC 850 two-digit years: more than 50 years ahead means last century.
     * NOW is 2026-11-23 12:00:00, so the window ends 2076-11-23 12:00:00. */
    {"Wednesday, 01-Jan-76 00:00:00 GMT", NOW, INT64_C(3345062400)},
    {"Monday, 23-Nov-76 12:00:00 GMT", NOW, INT64_C(3373358400)},
    {"Tuesday, 23-Nov-76 12:00:01 GMT", NOW, 217598401},
    {"Saturday, 01-Jan-77 00:00:00 GMT", NOW, 220924800},
    {"Thursday, 01-Jan-26 00:00:00 GMT", NOW, 1767225600},
    {"Monday, 23-Nov-26 12:00:00 GMT", NOW, 1795435200},
    {"Tuesday, 01-Jan-69 00:00:00 GMT", NOW, INT64_C(3124224000)},
    /* ... around a century boundary: now 2099-06-01. */
    {"Tuesday, 01-Jun-00 00:00:00 GMT", INT64_C(4083955200),
     INT64_C(4115491200)},
    {"Wednesday, 01-Jun-50 00:00:00 GMT", INT64_C(4083955200),
     INT64_C(2537654400)},
    {"Sunday, 01-Jun-49 00:00:00 GMT", INT64_C(4083955200),
     INT64_C(5661792000)},
    /* ... and with now_sec 0, the fixed 70 pivot. */
    {"Sunday, 06-Nov-94 08:49:37 GMT", 0, 784111777},
    {"Thursday, 01-Jan-70 00:00:00 GMT", 0, 0},
    {"Tuesday, 01-Jan-69 00:00:00 GMT", 0, INT64_C(3124224000)},
    {"Tuesday, 29-Feb-00 00:00:00 GMT", 0, 951782400},
    /* ... and with absurd clocks the result stays a 4-digit year or fails. */
    {"Sunday, 06-Nov-94 08:49:37 GMT", INT64_MAX, BAD},
    {"Sunday, 06-Nov-94 08:49:37 GMT", INT64_MIN, BAD},
    {"Sun, 06 Nov 1994 08:49:37 GMT", INT64_MIN, 784111777},
};

Test(httpdate, parse_table) {
  for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
    const date_row *r = &dates[i];
    int64_t got = 12345;
    int rc = hr_httpdate_parse(r->in, strlen(r->in), r->now, &got);
    if (r->want == BAD) {
      cr_expect(rc == -1, "row %zu \"%s\": accepted as %" PRId64, i, r->in,
                got);
    } else {
      cr_expect(rc == 0, "row %zu \"%s\": refused", i, r->in);
      cr_expect(rc != 0 || got == r->want,
                "row %zu \"%s\": got %" PRId64 ", want %" PRId64, i, r->in, got,
                r->want);
    }
  }
}

/* Every proper prefix of a valid date is invalid, read from an exactly
 * sized heap copy so ASan catches any read past `len`. */
Test(httpdate, truncated_prefixes) {
  static const char *const full[] = {
      "Sun, 06 Nov 1994 08:49:37 GMT",
      "Sunday, 06-Nov-94 08:49:37 GMT",
      "Sun Nov  6 08:49:37 1994",
  };
  for (size_t i = 0; i < sizeof full / sizeof full[0]; i++) {
    size_t n = strlen(full[i]);
    for (size_t len = 0; len <= n; len++) {
      char *copy = malloc(len ? len : 1);
      cr_assert(copy);
      memcpy(copy, full[i], len);
      int64_t got = 0;
      int rc = hr_httpdate_parse(copy, len, NOW, &got);
      if (len == n)
        cr_expect(rc == 0 && got == 784111777, "\"%s\": full string refused",
                  full[i]);
      else
        cr_expect(rc == -1, "\"%s\" cut to %zu bytes: accepted", full[i], len);
      free(copy);
    }
  }
}

Test(httpdate, len_bounds_the_input) {
  /* A valid date followed by junk that `len` excludes. */
  const char *s = "Sun, 06 Nov 1994 08:49:37 GMTjunk";
  int64_t got = 0;
  cr_expect(hr_httpdate_parse(s, 29, NOW, &got) == 0 && got == 784111777);
  cr_expect(hr_httpdate_parse(s, strlen(s), NOW, &got) == -1);
  /* An embedded NUL is just a wrong byte. */
  const char nul[] = "Sun, 06 Nov 1994 08:49:37 G\0T";
  cr_expect(hr_httpdate_parse(nul, sizeof nul - 1, NOW, &got) == -1);
  cr_expect(hr_httpdate_parse(NULL, 0, NOW, &got) == -1);
  cr_expect(hr_httpdate_parse(s, 29, NOW, NULL) == -1);
}

typedef struct fmt_row {
  int64_t t;
  const char *want; /* NULL: must fail */
} fmt_row;

static const fmt_row formats[] = {
    {0, "Thu, 01 Jan 1970 00:00:00 GMT"},
    {784111777, "Sun, 06 Nov 1994 08:49:37 GMT"},
    {951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},
    {1709208000, "Thu, 29 Feb 2024 12:00:00 GMT"},
    {1704067199, "Sun, 31 Dec 2023 23:59:59 GMT"},
    {INT64_C(2147483647), "Tue, 19 Jan 2038 03:14:07 GMT"},
    {INT64_C(2147483648), "Tue, 19 Jan 2038 03:14:08 GMT"},
    {INT64_C(4107456000), "Sun, 28 Feb 2100 00:00:00 GMT"},
    {INT64_C(4294967296), "Sun, 07 Feb 2106 06:28:16 GMT"},
    {INT64_C(253402300799), "Fri, 31 Dec 9999 23:59:59 GMT"},
    {INT64_C(253402300800), NULL},
    {-1, NULL},
    {INT64_MIN, NULL},
    {INT64_MAX, NULL},
};

Test(httpdate, format_table) {
  for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
    const fmt_row *r = &formats[i];
    char buf[40];
    memset(buf, 'x', sizeof buf);
    int rc = hr_httpdate_format(r->t, buf, 30);
    if (!r->want) {
      cr_expect(rc == -1, "row %zu (%" PRId64 "): formatted", i, r->t);
      continue;
    }
    cr_expect(rc == 0, "row %zu (%" PRId64 "): refused", i, r->t);
    cr_expect(rc != 0 || strcmp(buf, r->want) == 0,
              "row %zu (%" PRId64 "): got \"%.29s\", want \"%s\"", i, r->t, buf,
              r->want);
    cr_expect(buf[30] == 'x', "row %zu: wrote past 30 bytes", i);
  }
}

Test(httpdate, format_buffer_checks) {
  char buf[30];
  cr_expect(hr_httpdate_format(0, buf, 29) == -1);
  cr_expect(hr_httpdate_format(0, NULL, 30) == -1);
  cr_expect(hr_httpdate_format(0, buf, 30) == 0);
}

/* format then parse gives the same second, over the whole range. */
Test(httpdate, format_round_trip) {
  const int64_t last = INT64_C(253402300799);
  int64_t step = INT64_C(987654321); /* odd, so seconds and days vary */
  size_t n = 0;
  for (int64_t t = 0; t <= last; t += step, n++) {
    char buf[30];
    int64_t back = -1;
    cr_assert(hr_httpdate_format(t, buf, sizeof buf) == 0, "%" PRId64, t);
    cr_expect(hr_httpdate_parse(buf, strlen(buf), NOW, &back) == 0 && back == t,
              "\"%s\": %" PRId64 " came back as %" PRId64, buf, t, back);
  }
  static const int64_t edges[] = {
      0,          86399,      86400,
      951782399,  951782400,  951868800,
      2147483647, 2147483648, INT64_C(253402300799)};
  for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
    char buf[30];
    int64_t back = -1;
    cr_assert(hr_httpdate_format(edges[i], buf, sizeof buf) == 0);
    cr_expect(hr_httpdate_parse(buf, strlen(buf), 0, &back) == 0 &&
                  back == edges[i],
              "edge %zu \"%s\"", i, buf);
  }
  cr_expect(n > 200);
}

typedef struct ra_row {
  const char *value;
  const char *date_hdr;
  int64_t now_ms;
  int rc;
  int64_t want;
} ra_row;

/* 2025-01-01T00:00:00Z */
#define T0 INT64_C(1735689600)

static const ra_row retry_after[] = {
    /* delay-seconds */
    {"120", NULL, 0, 0, 120000},
    {"  120 ", NULL, 0, 0, 120000},
    {"\t120\t", NULL, 0, 0, 120000},
    {"0", NULL, 0, 0, 0},
    {"007", NULL, 0, 0, 7000},
    {"120", "Wed, 01 Jan 2025 00:00:00 GMT", 5, 0, 120000}, /* no effect */
    {"9007199254740", NULL, 0, 0, INT64_C(9007199254740000)},
    {"9007199254741", NULL, 0, 0, HR_DELAY_MAX_MS},
    {"1234567890123456789012345", NULL, 0, 0, HR_DELAY_MAX_MS},
    {"99999999999999999999999999999999999999999999999999", NULL, 0, 0,
     HR_DELAY_MAX_MS},
    {"0000000000000000000000000000000000000000000000000005", NULL, 0, 0, 5000},
    {"-1", NULL, 0, -1, 0},
    {"1.5", NULL, 0, -1, 0},
    {"+5", NULL, 0, -1, 0},
    {"12 34", NULL, 0, -1, 0},
    {"120s", NULL, 0, -1, 0},
    {"0x10", NULL, 0, -1, 0},
    {"1e3", NULL, 0, -1, 0},
    {"", NULL, 0, -1, 0},
    {"   ", NULL, 0, -1, 0},
    {"\r\n120", NULL, 0, -1, 0},
    /* HTTP-date against the Date header: independent of now. */
    {"Wed, 01 Jan 2025 00:02:00 GMT", "Wed, 01 Jan 2025 00:00:00 GMT", 0, 0,
     120000},
    {"Wed, 01 Jan 2025 00:02:00 GMT", "Wed, 01 Jan 2025 00:00:00 GMT",
     T0 * 1000 + 3600000, 0, 120000},
    {"Wed, 01 Jan 2025 00:02:00 GMT", "Wed, 01 Jan 2025 00:00:00 GMT",
     INT64_MAX, 0, 120000},
    {"Wed, 01 Jan 2025 00:02:00 GMT", "Wed, 01 Jan 2025 00:00:00 GMT",
     INT64_MIN, 0, 120000},
    {" Wednesday, 01-Jan-25 00:02:00 GMT ", "Wed Jan  1 00:00:00 2025",
     T0 * 1000, 0, 120000},
    {"Wed Jan  1 00:02:00 2025", "Wednesday, 01-Jan-25 00:00:00 GMT", 0, 0,
     120000},
    {"Tue, 31 Dec 2024 23:58:00 GMT", "Wed, 01 Jan 2025 00:00:00 GMT",
     T0 * 1000 - 3600000, 0, 0},
    {"Wed, 01 Jan 2025 00:00:00 GMT", "Wed, 01 Jan 2025 00:00:00 GMT", 0, 0, 0},
    /* Date header absent or invalid: against now. */
    {"Wed, 01 Jan 2025 00:02:00 GMT", NULL, T0 * 1000, 0, 120000},
    {"Wed, 01 Jan 2025 00:02:00 GMT", NULL, T0 * 1000 + 500, 0, 119500},
    {"Wed, 01 Jan 2025 00:02:00 GMT", "yesterday", T0 * 1000, 0, 120000},
    {"Wed, 01 Jan 2025 00:02:00 GMT", "", T0 * 1000 + 60000, 0, 60000},
    {"Wed, 01 Jan 2025 00:02:00 GMT", "Wed, 01 Jan 2025 00:00:00 UTC",
     T0 * 1000, 0, 120000},
    {"Wed, 01 Jan 2025 00:02:00 GMT", NULL, T0 * 1000 + 120001, 0, 0},
    {"Wed, 01 Jan 2025 00:02:00 GMT", NULL, INT64_MAX, 0, 0},
    {"Wed, 01 Jan 2025 00:02:00 GMT", NULL, INT64_MIN, 0, HR_DELAY_MAX_MS},
    {"Fri, 31 Dec 9999 23:59:59 GMT", "Thu, 01 Jan 1970 00:00:00 GMT", 0, 0,
     INT64_C(253402300799000)},
    /* Garbage. */
    {"soon", NULL, 0, -1, 0},
    {"Wed, 01 Jan 2025", NULL, 0, -1, 0},
    {"Wed, 01 Jan 2025 00:02:00 GMT, 5", NULL, 0, -1, 0},
    {"Wed, 30 Feb 2025 00:02:00 GMT", NULL, 0, -1, 0},
    {"\x80\x81\x82", NULL, 0, -1, 0},
};

Test(retry_after, table) {
  for (size_t i = 0; i < sizeof retry_after / sizeof retry_after[0]; i++) {
    const ra_row *r = &retry_after[i];
    int64_t got = -42;
    int rc = hr_retry_after_parse(r->value, r->date_hdr, r->now_ms, &got);
    cr_expect(rc == r->rc, "row %zu \"%s\" (Date %s): rc %d, want %d", i,
              r->value, r->date_hdr ? r->date_hdr : "absent", rc, r->rc);
    if (rc == 0 && r->rc == 0)
      cr_expect(got == r->want,
                "row %zu \"%s\" (Date %s): got %" PRId64 " ms, want %" PRId64,
                i, r->value, r->date_hdr ? r->date_hdr : "absent", got,
                r->want);
  }
}

Test(retry_after, null_arguments) {
  int64_t got;
  cr_expect(hr_retry_after_parse(NULL, NULL, 0, &got) == -1);
  cr_expect(hr_retry_after_parse("5", NULL, 0, NULL) == -1);
}

/* Deterministic noise over the bytes dates are made of, in exactly sized
 * heap copies.  Whatever parses must be a real date that formats back. */
static uint32_t rng_state = 2463534242u;
static uint32_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

Test(httpdate, random_bytes) {
  static const char alphabet[] = "0123456789 ,-:\tSunMoTuWedThFriSaJanFebMr"
                                 "AprMayJunJulAugSepOctNovDecGMTday\"\\\x80";
  static const char *const seeds[] = {
      "Sun, 06 Nov 1994 08:49:37 GMT",
      "Sunday, 06-Nov-94 08:49:37 GMT",
      "Sun Nov  6 08:49:37 1994",
  };
  size_t accepted = 0;
  for (int iter = 0; iter < 200000; iter++) {
    char tmp[48];
    size_t len;
    if (iter % 2) { /* mutate a valid date */
      const char *seed = seeds[rng() % 3];
      len = strlen(seed);
      memcpy(tmp, seed, len);
      for (uint32_t k = rng() % 3 + 1; k; k--) {
        uint32_t pos = rng() % len;
        tmp[pos] = (rng() % 4 == 0) ? (char)(rng() & 0xff)
                                    : alphabet[rng() % (sizeof alphabet - 1)];
      }
      len -= rng() % 2 ? rng() % 3 : 0;
    } else {
      len = rng() % sizeof tmp;
      for (size_t k = 0; k < len; k++)
        tmp[k] = (char)(rng() & 0xff);
    }
    char *copy = malloc(len ? len : 1);
    cr_assert(copy);
    memcpy(copy, tmp, len);
    int64_t t;
    int64_t now = (int64_t)rng() * 3;
    if (hr_httpdate_parse(copy, len, now, &t) == 0) {
      accepted++;
      cr_assert(t >= INT64_C(-62167219200) && t <= INT64_C(253402300800),
                "iter %d: out of range %" PRId64, iter, t);
      char buf[30];
      if (t >= 0 && t < INT64_C(253402300800))
        cr_assert(hr_httpdate_format(t, buf, sizeof buf) == 0);
    }
    free(copy);
    /* Retry-After wants a C string. */
    char cstr[49];
    memcpy(cstr, tmp, len);
    cstr[len] = '\0';
    int64_t d;
    if (hr_retry_after_parse(cstr, cstr, (int64_t)rng() << 20, &d) == 0)
      cr_assert(d >= 0 && d <= HR_DELAY_MAX_MS, "iter %d: delay %" PRId64, iter,
                d);
  }
  cr_expect(accepted > 0, "the mutations never produced a valid date");
}
