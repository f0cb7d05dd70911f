/* SPDX-License-Identifier: MIT */
/* Cache-Control (RFC 9111 §5.2) parsing for requests and responses. */
#ifndef HR_CACHECONTROL_H
#define HR_CACHECONTROL_H

#include <stdint.h>

#include "headers.h"

enum hr_cc_flag {
  HR_CC_NO_STORE = 1u << 0,
  HR_CC_NO_CACHE = 1u << 1, /* also the qualified form no-cache="f" */
  HR_CC_MUST_REVALIDATE = 1u << 2,
  HR_CC_PROXY_REVALIDATE = 1u << 3,
  HR_CC_PRIVATE = 1u << 4,
  HR_CC_PUBLIC = 1u << 5,
  HR_CC_ONLY_IF_CACHED = 1u << 6,
  HR_CC_NO_TRANSFORM = 1u << 7,
  HR_CC_IMMUTABLE = 1u << 8,
  HR_CC_MUST_UNDERSTAND = 1u << 9,
  HR_CC_MAX_STALE_ANY = 1u << 10, /* max-stale without a value */
  HR_CC_PRAGMA_NO_CACHE = 1u << 11 /* Pragma: no-cache, no Cache-Control */
};

/* Directive values in seconds; -1 when absent.  Values with too many
 * digits saturate at INT32_MAX (2^31 - 1, RFC 9111 §1.2.2).  A directive
 * given twice with different values, or with an invalid value, is
 * resolved conservatively: max-age/s-maxage become 0 (stale); max-stale,
 * min-fresh, stale-* keep the value that allows the least staleness. */
typedef struct hr_cc {
  unsigned flags;
  int64_t max_age;
  int64_t s_maxage;
  int64_t max_stale;
  int64_t min_fresh;
  int64_t stale_while_revalidate;
  int64_t stale_if_error;
} hr_cc;

void hr_cc_init(hr_cc *cc);
/* Adds the directives of one field value (comma-separated, quoted-string
 * values allowed, unknown directives ignored, case-insensitive names). */
void hr_cc_parse_value(hr_cc *cc, const char *value, size_t len);
/* Initialises `cc` from every Cache-Control field of `h`; when there is
 * none, Pragma: no-cache sets HR_CC_NO_CACHE | HR_CC_PRAGMA_NO_CACHE. */
void hr_cc_from_headers(hr_cc *cc, const hr_headers *h);

#endif
