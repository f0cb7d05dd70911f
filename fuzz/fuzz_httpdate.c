/* SPDX-License-Identifier: MIT */
/* hr_httpdate_parse, hr_httpdate_format and hr_retry_after_parse.
 *
 * Input: "<now ms, decimal>\n<value>\n<Date header>"; the Date part is
 * absent (NULL) when the input has no second newline, and a now that is not
 * a number stands for a fixed recent time.  The value goes to both parsers,
 * the Date header to the Retry-After one and also alone to the date parser. */
#include "fuzz.h"
#include "httpdate.h"

#define NOW_DEFAULT_MS INT64_C(1700000000000) /* 2023-11-14 */
#define EPOCH_YEAR_10000 INT64_C(253402300800)

/* A parsed date that format can express writes back as an IMF-fixdate that
 * parses to the same second, whatever the two-digit-year pivot. */
static void check_date(const char *s, size_t len, int64_t now_sec) {
  int64_t t;
  if (hr_httpdate_parse(s, len, now_sec, &t) != 0)
    return;
  char buf[64];
  int rc = hr_httpdate_format(t, buf, sizeof(buf));
  if (t < 0 || t >= EPOCH_YEAR_10000) {
    FUZZ_CHECK(rc == -1);
    return;
  }
  FUZZ_CHECK(rc == 0);
  FUZZ_CHECK(strlen(buf) == 29);
  int64_t back;
  FUZZ_CHECK(hr_httpdate_parse(buf, strlen(buf), now_sec, &back) == 0);
  FUZZ_CHECK(back == t);
  FUZZ_CHECK(hr_httpdate_parse(buf, strlen(buf), 0, &back) == 0);
  FUZZ_CHECK(back == t);
}

static void check_retry_after(const char *value, const char *date,
                              int64_t now_ms) {
  int64_t delay = -2;
  if (hr_retry_after_parse(value, date, now_ms, &delay) != 0)
    return;
  FUZZ_CHECK(delay >= 0 && delay <= HR_DELAY_MAX_MS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* Longer inputs teach nothing the parsers' bounded loops do not show. */
  if (size > 4096)
    return 0;
  fz f = fz_make(data, size);
  size_t nlen, vlen, dlen;
  const char *nows = fz_until(&f, '\n', &nlen);
  const char *v = fz_until(&f, '\n', &vlen);
  /* The Date part exists exactly when a newline ended the value. */
  int have_date = (const uint8_t *)(v + vlen) < data + size;
  const char *d = fz_until(&f, '\n', &dlen);
  int64_t now_ms = fz_parse_i64(nows, nlen, NOW_DEFAULT_MS);

  /* Exact-size copies: the value parser takes a length, and ASan catches
   * any read past it; the NUL-terminated ones feed Retry-After. */
  char *vexact = malloc(vlen ? vlen : 1);
  FUZZ_CHECK(vexact != NULL);
  if (vlen)
    memcpy(vexact, v, vlen);
  char *value = fz_strndup(v, vlen);
  char *date = have_date ? fz_strndup(d, dlen) : NULL;

  check_date(vexact, vlen, now_ms / 1000);
  check_date(vexact, vlen, 0);
  if (date)
    check_date(date, dlen, now_ms / 1000);

  check_retry_after(value, date, now_ms);
  check_retry_after(value, NULL, now_ms);
  check_retry_after(value, date, 0);

  /* Delay-seconds do not depend on any clock. */
  int64_t a, b;
  if (hr_retry_after_parse(value, NULL, now_ms, &a) == 0 && vlen > 0 &&
      value[strspn(value, " \t")] >= '0' &&
      value[strspn(value, " \t")] <= '9') {
    FUZZ_CHECK(hr_retry_after_parse(value, date, 0, &b) == 0);
    FUZZ_CHECK(a == b);
  }

  free(vexact);
  free(value);
  free(date);
  return 0;
}
