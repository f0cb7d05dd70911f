/* SPDX-License-Identifier: MIT */
/* hr_cc_parse_value and hr_cc_from_headers.
 *
 * The whole input is one Cache-Control value (read by length only, so ASan
 * sees any read past it).  Then each line of the input is a header field
 * ("Cache-Control: ...", "Pragma: ...", anything else) and the same input
 * goes through hr_cc_from_headers. */
#include "cachecontrol.h"
#include "fuzz.h"
#include "headers.h"

#define DELTA_MAX INT64_C(2147483647)
#define ALL_FLAGS ((HR_CC_PRAGMA_NO_CACHE << 1) - 1u)

static void check_value(int64_t v) {
  FUZZ_CHECK(v == -1 || (v >= 0 && v <= DELTA_MAX));
}

static void check_cc(const hr_cc *cc) {
  FUZZ_CHECK((cc->flags & ~ALL_FLAGS) == 0);
  check_value(cc->max_age);
  check_value(cc->s_maxage);
  check_value(cc->max_stale);
  check_value(cc->min_fresh);
  check_value(cc->stale_while_revalidate);
  check_value(cc->stale_if_error);
  /* A bounded max-stale overrides the unbounded form. */
  FUZZ_CHECK(!(cc->flags & HR_CC_MAX_STALE_ANY) || cc->max_stale == -1);
}

static int cc_equal(const hr_cc *a, const hr_cc *b) {
  return a->flags == b->flags && a->max_age == b->max_age &&
         a->s_maxage == b->s_maxage && a->max_stale == b->max_stale &&
         a->min_fresh == b->min_fresh &&
         a->stale_while_revalidate == b->stale_while_revalidate &&
         a->stale_if_error == b->stale_if_error;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 8192)
    return 0;
  hr_cc cc, twice;
  hr_cc_init(&cc);
  hr_cc_parse_value(&cc, (const char *)data, size);
  check_cc(&cc);
  FUZZ_CHECK((cc.flags & HR_CC_PRAGMA_NO_CACHE) == 0);

  /* The same field value twice means what it means once. */
  hr_cc_init(&twice);
  hr_cc_parse_value(&twice, (const char *)data, size);
  hr_cc_parse_value(&twice, (const char *)data, size);
  check_cc(&twice);
  FUZZ_CHECK(cc_equal(&cc, &twice));

  hr_headers h;
  hr_headers_init(&h);
  fz f = fz_make(data, size);
  while (f.n > 0) {
    size_t len;
    const char *line = fz_until(&f, '\n', &len);
    (void)hr_headers_add_line(&h, line, len);
  }
  hr_cc_from_headers(&cc, &h);
  check_cc(&cc);
  int have_cc = hr_headers_count(&h, "Cache-Control") > 0;
  if (cc.flags & HR_CC_PRAGMA_NO_CACHE) {
    FUZZ_CHECK(!have_cc);
    FUZZ_CHECK(cc.flags & HR_CC_NO_CACHE);
  }
  if (!have_cc) {
    hr_cc none;
    hr_cc_init(&none);
    none.flags = cc.flags & (HR_CC_NO_CACHE | HR_CC_PRAGMA_NO_CACHE);
    FUZZ_CHECK(cc_equal(&cc, &none));
  }
  hr_headers_free(&h);

  hr_cc_from_headers(&cc, NULL);
  hr_cc empty;
  hr_cc_init(&empty);
  FUZZ_CHECK(cc_equal(&cc, &empty));
  return 0;
}
